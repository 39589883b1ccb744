//! Huge page sizes as cgroup file names use them ("2MB", "1GB"; OCI
//! config-linux.md "Huge page limits"), shared by both drivers.

use std::path::Path;

use crate::cgroups::fs::CgroupError;

/// Turns a size in kB into the kernel's hugetlb file-name form.
pub fn size_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB"];
    let mut v = kb;
    let mut u = 0;
    while v >= 1024 && v & 1023 == 0 && u + 1 < units.len() {
        v /= 1024;
        u += 1;
    }
    format!("{v}{}", units[u])
}

/// The huge page sizes the kernel offers, from /sys/kernel/mm/hugepages.
pub fn page_sizes() -> Vec<String> {
    page_sizes_in(Path::new("/sys/kernel/mm/hugepages"))
}

fn page_sizes_in(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(size_name(kb))
        })
        .collect();
    out.sort();
    out
}

/// Refuses a page size the kernel does not have, naming it, before any
/// file is touched (the file would be missing anyway, but the message is
/// clearer).
pub fn check_size(page_size: &str, sizes: &[String]) -> Result<(), CgroupError> {
    if sizes.iter().any(|s| s == page_size) {
        return Ok(());
    }
    Err(CgroupError::Invalid {
        field: "linux.resources.hugepageLimits.pageSize".into(),
        value: page_size.into(),
        why: format!("this kernel has huge pages of {}", sizes.join(", ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_the_kernel() {
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1048576), "1GB");
        assert_eq!(size_name(64), "64KB");
        assert!(check_size("3MB", &["2MB".into()]).is_err());
        assert!(check_size("2MB", &["2MB".into()]).is_ok());
    }
}
