//! The layers people check by hand (issue 23), on fixture machines in real formats:
//! virtual-GPU managers (HAMi's `ld.so.preload` and variables, GPU-Manager's `/etc/vcuda`),
//! the runtime's CUDA major against the driver's, kernel module builds (headers, DKMS trees,
//! signatures, Secure Boot, taint) and the driver package layers (dpkg `status`, rpm's
//! `rpmdb.sqlite`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use serde_json::Value;

mod common;
use common::{codes, fixture, nvprobe_env};

fn report(machine: &str, env: &[(&str, &str)]) -> Value {
    let root = fixture(machine);
    let out = nvprobe_env(&["--json", "--root", root.to_str().unwrap()], env);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn findings<'a>(r: &'a Value, code: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

fn one<'a>(r: &'a Value, code: &str) -> &'a Value {
    let all = findings(r, code);
    assert_eq!(all.len(), 1, "{code} in {:?}", codes(r));
    all[0]
}

fn source<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

// --- virtual-GPU managers ---------------------------------------------------------------------

#[test]
fn vgpu_hami_from_ld_so_preload_with_a_runtime_of_another_major() {
    let r = report("container-hami-580-cuda11", &[]);
    let v = &r["platform"]["vgpu_manager"];
    assert_eq!(v["kind"], "hami");
    assert_eq!(v["library"], "/usr/local/vgpu/libvgpu.so");
    assert_eq!(source(&r, "vgpu-manager")["status"], "ok");
    let f = one(&r, "vgpu-cuda-major-mismatch");
    assert_eq!(f["severity"], "warning");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("runtime 11.8") && m.contains("driver CUDA 13.0"),
        "{m}"
    );
    // HAMi's baseline is not known: no finding claims one, and the report says why.
    assert!(v["baseline_cuda"].is_null());
    assert!(
        v["baseline_source"]
            .as_str()
            .is_some_and(|s| s.starts_with("unknown: HAMi-core records")),
        "{v}"
    );
    assert!(findings(&r, "vgpu-baseline-older-than-runtime").is_empty());
    // No share set: nothing fractional.
    assert!(findings(&r, "vgpu-fractional-allocation").is_empty());
}

#[test]
fn vgpu_hami_variables_make_a_fractional_share_that_warns_across_majors() {
    let r = report(
        "container-hami-580-cuda11",
        &[
            ("CUDA_DEVICE_SM_LIMIT", "30"),
            ("CUDA_DEVICE_MEMORY_LIMIT_0", "10240m"),
            ("CUDA_DEVICE_MEMORY_SHARED_CACHE", "/tmp/3f1b.cache"),
        ],
    );
    let v = &r["platform"]["vgpu_manager"];
    assert_eq!(v["core_percent"], 30);
    assert_eq!(v["memory_limits"], serde_json::json!(["0=10240m"]));
    let f = one(&r, "vgpu-fractional-allocation");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("30%"));
}

#[test]
fn vgpu_hami_from_ld_preload_alone() {
    // A plain container (driver 570, no runtime) where the user set LD_PRELOAD themselves.
    let r = report(
        "container-visible-subset",
        &[("LD_PRELOAD", "/usr/local/vgpu/libvgpu.so")],
    );
    let v = &r["platform"]["vgpu_manager"];
    assert_eq!(v["kind"], "hami");
    let ev = v["evidence"].to_string();
    assert!(
        ev.contains("LD_PRELOAD holds") && ev.contains("does not exist here"),
        "{ev}"
    );
    // Nothing known about the runtime: no major rule fires, none passes either.
    assert!(findings(&r, "vgpu-cuda-major-mismatch").is_empty());
}

#[test]
fn vgpu_hami_variables_without_the_library_are_not_enforced() {
    let r = report(
        "container-visible-subset",
        &[("CUDA_DEVICE_MEMORY_LIMIT", "4g")],
    );
    let v = &r["platform"]["vgpu_manager"];
    assert_eq!(v["memory_limits"], serde_json::json!(["all=4g"]));
    assert!(v["evidence"].to_string().contains("not enforced"));
}

