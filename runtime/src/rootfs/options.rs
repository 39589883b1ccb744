//! Mount options of a config.json `mounts` entry (OCI runtime spec config.md
//! "Mounts", the mount-options table of config-linux.md), parsed the way runc's
//! `parseMountOptions` does: kernel flags, propagation changes, recursive
//! `mount_setattr` attributes, and everything else as filesystem data.

use nix::mount::MsFlags;

use crate::sys::mount::MountAttr;

/// `MS_NOSYMFOLLOW` (Linux 5.10); nix does not name it.
pub(crate) const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// The atime flags a mount carries: one of them replaces the others.
const ATIME_FLAGS: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// A parsed mount option list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for mount(2), including `MS_BIND`/`MS_REC` for (r)bind.
    pub flags: MsFlags,
    /// Flags an option explicitly cleared (`rw`, `suid`, `dev`, `exec`, ...):
    /// a bind remount must not re-add these from the source mount.
    pub cleared: MsFlags,
    /// Propagation changes, applied after the mount in the order given.
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for mount_setattr(2).
    pub rec_attr: Option<MountAttr>,
    /// Filesystem-specific data (`size=65536k`, `mode=755`, `newinstance`).
    pub data: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            rec_attr: None,
            data: Vec::new(),
        }
    }
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The data argument of mount(2), `None` when there is none.
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }

    /// Flags that only a bind remount can apply (a plain bind ignores them).
    pub fn remount_flags(&self) -> MsFlags {
        self.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT | propagation_mask())
    }
}

fn propagation_mask() -> MsFlags {
    MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE
}

/// Parse a mount option list. Fails only for options skiff knows but does not
/// support (idmapped mounts, runc's `tmpcopyup`), naming the option.
pub(crate) fn parse_mount_options(options: &[String]) -> Result<MountOptions, String> {
    let mut out = MountOptions::default();
    for opt in options {
        if let Some((clear, flag)) = flag_option(opt) {
            if clear {
                out.flags.remove(flag);
                out.cleared.insert(flag);
            } else {
                if ATIME_FLAGS.contains(flag) {
                    out.flags.remove(ATIME_FLAGS);
                }
                out.flags.insert(flag);
                out.cleared.remove(flag);
            }
        } else if let Some(p) = propagation_option(opt) {
            out.propagation.push(p);
        } else if let Some((clear, attr)) = recursive_option(opt) {
            let rec = out.rec_attr.get_or_insert_with(MountAttr::default);
            apply_recursive(rec, clear, attr);
        } else if matches!(opt.as_str(), "idmap" | "ridmap" | "tmpcopyup") {
            return Err(format!("mount option {opt:?} is not supported"));
        } else {
            out.data.push(opt.clone());
        }
    }
    Ok(out)
}

/// Kernel flag options: `(clears_the_flag, flag)`.
fn flag_option(opt: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match opt {
        "defaults" => (false, F::empty()),
        "ro" => (false, F::MS_RDONLY),
        "rw" => (true, F::MS_RDONLY),
        "suid" => (true, F::MS_NOSUID),
        "nosuid" => (false, F::MS_NOSUID),
        "dev" => (true, F::MS_NODEV),
        "nodev" => (false, F::MS_NODEV),
        "exec" => (true, F::MS_NOEXEC),
        "noexec" => (false, F::MS_NOEXEC),
        "sync" => (false, F::MS_SYNCHRONOUS),
        "async" => (true, F::MS_SYNCHRONOUS),
        "dirsync" => (false, F::MS_DIRSYNC),
        "remount" => (false, F::MS_REMOUNT),
        "mand" => (false, F::MS_MANDLOCK),
        "nomand" => (true, F::MS_MANDLOCK),
        "atime" => (true, F::MS_NOATIME),
        "noatime" => (false, F::MS_NOATIME),
        "diratime" => (true, F::MS_NODIRATIME),
        "nodiratime" => (false, F::MS_NODIRATIME),
        "relatime" => (false, F::MS_RELATIME),
        "norelatime" => (true, F::MS_RELATIME),
        "strictatime" => (false, F::MS_STRICTATIME),
        "nostrictatime" => (true, F::MS_STRICTATIME),
        "iversion" => (false, F::MS_I_VERSION),
        "noiversion" => (true, F::MS_I_VERSION),
        "lazytime" => (false, F::MS_LAZYTIME),
        "nolazytime" => (true, F::MS_LAZYTIME),
        "silent" => (false, F::MS_SILENT),
        "loud" => (true, F::MS_SILENT),
        "nosymfollow" => (false, MS_NOSYMFOLLOW),
        "symfollow" => (true, MS_NOSYMFOLLOW),
        "bind" => (false, F::MS_BIND),
        "rbind" => (false, F::MS_BIND | F::MS_REC),
        _ => return None,
    })
}

