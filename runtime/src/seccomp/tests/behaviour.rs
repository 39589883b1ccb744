//! Filters installed in forked children, acting on real syscalls. Each child
//! sets no_new_privs (so the tests also run unprivileged), installs the
//! filter and reports its verdict in its exit code: 0 is success, any other
//! value names the failed check. Children make raw syscalls only, because
//! the test harness is multi-threaded and a forked child must not allocate.

use std::ffi::CString;
use std::time::Instant;

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;

use super::profiles::{to_oci, DOCKER_CAPS, DOCKER_PROFILE, PODMAN_CAPS, PODMAN_PROFILE};
use crate::seccomp::{compile_filter, parse_profile, SeccompFilter};
use crate::sys::seccomp::{raw_syscall, run_forked};

fn compile(json: &str) -> SeccompFilter {
    let profile = parse_profile(json).unwrap_or_else(|err| panic!("{err:#}"));
    compile_filter(&profile).unwrap_or_else(|err| panic!("{err:#}"))
}

/// Install `filter` in a child, then run `checks`.
fn in_child(filter: &SeccompFilter, checks: impl FnOnce() -> i32) -> WaitStatus {
    run_forked(|| {
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return 90;
        }
        if filter.install().is_err() {
            return 91;
        }
        checks()
    })
}

fn sys(nr: i64, args: [u64; 6]) -> Result<i64, i32> {
    raw_syscall(nr, args)
}

/// A private directory for paths the children touch, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("skiff-seccomp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap_or_else(|err| panic!("create {}: {err}", path.display()));
        TempDir(path)
    }

    fn c_path(&self, name: &str) -> CString {
        CString::new(self.0.join(name).into_os_string().into_encoded_bytes())
            .expect("temp path has no NUL")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn mkdir_denied_with_eperm_while_other_calls_work() {
    let dir = TempDir::new("mkdir");
    let target = dir.c_path("denied");
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    let status = in_child(&f, || {
        let path = target.as_ptr() as u64;
        if sys(libc::SYS_mkdir, [path, 0o755, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 1;
        }
        if sys(
            libc::SYS_mkdirat,
            [libc::AT_FDCWD as u64, path, 0o755, 0, 0, 0],
        ) != Err(libc::EPERM)
        {
            return 2;
        }
        if sys(libc::SYS_getpid, [0; 6]).is_err()
            || sys(libc::SYS_access, [path, 0, 0, 0, 0, 0]) != Err(libc::ENOENT)
        {
            return 3;
        }
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert!(!dir.0.join("denied").exists());
}

#[test]
fn kill_actions_on_ptrace_end_the_child_with_sigsys() {
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let f = compile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["ptrace"],"action":"{action}"}}]}}"#
        ));
        let status = in_child(&f, || {
            let _ = sys(
                libc::SYS_ptrace,
                [libc::PTRACE_TRACEME as u64, 0, 0, 0, 0, 0],
            );
            0
        });
        assert!(
            matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
            "{action}: {status:?}"
        );
    }
}

