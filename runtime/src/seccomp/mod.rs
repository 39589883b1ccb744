//! Seccomp (OCI runtime spec, config-linux.md "Seccomp"): the profile is
//! compiled to a classic-BPF program in the runtime before the container
//! process is forked, and the child only installs it, just before exec.
//!
//! The filter behaves as runc's (libseccomp plus runc's -ENOSYS patch) so
//! profiles written for it, podman's and docker's defaults among them, work
//! unchanged;
//! `rules` documents the rule semantics, `arch` the architectures, `bpf` the
//! program. `SCMP_ACT_NOTIFY` (a seccomp agent on `listenerPath`) is not
//! supported and is refused.

mod arch;
mod bpf;
mod rules;
mod syscalls;
#[cfg(test)]
mod tests;
mod x86_multiplex;

use anyhow::Context;
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};
use seccompiler::sock_filter;

use crate::sys;

const SECCOMP_FILTER_FLAG_TSYNC: u32 = 1;
const SECCOMP_FILTER_FLAG_LOG: u32 = 2;
const SECCOMP_FILTER_FLAG_SPEC_ALLOW: u32 = 4;
/// `BPF_MAXINSNS`: the kernel refuses longer programs.
const BPF_MAX_LEN: usize = 4096;

/// Why a profile cannot be compiled or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp action SCMP_ACT_NOTIFY is not supported ({field})")]
    Notify { field: String },
    #[error("seccomp listenerPath {path:?} is not supported: SCMP_ACT_NOTIFY is not supported")]
    ListenerPath { path: String },
    #[error("seccomp {field}: errnoRet {value} does not fit in 16 bits")]
    ErrnoRange { field: String, value: u32 },
    #[error("seccomp {field}: empty syscall name")]
    EmptyName { field: String },
    #[error("seccomp {field}: argument index {index} is out of range 0..=5")]
    ArgIndex { field: String, index: usize },
    #[error("seccomp is not supported on this host architecture ({0})")]
    HostArch(&'static str),
    #[error(
        "seccomp filter has {len} instructions, more than the kernel's limit of {BPF_MAX_LEN}"
    )]
    TooLong { len: usize },
}

/// A compiled, ready-to-load seccomp filter.
#[derive(Clone, Debug)]
pub struct SeccompFilter {
    program: Vec<sock_filter>,
    flags: u32,
    unknown_syscalls: Vec<String>,
    ignored_architectures: Vec<Arch>,
}

/// Compile an OCI seccomp profile for this host.
pub fn compile_filter(seccomp: &LinuxSeccomp) -> anyhow::Result<SeccompFilter> {
    let native = arch::native().ok_or(SeccompError::HostArch(std::env::consts::ARCH))?;
    Ok(compile_for(seccomp, native)?)
}

/// Compile for a host whose native architecture is `native` (a parameter
/// so tests cover aarch64 hosts on x86_64 and back).
fn compile_for(
    seccomp: &LinuxSeccomp,
    native: arch::SectionArch,
) -> Result<SeccompFilter, SeccompError> {
    if let Some(path) = seccomp.listener_path() {
        return Err(SeccompError::ListenerPath {
            path: path.display().to_string(),
        });
    }
    if seccomp.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::Notify {
            field: "defaultAction".to_string(),
        });
    }
    let default = rules::action_value(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "defaultErrnoRet",
    )?;

    let mut arches = vec![native];
    let mut ignored_architectures = Vec::new();
    for &oci_arch in seccomp.architectures().iter().flatten() {
        match arch::section_for(oci_arch, native) {
            Some(section) if !arches.contains(&section) => arches.push(section),
            Some(_) => {}
            None => ignored_architectures.push(oci_arch),
        }
    }
    let (sections, unknown_syscalls) = rules::build_sections(seccomp, default, &arches)?;

    let actions = bpf::Actions {
        default,
        // libseccomp's default SCMP_FLTATR_ACT_BADARCH, which runc keeps.
        bad_arch: rules::SECCOMP_RET_KILL_THREAD,
        enosys_above_max: !matches!(
            seccomp.default_action(),
            LinuxSeccompAction::ScmpActAllow
                | LinuxSeccompAction::ScmpActLog
                | LinuxSeccompAction::ScmpActTrace
        ),
    };
    let program = bpf::emit(&sections, &actions);
    if program.len() > BPF_MAX_LEN {
        return Err(SeccompError::TooLong { len: program.len() });
    }

    let flags = seccomp.flags().iter().flatten().fold(0, |flags, flag| {
        flags
            | match flag {
                LinuxSeccompFilterFlag::SeccompFilterFlagTsync => SECCOMP_FILTER_FLAG_TSYNC,
                LinuxSeccompFilterFlag::SeccompFilterFlagLog => SECCOMP_FILTER_FLAG_LOG,
                LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                    SECCOMP_FILTER_FLAG_SPEC_ALLOW
                }
            }
    });
    Ok(SeccompFilter {
        program,
        flags,
        unknown_syscalls,
        ignored_architectures,
    })
}

impl SeccompFilter {
    /// Load the filter into the calling thread with
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` and the profile's flags. The caller
    /// has set no_new_privs or holds CAP_SYS_ADMIN. Does not allocate on
    /// success, so it is safe between fork and exec.
    pub fn install(&self) -> anyhow::Result<()> {
        let ret = sys::seccomp::seccomp_set_mode_filter(self.flags, &self.program)
            .with_context(|| format!("install seccomp filter (flags {:#x})", self.flags))?;
        if ret > 0 {
            anyhow::bail!("install seccomp filter: thread {ret} could not be synchronised (SECCOMP_FILTER_FLAG_TSYNC)");
        }
        Ok(())
    }

    /// Syscall names of the profile that no architecture of the filter
    /// knows; runc skips them too and logs them at debug level.
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown_syscalls
    }

    /// Listed architectures this host's kernel can never report (MIPS,
    /// s390x, ... on x86_64), left out of the program.
    pub fn ignored_architectures(&self) -> &[Arch] {
        &self.ignored_architectures
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits `install` passes.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// The BPF program, in execution order.
    pub fn program(&self) -> &[sock_filter] {
        &self.program
    }
}

/// Parse a seccomp profile in OCI form (the `linux.seccomp` object of
/// config.json). Unknown action, architecture, operator or flag names fail
/// with the JSON path and the offending value.
pub fn parse_profile(json: &str) -> anyhow::Result<LinuxSeccomp> {
    crate::json::from_slice_with_path(json.as_bytes()).map_err(|err| {
        anyhow::anyhow!(
            "parse seccomp profile: {}: {}",
            crate::logging::escape_controls(&err.path),
            crate::logging::escape_controls(&err.message)
        )
    })
}