#[test]
fn vgpu_gpu_manager_vcuda_config_baseline_and_fractional_share() {
    let r = report("container-gpu-manager-570", &[]);
    let v = &r["platform"]["vgpu_manager"];
    assert_eq!(v["kind"], "gpu-manager");
    assert_eq!(v["core_percent"], 50);
    assert_eq!(v["baseline_cuda"], "11.5");
    assert_eq!(v["library"], "/usr/local/nvidia/lib64/libcuda-control.so");
    let b = one(&r, "vgpu-baseline-older-than-runtime");
    assert_eq!(b["severity"], "warning");
    assert!(b["message"].as_str().unwrap().contains("CUDA 12.4 runtime"));
    let m = one(&r, "vgpu-cuda-major-mismatch");
    assert!(
        m["message"]
            .as_str()
            .unwrap()
            .contains("baseline CUDA 11.5")
    );
    // Runtime 12.4 and driver 12.8 share a major: the share itself is only worth knowing.
    assert_eq!(one(&r, "vgpu-fractional-allocation")["severity"], "info");
}

#[test]
fn vgpu_gpu_manager_hook_on_the_loader_path_is_not_a_stub() {
    // GPU-Manager sets LD_LIBRARY_PATH=/usr/local/nvidia/lib64, where libcuda.so.1 is a copy of
    // its hook (SONAME libcuda-control.so): small and unversioned, but no toolkit stub.
    let r = report(
        "container-gpu-manager-570",
        &[("LD_LIBRARY_PATH", "/usr/local/nvidia/lib64")],
    );
    let selected: Vec<&Value> = r["libraries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["selected"] == true && l["kind"] == "cuda-driver")
        .collect();
    assert_eq!(selected.len(), 1, "{selected:?}");
    assert_eq!(selected[0]["path"], "/usr/local/nvidia/lib64/libcuda.so.1");
    assert_eq!(selected[0]["soname"], "libcuda-control.so");
    assert_eq!(selected[0]["stub"], false);
    assert!(
        findings(&r, "stub-library-selected").is_empty(),
        "{:?}",
        codes(&r)
    );
    assert_eq!(r["cuda"]["can_start"], "yes");
}

#[test]
fn vgpu_none_on_a_plain_machine() {
    let r = report("bare-metal-h100x8-open-580", &[]);
    assert!(r["platform"].get("vgpu_manager").is_none());
    assert_eq!(source(&r, "vgpu-manager")["status"], "absent");
    for c in codes(&r) {
        assert!(!c.starts_with("vgpu-"), "{c}");
    }
}

// --- driver and runtime majors ------------------------------------------------------------------

#[test]
fn majors_runtime_two_behind_the_driver_is_info() {
    let r = report("container-hami-580-cuda11", &[]);
    let f = one(&r, "cuda-runtime-majors-behind");
    assert_eq!(f["severity"], "info");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("11.8") && m.contains("2 majors behind") && m.contains("CUDA 13.0"),
        "{m}"
    );
}

#[test]
fn majors_image_cuda_version_when_no_runtime_is_found() {
    let r = report("bare-metal-h100x8-open-580", &[("CUDA_VERSION", "11.8.0")]);
    let f = one(&r, "cuda-runtime-majors-behind");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("CUDA_VERSION=11.8.0")
    );
    // One major behind is inside the window.
    let r = report("bare-metal-h100x8-open-580", &[("CUDA_VERSION", "12.4.1")]);
    assert!(findings(&r, "cuda-runtime-majors-behind").is_empty());
    // Same major: nothing.
    let r = report("container-gpu-manager-570", &[]);
    assert!(findings(&r, "cuda-runtime-majors-behind").is_empty());
}

// --- kernel module builds -----------------------------------------------------------------------

/// A copy of a fixture machine in a scratch directory, to change one file of it.
fn scratch_copy(machine: &str, name: &str) -> common::Scratch {
    let dir = common::scratch_dir("stack", name);
    common::copy_tree(&fixture(machine), &dir);
    dir
}

fn report_at(root: &std::path::Path) -> Value {
    let out = nvprobe_env(&["--json", "--root", root.to_str().unwrap()], &[]);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn kmod_secure_boot_with_a_mok_the_firmware_does_not_hold() {
    let r = report("dkms-secure-boot-mok-not-enrolled", &[]);
    let k = &r["platform"]["kernel_build"];
    assert_eq!(k["secure_boot"], true);
    assert_eq!(k["lockdown"], "integrity");
    assert_eq!(k["sig_enforce"], true);
    assert_eq!(k["module_signed"], true);
    assert_eq!(k["mok_key"], "/var/lib/shim-signed/mok/MOK.der");
    assert_eq!(k["mok_enrolled"], false);
    assert_eq!(k["headers"], "/lib/modules/6.8.0-51-generic/build");
    let f = one(&r, "module-signature-not-trusted");
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("Key was rejected by service")
    );
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo mokutil --import /var/lib/shim-signed/mok/MOK.der")
    );
    // Built for the running kernel with its headers: nothing to build.
    assert!(findings(&r, "dkms-not-built-for-kernel").is_empty());
    assert!(findings(&r, "kernel-headers-missing").is_empty());
}

