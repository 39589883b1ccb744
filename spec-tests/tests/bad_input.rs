//! Malformed and hostile input, table-driven: every case must fail with a
//! non-zero exit, name the problem on stderr's last line (under skiff: the
//! config field, e.g. `linux.namespaces[5].type`; under runc: runc's
//! wording) and leave nothing behind: no state dir, no mount, no process.

use serde_json::json;
use spec_tests::leaks::assert_clean;
use spec_tests::{is_runc, Bundle, Out, Runtime};

/// How a case is driven.
enum Op {
    /// `create --bundle B ID` of the mutated bundle.
    Create,
    /// `create` with extra flags before the id.
    CreateWith(&'static [&'static str]),
    /// `create` under this exact id.
    CreateId(&'static str),
    /// Anything else; gets a running container's id when `running` is set.
    Cli(fn(&Runtime, &Bundle, &str) -> Out),
}

struct Case {
    name: &'static str,
    edit: fn(&mut Bundle),
    op: Op,
    /// Substring of the last stderr line under skiff (`a|b`: either).
    skiff: &'static str,
    /// Substring of the last stderr line under runc; `None`: runc accepts
    /// the input (its own gap), so the case only runs against skiff.
    runc: Option<&'static str>,
}

fn keep(_: &mut Bundle) {}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        Case { name: "missing config.json", edit: |b| { b.write_raw_config(""); let _ = std::fs::remove_file(b.config_path()); }, op: Op::Create, skiff: "config.json", runc: Some("config.json") },
        Case { name: "invalid JSON", edit: |b| b.write_raw_config("{\"ociVersion\": \"1.0.2\", "), op: Op::Create, skiff: "config.json", runc: Some("unexpected EOF") },
        Case { name: "args is a string", edit: |b| { b.set("/process/args", json!("sh")); }, op: Op::Create, skiff: "process.args", runc: Some("cannot unmarshal") },
        Case { name: "uid is negative", edit: |b| { b.set("/process/user/uid", json!(-1)); }, op: Op::Create, skiff: "process.user.uid", runc: Some("cannot unmarshal") },
        Case { name: "missing ociVersion", edit: |b| { b.remove("/ociVersion"); }, op: Op::Create, skiff: "ociVersion", runc: None },
        Case { name: "unsupported ociVersion", edit: |b| { b.set("/ociVersion", json!("2.0.0")); }, op: Op::Create, skiff: "ociVersion", runc: None },
        Case { name: "unknown namespace type", edit: |b| { b.push("/linux/namespaces", json!({"type": "foo"})); }, op: Op::Create, skiff: "linux.namespaces[5].type", runc: Some("namespace") },
        Case { name: "duplicate namespace", edit: |b| { b.push("/linux/namespaces", json!({"type": "pid"})); }, op: Op::Create, skiff: "linux.namespaces[5]", runc: Some("duplicated ns") },
        Case { name: "namespace path missing", edit: |b| { b.namespace("network", Some("/nonexistent/skt/netns")); }, op: Op::Create, skiff: "linux.namespaces[4].path", runc: Some("/nonexistent/skt/netns") },
        Case { name: "missing root", edit: |b| { b.remove("/root"); }, op: Op::Create, skiff: "root", runc: Some("root") },
        Case { name: "relative root that does not exist", edit: |b| { b.set("/root/path", json!("no-such-rootfs")); }, op: Op::Create, skiff: "root.path", runc: Some("no-such-rootfs") },
        Case { name: "root path is a file", edit: |b| { let f = b.path().join("rootfile"); let _ = std::fs::write(&f, ""); b.set("/root/path", json!("rootfile")); }, op: Op::Create, skiff: "root.path", runc: Some("not a directory") },
        Case { name: "relative mount destination", edit: |b| { b.mount( json!({"destination": "relative/dest", "type": "tmpfs", "source": "tmpfs"})); }, op: Op::Create, skiff: "mounts[7].destination", runc: None },
        Case { name: "bind mount source missing", edit: |b| { b.mount(json!({"destination": "/data", "type": "bind", "source": "/nonexistent/skt/src", "options": ["bind"]})); }, op: Op::Create, skiff: "mounts[7].source|/nonexistent/skt/src", runc: Some("/nonexistent/skt/src") },
        Case { name: "unknown filesystem type", edit: |b| { b.mount(json!({"destination": "/x", "type": "skiffnosuchfs", "source": "none"})); }, op: Op::Create, skiff: "mounts[7]|skiffnosuchfs", runc: Some("no such device") },
        Case { name: "rootfs /proc is a symlink out of the rootfs", edit: |b| { let proc_dir = b.rootfs().join("proc"); let _ = std::fs::remove_dir(&proc_dir); let _ = std::os::unix::fs::symlink("/tmp", &proc_dir); }, op: Op::Create, skiff: "mounts[0]|/proc", runc: Some("/proc") },
        Case { name: "unknown capability", edit: |b| { b.push("/process/capabilities/bounding", json!("CAP_SKIFF_NOPE")); }, op: Op::Create, skiff: "process.capabilities.bounding[3]", runc: None },
        Case { name: "uidMappings without a user namespace", edit: |b| { b.set( "/linux/uidMappings", json!([{"containerID": 0, "hostID": 100000, "size": 1000}])); }, op: Op::Create, skiff: "linux.uidMappings", runc: None },
        Case { name: "missing process.args", edit: |b| { b.remove("/process/args"); }, op: Op::Create, skiff: "process.args", runc: Some("args") },
        Case { name: "empty process.args", edit: |b| { b.set("/process/args", json!([])); }, op: Op::Create, skiff: "process.args", runc: Some("args") },
        Case { name: "args[0] not found", edit: |b| { b.set("/process/args", json!(["nonexistent-binary-skt"])); }, op: Op::Create, skiff: "nonexistent-binary-skt", runc: Some("nonexistent-binary-skt") },
        Case { name: "relative cwd", edit: |b| { b.set("/process/cwd", json!("tmp")); }, op: Op::Create, skiff: "process.cwd", runc: Some("cwd") },
        Case { name: "invalid rlimit type", edit: |b| { b.set("/process/rlimits/0/type", json!("RLIMIT_SKIFF")); }, op: Op::Create, skiff: "process.rlimits[0].type", runc: Some("RLIMIT_SKIFF") },
        Case { name: "rlimit above the hard limit", edit: |b| { b.set( "/process/rlimits/0", json!({"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576})); }, op: Op::Create, skiff: "process.rlimits[0]", runc: Some("operation not permitted") },
        Case { name: "relative hook path", edit: |b| { b.push("/hooks/createRuntime", json!({"path": "bin/true"})); }, op: Op::Create, skiff: "hooks.createRuntime[0].path", runc: Some("bin/true") },
        Case { name: "invalid device type", edit: |b| { b.push( "/linux/devices", json!({"path": "/dev/skt", "type": "x", "major": 1, "minor": 3})); }, op: Op::Create, skiff: "linux.devices[0].type", runc: Some("type") },
        Case { name: "net sysctl without a network namespace", edit: |b| { b.remove_namespace("network"); b.set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"})); }, op: Op::Create, skiff: "linux.sysctl", runc: Some("net.ipv4.ip_forward") },
        Case { name: "sysctl outside any namespace", edit: |b| { b.set("/linux/sysctl", json!({"vm.swappiness": "10"})); }, op: Op::Create, skiff: "linux.sysctl", runc: Some("vm.swappiness") },
        Case { name: "hostname without a uts namespace", edit: |b| { b.remove_namespace("uts"); }, op: Op::Create, skiff: "hostname", runc: Some("UTS") },
        Case { name: "unknown seccomp action", edit: |b| { b.set( "/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_SKIFF"}]})); }, op: Op::Create, skiff: "linux.seccomp.syscalls[0].action", runc: Some("SCMP_ACT_SKIFF") },
        Case { name: "unknown seccomp default action", edit: |b| { b.set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_NOPE"})); }, op: Op::Create, skiff: "linux.seccomp.defaultAction", runc: Some("SCMP_ACT_NOPE") },
        Case { name: "terminal without --console-socket", edit: |b| { b.set("/process/terminal", json!(true)); }, op: Op::Create, skiff: "console-socket", runc: Some("console socket") },
        Case { name: "console socket path missing", edit: |b| { b.set("/process/terminal", json!(true)); }, op: Op::CreateWith(&["--console-socket", "/nonexistent/skt/console.sock"]), skiff: "/nonexistent/skt/console.sock", runc: Some("no such file") },
        Case { name: "id with a slash", edit: keep, op: Op::CreateId("skt/bad"), skiff: "id", runc: Some("invalid container id format") },
        Case { name: "id is ..", edit: keep, op: Op::CreateId(".."), skiff: "id", runc: Some("invalid container id format") },
        Case { name: "empty id", edit: keep, op: Op::CreateId(""), skiff: "id", runc: Some("id") },
        Case { name: "duplicate id", edit: keep, op: Op::Cli(|rt, b, id| { rt.create(b, id).expect_ok(); let again = rt.create(b, id); assert_eq!( rt.state(id)["status"], "created", "the first container survives" ); rt.delete(id).expect_ok(); again }), skiff: "exists", runc: Some("exists") },
        Case { name: "kill with an unknown signal", edit: keep, op: Op::Cli(|rt, b, id| { rt.run_detached(b, id).expect_ok(); let out = rt.kill(id, "SIGSKIFF"); assert_eq!(rt.state(id)["status"], "running"); rt.delete_force(id).expect_ok(); out }), skiff: "SIGSKIFF", runc: Some("SIGSKIFF") },
        Case { name: "kill of a nonexistent id", edit: keep, op: Op::Cli(|rt, _, id| rt.kill(id, "KILL")), skiff: "does not exist", runc: Some("does not exist") },
        Case { name: "delete of a running container without --force", edit: keep, op: Op::Cli(|rt, b, id| { rt.run_detached(b, id).expect_ok(); let out = rt.delete(id); assert_eq!( rt.state(id)["status"], "running", "a refused delete leaves the container" ); rt.delete_force(id).expect_ok(); out }), skiff: "running", runc: Some("running") },
        Case { name: "start of a nonexistent id", edit: keep, op: Op::Cli(|rt, _, id| rt.start(id)), skiff: "does not exist", runc: Some("does not exist") },
        Case { name: "start of a running container", edit: keep, op: Op::Cli(|rt, b, id| { rt.run_detached(b, id).expect_ok(); let out = rt.start(id); rt.delete_force(id).expect_ok(); out }), skiff: "running", runc: Some("running") },
    ]
}

fn run_case(c: &Case) -> Result<(), String> {
    let mut b = Bundle::new(&["sleep", "100"]);
    (c.edit)(&mut b);
    let rt = Runtime::new();
    let id = rt.id("bad");
    let path = b.path().to_string_lossy().into_owned();
    let out = match &c.op {
        Op::Create => rt.create(&b, &id),
        Op::CreateWith(flags) => {
            b.save();
            let mut args = vec!["create", "--bundle", &path];
            args.extend_from_slice(flags);
            args.push(&id);
            rt.exec(&args)
        }
        Op::CreateId(weird) => {
            b.save();
            rt.track_id(weird);
            rt.exec(&["create", "--bundle", &path, weird])
        }
        Op::Cli(f) => f(&rt, &b, &id),
    };
    if out.code <= 0 {
        return Err(format!("{}: should fail: {out}", c.name));
    }
    let want = if is_runc() {
        c.runc.unwrap_or("")
    } else {
        c.skiff
    };
    eprintln!("{}: {}", c.name, out.last_err_line());
    let last = out.last_err_line().to_lowercase();
    if !want.split('|').any(|w| last.contains(&w.to_lowercase())) {
        return Err(format!(
            "{}: last stderr line should name {want:?}: {out}",
            c.name
        ));
    }
    if let Op::CreateId(weird) = c.op {
        let escaped = rt.root().join(weird);
        if !weird.is_empty() && weird != ".." && escaped.exists() {
            return Err(format!(
                "{}: state dir {} created",
                c.name,
                escaped.display()
            ));
        }
    }
    assert_clean(&rt, &id, &b, None);
    Ok(())
}

#[test]
fn malformed_and_hostile_bundles_fail_cleanly() {
    let all = cases();
    assert!(all.len() >= 25);
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for c in &all {
        if is_runc() && c.runc.is_none() {
            skipped.push(c.name);
            continue;
        }
        if let Err(e) = run_case(c) {
            failures.push(e);
        }
    }
    if !skipped.is_empty() {
        eprintln!("runc accepts (skipped under runc): {skipped:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

#[test]
fn failed_run_leaves_nothing_behind() {
    // `run` = create + start + wait + delete: a failure at the last moment
    // (exec of a missing binary, after namespaces and mounts exist) must
    // still delete everything.
    let b = Bundle::new(&["/bin/nonexistent-binary-skt"]);
    let rt = Runtime::new();
    let id = rt.id("runfail");
    let out = rt.run(&b, &id);
    out.expect_fail();
    assert!(
        out.last_err_line().contains("nonexistent-binary-skt"),
        "names the program: {out}"
    );
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn failed_cgroup_create_leaves_no_cgroup() {
    // A cgroupsPath whose last component is a cgroup interface file: the
    // runtime makes `/<id>` in the first hierarchy, then cannot make the
    // container's directory under it. What it made must go again.
    let mut b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = rt.id("cgfail");
    b.set("/linux/cgroupsPath", json!(format!("/{id}/cgroup.procs")));
    let out = rt.create(&b, &id);
    out.expect_fail();
    if is_runc() {
        // runc 1.1.5 leaves `/<id>` behind in the hierarchy it began with.
        return;
    }
    assert!(
        out.last_err_line().contains("cgroup.procs"),
        "names the cgroup directory: {out}"
    );
    assert_clean(&rt, &id, &b, None);
}