fn propagation_option(opt: &str) -> Option<MsFlags> {
    use MsFlags as F;
    Some(match opt {
        "private" => F::MS_PRIVATE,
        "rprivate" => F::MS_PRIVATE | F::MS_REC,
        "shared" => F::MS_SHARED,
        "rshared" => F::MS_SHARED | F::MS_REC,
        "slave" => F::MS_SLAVE,
        "rslave" => F::MS_SLAVE | F::MS_REC,
        "unbindable" => F::MS_UNBINDABLE,
        "runbindable" => F::MS_UNBINDABLE | F::MS_REC,
        _ => return None,
    })
}

/// Recursive attribute options: `(clears_the_attr, MOUNT_ATTR_*)`. The atime
/// ones are handled in `apply_recursive` since the kernel treats them as one field.
fn recursive_option(opt: &str) -> Option<(bool, u64)> {
    Some(match opt {
        "rro" => (false, libc::MOUNT_ATTR_RDONLY),
        "rrw" => (true, libc::MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, libc::MOUNT_ATTR_NOSUID),
        "rsuid" => (true, libc::MOUNT_ATTR_NOSUID),
        "rnodev" => (false, libc::MOUNT_ATTR_NODEV),
        "rdev" => (true, libc::MOUNT_ATTR_NODEV),
        "rnoexec" => (false, libc::MOUNT_ATTR_NOEXEC),
        "rexec" => (true, libc::MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (false, libc::MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (true, libc::MOUNT_ATTR_NODIRATIME),
        "rnosymfollow" => (false, libc::MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (true, libc::MOUNT_ATTR_NOSYMFOLLOW),
        // atime mode: "ratime" and "rnostrictatime" mean the default relatime,
        // "rnorelatime" means always update, i.e. strictatime.
        "ratime" | "rrelatime" | "rnostrictatime" => (false, libc::MOUNT_ATTR_RELATIME),
        "rnoatime" => (false, libc::MOUNT_ATTR_NOATIME),
        "rstrictatime" | "rnorelatime" => (false, libc::MOUNT_ATTR_STRICTATIME),
        _ => return None,
    })
}

fn apply_recursive(rec: &mut MountAttr, clear: bool, attr: u64) {
    let is_atime = matches!(
        attr,
        libc::MOUNT_ATTR_RELATIME | libc::MOUNT_ATTR_NOATIME | libc::MOUNT_ATTR_STRICTATIME
    );
    if is_atime {
        // The kernel wants the whole atime field in attr_clr when it changes.
        rec.attr_clr |= libc::MOUNT_ATTR__ATIME;
        rec.attr_set = (rec.attr_set & !libc::MOUNT_ATTR__ATIME) | attr;
    } else if clear {
        rec.attr_clr |= attr;
        rec.attr_set &= !attr;
    } else {
        rec.attr_set |= attr;
        rec.attr_clr &= !attr;
    }
}

/// `linux.rootfsPropagation` as mount(2) flags.
pub(crate) fn parse_root_propagation(value: &str) -> Option<MsFlags> {
    propagation_option(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        let owned: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        parse_mount_options(&owned).unwrap()
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let o = parse(&["nosuid", "noexec", "nodev", "ro", "rw", "exec"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
        assert!(o.cleared.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC));
        assert!(o.data.is_empty());
        assert!(!o.is_bind());
    }

    #[test]
    fn unknown_options_become_data_in_order() {
        let o = parse(&[
            "nosuid",
            "size=65536k",
            "mode=755",
            "newinstance",
            "ptmxmode=0666",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID);
        assert_eq!(
            o.data_string().as_deref(),
            Some("size=65536k,mode=755,newinstance,ptmxmode=0666")
        );
    }

    #[test]
    fn bind_and_rbind() {
        assert_eq!(parse(&["bind"]).flags, MsFlags::MS_BIND);
        let r = parse(&["rbind", "ro"]);
        assert!(r.is_bind());
        assert_eq!(
            r.flags,
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
        );
        assert_eq!(r.remount_flags(), MsFlags::MS_RDONLY);
    }

    #[test]
    fn every_spec_flag_option_is_known() {
        for opt in [
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "mand",
            "noatime",
            "nodev",
            "nodiratime",
            "noexec",
            "nomand",
            "norelatime",
            "nostrictatime",
            "nosuid",
            "nosymfollow",
            "rbind",
            "relatime",
            "remount",
            "ro",
            "rw",
            "strictatime",
            "suid",
            "sync",
        ] {
            assert!(parse(&[opt]).data.is_empty(), "{opt} parsed as data");
        }
        assert_eq!(parse(&["nosymfollow"]).flags, MS_NOSYMFOLLOW);
        assert_eq!(parse(&["remount"]).flags, MsFlags::MS_REMOUNT);
        assert_eq!(parse(&["mand", "nomand"]).flags, MsFlags::empty());
    }

    #[test]
    fn atime_options_replace_each_other() {
        assert_eq!(
            parse(&["noatime", "strictatime"]).flags,
            MsFlags::MS_STRICTATIME
        );
        assert_eq!(parse(&["relatime", "norelatime"]).flags, MsFlags::empty());
        assert_eq!(
            parse(&["nodiratime", "relatime"]).flags,
            MsFlags::MS_NODIRATIME | MsFlags::MS_RELATIME
        );
    }

    #[test]
    fn propagation_options_keep_order() {
        let o = parse(&[
            "rprivate",
            "shared",
            "runbindable",
            "rslave",
            "private",
            "slave",
            "unbindable",
            "rshared",
        ]);
        assert_eq!(o.propagation.len(), 8);
        assert_eq!(o.propagation[0], MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(o.propagation[1], MsFlags::MS_SHARED);
        assert_eq!(o.propagation[3], MsFlags::MS_SLAVE | MsFlags::MS_REC);
        assert_eq!(o.flags, MsFlags::empty());
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&[
            "rro",
            "rnosuid",
            "rnodev",
            "rnoexec",
            "rnosymfollow",
            "rnodiratime",
        ]);
        let rec = o.rec_attr.unwrap();
        assert_eq!(
            rec.attr_set,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_NOSYMFOLLOW
                | libc::MOUNT_ATTR_NODIRATIME
        );
        assert_eq!(rec.attr_clr, 0);
        let o = parse(&["rro", "rrw", "rdiratime"]);
        let rec = o.rec_attr.unwrap();
        assert_eq!(rec.attr_set, 0);
        assert_eq!(
            rec.attr_clr,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NODIRATIME
        );
        assert!(
            o.flags.is_empty(),
            "recursive options must not touch mount(2) flags"
        );
    }

    #[test]
    fn recursive_atime_sets_whole_field() {
        for (opt, want) in [
            ("rnoatime", libc::MOUNT_ATTR_NOATIME),
            ("rstrictatime", libc::MOUNT_ATTR_STRICTATIME),
            ("rrelatime", libc::MOUNT_ATTR_RELATIME),
            ("ratime", libc::MOUNT_ATTR_RELATIME),
        ] {
            let rec = parse(&["rnoatime", opt]).rec_attr.unwrap();
            assert_eq!(rec.attr_clr, libc::MOUNT_ATTR__ATIME, "{opt}");
            assert_eq!(rec.attr_set, want, "{opt}");
        }
    }

    #[test]
    fn unsupported_options_are_named() {
        let err = parse_mount_options(&["idmap".to_string()]).unwrap_err();
        assert!(err.contains("\"idmap\""), "{err}");
    }

    #[test]
    fn root_propagation_values() {
        assert_eq!(
            parse_root_propagation("rslave"),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(parse_root_propagation("shared"), Some(MsFlags::MS_SHARED));
        assert_eq!(parse_root_propagation("bogus"), None);
    }
}
