//! OCI config.md "Process" → "rlimits" (POSIX platforms): each entry is one
//! setrlimit(2) on the calling process.

use anyhow::Context;
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// Applies every rlimit in order; the first failure stops and names the
/// limit and both values. Raising a hard limit needs CAP_SYS_RESOURCE in
/// the user namespace that owns the process, so call this before the
/// capabilities are dropped.
pub fn apply_rlimits(rlimits: &[PosixRlimit]) -> anyhow::Result<()> {
    for (i, rl) in rlimits.iter().enumerate() {
        setrlimit(resource(rl.typ()), rl.soft(), rl.hard()).with_context(|| {
            format!(
                "process.rlimits[{i}]: set rlimit {} (soft {}, hard {})",
                rl.typ(),
                rl.soft(),
                rl.hard()
            )
        })?;
    }
    Ok(())
}

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::run_in_child;
    use nix::sys::resource::getrlimit;
    use oci_spec::runtime::PosixRlimitBuilder;

    fn rl(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .unwrap()
    }

    #[test]
    fn sets_each_limit() {
        let limits = [
            rl(PosixRlimitType::RlimitNofile, 512, 1024),
            rl(PosixRlimitType::RlimitCore, 0, 4096),
            rl(PosixRlimitType::RlimitCpu, 100, 200),
        ];
        // Only lowering: this machine has no CAP_SYS_RESOURCE to raise with.
        let code = run_in_child(|| {
            apply_rlimits(&limits).unwrap();
            let checks = [
                getrlimit(Resource::RLIMIT_NOFILE).unwrap() == (512, 1024),
                getrlimit(Resource::RLIMIT_CORE).unwrap() == (0, 4096),
                getrlimit(Resource::RLIMIT_CPU).unwrap() == (100, 200),
            ];
            checks
                .iter()
                .position(|ok| !ok)
                .map_or(0, |i| 10 + i as i32)
        })
        .unwrap();
        assert_eq!(code, 0, "check #{} failed", code - 10);
    }

    #[test]
    fn error_names_type_and_values() {
        // soft above hard is EINVAL for everyone, root or not.
        let err = apply_rlimits(&[rl(PosixRlimitType::RlimitNofile, 2048, 1024)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "process.rlimits[0]: set rlimit RLIMIT_NOFILE (soft 2048, hard 1024)"
        );
    }
}