#[test]
fn argument_rules_deny_only_matching_calls() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4294967295,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":13,"args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let status = in_child(&f, || {
        if sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]) != Err(libc::EPERM) {
            return 1;
        }
        if sys(libc::SYS_personality, [0, 0, 0, 0, 0, 0]).is_err() {
            return 2;
        }
        if sys(
            libc::SYS_socket,
            [libc::AF_INET as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0],
        ) != Err(libc::EACCES)
        {
            return 3;
        }
        match sys(
            libc::SYS_socket,
            [libc::AF_UNIX as u64, libc::SOCK_DGRAM as u64, 0, 0, 0, 0],
        ) {
            Ok(fd) => {
                let _ = sys(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
                0
            }
            Err(_) => 4,
        }
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn default_errno_ret_applies_to_unlisted_syscalls() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":95,
            "syscalls":[{"names":["exit_group","exit","getpid","rt_sigreturn"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    let status = in_child(&f, || {
        if sys(libc::SYS_getpid, [0; 6]).is_err() {
            return 1;
        }
        if sys(libc::SYS_getppid, [0; 6]) != Err(95) {
            return 2;
        }
        // Newer than every syscall the profile names: runc's -ENOSYS.
        if sys(libc::SYS_fanotify_init, [0; 6]) != Err(libc::ENOSYS) {
            return 3;
        }
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn log_action_and_log_flag_let_the_call_through() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    assert_eq!(f.flags(), 3);
    let parent = std::process::id() as i64;
    let status = in_child(&f, || {
        if sys(libc::SYS_getppid, [0; 6]) == Ok(parent) {
            0
        } else {
            1
        }
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

#[test]
fn unknown_syscall_names_are_skipped_and_reported() {
    let dir = TempDir::new("unknown");
    let target = dir.c_path("denied");
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["no_such_syscall_xyz","mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(f.unknown_syscalls(), ["no_such_syscall_xyz"]);
    let status = in_child(&f, || {
        let path = target.as_ptr() as u64;
        if sys(libc::SYS_mkdir, [path, 0o755, 0, 0, 0, 0]) == Err(libc::EPERM) {
            0
        } else {
            1
        }
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
}

/// Install a default profile, check denied calls, then exec a busybox shell
/// that lists, reads and writes.
fn run_workload(filter: &SeccompFilter, tag: &str, denied: &[(i64, i32)]) {
    let dir = TempDir::new(tag);
    let script = format!("ls / >/dev/null && cat /etc/hostname >/dev/null && mkdir {0}/made && echo ok > {0}/made/file", dir.0.display());
    let argv: Vec<CString> = ["sh", "-c", script.as_str()]
        .iter()
        .map(|a| CString::new(*a).expect("no NUL"))
        .collect();
    let busybox = CString::new("/bin/busybox").expect("no NUL");
    let status = in_child(filter, || {
        for (i, &(nr, errno)) in denied.iter().enumerate() {
            if sys(nr, [0; 6]) != Err(errno) {
                return 10 + i as i32;
            }
        }
        let _ = nix::unistd::execv(&busybox, &argv);
        99
    });
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{tag}: {status:?}"
    );
    assert!(
        dir.0.join("made/file").exists(),
        "{tag}: the shell did not write"
    );
}

#[test]
fn podman_default_profile_runs_a_shell_and_denies_as_runc_does() {
    let profile = to_oci(PODMAN_PROFILE, PODMAN_CAPS);
    let start = Instant::now();
    let f = compile_filter(&profile).unwrap_or_else(|err| panic!("{err:#}"));
    eprintln!(
        "compile_filter(podman default profile): {:?}, {} instructions",
        start.elapsed(),
        f.program().len()
    );
    run_workload(
        &f,
        "podman",
        &[
            (libc::SYS_kexec_load, libc::EPERM),
            (libc::SYS_add_key, libc::ENOSYS),
        ],
    );
}

#[test]
fn docker_default_profile_runs_a_shell_and_denies_as_runc_does() {
    let profile = to_oci(DOCKER_PROFILE, DOCKER_CAPS);
    let start = Instant::now();
    let f = compile_filter(&profile).unwrap_or_else(|err| panic!("{err:#}"));
    eprintln!(
        "compile_filter(docker default profile): {:?}, {} instructions",
        start.elapsed(),
        f.program().len()
    );
    run_workload(
        &f,
        "docker",
        &[
            (libc::SYS_kexec_load, libc::EPERM),
            (libc::SYS_unshare, libc::EPERM),
            (libc::SYS_clone3, libc::ENOSYS),
            (451, libc::ENOSYS),
        ],
    );
}

#[test]
fn notify_and_listener_path_are_refused() {
    let cases = [
        r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock"}"#,
    ];
    for json in cases {
        let profile = parse_profile(json).unwrap_or_else(|err| panic!("{err:#}"));
        let err = compile_filter(&profile).expect_err(json);
        assert!(
            format!("{err:#}").contains("SCMP_ACT_NOTIFY is not supported"),
            "{json}: {err:#}"
        );
    }
}

#[test]
fn unknown_action_arch_and_operator_names_are_refused_by_name() {
    let cases = [
        (
            r#"{"defaultAction":"SCMP_ACT_FOO"}"#,
            "SCMP_ACT_FOO",
            "defaultAction",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_FOO"]}"#,
            "SCMP_ARCH_FOO",
            "architectures[0]",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_BAR"}]}"#,
            "SCMP_ACT_BAR",
            "syscalls[0].action",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_XX"}]}]}"#,
            "SCMP_CMP_XX",
            "syscalls[0].args[0].op",
        ),
    ];
    for (json, value, path) in cases {
        let msg = format!("{:#}", parse_profile(json).expect_err(json));
        assert!(msg.contains(value) && msg.contains(path), "{msg}");
    }
    let profile = parse_profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    )
    .unwrap_or_else(|err| panic!("{err:#}"));
    let msg = format!("{:#}", compile_filter(&profile).expect_err("index 6"));
    assert!(
        msg.contains("syscalls[0]") && msg.contains("index 6"),
        "{msg}"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_syscalls_of_a_64_bit_process_meet_the_x86_section() {
    use crate::sys::seccomp::int80_syscall;
    const I386_GETPID: u32 = 20;
    const I386_GETPPID: u32 = 64;
    // Without IA32 emulation (kernel config or ia32_emulation=0) the call
    // fails with ENOSYS before seccomp sees it; then there is nothing to test.
    let probe = run_forked(|| if int80_syscall(I386_GETPID) > 0 { 0 } else { 1 });
    if !matches!(probe, WaitStatus::Exited(_, 0)) {
        eprintln!("skipping: this kernel does not run i386 syscalls ({probe:?})");
        return;
    }
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
            "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":77}]}"#,
    );
    let status = in_child(&f, || {
        if int80_syscall(I386_GETPPID) != -77 || sys(libc::SYS_getppid, [0; 6]) != Err(77) {
            return 1;
        }
        if int80_syscall(I386_GETPID) <= 0 {
            return 2;
        }
        0
    });
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    // Not listed: an i386 syscall is a bad architecture and kills.
    let native = compile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
    let status = in_child(&native, || {
        int80_syscall(I386_GETPID);
        0
    });
    assert!(
        matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
        "{status:?}"
    );
}
