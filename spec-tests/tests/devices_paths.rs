//! config-linux "Devices", "Default Devices", the /dev symlinks of
//! runtime-spec "Filesystem", "Masked Paths" and "Readonly Paths".

use serde_json::json;
use spec_tests::{Bundle, Runtime};

#[test]
fn default_devices_have_their_numbers() {
    let b = Bundle::sh(
        "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done",
    );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let want = [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), want.len(), "{out}");
    for (line, (name, num)) in lines.iter().zip(want) {
        assert_eq!(
            *line,
            format!("/dev/{name} character special file {num} 666"),
            "{out}"
        );
    }
}

#[test]
fn default_devices_work() {
    let b = Bundle::sh(
        "echo gone > /dev/null && head -c 4 /dev/zero | wc -c && head -c 8 /dev/urandom | wc -c",
    );
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b).split_whitespace().collect::<Vec<_>>(),
        ["4", "8"]
    );
}

#[test]
fn dev_symlinks() {
    let b = Bundle::sh(
        "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; ls -d /dev/pts /dev/shm",
    );
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b),
        "/proc/self/fd\n/proc/self/fd/0\n/proc/self/fd/1\n/proc/self/fd/2\npts/ptmx\n/dev/pts\n/dev/shm\n"
    );
}

#[test]
fn linux_devices_are_created_and_allowed() {
    let mut b = Bundle::sh(
        "stat -c '%F %t:%T %a %u:%g' /dev/sktnull /dev/sktblk; echo x > /dev/sktnull && echo written",
    );
    b.push("/linux/devices", json!({"path": "/dev/sktnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}));
    b.push("/linux/devices", json!({"path": "/dev/sktblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 1, "gid": 2}));
    b.push(
        "/linux/resources/devices",
        json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
    );
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b),
        "character special file 1:3 640 0:0\nblock special file 7:c8 600 1:2\nwritten\n"
    );
}

#[test]
fn device_cgroup_allows_and_denies() {
    // /dev/kmsg's numbers: not among the default allowed devices.
    let mut b = Bundle::sh(
        "echo skiff-spec-test > /dev/sktkmsg && echo allowed; echo x > /dev/sktdeny || echo denied",
    );
    b.push(
        "/linux/devices",
        json!({"path": "/dev/sktkmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}),
    );
    b.push(
        "/linux/devices",
        json!({"path": "/dev/sktdeny", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600}),
    );
    b.push(
        "/linux/resources/devices",
        json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}),
    );
    b.push(
        "/linux/resources/devices",
        json!({"allow": false, "type": "c", "major": 1, "minor": 11, "access": "w"}),
    );
    let rt = Runtime::new();
    let id = rt.id("devcg");
    let out = rt.run(&b, &id);
    // The later rule wins: both nodes are 1:11, so both are denied.
    assert_eq!(out.expect_ok().stdout, "denied\n", "{out}");
    assert!(out.stderr.contains("Operation not permitted"), "{out}");
    b.remove("/linux/resources/devices/2");
    assert_eq!(rt.run_ok(&b), "allowed\n");
}

#[test]
fn masked_paths_read_empty() {
    let mut b = Bundle::sh("wc -c < /proc/timer_list; ls -A /sys/firmware | wc -l; wc -c < /etc/secret; ls -A /etc/secretdir | wc -l");
    std::fs::write(b.rootfs().join("etc/secret"), "top secret\n").expect("write");
    std::fs::create_dir_all(b.rootfs().join("etc/secretdir")).expect("mkdir");
    std::fs::write(b.rootfs().join("etc/secretdir/x"), "x").expect("write");
    b.push("/linux/maskedPaths", json!("/etc/secret"));
    b.push("/linux/maskedPaths", json!("/etc/secretdir"));
    b.push("/linux/maskedPaths", json!("/does/not/exist"));
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b).split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "0", "0"]
    );
}

#[test]
fn readonly_paths_refuse_writes() {
    let mut b = Bundle::sh(
        "touch /etc/rodir/x 2>/dev/null && echo wrote || echo refused; \
         echo 1 > /proc/sys/kernel/shmmax 2>/dev/null && echo wrote || echo refused; cat /etc/rodir/keep",
    );
    std::fs::create_dir_all(b.rootfs().join("etc/rodir")).expect("mkdir");
    std::fs::write(b.rootfs().join("etc/rodir/keep"), "kept\n").expect("write");
    b.push("/linux/readonlyPaths", json!("/etc/rodir"));
    b.caps(&["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "refused\nrefused\nkept\n");
}
