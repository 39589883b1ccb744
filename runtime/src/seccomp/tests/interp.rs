//! A classic-BPF interpreter for the instructions `bpf` emits, over a
//! `struct seccomp_data`, so tests can check decisions for any architecture.

use seccompiler::sock_filter;

/// Run `program` for one syscall and return its `SECCOMP_RET_*` value.
pub(super) fn run(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    let mut acc: u32 = 0;
    let mut pc = 0usize;
    loop {
        let insn = &program[pc];
        pc += 1;
        let k = insn.k;
        let branch = |taken: bool| usize::from(if taken { insn.jt } else { insn.jf });
        match insn.code {
            0x20 => {
                let at = k as usize;
                acc = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            }
            0x54 => acc &= k,
            0x05 => pc += k as usize,
            0x15 => pc += branch(acc == k),
            0x25 => pc += branch(acc > k),
            0x35 => pc += branch(acc >= k),
            0x45 => pc += branch(acc & k != 0),
            0x06 => return k,
            code => panic!("unexpected BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}
