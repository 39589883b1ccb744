//! Linux security module labels of the container process (config.md
//! "process.apparmorProfile" and "process.selinuxLabel"), applied as runc
//! applies them (each write in one write(2), as the kernel's attr files
//! want it, through the verified procfs handle of `proc_attrs`): the
//! AppArmor profile is written to the init's
//! `attr/apparmor/exec` (or the older `attr/exec`) before it reports
//! ready, so it takes effect at execve; the SELinux label is written to
//! `/proc/thread-self/attr/exec` just before the user process. runc does not
//! first ask whether AppArmor is enabled: on a host without it the write
//! fails and so does the container. SELinux is checked up front instead
//! (`spec::host`), as runc's validator does.

use std::path::Path;

use anyhow::{Context, Result};

use crate::proc_attrs;

/// selinuxfs is mounted: what go-selinux's GetEnabled looks for first.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Sets the AppArmor profile the next execve switches to (libapparmor's
/// aa_change_onexec). An empty name changes nothing.
pub fn apply_apparmor_profile(name: &str) -> Result<()> {
    if name.is_empty() {
        return Ok(());
    }
    // Which file the kernel has is only looked up by path; the write itself
    // goes through the verified procfs handle (the CVE-2025-52881 class).
    let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
        "attr/apparmor/exec"
    } else {
        "attr/exec"
    };
    proc_attrs::write_proc_self(attr, format!("exec {name}").as_bytes())
        .with_context(|| format!("process.apparmorProfile: apply profile {name:?}"))
}

/// Sets the SELinux context the next execve runs in (go-selinux's
/// SetExecLabel). An empty label changes nothing.
pub fn set_selinux_exec_label(label: &str) -> Result<()> {
    if label.is_empty() {
        return Ok(());
    }
    // `create` refuses this up front; `exec` gets here with it.
    if !selinux_enabled() {
        anyhow::bail!(
            "process.selinuxLabel is set, but SELinux is disabled or not supported on this host"
        );
    }
    proc_attrs::write_proc_thread_self("attr/exec", label.as_bytes())
        .with_context(|| format!("process.selinuxLabel: set exec label {label:?}"))
}
