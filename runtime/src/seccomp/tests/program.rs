//! Decisions of compiled programs, checked with the BPF interpreter for
//! every section (x86_64, x32, x86), every comparison and runc's rules.

use super::interp::run;
use super::profiles::{to_oci, DOCKER_CAPS, DOCKER_PROFILE, PODMAN_CAPS, PODMAN_PROFILE};
use crate::seccomp::arch::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::seccomp::{compile_filter, parse_profile, SeccompFilter};

const ALLOW: u32 = 0x7fff_0000;
const KILL_THREAD: u32 = 0;
const fn errno(e: i32) -> u32 {
    0x0005_0000 | e as u32
}

fn compile(json: &str) -> SeccompFilter {
    let profile = parse_profile(json).unwrap_or_else(|err| panic!("{err:#}"));
    compile_filter(&profile).unwrap_or_else(|err| panic!("{err:#}"))
}

fn x86_64(f: &SeccompFilter, nr: i64, args: [u64; 6]) -> u32 {
    run(f.program(), AUDIT_ARCH_X86_64, nr as u32, args)
}

#[test]
fn each_comparison_operator_follows_64_bit_unsigned_semantics() {
    let hi = 0x1_0000_0005u64;
    type Holds = fn(u64, u64) -> bool;
    let cases: [(&str, Holds); 6] = [
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_GE", |a, v| a >= v),
        ("SCMP_CMP_GT", |a, v| a > v),
    ];
    let probes = [
        0,
        4,
        5,
        6,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0004,
        hi,
        hi + 1,
        0x2_0000_0000,
        u64::MAX,
    ];
    for (op, want) in cases {
        let f = compile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpid"],"action":"SCMP_ACT_ERRNO",
               "args":[{{"index":2,"value":{hi},"op":"{op}"}}]}}]}}"#
        ));
        for a in probes {
            let expected = if want(a, hi) {
                errno(libc::EPERM)
            } else {
                ALLOW
            };
            assert_eq!(
                x86_64(&f, libc::SYS_getpid, [0, 0, a, 0, 0, 0]),
                expected,
                "{op} arg {a:#x}"
            );
        }
    }
}

#[test]
fn masked_eq_compares_masked_argument_with_value_two() {
    // clone flags rule of docker's profile: no namespace flags set.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW",
            "args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
    );
    let clone = libc::SYS_clone;
    assert_eq!(
        x86_64(&f, clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        x86_64(&f, clone, [libc::CLONE_NEWNS as u64, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(
        x86_64(
            &f,
            clone,
            [libc::CLONE_NEWUSER as u64 | 0x1_0000_0000, 0, 0, 0, 0, 0]
        ),
        errno(libc::EPERM)
    );
    // High word outside the mask does not matter.
    assert_eq!(
        x86_64(&f, clone, [0xffff_ffff_0000_0011, 0, 0, 0, 0, 0]),
        ALLOW
    );
}

#[test]
fn conditions_on_distinct_args_are_anded_and_on_one_arg_ored() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":22,
             "args":[{"index":0,"value":16,"op":"SCMP_CMP_EQ"},{"index":2,"value":9,"op":"SCMP_CMP_EQ"}]},
            {"names":["kill"],"action":"SCMP_ACT_ERRNO",
             "args":[{"index":1,"value":9,"op":"SCMP_CMP_EQ"},{"index":1,"value":15,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let socket = libc::SYS_socket;
    assert_eq!(x86_64(&f, socket, [16, 3, 9, 0, 0, 0]), errno(libc::EINVAL));
    assert_eq!(x86_64(&f, socket, [16, 3, 0, 0, 0, 0]), ALLOW);
    assert_eq!(x86_64(&f, socket, [2, 1, 9, 0, 0, 0]), ALLOW);
    let kill = libc::SYS_kill;
    assert_eq!(x86_64(&f, kill, [1, 9, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(x86_64(&f, kill, [1, 15, 0, 0, 0, 0]), errno(libc::EPERM));
    assert_eq!(x86_64(&f, kill, [1, 2, 0, 0, 0, 0]), ALLOW);
}

#[test]
fn unconditional_rule_overrides_argument_rules_and_default_action_rules_drop() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"}]},
            {"names":["personality"],"action":"SCMP_ACT_TRAP"},
            {"names":["personality"],"action":"SCMP_ACT_LOG"},
            {"names":["getpid"],"action":"SCMP_ACT_ERRNO"},
            {"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(x86_64(&f, libc::SYS_personality, [0; 6]), 0x0003_0000);
    assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), ALLOW);
}

#[test]
fn actions_map_as_runc_maps_them() {
    let cases = [
        ("SCMP_ACT_KILL", KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", 0x8000_0000),
        ("SCMP_ACT_TRAP", 0x0003_0000),
        ("SCMP_ACT_ERRNO", errno(libc::EPERM)),
        ("SCMP_ACT_TRACE", 0x7ff0_0000 | libc::EPERM as u32),
        ("SCMP_ACT_LOG", 0x7ffc_0000),
    ];
    for (action, value) in cases {
        let f = compile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"{action}"}}]}}"#
        ));
        assert_eq!(x86_64(&f, libc::SYS_getppid, [0; 6]), value, "{action}");
        assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), ALLOW, "{action}");
    }
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_TRACE","errnoRet":7}]}"#,
    );
    assert_eq!(x86_64(&f, libc::SYS_getppid, [0; 6]), 0x7ff0_0007);
}

