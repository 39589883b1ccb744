//! Classic-BPF code generation for a seccomp filter (config-linux
//! "Seccomp"; the program format is the kernel's
//! Documentation/userspace-api/seccomp_filter.rst).
//!
//! seccompiler's `SeccompFilter` has one match action and one mismatch
//! action per filter, checks a single architecture (killing the process on
//! any other) and has no x32 handling, so real profiles (several actions and
//! errno values per profile, x86 and x32 sections, runc's -ENOSYS rule)
//! cannot be expressed with it. We keep its instruction type and write the
//! program here.
//!
//! The program is built backwards, from its last instruction to its first,
//! so every jump target already exists when a jump is emitted and its
//! distance is known. Conditional jumps reach at most 255 instructions; a
//! farther target goes through an inserted `ja` (32-bit offset).
//!
//! Layout, in execution order:
//! ```text
//!   ld arch; jeq AUDIT_ARCH_x -> section x ...; ret bad-arch action
//! section:  ld nr; [x86_64: jset X32_BIT -> x32 tree or bad-arch]
//!           binary search over syscall-number ranges -> ret action | argument rules
//! ```

use std::collections::HashMap;

use oci_spec::runtime::LinuxSeccompOperator as Op;
use seccompiler::sock_filter;

use super::arch::{SectionArch, X32_SYSCALL_BIT};
use super::rules::{ArgRule, Cond, Decision, Section};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x54;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_JMP_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

/// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARGS: u32 = 16;

/// Position of an instruction counted from the end of the program (0 is the
/// last instruction).
type Label = usize;

/// What the filter does besides the per-syscall decisions.
pub(super) struct Actions {
    pub default: u32,
    pub bad_arch: u32,
    /// runc returns -ENOSYS for syscalls numbered above the largest one the
    /// profile names, unless the default action lets syscalls through.
    pub enosys_above_max: bool,
}

#[derive(Default)]
struct Emitter {
    /// The program in reverse order.
    rev: Vec<sock_filter>,
    /// Last `ret` emitted per value, reused when close enough.
    rets: HashMap<u32, Label>,
}

impl Emitter {
    fn push(&mut self, code: u16, jt: u8, jf: u8, k: u32) -> Label {
        self.rev.push(sock_filter { code, jt, jf, k });
        self.rev.len() - 1
    }

    /// Instructions a new instruction would skip to reach `target`.
    fn distance(&self, target: Label) -> usize {
        self.rev.len() - 1 - target
    }

    fn ret(&mut self, value: u32) -> Label {
        if let Some(&label) = self.rets.get(&value) {
            if self.distance(label) < 128 {
                return label;
            }
        }
        let label = self.push(BPF_RET_K, 0, 0, value);
        self.rets.insert(value, label);
        label
    }

    fn load(&mut self, offset: u32) -> Label {
        self.push(BPF_LD_W_ABS, 0, 0, offset)
    }

    fn and(&mut self, mask: u32) -> Label {
        self.push(BPF_ALU_AND_K, 0, 0, mask)
    }

    fn ja(&mut self, target: Label) -> Label {
        let offset = self.distance(target);
        self.push(BPF_JMP_JA, 0, 0, offset as u32)
    }

    /// Make `target` the next instruction to run after the one pushed next.
    fn goto(&mut self, target: Label) -> Label {
        if target + 1 == self.rev.len() {
            target
        } else {
            self.ja(target)
        }
    }

    fn jump(&mut self, code: u16, k: u32, mut jt: Label, mut jf: Label) -> Label {
        loop {
            if self.distance(jf) > 255 {
                jf = self.ja(jf);
            } else if self.distance(jt) > 255 {
                jt = self.ja(jt);
            } else {
                break;
            }
        }
        let (dt, df) = (self.distance(jt) as u8, self.distance(jf) as u8);
        self.push(code, dt, df, k)
    }

    /// One argument comparison: continue at `yes` or `no`.
    fn cond(&mut self, cond: &Cond, arch: SectionArch, yes: Label, no: Label) -> Label {
        let lo_off = OFFSET_ARGS + 8 * cond.index;
        let hi_off = lo_off + 4;
        let split = |v: u64| ((v >> 32) as u32, v as u32);
        let (vhi, vlo) = split(cond.value);
        let wide = !arch.is_32bit();
        // NE, LT and LE are EQ, GE and GT with the outcomes swapped.
        let (op, yes, no) = match cond.op {
            Op::ScmpCmpNe => (Op::ScmpCmpEq, no, yes),
            Op::ScmpCmpLt => (Op::ScmpCmpGe, no, yes),
            Op::ScmpCmpLe => (Op::ScmpCmpGt, no, yes),
            op => (op, yes, no),
        };
        match op {
            Op::ScmpCmpMaskedEq => {
                let (dhi, dlo) = split(cond.value_two);
                self.jump(BPF_JMP_JEQ_K, dlo, yes, no);
                self.and(vlo);
                let lo = self.load(lo_off);
                if !wide {
                    return lo;
                }
                self.jump(BPF_JMP_JEQ_K, dhi, lo, no);
                self.and(vhi);
                self.load(hi_off)
            }
            Op::ScmpCmpEq => {
                self.jump(BPF_JMP_JEQ_K, vlo, yes, no);
                let lo = self.load(lo_off);
                if !wide {
                    return lo;
                }
                self.jump(BPF_JMP_JEQ_K, vhi, lo, no);
                self.load(hi_off)
            }
            Op::ScmpCmpGt | Op::ScmpCmpGe => {
                let code = if op == Op::ScmpCmpGt {
                    BPF_JMP_JGT_K
                } else {
                    BPF_JMP_JGE_K
                };
                self.jump(code, vlo, yes, no);
                let lo = self.load(lo_off);
                if !wide {
                    return lo;
                }
                // High word greater: yes; equal: decide on the low word.
                let hi_eq = self.jump(BPF_JMP_JEQ_K, vhi, lo, no);
                self.jump(BPF_JMP_JGT_K, vhi, yes, hi_eq);
                self.load(hi_off)
            }
            Op::ScmpCmpNe | Op::ScmpCmpLt | Op::ScmpCmpLe => unreachable!("rewritten above"),
        }
    }

