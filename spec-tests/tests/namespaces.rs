//! runtime-spec config-linux "Namespaces": each type observed from inside
//! the container, user-namespace id mappings, time offsets, and joining an
//! existing namespace by `path`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use spec_tests::leaks::assert_clean;
use spec_tests::{host_ns, is_runc, Bundle, Runtime};

fn ns_inside(kind: &str, b: &mut Bundle, rt: &Runtime) -> String {
    b.set(
        "/process/args",
        json!(["readlink", format!("/proc/self/ns/{kind}")]),
    );
    rt.run_ok(b).trim().to_string()
}

#[test]
fn pid_namespace_makes_the_process_pid_1() {
    let b = Bundle::sh("echo $$; ls /proc | grep -c '^[0-9]'");
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "{out}");
    // sh, ls and grep (and maybe a transient subshell): no host processes.
    let n: usize = lines[1].parse().unwrap_or(999);
    assert!(n <= 4, "pid namespace sees {n} processes: {out}");
}

#[test]
fn network_namespace_has_only_lo() {
    let b = Bundle::sh("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b).trim(), "lo");
}

#[test]
fn without_network_namespace_the_host_net_is_shared() {
    let mut b = Bundle::new(&["true"]);
    b.remove_namespace("network");
    let rt = Runtime::new();
    assert_eq!(ns_inside("net", &mut b, &rt), host_ns("net"));
}

#[test]
fn uts_namespace_hostname_and_domainname() {
    let mut b = Bundle::sh("hostname; cat /proc/sys/kernel/domainname");
    b.set("/hostname", json!("skiffhost"))
        .set("/domainname", json!("skiff.example"));
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    if is_runc() {
        // runc 1.1 ignores `domainname` (added in runc 1.2).
        assert!(out.starts_with("skiffhost\n"), "{out}");
    } else {
        assert_eq!(out, "skiffhost\nskiff.example\n");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert_ne!(
        host.trim(),
        "skiffhost",
        "the host's hostname must not change"
    );
}

#[test]
fn ipc_mount_uts_pid_namespaces_differ_from_host() {
    for kind in ["ipc", "mnt", "uts", "pid", "net"] {
        let mut b = Bundle::new(&["true"]);
        let rt = Runtime::new();
        let inside = ns_inside(kind, &mut b, &rt);
        assert!(inside.starts_with(&format!("{kind}:[")), "{inside}");
        assert_ne!(inside, host_ns(kind), "{kind} namespace is the host's");
    }
}

#[test]
fn ipc_namespace_hides_host_sysv_objects() {
    // A host message queue must not be visible inside.
    let q = Command::new("sh")
        .args(["-c", "ipcmk -Q | grep -o '[0-9]*$'"])
        .output();
    let qid = q
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let b = Bundle::sh("cat /proc/sysvipc/msg | tail -n +2 | wc -l");
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    if !qid.is_empty() {
        let _ = Command::new("ipcrm").args(["-q", &qid]).status();
    }
    assert_eq!(out.trim(), "0", "container sees host message queues");
}

#[test]
fn mount_namespace_keeps_container_mounts_off_the_host() {
    let mut b = Bundle::sh("mount -t tmpfs tmpfs /mnt && echo mounted");
    b.caps(&["CAP_SYS_ADMIN"]);
    let rt = Runtime::new();
    let id = rt.id("mnt");
    let out = rt.run(&b, &id);
    assert_eq!(out.expect_ok().stdout, "mounted\n");
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn user_namespace_maps_ids() {
    let mut b =
        Bundle::sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u /bin/busybox");
    b.namespace("user", None)
        .set(
            "/linux/uidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .set(
            "/linux/gidMappings",
            json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(rows[1], ["0", "100000", "65536"], "{out}");
    assert_eq!(rows[2], ["0"], "{out}");
    // Host root is unmapped inside: its files show as the overflow uid.
    assert_eq!(rows[3], ["65534"], "{out}");
}

#[test]
fn cgroup_namespace_roots_every_hierarchy() {
    let mut b = Bundle::sh("cat /proc/self/cgroup");
    b.namespace("cgroup", None);
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    for l in out.lines() {
        assert!(
            l.ends_with(":/"),
            "cgroup path not rooted in a cgroup namespace: {l}\n{out}"
        );
    }
    let mut b2 = Bundle::new(&["true"]);
    b2.namespace("cgroup", None);
    assert_ne!(ns_inside("cgroup", &mut b2, &rt), host_ns("cgroup"));
}

#[test]
fn time_namespace_offsets() {
    if is_runc() {
        eprintln!("skip: runc 1.1 has no time namespace");
        return;
    }
    let mut b = Bundle::sh("cat /proc/self/timens_offsets");
    b.namespace("time", None).set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 172800, "nanosecs": 0}}),
    );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    assert!(out.contains("monotonic") && out.contains("86400"), "{out}");
    assert!(out.contains("boottime") && out.contains("172800"), "{out}");
}

/// A persistent network namespace bound to a file, removed on drop.
struct NetNs {
    dir: spec_tests::TempDir,
    file: PathBuf,
}

impl NetNs {
    fn new() -> NetNs {
        let dir = spec_tests::TempDir::new("skt-netns");
        let file = dir.path().join("net");
        std::fs::write(&file, "").expect("netns file");
        let st = Command::new("unshare")
            .arg(format!("--net={}", file.display()))
            .arg("true")
            .status();
        assert!(
            st.is_ok_and(|s| s.success()),
            "unshare --net={} failed",
            file.display()
        );
        NetNs { dir, file }
    }

    fn ino(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.file).map(|m| m.ino()).unwrap_or(0)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.file, nix::mount::MntFlags::MNT_DETACH);
        let _ = &self.dir;
    }
}

#[test]
fn join_network_namespace_by_path() {
    let ns = NetNs::new();
    let mut b = Bundle::new(&["readlink", "/proc/self/ns/net"]);
    b.namespace("network", Some(&ns.file.to_string_lossy()));
    let rt = Runtime::new();
    let id = rt.id("joinns");
    let out = rt.run(&b, &id);
    assert_eq!(out.expect_ok().stdout.trim(), format!("net:[{}]", ns.ino()));
    assert_clean(&rt, &id, &b, None);
}
