//! i386's multiplexed socket and SysV IPC syscalls. On x86 (32-bit) the
//! socket calls can also arrive as `socketcall(call, args*)` and the IPC
//! calls as `ipc(call, ...)`, with the call number in the first argument.
//! libseccomp (and so runc) turns a rule for `connect` into the direct
//! syscall plus `socketcall` with arg0 == SYS_CONNECT; the rule's own
//! argument conditions are dropped for the multiplexed form because the
//! real arguments sit in user memory. We do the same, so a profile that
//! denies `socket` also denies it for 32-bit programs using socketcall.

/// `socketcall` on i386.
pub(super) const SOCKETCALL: u32 = 102;
/// `ipc` on i386.
pub(super) const IPC: u32 = 117;

/// The multiplexer syscall and its call number for `name`, if `name` is
/// one of the multiplexed calls (linux/net.h SYS_*, uapi/linux/ipc.h).
pub(super) fn multiplexed(name: &str) -> Option<(u32, u64)> {
    let socket = match name {
        "socket" => 1,
        "bind" => 2,
        "connect" => 3,
        "listen" => 4,
        "accept" => 5,
        "getsockname" => 6,
        "getpeername" => 7,
        "socketpair" => 8,
        "send" => 9,
        "recv" => 10,
        "sendto" => 11,
        "recvfrom" => 12,
        "shutdown" => 13,
        "setsockopt" => 14,
        "getsockopt" => 15,
        "sendmsg" => 16,
        "recvmsg" => 17,
        "accept4" => 18,
        "recvmmsg" => 19,
        "sendmmsg" => 20,
        _ => 0,
    };
    if socket != 0 {
        return Some((SOCKETCALL, socket));
    }
    let ipc = match name {
        "semop" => 1,
        "semget" => 2,
        "semctl" => 3,
        "semtimedop" => 4,
        "msgsnd" => 11,
        "msgrcv" => 12,
        "msgget" => 13,
        "msgctl" => 14,
        "shmat" => 21,
        "shmdt" => 22,
        "shmget" => 23,
        "shmctl" => 24,
        _ => return None,
    };
    Some((IPC, ipc))
}