#[test]
fn kmod_enrolled_mok_is_trusted() {
    let dir = scratch_copy("dkms-secure-boot-mok-not-enrolled", "enrolled");
    // Enroll it: the firmware's list now holds the local key.
    let key = std::fs::read(dir.join("var/lib/shim-signed/mok/MOK.der")).unwrap();
    let var = dir.join("sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23");
    let mut list = std::fs::read(&var).unwrap();
    list.extend_from_slice(&key);
    std::fs::write(&var, list).unwrap();
    let r = report_at(&dir);
    assert_eq!(r["platform"]["kernel_build"]["mok_enrolled"], true);
    assert!(findings(&r, "module-signature-not-trusted").is_empty());
}

#[test]
fn kmod_unsigned_module_under_secure_boot() {
    let dir = scratch_copy("dkms-secure-boot-mok-not-enrolled", "unsigned");
    let ko = dir.join("lib/modules/6.8.0-51-generic/updates/dkms/nvidia.ko");
    let mut bytes = std::fs::read(&ko).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"\x30\x82\x02\x10")
        .unwrap();
    bytes.truncate(at);
    std::fs::write(&ko, bytes).unwrap();
    let r = report_at(&dir);
    assert_eq!(r["platform"]["kernel_build"]["module_signed"], false);
    let f = one(&r, "module-signature-not-trusted");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("the module is not signed")
    );
}

#[test]
fn kmod_no_enforcement_no_signature_finding() {
    let dir = scratch_copy("dkms-secure-boot-mok-not-enrolled", "sb-off");
    std::fs::write(
        dir.join("sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"),
        [6, 0, 0, 0, 0],
    )
    .unwrap();
    std::fs::write(
        dir.join("sys/kernel/security/lockdown"),
        "[none] integrity confidentiality\n",
    )
    .unwrap();
    std::fs::write(dir.join("sys/module/module/parameters/sig_enforce"), "N\n").unwrap();
    let r = report_at(&dir);
    assert_eq!(r["platform"]["kernel_build"]["secure_boot"], false);
    assert!(findings(&r, "module-signature-not-trusted").is_empty());
}

#[test]
fn kmod_stale_dkms_tree_of_a_removed_version() {
    let r = report("dkms-secure-boot-mok-not-enrolled", &[]);
    let k = &r["platform"]["kernel_build"]["dkms"];
    assert_eq!(k[0]["version"], "525.147.05");
    assert_eq!(k[0]["source_present"], false);
    assert_eq!(k[0]["built_for"], serde_json::json!(["6.5.0-41-generic"]));
    let f = one(&r, "dkms-stale-trees");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("nvidia/525.147.05"));
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo rm -rf /var/lib/dkms/nvidia/525.147.05")
    );
    // The tree in use is not stale.
    assert!(!f["message"].as_str().unwrap().contains("535.183.01"));
}

#[test]
fn kmod_stale_dkms_tree_beside_the_loaded_driver() {
    // The H100 host runs 580.65.06; DKMS also still holds 570.86.15, whose source is there.
    let dir = scratch_copy("bare-metal-h100x8-open-580", "beside");
    for v in ["580.65.06", "570.86.15"] {
        let src = dir.join(format!("usr/src/nvidia-{v}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("dkms.conf"),
            format!("PACKAGE_NAME=\"nvidia\"\nPACKAGE_VERSION=\"{v}\"\n"),
        )
        .unwrap();
        let tree = dir.join(format!("var/lib/dkms/nvidia/{v}"));
        std::fs::create_dir_all(tree.join("6.8.0-49-generic/x86_64/module")).unwrap();
        std::fs::write(
            tree.join("6.8.0-49-generic/x86_64/module/nvidia.ko.zst"),
            b"(zstd)",
        )
        .unwrap();
        std::os::unix::fs::symlink(format!("/usr/src/nvidia-{v}"), tree.join("source")).unwrap();
    }
    let r = report_at(&dir);
    let f = one(&r, "dkms-stale-trees");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("nvidia/570.86.15 (another version is the loaded driver)"),
        "{m}"
    );
    assert!(!m.contains("580.65.06"), "{m}");
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo dkms remove nvidia/570.86.15 --all")
    );
    // Loaded and built: nothing to build, and the compressed module's signature is not guessed.
    assert!(findings(&r, "dkms-not-built-for-kernel").is_empty());
    assert!(findings(&r, "kernel-headers-missing").is_empty());
}

