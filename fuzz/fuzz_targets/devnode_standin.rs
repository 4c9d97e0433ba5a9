//! The `key=value` record of a device-node stand-in in a fixture or capture.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::report::DeviceNode;

fuzz_target!(|data: &[u8]| {
    let mut node = DeviceNode {
        path: "/dev/nvidiactl".to_owned(),
        kind: "file".to_owned(),
        major: None,
        minor: None,
        mode: None,
        uid: None,
        gid: None,
        access: "unknown".to_owned(),
    };
    nvprobe::detect::devnodes::apply_stand_in(&mut node, &String::from_utf8_lossy(data));
});
