//! `/var/lib/dpkg/status`: the driver package layers (issue 23), and the fabric manager's
//! installed version taken from them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let packages = nvprobe::detect::packages::parse_dpkg_status(&text);
    // The search for the next `Package` line reads what reading every line reads.
    assert_eq!(
        packages,
        nvprobe::detect::packages::parse_dpkg_status_every_line(&text)
    );
    let info = nvprobe::report::stack::DriverPackagesInfo {
        manager: "dpkg".to_owned(),
        packages,
        container_toolkit: None,
    };
    let _ = nvprobe::doctor::fabric::fabric_manager_packages(&info);
});
