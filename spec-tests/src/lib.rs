//! Harness for skiff's black-box tests: the runtime is driven as a program,
//! exactly as containerd-shim-runc-v2, conmon and users drive runc.
//!
//! The binary under test comes from `SKIFF_RUNTIME` (default
//! `<workspace>/target/release/skiff`). `SKIFF_TEST_RUNTIME_KIND=runc` marks
//! the binary as runc, the behaviour reference: tests that check skiff's own
//! error wording, or features runc 1.1 lacks, skip only those assertions.
//!
//! - [`Bundle`]: a temp OCI bundle (busybox-static rootfs + config.json).
//! - [`Runtime`]: one private `--root` per test, unique ids, timeouts, and a
//!   drop guard that force-deletes everything the test made.
//! - [`leaks`]: assertions that a container left nothing behind.
//! - [`console`]: a `--console-socket` receiver (SCM_RIGHTS).

#![deny(unsafe_code)]

pub mod bundle;
pub mod clients;
pub mod console;
pub mod leaks;
pub mod runtime;
mod sys;
pub mod tempdir;

pub use bundle::Bundle;
pub use runtime::{is_runc, is_skiff, Out, Runtime, RuntimeKind};
pub use tempdir::TempDir;

/// Host path of a namespace file, e.g. `/proc/self/ns/net`, as the
/// `net:[4026531840]` string `readlink` prints inside a container.
pub fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Capability set as the hex mask /proc/self/status prints (`CapEff:` etc.).
pub fn cap_mask(names: &[&str]) -> String {
    let mut mask: u64 = 0;
    for n in names {
        let bit = CAPS
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("unknown capability {n:?} in test"));
        mask |= 1 << bit;
    }
    format!("{mask:016x}")
}

/// Linux capability names in bit order (capability.h, up to CAP_CHECKPOINT_RESTORE).
pub const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Value of `Key:` in a /proc/<pid>/status-style text.
pub fn status_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}