#[test]
fn kmod_headers_missing_for_the_running_kernel() {
    let r = report("dkms-no-headers-550", &[]);
    let k = &r["platform"]["kernel_build"];
    // The build link dangles: no headers.
    assert!(k["headers"].is_null());
    let f = one(&r, "kernel-headers-missing");
    assert_eq!(f["severity"], "error");
    let remedy = f["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("sudo apt install linux-headers-6.8.0-51-generic"),
        "{remedy}"
    );
    assert!(
        remedy.contains("sudo dkms autoinstall -k 6.8.0-51-generic"),
        "{remedy}"
    );
    assert!(findings(&r, "module-signature-not-trusted").is_empty());
    // One cause, one finding: the /lib/modules rule's "not rebuilt" is this one, and its
    // facts (the older kernel with a module, booting it as a way out) move here.
    assert!(findings(&r, "module-not-built-for-kernel").is_empty());
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("Kernel(s) 6.8.0-49-generic have a module"),
        "{m}"
    );
    assert!(
        remedy.contains("Or boot kernel 6.8.0-49-generic"),
        "{remedy}"
    );
    let dnl = one(&r, "driver-not-loaded");
    assert!(
        dnl["remedy"]
            .as_str()
            .unwrap()
            .contains("(see kernel-headers-missing)"),
        "{dnl}"
    );
    assert_eq!(r["cuda"]["blocked_by"], "kernel-headers-missing");
}

#[test]
fn kmod_module_not_built_stays_when_it_is_the_only_cause() {
    // No DKMS (a .run install for the old kernel): /lib/modules is the only evidence.
    let r = report("kernel-update-no-dkms", &[]);
    let f = one(&r, "module-not-built-for-kernel");
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("install its headers")
    );
    assert!(findings(&r, "kernel-headers-missing").is_empty());
    assert!(findings(&r, "dkms-not-built-for-kernel").is_empty());
    assert!(
        one(&r, "driver-not-loaded")["remedy"]
            .as_str()
            .unwrap()
            .contains("(see module-not-built-for-kernel)")
    );
    assert_eq!(r["cuda"]["blocked_by"], "module-not-built-for-kernel");
}

#[test]
fn kmod_headers_there_but_dkms_did_not_build() {
    let dir = scratch_copy("dkms-no-headers-550", "headers");
    let h = dir.join("usr/src/linux-headers-6.8.0-51-generic");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(h.join("Makefile"), "VERSION = 6\n").unwrap();
    let r = report_at(&dir);
    assert_eq!(
        r["platform"]["kernel_build"]["headers"],
        "/lib/modules/6.8.0-51-generic/build"
    );
    assert!(findings(&r, "kernel-headers-missing").is_empty());
    let f = one(&r, "dkms-not-built-for-kernel");
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("'sudo dkms autoinstall -k 6.8.0-51-generic'")
    );
    // The same single cause with the headers there: DKMS has not run.
    assert!(findings(&r, "module-not-built-for-kernel").is_empty());
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("Kernel(s) 6.8.0-49-generic")
    );
    assert_eq!(r["cuda"]["blocked_by"], "dkms-not-built-for-kernel");
}

#[test]
fn kmod_taint_of_the_loaded_module() {
    // The open module of the H100 fixture is loaded with taint OE: unsigned.
    let r = report("bare-metal-h100x8-open-580", &[]);
    let k = &r["platform"]["kernel_build"];
    assert_eq!(k["module_signed"], false);
    assert!(k["module_signed_by"].as_str().unwrap().contains("OE"));
    let dir = scratch_copy("dkms-no-headers-550", "tainted");
    std::fs::write(dir.join("proc/sys/kernel/tainted"), "12289\n").unwrap();
    let r = report_at(&dir);
    assert_eq!(r["platform"]["kernel_build"]["taint_flags"], "POE");
    assert_eq!(r["platform"]["kernel_build"]["tainted"], 12289);
}

