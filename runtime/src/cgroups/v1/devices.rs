//! cgroup v1 devices controller (OCI config-linux.md "Allowed Device List";
//! kernel admin-guide/cgroup-v1/devices.rst). As runc: deny everything
//! first, then replay the rules in order, so the result does not depend on
//! what the cgroup allowed before.
//!
//! Replaying briefly denies every device to a running container, so an
//! update whose rules leave the cgroup as it already is writes nothing:
//! the kernel's list is predicted from the rules (the same bookkeeping as
//! security/device_cgroup.c) and compared with devices.list first. runc
//! avoids the same disruption with its rule emulator.

use std::path::Path;

use crate::cgroups::devices::DeviceRule;
use crate::cgroups::fs::{read_optional, write_file, CgroupError};

/// `rules` are already validated (see `devices::container_rules`), so no
/// bad rule can leave the cgroup denied-all and half configured.
pub fn apply(dir: &Path, rules: &[DeviceRule]) -> Result<(), CgroupError> {
    if let Some(expected) = predicted_list(rules) {
        if read_optional(dir, "devices.list")?.as_deref() == Some(expected.as_str()) {
            return Ok(());
        }
    }
    write_file(dir, "devices.deny", "a")?;
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write_file(dir, file, &rule.text())?;
    }
    Ok(())
}

/// One exception of the kernel's list: type, major, minor, access bits.
type Exception = (char, Option<u32>, Option<u32>, u8);

fn bits(access: &str) -> u8 {
    access.chars().fold(0, |b, c| {
        b | match c {
            'r' => 4,
            'w' => 2,
            'm' => 1,
            _ => 0,
        }
    })
}

/// devices.list as the kernel would print it after "deny a" and `rules`,
/// or None when the result is default-allow: the kernel then prints only
/// "a *:* rwm" and hides its exceptions, so equality proves nothing.
pub(crate) fn predicted_list(rules: &[DeviceRule]) -> Option<String> {
    let mut allow_all = false;
    let mut exceptions: Vec<Exception> = Vec::new();
    for r in rules {
        // Any rule of type 'a' resets the behaviour, whatever its numbers.
        if r.typ == 'a' {
            allow_all = r.allow;
            exceptions.clear();
            continue;
        }
        let b = bits(&r.access);
        let same = |e: &Exception| e.0 == r.typ && e.1 == r.major && e.2 == r.minor;
        if r.allow != allow_all {
            // An exception to the default: merged into an equal one.
            match exceptions.iter_mut().find(|e| same(e)) {
                Some(e) => e.3 |= b,
                None => exceptions.push((r.typ, r.major, r.minor, b)),
            }
        } else {
            // Agreeing with the default: takes access away from an exception.
            for e in exceptions.iter_mut().filter(|e| same(e)) {
                e.3 &= !b;
            }
            exceptions.retain(|e| e.3 != 0);
        }
    }
    if allow_all {
        return None;
    }
    let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
    Some(
        exceptions
            .iter()
            .map(|(t, ma, mi, b)| {
                let acc: String = [(4, 'r'), (2, 'w'), (1, 'm')]
                    .iter()
                    .filter(|(bit, _)| b & bit != 0)
                    .map(|(_, c)| *c)
                    .collect();
                format!("{t} {}:{} {acc}\n", num(*ma), num(*mi))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;

    fn rule(
        allow: bool,
        typ: char,
        major: Option<u32>,
        minor: Option<u32>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            typ,
            major,
            minor,
            access: access.into(),
        }
    }

    #[test]
    fn denies_all_then_writes_rules() {
        let d = tempdir();
        std::fs::write(d.join("devices.deny"), "").unwrap();
        std::fs::write(d.join("devices.allow"), "").unwrap();
        apply(&d, &[rule(true, 'c', Some(1), Some(5), "rwm")]).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.join("devices.deny")).unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("devices.allow")).unwrap(),
            "c 1:5 rwm"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn unchanged_policy_writes_nothing() {
        let d = tempdir();
        // No devices.deny / devices.allow files: any write would fail.
        std::fs::write(d.join("devices.list"), "c 1:5 rwm\nc 136:* rw\n").unwrap();
        let rules = [
            rule(true, 'c', Some(1), Some(5), "rwm"),
            rule(true, 'c', Some(136), None, "rw"),
        ];
        apply(&d, &rules).unwrap();
        let e = apply(&d, &rules[..1]).unwrap_err().to_string();
        assert!(e.contains("devices.deny"), "{e}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn prediction_follows_the_kernel() {
        let deny_all = rule(false, 'a', None, None, "rwm");
        let rules = [
            deny_all.clone(),
            rule(true, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(1), Some(3), "w"),
            rule(true, 'b', None, None, "m"),
            rule(false, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(5), Some(0), "rwm"),
            rule(false, 'c', Some(5), Some(0), "rwm"),
        ];
        assert_eq!(predicted_list(&rules).unwrap(), "c 1:3 w\nb *:* m\n");
        assert_eq!(predicted_list(&[]).unwrap(), "");
        let allow_all = rule(true, 'a', None, None, "rwm");
        assert!(predicted_list(&[deny_all, allow_all]).is_none());
    }
}
