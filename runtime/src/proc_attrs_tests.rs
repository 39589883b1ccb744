//! Tests for `proc_attrs`: each attribute is applied in a forked child
//! (which unshares what it changes) and read back from the kernel.

use super::*;
use crate::sys::process::{ioprio_get, run_in_child, sched_getscheduler};
use nix::sched::{unshare, CloneFlags};
use oci_spec::runtime::{LinuxIOPriorityBuilder, LinuxPersonalityBuilder, SchedulerBuilder};

fn verdict(checks: &[bool]) -> i32 {
    checks
        .iter()
        .position(|ok| !ok)
        .map_or(0, |i| 10 + i as i32)
}

#[test]
fn sysctl_keys_map_to_paths() {
    assert_eq!(
        sysctl_path("net.ipv4.ip_forward").unwrap(),
        "net/ipv4/ip_forward"
    );
    assert_eq!(
        sysctl_path("net/ipv4/conf/eth0.100/forwarding").unwrap(),
        "net/ipv4/conf/eth0.100/forwarding"
    );
    for bad in [
        "",
        "..",
        "kernel..hostname",
        "/kernel/hostname",
        "kernel/../../x",
        "a/./b",
        "kernel.",
    ] {
        let err = sysctl_path(bad).unwrap_err().to_string();
        assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
    }
}

#[test]
fn writes_sysctls_in_a_uts_namespace() {
    let code = run_in_child(|| {
        unshare(CloneFlags::CLONE_NEWUTS).unwrap();
        let mut s = HashMap::new();
        s.insert("kernel.hostname".to_string(), "skiff-sysctl".to_string());
        s.insert("kernel/domainname".to_string(), "skiff.dom".to_string());
        write_sysctls(&s).unwrap();
        let uts = nix::sys::utsname::uname().unwrap();
        verdict(&[
            uts.nodename() == "skiff-sysctl",
            uts.domainname() == "skiff.dom",
        ])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sysctl_write_refuses_mounts_over_procfs() {
    use nix::mount::{mount, MsFlags};
    let code = run_in_child(|| {
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS).unwrap();
        let none = None::<&str>;
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).unwrap();
        let mut s = HashMap::new();
        s.insert("kernel.hostname".to_string(), "redirected".to_string());
        // A bind mount over the target file (the CVE-2025-52881 trick).
        let bind = MsFlags::MS_BIND;
        mount(
            Some("/proc/sys/kernel/domainname"),
            "/proc/sys/kernel/hostname",
            none,
            bind,
            none,
        )
        .unwrap();
        let over_file = write_sysctls(&s).is_err();
        // /proc replaced by a procfs subdirectory: procfs, but not its root.
        mount(Some("/proc/sys"), "/proc", none, bind, none).unwrap();
        let root_err = format!("{:#}", write_sysctls(&s).unwrap_err());
        // /proc replaced by something that is not procfs at all.
        mount(
            Some("tmpfs"),
            "/proc",
            Some("tmpfs"),
            MsFlags::empty(),
            none,
        )
        .unwrap();
        let fs_err = format!("{:#}", write_sysctls(&s).unwrap_err());
        let uts = nix::sys::utsname::uname().unwrap();
        verdict(&[
            over_file,
            root_err.contains("not the root of a procfs mount"),
            fs_err.contains("not procfs"),
            uts.nodename() != "redirected" && uts.domainname() != "redirected",
        ])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sysctl_error_names_key_and_value() {
    let mut s = HashMap::new();
    s.insert("kernel.no_such_knob".to_string(), "1".to_string());
    let err = format!("{:#}", write_sysctls(&s).unwrap_err());
    assert!(
        err.starts_with("write sysctl \"kernel.no_such_knob\" = \"1\": "),
        "{err}"
    );
    let mut s = HashMap::new();
    s.insert("kernel/../../etc/passwd".to_string(), "x".to_string());
    assert!(write_sysctls(&s).is_err());
}

#[test]
fn sets_hostname_and_domainname() {
    let code = run_in_child(|| {
        unshare(CloneFlags::CLONE_NEWUTS).unwrap();
        set_hostname("skiff-host").unwrap();
        set_domainname("skiff.example").unwrap();
        let uts = nix::sys::utsname::uname().unwrap();
        verdict(&[
            uts.nodename() == "skiff-host",
            uts.domainname() == "skiff.example",
        ])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sets_oom_score_adj() {
    let code = run_in_child(|| {
        set_oom_score_adj(567).unwrap();
        let v = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        verdict(&[v.trim() == "567", set_oom_score_adj(1001).is_err()])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sets_io_priority() {
    let code = run_in_child(|| {
        let be = LinuxIOPriorityBuilder::default()
            .class(IOPriorityClass::IoprioClassBe)
            .priority(6)
            .build()
            .unwrap();
        set_io_priority(&be).unwrap();
        let first = ioprio_get().unwrap() == (2, 6);
        let idle = LinuxIOPriorityBuilder::default()
            .class(IOPriorityClass::IoprioClassIdle)
            .priority(0)
            .build()
            .unwrap();
        set_io_priority(&idle).unwrap();
        let bad = LinuxIOPriorityBuilder::default()
            .priority(8)
            .build()
            .unwrap();
        verdict(&[
            first,
            ioprio_get().unwrap().0 == 3,
            set_io_priority(&bad).is_err(),
        ])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sets_scheduler_policy_and_nice() {
    let code = run_in_child(|| {
        let sched = SchedulerBuilder::default()
            .policy(LinuxSchedulerPolicy::SchedBatch)
            .nice(7)
            .flags(vec![LinuxSchedulerFlag::SchedResetOnFork])
            .build()
            .unwrap();
        set_scheduler(&sched).unwrap();
        let policy = sched_getscheduler();
        let nice = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Field 19 of stat is nice; the comm field (2) has no spaces here.
        let nice: i32 = nice.split_whitespace().nth(18).unwrap().parse().unwrap();
        // SCHED_RESET_ON_FORK is reported or'ed into the policy.
        let reset_on_fork = 0x4000_0000;
        verdict(&[policy.ok() == Some(3 | reset_on_fork), nice == 7])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sets_personality_linux32() {
    let code = run_in_child(|| {
        let p = LinuxPersonalityBuilder::default()
            .domain(LinuxPersonalityDomain::PerLinux32)
            .build()
            .unwrap();
        set_personality(&p).unwrap();
        let machine = nix::sys::utsname::uname().unwrap();
        let machine = machine.machine().to_string_lossy().into_owned();
        let flagged = LinuxPersonalityBuilder::default()
            .flags(vec!["X".to_string()])
            .build()
            .unwrap();
        // Querying (0xffffffff) returns the current persona unchanged.
        verdict(&[
            personality(0xffff_ffff).unwrap() == 0x0008,
            machine == "i686" || machine == "armv8l" || !cfg!(target_pointer_width = "64"),
            set_personality(&flagged).is_err(),
        ])
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
}

#[test]
fn sets_no_new_privs() {
    let code = run_in_child(|| {
        set_no_new_privs().unwrap();
        i32::from(!nix::sys::prctl::get_no_new_privs().unwrap())
    })
    .unwrap();
    assert_eq!(code, 0);
}
