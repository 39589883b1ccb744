//! The device program run through a small interpreter of the instructions
//! it uses, so the decisions are tested without loading anything.

use super::*;
use crate::cgroups::devices::{container_rules, parse_rule};
use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};

/// Runs `prog` on (type, access, major, minor); returns r0.
fn run(prog: &[BpfInsn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [(access << 16) | typ, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..10_000 {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            ALU32_AND_K => r[dst] = u64::from((r[dst] as u32) & (i.imm as u32)),
            ALU32_RSH_K => r[dst] = u64::from((r[dst] as u32) >> i.imm),
            ALU32_MOV_X => r[dst] = u64::from(r[src] as u32),
            ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
            JMP_JNE_K => {
                if r[dst] != i.imm as i64 as u64 {
                    pc += i.off as usize;
                }
            }
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("program does not terminate")
}

const C: u32 = 2;
const B: u32 = 1;
const R: u32 = 2;
const W: u32 = 4;
const M: u32 = 1;

fn rule(allow: bool, typ: LinuxDeviceType, major: i64, minor: i64, access: &str) -> DeviceRule {
    let r = LinuxDeviceCgroupBuilder::default()
        .allow(allow)
        .typ(typ)
        .major(major)
        .minor(minor)
        .access(access)
        .build()
        .unwrap();
    parse_rule(&r).unwrap()
}

#[test]
fn empty_list_denies_everything() {
    let p = program(&[]);
    assert_eq!(run(&p, C, R, 1, 3), 0);
}

#[test]
fn deny_all_then_defaults_like_runc() {
    let deny = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .unwrap();
    let p = program(&container_rules(&[deny]).unwrap());
    assert_eq!(run(&p, C, R | W, 1, 3), 1, "/dev/null");
    assert_eq!(run(&p, C, R, 136, 7), 1, "/dev/pts/7");
    assert_eq!(run(&p, C, R, 1, 11), 0, "/dev/kmsg");
    assert_eq!(run(&p, B, R, 8, 0), 0, "block read");
    assert_eq!(run(&p, B, M, 8, 0), 1, "mknod of any block device");
    assert_eq!(
        run(&p, B, M | R, 8, 0),
        0,
        "mknod plus read is not within 'm'"
    );
}

#[test]
fn later_rules_win_and_access_is_a_subset_check() {
    let rules = vec![
        rule(true, LinuxDeviceType::C, 1, -1, "rwm"),
        rule(false, LinuxDeviceType::C, 1, 5, "rwm"),
        rule(true, LinuxDeviceType::C, 10, 200, "r"),
    ];
    let p = program(&rules);
    assert_eq!(run(&p, C, R, 1, 3), 1);
    assert_eq!(run(&p, C, R, 1, 5), 0, "denied by the later rule");
    assert_eq!(run(&p, C, R, 10, 200), 1);
    assert_eq!(run(&p, C, R | W, 10, 200), 0, "write not allowed");
    assert_eq!(run(&p, B, R, 1, 3), 0, "type must match");
}

#[test]
fn catch_all_ends_the_program() {
    let allow_all = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .access("rwm")
        .build()
        .unwrap();
    let rules = vec![
        rule(false, LinuxDeviceType::C, 1, 3, "rwm"),
        parse_rule(&allow_all).unwrap(),
    ];
    let p = program(&rules);
    assert_eq!(run(&p, C, R, 1, 3), 1, "the later allow-all wins");
    assert_eq!(p.last().unwrap().code, JMP_EXIT);
    assert_eq!(
        p.len(),
        6 + 2,
        "prologue plus one block; earlier rules dropped"
    );
}
