//! Every `unsafe` block and raw syscall of the runtime, behind safe wrappers.

pub mod cgroups;
pub mod fork;
pub mod keyring;
pub mod mount;
pub mod process;
pub mod sealed_exe;
pub mod seccomp;
pub mod signal;
