//! How the container's init is born (runtime.md "Lifecycle" steps 1–7, the
//! `create` half). No re-exec of the runtime binary: `skiff create` forks a
//! stage-1 child that joins and creates namespaces, which forks the init when
//! a pid or time namespace needs it; the init sets up the root filesystem and
//! the process attributes, then waits on the exec socket for `start`.
//!
//! The handshake, the same numbers on both sides (`sync.rs` has the messages):
//!
//! | sync | direction            | message               | why                                             |
//! |------|----------------------|-----------------------|-------------------------------------------------|
//! | 1    | parent → stage 1     | Continue              | stage 1 is in its cgroup before any unshare     |
//! | 2    | stage 1 → parent     | MapIds / IdsMapped    | only the parent can write the new userns maps   |
//! | 3    | stage 1 → parent     | InitPid               | the init's pid as the parent sees it            |
//! | 4    | init → parent        | RuntimeHooks / Proceed| prestart + createRuntime run after the mounts   |
//! | 5    | init → parent        | Ready                 | `create` may record the state                   |
//! | 6    | parent → init        | Committed             | the state is on disk; the init may wait         |
//!
//! After sync 6 the parent is gone; `start` connects to the exec socket, and
//! the init answers with an error text or with nothing (its exec closed it).

pub mod exec;
mod init;
pub mod namespaces;
mod privileges;
mod spawn;
pub mod sync;

pub use spawn::{spawn_init, InitOptions, InitProcess};
