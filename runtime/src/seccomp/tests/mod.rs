//! Tests of the seccomp module: `program` runs the compiled BPF in a small
//! interpreter (all architectures and comparison edges, no root needed),
//! `behaviour` installs filters in forked children and watches real
//! syscalls, `profiles` converts docker/podman default profiles to OCI form
//! the way those engines do before handing them to the runtime.

mod behaviour;
mod interp;
mod profiles;
mod program;