#[test]
fn kmod_not_reported_in_a_container() {
    let r = report("container-hami-580-cuda11", &[]);
    assert!(r["platform"].get("kernel_build").is_none());
}

// --- driver package layers ----------------------------------------------------------------------

fn package_names(r: &Value) -> Vec<String> {
    r["platform"]["packages"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn packages_split_branch_userspace_530_with_module_535() {
    let r = report("dpkg-split-branch-530-535", &[]);
    let p = &r["platform"]["packages"];
    assert_eq!(p["manager"], "dpkg");
    assert_eq!(p["container_toolkit"], "1.17.8");
    let layers: Vec<(&str, &str)> = p["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["name"].as_str().unwrap(), x["layer"].as_str().unwrap()))
        .collect();
    assert!(layers.contains(&("linux-modules-nvidia-535-server-6.8.0-49-generic", "module")));
    assert!(layers.contains(&("libnvidia-compute-530", "userspace")));
    assert!(layers.contains(&("nvidia-utils-530", "utils")));
    let f = one(&r, "driver-packages-split-branch");
    assert_eq!(f["severity"], "error");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("branch 535") && m.contains("branch 530"), "{m}");
    let remedy = f["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("sudo apt install libnvidia-compute-535-server nvidia-utils-535-server"),
        "{remedy}"
    );
    assert!(remedy.contains("sudo apt purge libnvidia-compute-530 nvidia-utils-530"));
    // Split is its own finding, not also an orphan one; 1.17.8 is recent enough.
    assert!(findings(&r, "driver-packages-orphaned").is_empty());
    assert!(findings(&r, "container-toolkit-outdated").is_empty());
    // The library inventory agrees: the loader finds 530's libraries.
    assert_eq!(one(&r, "driver-library-mismatch")["severity"], "error");
}

#[test]
fn packages_orphans_of_an_earlier_branch() {
    let r = report("dpkg-desktop-flavour-orphans-570", &[]);
    // A package with only its config files left is not installed.
    assert!(!package_names(&r).contains(&"libnvidia-compute-550".to_owned()));
    let f = one(&r, "driver-packages-orphaned");
    assert_eq!(f["severity"], "warning");
    let remedy = f["remedy"].as_str().unwrap();
    assert!(
        remedy.contains(
            "sudo apt purge nvidia-firmware-550-550.127.05 linux-modules-nvidia-550-6.8.0-45-generic"
        ),
        "{remedy}"
    );
    // The packages of the branch in use are not orphans.
    assert!(!f["message"].as_str().unwrap().contains("570-6.8.0-49"));
    assert!(findings(&r, "driver-packages-split-branch").is_empty());
}

#[test]
fn packages_desktop_flavour_on_a_data_center_server() {
    let r = report("dpkg-desktop-flavour-orphans-570", &[]);
    let f = one(&r, "driver-desktop-flavour-on-server");
    assert_eq!(f["severity"], "info");
    assert!(f["message"].as_str().unwrap().contains("nvidia-driver-570"));
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo apt install nvidia-headless-570-server nvidia-utils-570-server")
    );
    // A workstation GPU with the desktop flavour is as it should be.
    let dir = scratch_copy("dpkg-desktop-flavour-orphans-570", "geforce");
    let info = dir.join("proc/driver/nvidia/gpus/0000:17:00.0/information");
    let text = std::fs::read_to_string(&info)
        .unwrap()
        .replace("NVIDIA H100 PCIe", "NVIDIA GeForce RTX 4090");
    std::fs::write(&info, text).unwrap();
    let r = report_at(&dir);
    assert!(findings(&r, "driver-desktop-flavour-on-server").is_empty());
}

#[test]
fn packages_fabric_manager_of_another_version() {
    let r = report("dpkg-desktop-flavour-orphans-570", &[]);
    let f = one(&r, "fabric-manager-package-mismatch");
    assert_eq!(f["severity"], "warning");
    let m = f["message"].as_str().unwrap();
    assert!(
        m.contains("nvidia-fabricmanager-550 550.127.05")
            && m.contains("libnvidia-nscq-550 550.127.05")
            && m.contains("570.195.03"),
        "{m}"
    );
    // With NVSwitches on the bus the fabric manager check says it; the H100x8 fixture's
    // fabric manager is the driver's version: nothing.
    let r = report("bare-metal-h100x8-open-580", &[]);
    assert_eq!(package_names(&r), ["nvidia-fabricmanager-580"]);
    assert!(findings(&r, "fabric-manager-package-mismatch").is_empty());
    assert!(findings(&r, "fabric-manager-missing").is_empty());
}

#[test]
fn packages_container_toolkit_older_than_1_14() {
    let r = report("dpkg-desktop-flavour-orphans-570", &[]);
    assert_eq!(r["platform"]["packages"]["container_toolkit"], "1.13.5");
    let f = one(&r, "container-toolkit-outdated");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("1.13.5"));
}

