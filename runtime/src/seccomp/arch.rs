//! Architectures of a seccomp filter (config-linux "Seccomp",
//! `architectures`): which OCI `SCMP_ARCH_*` values become a section of the
//! BPF program on this host, and the `AUDIT_ARCH_*` value each section
//! matches in `seccomp_data.arch`.
//!
//! Like libseccomp, the native architecture is always in the filter, and a
//! syscall whose `seccomp_data.arch` matches no section gets the "bad
//! architecture" action. Only architectures the host kernel can actually
//! report get a section: on x86_64 that is x86_64, x32 (x86_64 with bit 30
//! set in the syscall number) and x86 (i386 compat); on aarch64 it is
//! aarch64 and arm. Other listed architectures (MIPS, s390x, ...) can never
//! occur on this host, so leaving them out changes no behaviour; they are
//! reported back so the caller can log them.

use oci_spec::runtime::Arch;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | 64-bit | little endian).
pub(super) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386`.
pub(super) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
pub(super) const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_ARM` (little endian).
pub(super) const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// x32 syscalls arrive as `AUDIT_ARCH_X86_64` with this bit in the number.
pub(super) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// One section of the filter: an ABI with its own syscall table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SectionArch {
    X86_64,
    X32,
    X86,
    Aarch64,
    Arm,
}

impl SectionArch {
    #[cfg(test)]
    pub(super) const ALL: [SectionArch; 5] = [
        SectionArch::X86_64,
        SectionArch::X32,
        SectionArch::X86,
        SectionArch::Aarch64,
        SectionArch::Arm,
    ];

    /// The value of `seccomp_data.arch` for this ABI.
    pub(super) fn audit_arch(self) -> u32 {
        match self {
            SectionArch::X86_64 | SectionArch::X32 => AUDIT_ARCH_X86_64,
            SectionArch::X86 => AUDIT_ARCH_I386,
            SectionArch::Aarch64 => AUDIT_ARCH_AARCH64,
            SectionArch::Arm => AUDIT_ARCH_ARM,
        }
    }

    /// Arguments are 32 bits wide (x32 included): libseccomp compares only
    /// the low word.
    pub(super) fn is_32bit(self) -> bool {
        matches!(self, SectionArch::X86 | SectionArch::X32 | SectionArch::Arm)
    }
}

/// The native architecture of this build, or `None` where skiff has no
/// syscall tables.
pub(super) fn native() -> Option<SectionArch> {
    if cfg!(target_arch = "x86_64") {
        Some(SectionArch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(SectionArch::Aarch64)
    } else {
        None
    }
}

/// The section for an OCI architecture, if the host kernel can report it.
pub(super) fn section_for(arch: Arch, native: SectionArch) -> Option<SectionArch> {
    let section = match arch {
        Arch::ScmpArchNative => return Some(native),
        Arch::ScmpArchX86_64 => SectionArch::X86_64,
        Arch::ScmpArchX32 => SectionArch::X32,
        Arch::ScmpArchX86 => SectionArch::X86,
        Arch::ScmpArchAarch64 => SectionArch::Aarch64,
        Arch::ScmpArchArm => SectionArch::Arm,
        _ => return None,
    };
    let reachable = match native {
        SectionArch::X86_64 => matches!(
            section,
            SectionArch::X86_64 | SectionArch::X32 | SectionArch::X86
        ),
        SectionArch::Aarch64 => matches!(section, SectionArch::Aarch64 | SectionArch::Arm),
        _ => false,
    };
    reachable.then_some(section)
}
