//! From an OCI seccomp profile (config-linux "Seccomp") to a per-architecture
//! decision table: for every syscall number of every section, either one
//! action or an ordered list of argument rules.
//!
//! The semantics follow runc (libcontainer/seccomp) on libseccomp, because
//! profiles are written and tested against it:
//! - `SCMP_ACT_KILL` is `SCMP_ACT_KILL_THREAD`; `SCMP_ACT_ERRNO` and
//!   `SCMP_ACT_TRACE` without `errnoRet` return `EPERM`.
//! - A rule whose action equals the default action is dropped.
//! - A name is resolved per architecture; where an architecture lacks it
//!   the rule is skipped there, and a name no section knows is reported.
//! - Conditions of one rule are ANDed, unless two name the same argument
//!   index: then each condition is its own rule (runc's fallback).
//! - An unconditional rule overrides argument rules for the same syscall and
//!   the first unconditional rule wins (libseccomp's rule database).
//! - Argument rules are tried in profile order; the first match decides.
//! - On x86, socket and IPC calls also match their `socketcall`/`ipc`
//!   multiplexed form (see `x86_multiplex`).

use std::collections::BTreeMap;

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use super::arch::SectionArch;
use super::{syscalls, x86_multiplex, SeccompError};

pub(super) const SECCOMP_RET_KILL_THREAD: u32 = 0x0000_0000;
pub(super) const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(super) const SECCOMP_RET_TRAP: u32 = 0x0003_0000;
pub(super) const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
pub(super) const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
pub(super) const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
pub(super) const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

/// One comparison of a syscall argument, 64 bits wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cond {
    pub index: u32,
    pub op: LinuxSeccompOperator,
    /// The operand; for `SCMP_CMP_MASKED_EQ` the mask.
    pub value: u64,
    /// For `SCMP_CMP_MASKED_EQ` the value the masked argument must equal.
    pub value_two: u64,
}

/// Conditions (all must hold) and the action when they do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ArgRule {
    pub conds: Vec<Cond>,
    pub action: u32,
}

/// What one syscall number does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    Always(u32),
    /// First matching rule wins; none matching means the default action.
    FirstMatch(Vec<ArgRule>),
}

/// The decisions of one architecture section.
#[derive(Debug)]
pub(super) struct Section {
    pub arch: SectionArch,
    pub decisions: BTreeMap<u32, Decision>,
    /// Largest syscall number the profile names on this architecture (for
    /// runc's -ENOSYS rule for syscalls newer than the profile).
    pub max_named: Option<u32>,
}

/// The `SECCOMP_RET_*` value of an action, as runc maps it.
pub(super) fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<u32, SeccompError> {
    let data = |default: u32| -> Result<u32, SeccompError> {
        let value = errno_ret.unwrap_or(default);
        if value > 0xffff {
            return Err(SeccompError::ErrnoRange {
                field: field.to_string(),
                value,
            });
        }
        Ok(value)
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SECCOMP_RET_KILL_THREAD
        }
        LinuxSeccompAction::ScmpActKillProcess => SECCOMP_RET_KILL_PROCESS,
        LinuxSeccompAction::ScmpActTrap => SECCOMP_RET_TRAP,
        LinuxSeccompAction::ScmpActErrno => SECCOMP_RET_ERRNO | data(libc::EPERM as u32)?,
        LinuxSeccompAction::ScmpActTrace => SECCOMP_RET_TRACE | data(libc::EPERM as u32)?,
        LinuxSeccompAction::ScmpActLog => SECCOMP_RET_LOG,
        LinuxSeccompAction::ScmpActAllow => SECCOMP_RET_ALLOW,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(SeccompError::Notify {
                field: field.to_string(),
            });
        }
    })
}

/// Build the sections for `arches` from the profile's syscall rules.
/// Returns the sections and the names no section knows, in profile order.
pub(super) fn build_sections(
    seccomp: &LinuxSeccomp,
    default_action: u32,
    arches: &[SectionArch],
) -> Result<(Vec<Section>, Vec<String>), SeccompError> {
    let mut sections: Vec<Section> = arches
        .iter()
        .map(|&arch| Section {
            arch,
            decisions: BTreeMap::new(),
            max_named: None,
        })
        .collect();
    let mut unknown: Vec<String> = Vec::new();

    for (i, syscall) in seccomp.syscalls().iter().flatten().enumerate() {
        let field = format!("syscalls[{i}]");
        let action = action_value(syscall.action(), syscall.errno_ret(), &field)?;
        let rules = arg_rules(syscall.args().as_deref().unwrap_or(&[]), action, &field)?;
        for name in syscall.names() {
            if name.is_empty() {
                return Err(SeccompError::EmptyName {
                    field: field.clone(),
                });
            }
            let mut known = false;
            for section in &mut sections {
                let direct = syscalls::lookup(section.arch, name);
                let mux = if section.arch == SectionArch::X86 {
                    x86_multiplex::multiplexed(name)
                } else {
                    None
                };
                if direct.is_none() && mux.is_none() {
                    continue;
                }
                known = true;
                // libseccomp resolves a multiplexed name to its multiplexer,
                // so that is what runc's -ENOSYS rule counts.
                section.max_named = section.max_named.max(mux.map(|(nr, _)| nr).or(direct));
                if action == default_action {
                    continue;
                }
                if let Some(nr) = direct {
                    add_rules(&mut section.decisions, nr, &rules, action);
                }
                if let Some((nr, call)) = mux {
                    let cond = Cond {
                        index: 0,
                        op: LinuxSeccompOperator::ScmpCmpEq,
                        value: call,
                        value_two: 0,
                    };
                    add_rules(
                        &mut section.decisions,
                        nr,
                        &[ArgRule {
                            conds: vec![cond],
                            action,
                        }],
                        action,
                    );
                }
            }
            if !known && !unknown.contains(name) {
                unknown.push(name.clone());
            }
        }
    }
    Ok((sections, unknown))
}

/// The rules of one profile entry: empty for an unconditional entry.
fn arg_rules(
    args: &[LinuxSeccompArg],
    action: u32,
    field: &str,
) -> Result<Vec<ArgRule>, SeccompError> {
    let mut conds = Vec::with_capacity(args.len());
    for arg in args {
        if arg.index() > 5 {
            return Err(SeccompError::ArgIndex {
                field: field.to_string(),
                index: arg.index(),
            });
        }
        conds.push(Cond {
            index: arg.index() as u32,
            op: arg.op(),
            value: arg.value(),
            value_two: arg.value_two().unwrap_or(0),
        });
    }
    if conds.is_empty() {
        return Ok(Vec::new());
    }
    let repeats_index = conds
        .iter()
        .enumerate()
        .any(|(i, c)| conds[..i].iter().any(|p| p.index == c.index));
    if repeats_index {
        Ok(conds
            .into_iter()
            .map(|c| ArgRule {
                conds: vec![c],
                action,
            })
            .collect())
    } else {
        Ok(vec![ArgRule { conds, action }])
    }
}

fn add_rules(decisions: &mut BTreeMap<u32, Decision>, nr: u32, rules: &[ArgRule], action: u32) {
    match decisions.get_mut(&nr) {
        Some(Decision::Always(_)) => {}
        Some(Decision::FirstMatch(existing)) if !rules.is_empty() => {
            existing.extend_from_slice(rules)
        }
        _ if rules.is_empty() => {
            decisions.insert(nr, Decision::Always(action));
        }
        _ => {
            decisions.insert(nr, Decision::FirstMatch(rules.to_vec()));
        }
    }
}
