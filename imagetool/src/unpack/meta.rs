//! Metadata of a tar entry (OCI image spec, layer.md "File Attributes"): the ustar
//! header, overridden by PAX records (`uid`, `gid`, `mtime` with sub-second part,
//! `SCHILY.xattr.*`).

#![forbid(unsafe_code)]

use std::ffi::CString;
use std::io::Read;

use anyhow::{Context, Result};

use super::extract::c;

/// Metadata of one tar entry, with PAX overrides applied.
pub(crate) struct Meta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

/// Header fields with PAX overrides (uid, gid, mtime, SCHILY.xattr.*).
pub(crate) fn read_meta<R: Read>(entry: &mut tar::Entry<R>) -> Result<Meta> {
    let h = entry.header();
    let mut meta = Meta {
        mode: h.mode().context("read mode")? & 0o7777,
        uid: h.uid().context("read uid")? as u32,
        gid: h.gid().context("read gid")? as u32,
        mtime: h.mtime().context("read mtime")? as i64,
        mtime_nsec: 0,
        xattrs: Vec::new(),
    };
    if let Some(exts) = entry.pax_extensions().context("read PAX headers")? {
        for ext in exts {
            let ext = ext.context("read PAX header")?;
            let key = ext.key_bytes();
            let num = || {
                std::str::from_utf8(ext.value_bytes())
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            match key {
                b"uid" => meta.uid = num().and_then(|s| s.parse().ok()).context("PAX uid")?,
                b"gid" => meta.gid = num().and_then(|s| s.parse().ok()).context("PAX gid")?,
                b"mtime" => {
                    let s = num().context("PAX mtime")?;
                    (meta.mtime, meta.mtime_nsec) = parse_pax_time(&s)?;
                }
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        // Overlay's own xattrs would let a layer steer the overlay
                        // (redirects, metacopy); they never come from an image.
                        if name.starts_with(b"trusted.overlay.")
                            || name.starts_with(b"user.overlay.")
                        {
                            continue;
                        }
                        meta.xattrs.push((c(name)?, ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// `SECONDS[.FRACTION]` → (seconds, nanoseconds); negative times are refused.
fn parse_pax_time(s: &str) -> Result<(i64, i64)> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs
        .parse()
        .with_context(|| format!("parse PAX mtime {s:?}"))?;
    let digits: String = frac.chars().take(9).collect();
    let nsec = if digits.is_empty() {
        0
    } else {
        let n: i64 = digits
            .parse()
            .with_context(|| format!("parse PAX mtime {s:?}"))?;
        n * 10i64.pow(9 - digits.len() as u32)
    };
    Ok((secs, nsec))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pax_times() {
        assert_eq!(
            super::parse_pax_time("1600000000").unwrap(),
            (1_600_000_000, 0)
        );
        assert_eq!(
            super::parse_pax_time("1600000000.5").unwrap(),
            (1_600_000_000, 500_000_000)
        );
        assert_eq!(
            super::parse_pax_time("1.123456789123").unwrap(),
            (1, 123_456_789)
        );
        assert!(super::parse_pax_time("x").is_err());
    }
}
