//! config.md "process.apparmorProfile", "process.selinuxLabel" and
//! config-linux.md "mountLabel", "intelRdt", plus keys of linux.resources
//! the spec does not know: skiff does with each what runc does on the same
//! host. The expectations are those of a host without AppArmor, SELinux
//! and resctrl (this machine), checked against skiff and, where runc is
//! installed, against runc on the very same bundle.

use std::path::Path;

use serde_json::{json, Value};
use spec_tests::leaks::assert_clean;
use spec_tests::{Bundle, Runtime};

const RUNC: &str = "/usr/sbin/runc";

/// One config change and whether a runtime on this host runs it.
struct Case {
    name: &'static str,
    pointer: &'static str,
    value: Value,
    runs: bool,
}

fn cases() -> Vec<Case> {
    let c = |name, pointer, value, runs| Case {
        name,
        pointer,
        value,
        runs,
    };
    vec![
        // runc writes the profile to attr/exec without asking whether
        // AppArmor is enabled; the kernel says EINVAL.
        c(
            "apparmor",
            "/process/apparmorProfile",
            json!("docker-default"),
            false,
        ),
        // runc's validator: "selinux label is specified in config, but
        // selinux is disabled or not supported".
        c(
            "selinux",
            "/process/selinuxLabel",
            json!("system_u:system_r:container_t:s0:c1,c2"),
            false,
        ),
        // runc adds context="..." to the /dev tmpfs; the kernel refuses it.
        c(
            "mountlabel",
            "/linux/mountLabel",
            json!("system_u:object_r:container_file_t:s0:c1,c2"),
            false,
        ),
        c("rdt-empty", "/linux/intelRdt", json!({}), true),
        c(
            "rdt-closid",
            "/linux/intelRdt",
            json!({"closID": "skt-g"}),
            true,
        ),
        c(
            "rdt-monitoring",
            "/linux/intelRdt",
            json!({"enableCMT": true, "enableMBM": true}),
            true,
        ),
        c(
            "rdt-badclos",
            "/linux/intelRdt",
            json!({"closID": "a/b"}),
            false,
        ),
        c(
            "rdt-l3",
            "/linux/intelRdt",
            json!({"l3CacheSchema": "L3:0=ff"}),
            false,
        ),
        c(
            "rdt-mb",
            "/linux/intelRdt",
            json!({"memBwSchema": "MB:0=70"}),
            false,
        ),
        c(
            "res-unknown",
            "/linux/resources/skiffUnknown",
            json!({"x": 1}),
            true,
        ),
        c(
            "mem-unknown",
            "/linux/resources/memory",
            json!({"skiffUnknown": 5}),
            true,
        ),
        c("linux-unknown", "/linux/skiffUnknown", json!(1), true),
    ]
}

/// This host is the one the expectations are for.
fn host_is_plain() -> bool {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    let resctrl = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(" - resctrl ");
    !apparmor && !Path::new("/sys/fs/selinux").exists() && !resctrl
}

/// `run` of the case on `rt`: did the process run (its marker on stdout)?
fn runs_on(rt: &Runtime, case: &Case) -> (bool, String) {
    let mut b = Bundle::new(&["echo", "skt-ran"]);
    b.set(case.pointer, case.value.clone());
    let id = rt.id(case.name);
    let out = rt.run(&b, &id);
    let ran = out.ok() && out.stdout.contains("skt-ran");
    assert_eq!(
        ran,
        out.ok(),
        "exit code and output disagree for {}: {out}",
        case.name
    );
    if !ran {
        assert!(
            out.code > 0,
            "{}: a refusal is an exit code: {out}",
            case.name
        );
    }
    if spec_tests::is_skiff() && rt.bin() != Path::new(RUNC) {
        assert_clean(rt, &id, &b, None);
    }
    (ran, out.to_string())
}

#[test]
fn lsm_and_unsupported_fields_behave_as_runc() {
    if !host_is_plain() {
        eprintln!("skip: expectations are for a host without AppArmor, SELinux and resctrl");
        return;
    }
    let rt = Runtime::new();
    let runc = Path::new(RUNC)
        .exists()
        .then(|| Runtime::with_bin(Path::new(RUNC)));
    let mut wrong = Vec::new();
    for case in cases() {
        let (ran, out) = runs_on(&rt, &case);
        if ran != case.runs {
            wrong.push(format!(
                "{}: expected runs={}, got {out}",
                case.name, case.runs
            ));
        }
        if let Some(runc) = &runc {
            let (runc_ran, runc_out) = runs_on(runc, &case);
            if runc_ran != ran {
                wrong.push(format!(
                    "{}: runc runs={runc_ran}, {} runs={ran}\n{runc_out}",
                    case.name,
                    rt.bin().display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The refusals name the field, so a user can find the line.
#[test]
fn refusals_name_the_field() {
    if !host_is_plain() || !spec_tests::is_skiff() {
        eprintln!("skip: skiff's wording on a host without AppArmor, SELinux and resctrl");
        return;
    }
    let rt = Runtime::new();
    for (case, field) in cases().into_iter().filter(|c| !c.runs).map(|c| {
        let field = match c.name {
            "apparmor" => "process.apparmorProfile",
            "selinux" => "process.selinuxLabel",
            "mountlabel" => "linux.mountLabel",
            "rdt-badclos" => "linux.intelRdt.closID",
            "rdt-l3" => "linux.intelRdt.l3CacheSchema",
            _ => "linux.intelRdt.memBwSchema",
        };
        (c, field)
    }) {
        let mut b = Bundle::new(&["true"]);
        b.set(case.pointer, case.value.clone());
        let id = rt.id(case.name);
        let out = rt.run(&b, &id);
        out.expect_fail();
        assert!(
            out.last_err_line().contains(field),
            "{}: names {field}: {out}",
            case.name
        );
        assert_clean(&rt, &id, &b, None);
    }
}

/// `exec --apparmor` sets the exec'd process's profile as runc's does, so
/// on this host the exec fails and the container goes on.
#[test]
fn exec_apparmor_flag_is_applied() {
    if !host_is_plain() {
        eprintln!("skip: expectations are for a host without AppArmor");
        return;
    }
    let b = Bundle::sh("sleep 30");
    let rt = Runtime::new();
    let id = rt.id("execaa");
    rt.run_detached(&b, &id).expect_ok();
    rt.exec(&["exec", "--apparmor", "docker-default", &id, "true"])
        .expect_fail();
    rt.exec(&["exec", &id, "true"]).expect_ok();
    rt.delete_force(&id).expect_ok();
    assert_clean(&rt, &id, &b, None);
}