#[test]
fn packages_rpm_split_branch_from_a_real_rpmdb_sqlite() {
    // Rocky 9: kmod-nvidia-open-dkms 560 loaded, nvidia-driver-cuda-libs 550 (rpm 4.18's own
    // database, scripts/rpmdb/gen-rpmdb.sh).
    let r = report("rpm-split-branch-550-560", &[]);
    assert_eq!(source(&r, "packages")["status"], "ok");
    let p = &r["platform"]["packages"];
    assert_eq!(p["manager"], "rpm");
    assert_eq!(p["container_toolkit"], "1.13.5");
    let names = package_names(&r);
    assert!(
        names.contains(&"kmod-nvidia-open-dkms".to_owned()),
        "{names:?}"
    );
    assert!(!names.contains(&"bash".to_owned()), "{names:?}");
    let f = one(&r, "driver-packages-split-branch");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains("branch 560") && m.contains("branch 550"), "{m}");
    let remedy = f["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("sudo dnf module switch-to nvidia-driver:560-dkms"),
        "{remedy}"
    );
    assert!(!remedy.contains("apt"), "{remedy}");
    let fm = one(&r, "fabric-manager-package-mismatch");
    assert!(
        fm["message"]
            .as_str()
            .unwrap()
            .contains("nvidia-fabric-manager 550.127.05"),
        "{fm}"
    );
    assert!(
        fm["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo dnf install nvidia-fabric-manager-560.35.03")
    );
    assert!(
        one(&r, "container-toolkit-outdated")["remedy"]
            .as_str()
            .unwrap()
            .contains("sudo dnf install nvidia-container-toolkit")
    );
    assert!(findings(&r, "driver-packages-orphaned").is_empty());
}

#[test]
fn packages_rpm_database_at_the_sysimage_path() {
    // openSUSE and newer Fedora keep it under /usr/lib/sysimage/rpm.
    let dir = scratch_copy("rpm-split-branch-550-560", "sysimage");
    std::fs::create_dir_all(dir.join("usr/lib/sysimage/rpm")).unwrap();
    std::fs::rename(
        dir.join("var/lib/rpm/rpmdb.sqlite"),
        dir.join("usr/lib/sysimage/rpm/rpmdb.sqlite"),
    )
    .unwrap();
    let r = report_at(&dir);
    let s = source(&r, "packages");
    assert_eq!(s["status"], "ok");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .starts_with("/usr/lib/sysimage/rpm/rpmdb.sqlite: 10 NVIDIA"),
        "{s}"
    );
    assert_eq!(one(&r, "driver-packages-split-branch")["severity"], "error");
}

#[test]
fn packages_rpm_database_damaged_or_of_another_form() {
    // Cut in the middle: the source fails, no package finding is made from half a database.
    let dir = scratch_copy("rpm-split-branch-550-560", "cut");
    let db = dir.join("var/lib/rpm/rpmdb.sqlite");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
    let r = report_at(&dir);
    let s = source(&r, "packages");
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("not read as an rpm database"),
        "{s}"
    );
    assert!(r["platform"].get("packages").is_none());
    assert!(findings(&r, "driver-packages-split-branch").is_empty());
    // A header-only file is refused the same way.
    std::fs::write(&db, b"SQLite format 3\0").unwrap();
    assert_eq!(source(&report_at(&dir), "packages")["status"], "failed");
    // The Berkeley DB form (RHEL 8 and older) is not read: skipped, nothing concluded.
    std::fs::remove_file(&db).unwrap();
    std::fs::write(dir.join("var/lib/rpm/Packages"), [0_u8; 4096]).unwrap();
    let r = report_at(&dir);
    assert_eq!(source(&r, "packages")["status"], "skipped");
    assert!(r["platform"].get("packages").is_none());
}

