//! Every `unsafe` block and raw syscall of the runtime, behind safe wrappers.

pub mod cgroups;
