//! runtime-spec config "Process": args, env, cwd, user (uid, gid, umask,
//! additionalGids), capabilities, rlimits, noNewPrivileges, oomScoreAdj,
//! ioPriority and scheduler — each read back from inside the container.

use serde_json::json;
use spec_tests::{cap_mask, is_runc, status_field, Bundle, Runtime};

#[test]
fn args_are_passed_verbatim() {
    let b = Bundle::new(&[
        "sh",
        "-c",
        "for a in \"$@\"; do echo \"[$a]\"; done",
        "argv0",
        "one",
        "two words",
        "",
        "*",
    ]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "[one]\n[two words]\n[]\n[*]\n");
}

#[test]
fn env_is_exactly_the_configured_list() {
    let mut b = Bundle::new(&["env"]);
    b.set(
        "/process/env",
        json!(["PATH=/bin", "FOO=bar baz", "EMPTY=", "HOME=/root"]),
    );
    let rt = Runtime::new();
    let mut got: Vec<String> = rt.run_ok(&b).lines().map(String::from).collect();
    got.sort();
    assert_eq!(got, ["EMPTY=", "FOO=bar baz", "HOME=/root", "PATH=/bin"]);
}

#[test]
fn args0_is_looked_up_in_the_container_path() {
    let mut b = Bundle::new(&["mytool"]);
    let dir = b.rootfs().join("opt/tools");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("mytool"), "#!/bin/sh\necho mytool ran as $0\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("mytool"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    b.set("/process/env", json!(["PATH=/opt/tools:/bin"]));
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "mytool ran as /opt/tools/mytool\n");
}

#[test]
fn home_is_set_when_missing() {
    let mut b = Bundle::sh("echo $HOME");
    b.set("/process/env", json!(["PATH=/bin"]));
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&b),
        "/root\n",
        "HOME from /etc/passwd, as runc does"
    );
}

#[test]
fn cwd_is_created_and_used() {
    let mut b = Bundle::new(&["pwd"]);
    b.set("/process/cwd", json!("/work/dir"));
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "/work/dir\n");
}

#[test]
fn user_uid_gid_groups_umask() {
    let mut b = Bundle::sh("id -u; id -g; id -G; umask; touch /tmp/f; stat -c '%u:%g %a' /tmp/f; grep ^Groups /proc/self/status");
    b.set(
        "/process/user",
        json!({"uid": 1000, "gid": 1001, "umask": 0o077, "additionalGids": [10, 20]}),
    );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000", "{out}");
    assert_eq!(lines[1], "1001", "{out}");
    let mut groups: Vec<&str> = lines[2].split_whitespace().collect();
    groups.sort_unstable();
    assert!(groups.contains(&"10") && groups.contains(&"20"), "{out}");
    assert_eq!(lines[3], "0077", "{out}");
    assert_eq!(lines[4], "1000:1001 600", "{out}");
    let mut sup: Vec<&str> = lines[5]
        .trim_start_matches("Groups:")
        .split_whitespace()
        .collect();
    sup.sort_unstable();
    assert_eq!(
        sup,
        ["10", "20"],
        "only the additionalGids are supplementary: {out}"
    );
}

#[test]
fn capabilities_match_the_configured_sets() {
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let bnd = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_SYS_ADMIN",
    ];
    let eff = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"];
    let inh = ["CAP_KILL", "CAP_NET_RAW"];
    let amb = ["CAP_NET_RAW"];
    b.set(
        "/process/capabilities",
        json!({"bounding": bnd, "effective": eff, "permitted": eff, "inheritable": inh, "ambient": amb}),
    );
    let rt = Runtime::new();
    let st = rt.run_ok(&b);
    assert_eq!(
        status_field(&st, "CapBnd"),
        Some(cap_mask(&bnd).as_str()),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapEff"),
        Some(cap_mask(&eff).as_str()),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapPrm"),
        Some(cap_mask(&eff).as_str()),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapInh"),
        Some(cap_mask(&inh).as_str()),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapAmb"),
        Some(cap_mask(&amb).as_str()),
        "{st}"
    );
}

#[test]
fn capabilities_survive_a_non_root_user_through_ambient() {
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    b.set(
        "/process/capabilities",
        json!({"bounding": set, "effective": set, "permitted": set, "inheritable": set, "ambient": set}),
    );
    let rt = Runtime::new();
    let st = rt.run_ok(&b);
    assert_eq!(
        status_field(&st, "CapEff"),
        Some(cap_mask(&set).as_str()),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapAmb"),
        Some(cap_mask(&set).as_str()),
        "{st}"
    );
}

#[test]
fn empty_capabilities_drop_everything() {
    let mut b = Bundle::new(&["cat", "/proc/self/status"]);
    b.set("/process/capabilities", json!({}));
    let rt = Runtime::new();
    let st = rt.run_ok(&b);
    for k in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(&st, k), Some("0000000000000000"), "{k}: {st}");
    }
}

#[test]
fn rlimits_are_applied() {
    let mut b =
        Bundle::sh("ulimit -n; ulimit -Hn; ulimit -s; grep 'Max processes' /proc/self/limits");
    b.set(
        "/process/rlimits",
        json!([
            {"type": "RLIMIT_NOFILE", "soft": 1234, "hard": 4321},
            {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
            {"type": "RLIMIT_NPROC", "soft": 77, "hard": 88}
        ]),
    );
    let rt = Runtime::new();
    let out = rt.run_ok(&b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["1234", "4321", "4096"], "{out}");
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>()[2..4],
        ["77", "88"],
        "{out}"
    );
}

#[test]
fn no_new_privileges() {
    let mut b = Bundle::new(&["grep", "NoNewPrivs", "/proc/self/status"]);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b).split_whitespace().nth(1), Some("1"));
    b.set("/process/noNewPrivileges", json!(false));
    assert_eq!(rt.run_ok(&b).split_whitespace().nth(1), Some("0"));
}

#[test]
fn oom_score_adj() {
    let mut b = Bundle::new(&["cat", "/proc/self/oom_score_adj"]);
    b.set("/process/oomScoreAdj", json!(523));
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b), "523\n");
}

#[test]
fn io_priority() {
    if is_runc() {
        eprintln!("skip: runc 1.1 ignores process.ioPriority (added in runc 1.2)");
        return;
    }
    let mut b = Bundle::new(&["ionice"]);
    b.set(
        "/process/ioPriority",
        json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
    );
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&b).trim(), "best-effort: prio 6");
}

#[test]
fn scheduler_policy_and_nice() {
    if is_runc() {
        eprintln!("skip: runc 1.1 ignores process.scheduler (added in runc 1.2)");
        return;
    }
    let mut b = Bundle::new(&["cat", "/proc/self/stat"]);
    b.set(
        "/process/scheduler",
        json!({"policy": "SCHED_BATCH", "nice": 5}),
    );
    let rt = Runtime::new();
    let stat = rt.run_ok(&b);
    // Fields after "(comm)": state is field 3; nice is 19, policy is 41.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(rest.get(19 - 3), Some(&"5"), "nice: {stat}");
    assert_eq!(rest.get(41 - 3), Some(&"3"), "policy SCHED_BATCH: {stat}");
}
