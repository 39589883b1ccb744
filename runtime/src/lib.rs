//! skiff's OCI runtime library: everything `skiff` does, behind the thin
//! command line in `main.rs`. Module map (see ARCHITECTURE.md):
//! `spec` loads and validates config.json, `state` owns the state directory,
//! `container` is the lifecycle, `process` is how the init is born, `rootfs`
//! builds the container's filesystem view, and the small modules beside them
//! each apply one part of the process spec.

pub mod capabilities;
pub mod cgroups;
pub mod container;
pub mod default_spec;
pub mod features;
#[doc(hidden)]
pub mod fuzzing;
pub mod hooks;
pub mod identity;
pub mod json;
pub mod logging;
pub mod lsm;
pub mod proc_attrs;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sys;
pub mod tty;
