//! config-linux "Seccomp": a profile's actions observed from inside the
//! container (errno, errnoRet, kill) and the filter mode in /proc.

use serde_json::json;
use spec_tests::{status_field, Bundle, Runtime};

fn profile(rules: serde_json::Value) -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": rules
    })
}

#[test]
fn errno_rules_deny_their_syscalls() {
    let mut b = Bundle::sh(
        "mkdir /tmp/d 2>&1 || true; touch /tmp/f && echo touched; chmod 600 /tmp/f 2>&1 || true; grep ^Seccomp: /proc/self/status",
    );
    b.set(
        "/linux/seccomp",
        profile(json!([
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
        ])),
    );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("Operation not permitted"),
        "default errno is EPERM: {out}"
    );
    assert_eq!(lines[1], "touched", "{out}");
    assert!(
        lines[2].contains("Permission denied"),
        "errnoRet 13 is EACCES: {out}"
    );
    assert_eq!(
        status_field(&out, "Seccomp"),
        Some("2"),
        "filter mode: {out}"
    );
}

#[test]
fn kill_action_kills_with_sigsys() {
    // busybox sh calls uname(2) itself (at startup): it dies of SIGSYS.
    let mut b = Bundle::sh("uname; echo survived");
    b.set(
        "/linux/seccomp",
        profile(json!([{"names": ["uname"], "action": "SCMP_ACT_KILL"}])),
    );
    let rt = Runtime::new();
    let id = rt.id("sigsys");
    let out = rt.run(&b, &id);
    assert_eq!(out.code, 128 + libc::SIGSYS, "{out}");
    assert!(!out.stdout.contains("survived"), "{out}");
}

#[test]
fn no_profile_no_filter() {
    let b = Bundle::new(&["grep", "^Seccomp:", "/proc/self/status"]);
    let rt = Runtime::new();
    assert_eq!(status_field(&rt.run_ok(&b), "Seccomp"), Some("0"));
}

/// docker's and podman's defaults: a profile, noNewPrivileges false and no
/// CAP_SYS_ADMIN. Loading a filter then needs the runtime to do it before it
/// drops the capabilities (runc does); for a non-root user too.
#[test]
fn filter_loads_without_no_new_privileges() {
    for user in [
        json!({"uid": 0, "gid": 0}),
        json!({"uid": 1000, "gid": 1000}),
    ] {
        let mut b = Bundle::sh(
            "mkdir /tmp/d 2>&1 || true; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status",
        );
        b.set("/process/noNewPrivileges", json!(false))
            .set("/process/user", user.clone())
            .set(
                "/linux/seccomp",
                profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])),
            );
        let rt = Runtime::new();
        let out = rt.run_ok(&b);
        assert!(out.contains("Operation not permitted"), "{user}: {out}");
        assert_eq!(status_field(&out, "Seccomp"), Some("2"), "{user}: {out}");
        assert_eq!(status_field(&out, "NoNewPrivs"), Some("0"), "{user}: {out}");
    }
}
