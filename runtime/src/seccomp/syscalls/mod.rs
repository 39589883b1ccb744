//! Syscall name → number tables, one generated file per architecture the
//! filter can meet on an x86_64 or aarch64 host. seccompiler ships no name
//! table of its own for x86, x32 or arm, so these come from the kernel's
//! UAPI headers through `generate.py` (see its docstring for the sources).

mod aarch64;
mod arm;
mod x32;
mod x86;
mod x86_64;

use super::arch::SectionArch;

/// The number of `name` on `arch`, or `None` when that architecture has no
/// such syscall (runc then skips the rule for that architecture).
pub(super) fn lookup(arch: SectionArch, name: &str) -> Option<u32> {
    let table = match arch {
        SectionArch::X86_64 => x86_64::SYSCALLS,
        SectionArch::X86 => x86::SYSCALLS,
        SectionArch::X32 => x32::SYSCALLS,
        SectionArch::Aarch64 => aarch64::SYSCALLS,
        SectionArch::Arm => arm::SYSCALLS,
    };
    table
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| table[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for arch in SectionArch::ALL {
            let table = match arch {
                SectionArch::X86_64 => x86_64::SYSCALLS,
                SectionArch::X86 => x86::SYSCALLS,
                SectionArch::X32 => x32::SYSCALLS,
                SectionArch::Aarch64 => aarch64::SYSCALLS,
                SectionArch::Arm => arm::SYSCALLS,
            };
            assert!(
                table.windows(2).all(|w| w[0].0 < w[1].0),
                "{arch:?} table is not sorted"
            );
        }
    }

    #[test]
    fn known_numbers_match_the_kernel_abi() {
        assert_eq!(lookup(SectionArch::X86_64, "read"), Some(0));
        assert_eq!(
            lookup(SectionArch::X86_64, "mkdir"),
            Some(libc::SYS_mkdir as u32)
        );
        assert_eq!(lookup(SectionArch::X86_64, "clone3"), Some(435));
        assert_eq!(lookup(SectionArch::X86_64, "file_setattr"), Some(469));
        assert_eq!(lookup(SectionArch::X86_64, "socketcall"), None);
        assert_eq!(lookup(SectionArch::X86, "socketcall"), Some(102));
        assert_eq!(lookup(SectionArch::X86, "mkdir"), Some(39));
        assert_eq!(lookup(SectionArch::X32, "readv"), Some(0x4000_0000 + 515));
        assert_eq!(lookup(SectionArch::Aarch64, "openat"), Some(56));
        assert_eq!(lookup(SectionArch::Aarch64, "open"), None);
        assert_eq!(lookup(SectionArch::Arm, "cacheflush"), Some(0x0f_0002));
        assert_eq!(lookup(SectionArch::X86_64, "no_such_syscall"), None);
    }
}
