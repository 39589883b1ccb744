//! The binary's only `unsafe`: process-wide signal disposition.

use nix::sys::signal::{signal, SigHandler, Signal};

/// Die quietly on SIGPIPE like other CLI tools (`skiff-image images | head -1`) instead of
/// Rust's default of ignoring it, which makes `println!` panic on a closed pipe.
pub fn default_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL installs no
    // Rust handler, so no async-signal-safety requirement applies.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
