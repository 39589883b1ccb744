//! Raw `seccomp(2)` for the seccomp module (config-linux "Seccomp"): loading
//! a compiled classic-BPF program, plus the fork and raw-syscall helpers its
//! tests need to watch a filter act on a real process.

use std::io;

use seccompiler::sock_filter;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`. Does not allocate, so it
/// is safe to call in a child between fork and exec. Returns the raw
/// non-negative result: with `SECCOMP_FILTER_FLAG_TSYNC` a positive value is
/// the id of a thread that could not be synchronised.
pub fn seccomp_set_mode_filter(flags: u32, program: &[sock_filter]) -> io::Result<i64> {
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let prog = libc::sock_fprog {
        len,
        // seccompiler's sock_filter is #[repr(C)] with the kernel's layout
        // (u16 code, u8 jt, u8 jf, u32 k), the same as libc::sock_filter.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the kernel
    // copies the instructions before returning and does not keep the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &prog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// Run `child` in a forked child process and wait for it. The child exits
/// with the closure's return value (101 if it panicked). The closure must not
/// allocate or take locks: the test harness is multi-threaded.
#[cfg(test)]
pub fn run_forked(child: impl FnOnce() -> i32) -> nix::sys::wait::WaitStatus {
    use nix::unistd::ForkResult;
    // SAFETY: the child only runs `child` (which the caller keeps to raw
    // syscalls and exec) and then `_exit`s without running destructors.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
            // SAFETY: `_exit` ends the process without touching shared state.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match nix::sys::wait::waitpid(child, None) {
            Ok(status) => status,
            Err(err) => panic!("waitpid {child}: {err}"),
        },
        Err(err) => panic!("fork: {err}"),
    }
}

/// A raw system call by number, returning the result or the errno. Lets the
/// tests call syscalls libc has no wrapper for (kexec_load, add_key) and
/// numbers no kernel knows.
#[cfg(test)]
pub fn raw_syscall(nr: i64, args: [u64; 6]) -> Result<i64, i32> {
    // SAFETY: the tests only pass arguments that are plain integers or null
    // pointers, for which every syscall fails cleanly or acts on integers.
    let ret = unsafe {
        libc::syscall(
            nr as libc::c_long,
            args[0],
            args[1],
            args[2],
            args[3],
            args[4],
            args[5],
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(ret)
    }
}

/// A 32-bit (i386 ABI) system call through `int 0x80` from this 64-bit
/// process: the kernel reports it with `AUDIT_ARCH_I386`, so tests can watch
/// the x86 section of a filter act. Only for calls without arguments.
/// Returns the raw result (-errno on
/// failure).
#[cfg(all(test, target_arch = "x86_64"))]
pub fn int80_syscall(nr: u32) -> i32 {
    let mut eax = nr;
    // SAFETY: `int 0x80` for a call that takes no arguments; the kernel
    // preserves every register but eax, and r8-r11 are declared clobbered
    // because some kernels zero them on this path.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("eax") eax,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack),
        );
    }
    eax as i32
}
