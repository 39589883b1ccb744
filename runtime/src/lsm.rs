//! Linux security module labels of the container process (config.md
//! "process.apparmorProfile" and "process.selinuxLabel"), applied as runc
//! applies them: the AppArmor profile is written to the init's
//! `attr/apparmor/exec` (or the older `attr/exec`) before it reports
//! ready, so it takes effect at execve; the SELinux label is written to
//! `/proc/thread-self/attr/exec` just before the user process. runc does not
//! first ask whether AppArmor is enabled: on a host without it the write
//! fails and so does the container. SELinux is checked up front instead
//! (`spec::host`), as runc's validator does.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

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
    let modern = Path::new("/proc/self/attr/apparmor/exec");
    let attr = if modern.exists() {
        modern
    } else {
        Path::new("/proc/self/attr/exec")
    };
    write_attr(attr, &format!("exec {name}"))
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
    write_attr(Path::new("/proc/thread-self/attr/exec"), label)
        .with_context(|| format!("process.selinuxLabel: set exec label {label:?}"))
}

/// One write(2) of the whole value, as the kernel's attr files want it.
fn write_attr(path: &Path, value: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("open {:?}", path.display().to_string()))?;
    f.write_all(value.as_bytes())
        .with_context(|| format!("write {:?}", path.display().to_string()))
}