// --- hostile input ------------------------------------------------------------------------------

#[test]
fn vgpu_hostile_variables_never_reach_the_terminal_raw() {
    let root = fixture("container-hami-580-cuda11");
    let out = nvprobe_env(
        &["--root", root.to_str().unwrap()],
        &[
            ("LD_PRELOAD", "/tmp/\u{1b}]0;pwned\u{7}/libvgpu.so"),
            ("CUDA_DEVICE_MEMORY_LIMIT_0", "1g\u{1b}[2J"),
            ("CUDA_DEVICE_SM_LIMIT", "30"),
        ],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    assert!(text.contains("vgpu-fractional-allocation"), "{text}");
    let r = report(
        "container-hami-580-cuda11",
        &[("CUDA_DEVICE_MEMORY_LIMIT_0", "1g\u{1b}[2J")],
    );
    let limits = r["platform"]["vgpu_manager"]["memory_limits"].to_string();
    assert!(!limits.contains("\\u001b"), "{limits}");
}

// --- GPU × minimum driver -----------------------------------------------------------------------

/// The L40S machine with the open 550 module, its GPU's device id changed to an RTX 5090's
/// (0x2b85, first listed by the open modules' README at 570.86.16): one error that names the
/// GPU, both releases and cites that README.
#[test]
fn gpu_newer_than_the_loaded_open_module() {
    let dir = scratch_copy("permission-denied-l40s-open-550", "gpu-newer-than-driver");
    let dev = dir.join("sys/devices/pci0000:4a/0000:4a:01.0/0000:4b:00.0/device");
    assert_eq!(std::fs::read_to_string(&dev).unwrap().trim(), "0x26b9");
    std::fs::write(&dev, "0x2b85\n").unwrap();
    // The same id where the probe may read it too: the uevent and /proc/bus/pci/devices.
    for (file, from, to) in [
        (dev.with_file_name("uevent"), "26B9", "2B85"),
        (dir.join("proc/bus/pci/devices"), "10de26b9", "10de2b85"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{}", file.display());
        std::fs::write(&file, text.replace(from, to)).unwrap();
    }
    let r = report_at(&dir);
    let f = one(&r, "gpu-newer-than-driver");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("0x2b85") && msg.contains("550."), "{msg}");
    assert!(
        msg.contains("https://github.com/NVIDIA/open-gpu-kernel-modules/blob/570.86.16/README.md"),
        "{msg}"
    );
    assert!(f["remedy"].as_str().unwrap().contains("570.86.16"));
    // Left unbound, as the driver does with a GPU it does not know (no driver link, no DRIVER=
    // in the uevent, no /proc/driver/nvidia/gpus entry): still one finding, and no
    // gpu-not-bound beside it (one cause, one finding).
    std::fs::remove_file(dev.with_file_name("driver")).unwrap();
    let uevent = dev.with_file_name("uevent");
    let text = std::fs::read_to_string(&uevent).unwrap();
    std::fs::write(&uevent, text.replace("DRIVER=nvidia\n", "")).unwrap();
    std::fs::remove_dir_all(dir.join("proc/driver/nvidia/gpus/0000:4b:00.0")).unwrap();
    let r = report_at(&dir);
    one(&r, "gpu-newer-than-driver");
    assert!(findings(&r, "gpu-not-bound").is_empty(), "{:?}", codes(&r));
    // The same unbound GPU with its own id (an L40S, which 550 supports): gpu-not-bound stays.
    for (file, from, to) in [
        (dev.clone(), "0x2b85", "0x26b9"),
        (uevent, "2B85", "26B9"),
        (dir.join("proc/bus/pci/devices"), "10de2b85", "10de26b9"),
    ] {
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace(from, to)).unwrap();
    }
    let r = report_at(&dir);
    assert!(findings(&r, "gpu-newer-than-driver").is_empty());
    one(&r, "gpu-not-bound");
    // The fixture as it is (an L40S, listed since the first README with the table): none.
    let r = report("permission-denied-l40s-open-550", &[]);
    assert!(findings(&r, "gpu-newer-than-driver").is_empty());
}