    /// Argument rules of one syscall, tried in order, then the default.
    fn arg_rules(&mut self, rules: &[ArgRule], arch: SectionArch, default: u32) -> Label {
        let mut next = self.ret(default);
        for rule in rules.iter().rev() {
            let mut entry = self.ret(rule.action);
            for cond in rule.conds.iter().rev() {
                entry = self.cond(cond, arch, entry, next);
            }
            next = entry;
        }
        next
    }

    /// Binary search over ranges sorted by start; the accumulator holds the
    /// syscall number.
    fn tree(&mut self, ranges: &[Range<'_>], arch: SectionArch, default: u32) -> Label {
        if let [only] = ranges {
            return match only.target {
                Target::Ret(value) => self.ret(value),
                Target::Rules(rules) => self.arg_rules(rules, arch, default),
            };
        }
        let mid = ranges.len() / 2;
        let upper = self.tree(&ranges[mid..], arch, default);
        let lower = self.tree(&ranges[..mid], arch, default);
        self.jump(BPF_JMP_JGE_K, ranges[mid].start, upper, lower)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target<'a> {
    Ret(u32),
    Rules(&'a [ArgRule]),
}

/// Syscall numbers from `start` up to the next range's start.
struct Range<'a> {
    start: u32,
    target: Target<'a>,
}

/// Cover every syscall number of one section with ranges, merging
/// neighbours that return the same value.
fn ranges<'a>(section: &'a Section, actions: &Actions) -> Vec<Range<'a>> {
    let mut out: Vec<Range<'a>> = vec![Range {
        start: 0,
        target: Target::Ret(actions.default),
    }];
    let mut add = |start: u32, target: Target<'a>| {
        if out
            .last()
            .is_some_and(|last| last.target == target && matches!(target, Target::Ret(_)))
        {
            return;
        }
        if out.last().is_some_and(|last| last.start == start) {
            out.pop();
        }
        out.push(Range { start, target });
    };
    // runc's -ENOSYS rule runs before the filter proper, so it wins over
    // rules for numbers above the limit (x86's direct socket calls, which
    // libseccomp counts as socketcall).
    let enosys_from = section
        .max_named
        .filter(|_| actions.enosys_above_max)
        .and_then(|max| max.checked_add(1));
    for (&nr, decision) in &section.decisions {
        if enosys_from.is_some_and(|from| nr >= from) {
            break;
        }
        match decision {
            Decision::Always(value) => add(nr, Target::Ret(*value)),
            Decision::FirstMatch(rules) => add(nr, Target::Rules(rules)),
        }
        if let Some(next) = nr.checked_add(1) {
            add(next, Target::Ret(actions.default));
        }
    }
    if let Some(from) = enosys_from {
        add(
            from,
            Target::Ret(super::rules::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        );
    }
    out
}

/// The whole program for `sections` (native first), in execution order.
pub(super) fn emit(sections: &[Section], actions: &Actions) -> Vec<sock_filter> {
    let mut e = Emitter::default();
    let x32 = sections.iter().find(|s| s.arch == SectionArch::X32);
    let mut entries: Vec<(u32, Label)> = Vec::new();
    for section in sections.iter().rev().filter(|s| s.arch != SectionArch::X32) {
        let ranges = ranges(section, actions);
        let tree = e.tree(&ranges, section.arch, actions.default);
        let body = if section.arch == SectionArch::X86_64 {
            // x32 syscalls share AUDIT_ARCH_X86_64 and differ by one bit.
            let x32_entry = match x32 {
                Some(x32) => {
                    let ranges = self::ranges(x32, actions);
                    e.tree(&ranges, SectionArch::X32, actions.default)
                }
                // Without x32 they are a bad architecture, except -1, the
                // "skipped syscall" number a tracer may set, which
                // libseccomp passes to the x86_64 rules (none can match it).
                None => {
                    let bad_arch = e.ret(actions.bad_arch);
                    let default = e.ret(actions.default);
                    e.jump(BPF_JMP_JEQ_K, u32::MAX, default, bad_arch)
                }
            };
            e.jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, x32_entry, tree)
        } else {
            tree
        };
        e.goto(body);
        let entry = e.load(OFFSET_NR);
        entries.push((section.arch.audit_arch(), entry));
    }
    let mut next = e.ret(actions.bad_arch);
    for (audit_arch, entry) in entries {
        next = e.jump(BPF_JMP_JEQ_K, audit_arch, entry, next);
    }
    e.goto(next);
    e.load(OFFSET_ARCH);
    e.rev.reverse();
    e.rev
}
