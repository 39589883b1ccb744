//! cgroup v2 device controller (OCI config-linux.md "Allowed Device List";
//! kernel admin-guide/cgroup-v2.rst "Device controller"): an eBPF program
//! of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup, built from
//! the same rule list the v1 driver writes.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (access_type = access << 16 | type) and checks the
//! rules from last to first: the first match decides, which is "later rules
//! win" read backwards. A catch-all rule ends the list, since nothing
//! before it can matter; with none, the answer is deny.
//!
//! An update attaches the new program before detaching the old ones, so
//! the cgroup is never without a filter.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use crate::cgroups::devices::DeviceRule;
use crate::cgroups::fs::CgroupError;
use crate::sys::cgroups::{
    attach_cgroup_device_prog, detach_cgroup_device_prog, load_cgroup_device_prog, prog_fd_by_id,
    query_cgroup_device_progs, BpfInsn,
};

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

// Registers: r1 is the context on entry; r2..r5 hold its fields.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// BPF_DEVCG_DEV_* and BPF_DEVCG_ACC_*.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// The instructions of one rule: checks that jump past the block when the
/// device does not match, then "return allow".
fn rule_block(rule: &DeviceRule) -> Vec<BpfInsn> {
    // Each check is (instructions before the jump, register, value).
    let mut checks: Vec<(Vec<BpfInsn>, u8, i32)> = Vec::new();
    match rule.typ {
        'b' => checks.push((Vec::new(), TYPE, DEV_BLOCK)),
        'c' => checks.push((Vec::new(), TYPE, DEV_CHAR)),
        _ => {}
    }
    let bits = access_bits(&rule.access);
    if bits != ACC_READ | ACC_WRITE | ACC_MKNOD {
        // Match only if the requested access is within the rule's.
        let pre = vec![
            insn(ALU32_MOV_X, R1, ACCESS, 0, 0),
            insn(ALU32_AND_K, R1, 0, 0, !bits & 7),
        ];
        checks.push((pre, R1, 0));
    }
    if let Some(m) = rule.major {
        checks.push((Vec::new(), MAJOR, m as i32));
    }
    if let Some(m) = rule.minor {
        checks.push((Vec::new(), MINOR, m as i32));
    }
    let mut block = Vec::new();
    let mut jumps = Vec::new();
    for (pre, reg, value) in checks {
        block.extend(pre);
        jumps.push(block.len());
        block.push(insn(JMP_JNE_K, reg, 0, 0, value));
    }
    block.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(rule.allow)));
    block.push(insn(JMP_EXIT, 0, 0, 0, 0));
    let len = block.len();
    for j in jumps {
        block[j].off = (len - j - 1) as i16;
    }
    block
}

/// The whole program for a rule list.
pub fn program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let mut p = vec![
        insn(LDX_MEM_W, TYPE, R1, 0, 0),
        insn(ALU32_AND_K, TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, ACCESS, R1, 0, 0),
        insn(ALU32_RSH_K, ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, MAJOR, R1, 4, 0),
        insn(LDX_MEM_W, MINOR, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        p.extend(rule_block(rule));
        if rule.is_catch_all() {
            // Code after this would be unreachable, which the verifier rejects.
            return p;
        }
    }
    p.push(insn(ALU64_MOV_K, R0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

const LICENSE: &CStr = c"Apache";

/// Loads the program for `rules` and puts it in place of whatever device
/// programs `dir` had.
pub fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    let fail = |step: &str, err: std::io::Error| CgroupError::DeviceProgram {
        step: step.into(),
        dir: dir.to_path_buf(),
        err,
    };
    let cgroup = File::open(dir).map_err(|e| fail("open the cgroup for the", e))?;
    let old =
        query_cgroup_device_progs(cgroup.as_fd()).map_err(|e| fail("query the attached", e))?;
    let old_fds = old
        .into_iter()
        .map(prog_fd_by_id)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail("open an old", e))?;
    let prog =
        load_cgroup_device_prog(&program(rules), LICENSE).map_err(|e| fail("load the", e))?;
    attach_cgroup_device_prog(cgroup.as_fd(), prog.as_fd()).map_err(|e| fail("attach the", e))?;
    for fd in old_fds {
        match detach_cgroup_device_prog(cgroup.as_fd(), fd.as_fd()) {
            // Someone else detached it meanwhile: the goal is reached.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => r.map_err(|e| fail("detach the old", e))?,
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
