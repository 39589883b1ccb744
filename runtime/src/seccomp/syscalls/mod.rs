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

/// One architecture's table, sorted by name. The names are one string cut at
/// `offsets` (name i is `names[offsets[i]..offsets[i + 1]]`), so the table is
/// plain bytes: no pointer in it for the dynamic loader to relocate at every
/// start (generate.py says why that matters).
pub(super) struct Table {
    names: &'static str,
    offsets: &'static [u16],
    numbers: &'static [u32],
}

impl Table {
    fn len(&self) -> usize {
        self.numbers.len()
    }

    fn name(&self, i: usize) -> &'static str {
        &self.names[usize::from(self.offsets[i])..usize::from(self.offsets[i + 1])]
    }

    fn number(&self, name: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.numbers[mid]),
            }
        }
        None
    }
}

/// The number of `name` on `arch`, or `None` when that architecture has no
/// such syscall (runc then skips the rule for that architecture).
pub(super) fn lookup(arch: SectionArch, name: &str) -> Option<u32> {
    table(arch).number(name)
}

fn table(arch: SectionArch) -> &'static Table {
    match arch {
        SectionArch::X86_64 => &x86_64::SYSCALLS,
        SectionArch::X86 => &x86::SYSCALLS,
        SectionArch::X32 => &x32::SYSCALLS,
        SectionArch::Aarch64 => &aarch64::SYSCALLS,
        SectionArch::Arm => &arm::SYSCALLS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for arch in SectionArch::ALL {
            let table = table(arch);
            assert_eq!(table.offsets.len(), table.len() + 1, "{arch:?}");
            assert_eq!(usize::from(table.offsets[table.len()]), table.names.len());
            assert!(
                (1..table.len()).all(|i| table.name(i - 1) < table.name(i)),
                "{arch:?} table is not sorted"
            );
            // Every name is found again: the cuts fall between names.
            for i in 0..table.len() {
                assert_eq!(table.number(table.name(i)), Some(table.numbers[i]));
            }
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
