//! Random access into an uncompressed tar archive: one pass over the headers (seeking over
//! member data) records where each regular file's data lies, then blobs are served by
//! seek + bounded read, with no extraction.
//! Symlink entries (legacy `docker save` links duplicate `layer.tar`s) are followed.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub struct TarIndex {
    file: PathBuf,
    files: HashMap<String, (u64, u64)>,
    links: HashMap<String, String>,
}

/// `./a//b` → `a/b`.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            x => out.push(x),
        }
    }
    out.join("/")
}

impl TarIndex {
    pub fn read(path: &Path) -> Result<TarIndex> {
        let f = File::open(path).with_context(|| format!("open archive {path:?}"))?;
        let mut ar = tar::Archive::new(f);
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let entries = ar
            .entries_with_seek()
            .with_context(|| format!("read archive {path:?}"))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("read archive {path:?}"))?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            if kind.is_file() {
                files.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                let target = String::from_utf8_lossy(&target).to_string();
                let resolved = if kind.is_symlink() && !target.starts_with('/') {
                    let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    clean(&format!("{parent}/{target}"))
                } else {
                    clean(&target)
                };
                links.insert(name, resolved);
            }
        }
        Ok(TarIndex {
            file: path.to_path_buf(),
            files,
            links,
        })
    }

    fn locate(&self, name: &str) -> Option<(u64, u64)> {
        let mut n = clean(name);
        for _ in 0..16 {
            if let Some(loc) = self.files.get(&n) {
                return Some(*loc);
            }
            n = self.links.get(&n)?.clone();
        }
        None
    }

    pub fn contains(&self, name: &str) -> bool {
        self.locate(name).is_some()
    }

    pub fn size(&self, name: &str) -> Option<u64> {
        self.locate(name).map(|(_, s)| s)
    }

    /// A reader over the member's data.
    pub fn open(&self, name: &str) -> Result<std::io::Take<File>> {
        let (off, size) = self
            .locate(name)
            .ok_or_else(|| anyhow!("read {name:?} in archive {:?}: no such file", self.file))?;
        let mut f =
            File::open(&self.file).with_context(|| format!("open archive {:?}", self.file))?;
        f.seek(SeekFrom::Start(off))
            .with_context(|| format!("seek in archive {:?}", self.file))?;
        Ok(f.take(size))
    }

    /// A small member read whole (manifests, configs, index.json).
    pub fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        if self.size(name).is_some_and(|s| s > 64 << 20) {
            bail!(
                "read {name:?} in archive {:?}: too large for metadata",
                self.file
            );
        }
        let mut v = Vec::new();
        self.open(name)?
            .read_to_end(&mut v)
            .with_context(|| format!("read {name:?} in archive {:?}", self.file))?;
        Ok(v)
    }

    pub fn path(&self) -> &Path {
        &self.file
    }
}

/// Write the tree at `dir` as an uncompressed tar at `out` (temp + rename), members named
/// relative to `dir`, in sorted order so equal trees give equal archives.
pub fn write_tree(dir: &Path, out: &Path) -> Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        out.file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("archive"),
        crate::fsutil::unique_name()
    ));
    let res = (|| -> Result<()> {
        let f = File::create(&tmp).with_context(|| format!("create {tmp:?}"))?;
        let mut b = tar::Builder::new(std::io::BufWriter::new(f));
        b.follow_symlinks(false);
        add_tree(&mut b, dir, "")?;
        let w = b.into_inner().context("finish tar")?;
        w.into_inner()
            .map_err(|e| e.into_error())
            .context("flush tar")?
            .sync_data()
            .context("sync tar")?;
        std::fs::rename(&tmp, out).with_context(|| format!("rename {tmp:?} to {out:?}"))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("write archive {out:?}"))
}

/// Write the tree at `dir` as an uncompressed tar to `out` (a pipe: `save` to stdout),
/// in the same order as [`write_tree`].
pub fn write_tree_to(dir: &Path, out: &mut dyn std::io::Write) -> Result<()> {
    let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(256 << 10, out));
    b.follow_symlinks(false);
    add_tree(&mut b, dir, "")?;
    let mut w = b.into_inner().context("finish tar")?;
    std::io::Write::flush(&mut w).context("write archive to standard output")
}

fn add_tree<W: std::io::Write>(b: &mut tar::Builder<W>, dir: &Path, rel: &str) -> Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("read directory {dir:?}"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let name_s = name.to_string_lossy().to_string();
        if name_s.starts_with(".skiff-stage-") || name_s.starts_with(".tmp-") {
            continue;
        }
        let path = dir.join(&name);
        let member = if rel.is_empty() {
            name_s.clone()
        } else {
            format!("{rel}/{name_s}")
        };
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("stat {path:?}"))?;
        if meta.is_dir() {
            b.append_dir(&member, &path)
                .with_context(|| format!("add {path:?} to archive"))?;
            add_tree(b, &path, &member)?;
        } else {
            b.append_path_with_name(&path, &member)
                .with_context(|| format!("add {path:?} to archive"))?;
        }
    }
    Ok(())
}
