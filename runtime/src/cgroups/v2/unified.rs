//! `linux.resources.unified` (OCI config-linux.md "Unified"): raw cgroup v2
//! key/values, written last so they override the converted values, as in
//! runc.

use std::collections::HashMap;
use std::path::Path;

use crate::cgroups::fs::{read_optional, write_file, CgroupError};

/// Checks a key names a file of this cgroup directory and nothing else.
fn check_key(key: &str) -> Result<&str, CgroupError> {
    let invalid = |why: &str| CgroupError::Invalid {
        field: "linux.resources.unified".into(),
        value: key.into(),
        why: why.into(),
    };
    if key.contains('/') || key.starts_with('.') {
        return Err(invalid("a key is a file name in the container's cgroup"));
    }
    match key.split_once('.') {
        Some((ctrl, rest)) if !ctrl.is_empty() && !rest.is_empty() => Ok(ctrl),
        _ => Err(invalid("want CONTROLLER.PARAMETER")),
    }
}

pub fn apply(dir: &Path, unified: &HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<_> = unified.iter().collect();
    keys.sort();
    for (k, _) in &keys {
        check_key(k)?;
    }
    for (k, v) in keys {
        let ctrl = check_key(k)?;
        if let Err(e) = write_file(dir, k, v) {
            // A missing file usually means a controller that is not enabled
            // here; say that rather than only "No such file".
            if ctrl != "cgroup" && matches!(e.os_error(), Some(libc::ENOENT) | Some(libc::EPERM)) {
                let enabled = read_optional(dir, "cgroup.controllers")?.unwrap_or_default();
                if !enabled.split_whitespace().any(|c| c == ctrl) {
                    return Err(CgroupError::Unavailable {
                        controller: ctrl.into(),
                        file: k.clone(),
                        why: format!(
                            "not enabled in {dir:?} (cgroup.controllers: {:?})",
                            enabled.trim()
                        ),
                    });
                }
            }
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;

    #[test]
    fn writes_keys_and_rejects_paths() {
        let d = tempdir();
        std::fs::write(d.join("memory.high"), "").unwrap();
        std::fs::write(d.join("cgroup.controllers"), "memory pids\n").unwrap();
        let mut m = HashMap::new();
        m.insert("memory.high".to_string(), "1000".to_string());
        apply(&d, &m).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("memory.high")).unwrap(),
            "1000"
        );
        m.insert("../x.y".to_string(), "1".to_string());
        assert!(apply(&d, &m)
            .unwrap_err()
            .to_string()
            .contains("\"../x.y\""));
        let mut m = HashMap::new();
        m.insert("io.max".to_string(), "8:0 rbps=1".to_string());
        let e = apply(&d, &m).unwrap_err().to_string();
        assert!(
            e.starts_with("io controller is not available (needed for io.max)"),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
