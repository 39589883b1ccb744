//! Running the runtime from a sealed in-memory copy of its own binary
//! (CVE-2019-5736 where non-dumpable is not enough): a process holding
//! CAP_SYS_PTRACE over us may open our /proc/PID/exe however dumpable we
//! are, and then gets a sealed memfd that nothing can write, not the host's
//! binary.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStringExt;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

/// MFD_EXEC (Linux 6.3): executable even under vm.memfd_noexec=1.
const MFD_EXEC: libc::c_uint = 0x0010;

fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// Whether this process already runs from a sealed copy (F_GET_SEALS on a
/// file that is not a memfd is EINVAL).
pub fn running_sealed() -> bool {
    let Ok(exe) = File::open("/proc/self/exe") else {
        return false;
    };
    match fcntl(&exe, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_truncate(bits).contains(seals()),
        Err(_) => false,
    }
}

/// Copies /proc/self/exe into a memfd, seals it against every change and
/// execs it with the same argv and environment. Returns only on failure.
pub fn reexec_sealed() -> io::Error {
    match try_reexec_sealed() {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_reexec_sealed() -> io::Result<std::convert::Infallible> {
    let flags = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let name = c"skiff-sealed";
    let fd = match memfd_create(name, flags | MFdFlags::from_bits_retain(MFD_EXEC)) {
        // Kernels before 6.3 do not know MFD_EXEC; their memfds are executable.
        Err(Errno::EINVAL) => memfd_create(name, flags)?,
        other => other?,
    };
    let mut mem = File::from(fd);
    // io::copy copies in the kernel (copy_file_range or sendfile): no
    // buffer of the binary's size to fault in.
    io::copy(&mut File::open("/proc/self/exe")?, &mut mem)?;
    add_seals(&mem)?;
    let args: Vec<CString> = std::env::args_os()
        .map(c_string)
        .collect::<io::Result<_>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(mut k, v)| {
            k.push("=");
            k.push(v);
            c_string(k)
        })
        .collect::<io::Result<_>>()?;
    Ok(nix::unistd::fexecve(&mem, &args, &env)?)
}

/// F_ADD_SEALS, retried while the kernel still sees pinned pages (EBUSY).
fn add_seals(mem: &File) -> io::Result<()> {
    for _ in 0..50 {
        match fcntl(mem, FcntlArg::F_ADD_SEALS(seals())) {
            Err(Errno::EBUSY) => std::thread::sleep(std::time::Duration::from_millis(2)),
            other => return other.map(drop).map_err(io::Error::from),
        }
    }
    Err(io::Error::from(Errno::EBUSY))
}

fn c_string(s: OsString) -> io::Result<CString> {
    CString::new(s.into_vec()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}