#[test]
fn x86_and_x32_sections_use_their_own_numbers_and_unlisted_arches_are_killed() {
    let json = |arches: &str| {
        format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":[{arches}],
                "syscalls":[{{"names":["mkdir","socketcall"],"action":"SCMP_ACT_ERRNO"}}]}}"#
        )
    };
    let all = compile(&json(
        r#""SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32""#,
    ));
    assert!(
        all.unknown_syscalls().is_empty(),
        "socketcall exists on x86"
    );
    let p = all.program();
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 83, [0; 6]), errno(libc::EPERM)); // mkdir
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 39, [0; 6]), ALLOW); // getpid
    assert_eq!(run(p, AUDIT_ARCH_I386, 39, [0; 6]), errno(libc::EPERM)); // mkdir
    assert_eq!(run(p, AUDIT_ARCH_I386, 102, [0; 6]), errno(libc::EPERM)); // socketcall
    assert_eq!(run(p, AUDIT_ARCH_I386, 83, [0; 6]), ALLOW); // symlink
    assert_eq!(
        run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83, [0; 6]),
        errno(libc::EPERM)
    );
    assert_eq!(
        run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 39, [0; 6]),
        ALLOW
    );
    assert_eq!(run(p, 0xc000_00b7, 34, [0; 6]), KILL_THREAD); // aarch64 on an x86_64 host

    let native_only = compile(&json(""));
    let p = native_only.program();
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 83, [0; 6]), errno(libc::EPERM));
    assert_eq!(run(p, AUDIT_ARCH_I386, 39, [0; 6]), KILL_THREAD);
    assert_eq!(
        run(p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83, [0; 6]),
        KILL_THREAD
    );
    assert_eq!(native_only.unknown_syscalls(), ["socketcall"]);

    let foreign = compile(&json(r#""SCMP_ARCH_S390X","SCMP_ARCH_MIPS""#));
    assert_eq!(foreign.ignored_architectures().len(), 2);
    assert_eq!(
        run(foreign.program(), AUDIT_ARCH_X86_64, 83, [0; 6]),
        errno(libc::EPERM)
    );
}

#[test]
fn x86_compares_only_the_low_32_bits_of_arguments() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["personality"],
            "action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(
        run(
            f.program(),
            AUDIT_ARCH_I386,
            136,
            [0xffff_ffff, 0, 0, 0, 0, 0]
        ),
        errno(libc::EPERM)
    );
    assert_eq!(
        run(
            f.program(),
            AUDIT_ARCH_X86_64,
            135,
            [0xffff_ffff, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
}

#[test]
fn default_errno_ret_and_enosys_for_syscalls_newer_than_the_profile() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":95,
            "syscalls":[{"names":["exit_group","getpid"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), ALLOW);
    assert_eq!(x86_64(&f, libc::SYS_getppid, [0; 6]), errno(95));
    assert_eq!(
        x86_64(&f, libc::SYS_exit_group + 1, [0; 6]),
        errno(libc::ENOSYS)
    );
    // A permissive default gets no -ENOSYS rule.
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_LOG","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(x86_64(&f, 1000, [0; 6]), 0x7ffc_0000);
}

#[test]
fn default_profiles_decide_as_under_runc() {
    let podman = compile_filter(&to_oci(PODMAN_PROFILE, PODMAN_CAPS))
        .unwrap_or_else(|err| panic!("{err:#}"));
    let p = podman.program();
    let x = |nr: i64, args: [u64; 6]| run(p, AUDIT_ARCH_X86_64, nr as u32, args);
    assert_eq!(x(libc::SYS_read, [0; 6]), ALLOW);
    assert_eq!(x(libc::SYS_kexec_load, [0; 6]), errno(libc::EPERM));
    assert_eq!(x(libc::SYS_add_key, [0; 6]), errno(libc::ENOSYS));
    assert_eq!(
        x(libc::SYS_socket, [16, 3, 9, 0, 0, 0]),
        errno(libc::EINVAL)
    );
    assert_eq!(x(libc::SYS_socket, [1, 1, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        x(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        x(libc::SYS_personality, [0x0040_0000, 0, 0, 0, 0, 0]),
        errno(libc::ENOSYS)
    );
    assert_eq!(run(p, AUDIT_ARCH_I386, 102, [0; 6]), ALLOW); // socketcall on x86

    let docker = compile_filter(&to_oci(DOCKER_PROFILE, DOCKER_CAPS))
        .unwrap_or_else(|err| panic!("{err:#}"));
    let p = docker.program();
    let x = |nr: i64, args: [u64; 6]| run(p, AUDIT_ARCH_X86_64, nr as u32, args);
    assert_eq!(x(libc::SYS_mkdir, [0; 6]), ALLOW);
    assert_eq!(x(libc::SYS_unshare, [0; 6]), errno(libc::EPERM));
    assert_eq!(x(libc::SYS_clone3, [0; 6]), errno(libc::ENOSYS));
    assert_eq!(
        x(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        x(libc::SYS_clone, [libc::CLONE_NEWNET as u64, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(x(libc::SYS_socket, [40, 1, 0, 0, 0, 0]), errno(libc::EPERM)); // AF_VSOCK
    assert_eq!(x(451, [0; 6]), errno(libc::ENOSYS)); // cachestat, newer than the profile
}

#[test]
fn x86_socket_and_ipc_rules_also_match_their_multiplexed_form() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"syscalls":[
            {"names":["connect"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":3,"op":"SCMP_CMP_LT"}]},
            {"names":["shmget"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    );
    let p = f.program();
    // Direct syscalls keep their argument conditions.
    assert_eq!(
        run(p, AUDIT_ARCH_I386, 362, [1, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(run(p, AUDIT_ARCH_I386, 362, [5, 0, 0, 0, 0, 0]), ALLOW);
    // socketcall(SYS_CONNECT) and ipc(SHMGET) match without them, as in libseccomp.
    assert_eq!(
        run(p, AUDIT_ARCH_I386, 102, [3, 0, 0, 0, 0, 0]),
        errno(libc::EPERM)
    );
    assert_eq!(run(p, AUDIT_ARCH_I386, 102, [1, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(
        run(p, AUDIT_ARCH_I386, 117, [23, 0, 0, 0, 0, 0]),
        errno(libc::EACCES)
    );
    assert_eq!(run(p, AUDIT_ARCH_I386, 395, [0; 6]), errno(libc::EACCES));
}

#[test]
fn x32_compares_32_bit_arguments_and_minus_one_is_not_a_bad_arch() {
    let f = compile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X32"],"syscalls":[
            {"names":["connect"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":3,"op":"SCMP_CMP_LT"}]}]}"#,
    );
    assert_eq!(
        run(
            f.program(),
            AUDIT_ARCH_X86_64,
            X32_SYSCALL_BIT | 42,
            [0x1_0000_0000, 0, 0, 0, 0, 0]
        ),
        errno(libc::EPERM)
    );
    assert_eq!(
        run(
            f.program(),
            AUDIT_ARCH_X86_64,
            42,
            [0x1_0000_0000, 0, 0, 0, 0, 0]
        ),
        ALLOW
    );
    let native = compile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(
        run(native.program(), AUDIT_ARCH_X86_64, u32::MAX, [0; 6]),
        errno(libc::EPERM)
    );
    assert_eq!(
        run(native.program(), AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, [0; 6]),
        KILL_THREAD
    );
}

#[test]
fn aarch64_hosts_get_aarch64_and_arm_sections() {
    use crate::seccomp::arch::{SectionArch, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM};
    let profile = parse_profile(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_AARCH64","SCMP_ARCH_ARM","SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["openat","read","cacheflush","exit_group"],"action":"SCMP_ACT_ALLOW"},
                        {"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap_or_else(|err| panic!("{err:#}"));
    let f = crate::seccomp::compile_for(&profile, SectionArch::Aarch64)
        .unwrap_or_else(|err| panic!("{err}"));
    let p = f.program();
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 56, [0; 6]), ALLOW); // openat
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 34, [0; 6]), errno(libc::EACCES)); // mkdirat
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 57, [0; 6]), errno(libc::EPERM)); // close
    assert_eq!(run(p, AUDIT_ARCH_AARCH64, 172, [0; 6]), errno(libc::ENOSYS)); // getpid, above exit_group
    assert_eq!(run(p, AUDIT_ARCH_ARM, 3, [0; 6]), ALLOW); // read
    assert_eq!(run(p, AUDIT_ARCH_ARM, 0x0f_0002, [0; 6]), ALLOW); // cacheflush
    assert_eq!(run(p, AUDIT_ARCH_ARM, 323, [0; 6]), errno(libc::EACCES)); // mkdirat
    assert_eq!(run(p, AUDIT_ARCH_X86_64, 0, [0; 6]), KILL_THREAD);
    assert_eq!(
        f.ignored_architectures().len(),
        1,
        "x86_64 cannot occur on aarch64"
    );
}
