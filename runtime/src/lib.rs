//! skiff's OCI runtime library: everything `skiff` does, behind the thin
//! command line in `main.rs`. Module map (see ARCHITECTURE.md):
//! `spec` loads and validates config.json, `state` owns the state directory,
//! `container` is the lifecycle, `process` is how the init is born, `rootfs`
//! builds the container's filesystem view, and the small modules beside them
//! each apply one part of the process spec.

pub mod cgroups;
pub mod rootfs;
pub mod sys;
