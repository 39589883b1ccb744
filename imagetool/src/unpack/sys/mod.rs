//! Raw syscalls of the `unpack` and `bundle` modules: every `unsafe` block of those
//! modules lives here, behind safe wrappers taking `BorrowedFd` or paths.

#![allow(unsafe_code)]

mod fs;
mod mount;

pub use fs::*;
pub use mount::*;
