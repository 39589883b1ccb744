//! The last steps before exec, shared by the init and `exec`: take the
//! process's privileges away and install its seccomp filter, in runc's order.

use anyhow::Result;
use oci_spec::runtime::Process;

use crate::seccomp::SeccompFilter;
use crate::{capabilities, identity, proc_attrs};

/// Bounding set, uid/gid, capabilities, no_new_privs, seccomp. Loading a
/// filter without no_new_privs needs CAP_SYS_ADMIN (seccomp(2)), so then the
/// filter goes in first, while we still hold it; with no_new_privs it goes in
/// last, so that as few syscalls as possible run under it before exec. This
/// is what runc does, and what docker's and podman's defaults
/// (noNewPrivileges false, no CAP_SYS_ADMIN, a seccomp profile) rely on.
pub(crate) fn drop_privileges(process: &Process, seccomp: Option<&SeccompFilter>) -> Result<()> {
    let no_new_privs = process.no_new_privileges() == Some(true);
    if let (Some(filter), false) = (seccomp, no_new_privs) {
        filter.install()?;
    }
    let caps = process.capabilities().as_ref();
    capabilities::drop_bounding_set(caps)?;
    identity::set_identity(process.user())?;
    capabilities::apply_capabilities(caps)?;
    if no_new_privs {
        proc_attrs::set_no_new_privs()?;
        if let Some(filter) = seccomp {
            filter.install()?;
        }
    }
    Ok(())
}
