//! The store's extracted layers (ARCHITECTURE.md "store"): `<root>/layers/<chainid>/`
//! holds one layer's diff, named by its ChainID (OCI image spec, config.md "Layer
//! ChainID"), so images sharing a base share its directories.
//!
//! A layer is extracted into `<root>/tmp/` and renamed into place only once it is
//! complete and verified, so a crash leaves nothing half-visible under `layers/`.

#![forbid(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest as _, Sha256};

use super::image::{blob_path, digest_hex, read_manifest, Descriptor};
use super::pipeline::{extract_stream, hex, HashRead};
use super::{sys, ExtractOptions, ExtractStats};

/// ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
pub(crate) fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!("sha256:{}", hex(&Sha256::digest(format!("{prev} {d}")))),
        };
        out.push(next);
    }
    out
}

pub(crate) fn layer_dir(root: &Path, chain_id: &str) -> Result<PathBuf> {
    Ok(root.join("layers").join(digest_hex(chain_id)?))
}

/// Ensure every layer of the manifest is extracted in the store (parallel across layers,
/// pipelined decompression), verifying each blob's digest while reading; returns the
/// layer dirs bottom→top.
pub fn ensure_layers(store_root: &Path, manifest_digest: &str) -> Result<Vec<PathBuf>> {
    let (manifest, config) = read_manifest(store_root, manifest_digest)?;
    let diff_ids = config.rootfs.diff_ids;
    for d in &diff_ids {
        digest_hex(d).context("read the image config's rootfs.diff_ids")?;
    }
    let dirs = chain_ids(&diff_ids)
        .iter()
        .map(|c| layer_dir(store_root, c))
        .collect::<Result<Vec<_>>>()?;
    if dirs.iter().all(|d| d.is_dir()) {
        return Ok(dirs);
    }
    let tmp_root = store_root.join("tmp");
    for d in [&tmp_root, &store_root.join("layers")] {
        std::fs::create_dir_all(d).with_context(|| format!("create {d:?}"))?;
    }
    // Another process may be extracting the same layers: lock each missing one (in
    // one global order, so two processes cannot deadlock), then look again.
    let mut missing: Vec<&PathBuf> = dirs.iter().filter(|d| !d.is_dir()).collect();
    missing.sort();
    missing.dedup();
    let _locks = missing
        .iter()
        .map(|d| lock_layer(&tmp_root, d))
        .collect::<Result<Vec<File>>>()?;
    let pending: Vec<usize> = (0..dirs.len()).filter(|&i| !dirs[i].is_dir()).collect();
    if pending.is_empty() {
        return Ok(dirs);
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmps: Vec<PathBuf> = pending
        .iter()
        .map(|&i| tmp_root.join(format!("layer-{i}-{}-{stamp}", std::process::id())))
        .collect();
    let result = extract_pending(store_root, &manifest.layers, &diff_ids, &pending, &tmps)
        .and_then(|stats| commit_layers(&dirs, &pending, &tmps, &stats));
    for t in &tmps {
        if t.exists() {
            let _ = std::fs::remove_dir_all(t);
        }
    }
    result.map(|()| dirs)
}

/// Holds `<root>/tmp/<chainid>.lock` for the layer dir `dir`.
fn lock_layer(tmp_root: &Path, dir: &Path) -> Result<File> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = tmp_root.join(format!("{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {path:?}"))?;
    sys::lock_exclusive(&file).with_context(|| format!("lock {path:?}"))?;
    Ok(file)
}

/// The operator's cap on one layer's extracted file data (`SKIFF_MAX_LAYER_SIZE`, e.g.
/// `20g`), against tar bombs; unset means no cap, as docker and umoci have none.
pub const MAX_LAYER_SIZE_ENV: &str = "SKIFF_MAX_LAYER_SIZE";

fn max_layer_size() -> Result<Option<u64>> {
    match std::env::var(MAX_LAYER_SIZE_ENV) {
        Ok(v) if !v.trim().is_empty() => crate::bundle::parse_size(&v)
            .map(Some)
            .with_context(|| format!("${MAX_LAYER_SIZE_ENV}")),
        _ => Ok(None),
    }
}

/// Extracts the pending layers into their temp dirs, as many at once as there are CPUs.
fn extract_pending(
    root: &Path,
    layers: &[Descriptor],
    diff_ids: &[String],
    pending: &[usize],
    tmps: &[PathBuf],
) -> Result<Vec<ExtractStats>> {
    let opts = ExtractOptions {
        rootless: !sys::is_root(),
        max_bytes: max_layer_size()?,
    };
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(pending.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<ExtractStats>>>> =
        Mutex::new((0..pending.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= pending.len() {
                    break;
                }
                let i = pending[k];
                let r = extract_one(root, &layers[i], &diff_ids[i], &tmps[k], &opts)
                    .with_context(|| format!("extract layer {}", layers[i].digest));
                let failed = r.is_err();
                if let Ok(mut v) = results.lock() {
                    v[k] = Some(r);
                }
                if failed {
                    // Let the other workers stop picking up layers.
                    next.store(pending.len(), Ordering::Relaxed);
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| anyhow!("extraction worker panicked"))?;
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Some(r) => out.push(r?),
            None => bail!("extraction stopped after an earlier error"),
        }
    }
    Ok(out)
}

fn extract_one(
    root: &Path,
    desc: &Descriptor,
    diff_id: &str,
    tmp: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractStats> {
    let path = blob_path(root, &desc.digest)?;
    let file = File::open(&path).with_context(|| format!("open {path:?}"))?;
    std::fs::create_dir(tmp).with_context(|| format!("create {tmp:?}"))?;
    // Most layers carry no "./" entry; their root must not depend on our umask.
    std::fs::set_permissions(tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .with_context(|| format!("chmod {tmp:?}"))?;
    let mut blob = HashRead::new(file);
    let stats = extract_stream(&mut blob, tmp, opts)?;
    io::copy(&mut blob, &mut io::sink()).with_context(|| format!("read {path:?}"))?;
    if blob.count != desc.size {
        bail!(
            "verify {path:?}: size is {}, manifest says {}",
            blob.count,
            desc.size
        );
    }
    let got = blob.digest();
    if got != desc.digest {
        bail!("verify {path:?}: digest is {got}");
    }
    if stats.diff_id != diff_id {
        bail!(
            "verify {path:?}: uncompressed digest is {}, config says {diff_id}",
            stats.diff_id
        );
    }
    Ok(stats)
}

/// Bottom to top: give implied directories their lower layers' metadata, then rename
/// each layer into place. A layer another process committed first wins.
fn commit_layers(
    dirs: &[PathBuf],
    pending: &[usize],
    tmps: &[PathBuf],
    stats: &[ExtractStats],
) -> Result<()> {
    for (k, &i) in pending.iter().enumerate() {
        inherit_implied(&tmps[k], &stats[k].implied_dirs, &dirs[..i])?;
        if let Err(e) = std::fs::rename(&tmps[k], &dirs[i]) {
            if !dirs[i].is_dir() {
                return Err(e).with_context(|| format!("rename {:?} to {:?}", tmps[k], dirs[i]));
            }
        }
    }
    Ok(())
}

/// Opens `rel` under `root` one component at a time, never following a symlink.
fn open_beneath(root: &Path, rel: &Path) -> io::Result<OwnedFd> {
    let mut fd = sys::open_dir(root)?;
    for comp in rel.iter() {
        let name = CString::new(comp.as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        fd = sys::open_dir_at(fd.as_fd(), &name)?;
    }
    Ok(fd)
}

/// A directory a tar only implies takes the mode, owner and mtime it has in the
/// nearest lower layer, so the overlay does not show default metadata over it.
fn inherit_implied(layer: &Path, implied: &[PathBuf], lowers: &[PathBuf]) -> Result<()> {
    for rel in implied {
        let Some(st) = lowers
            .iter()
            .rev()
            .find_map(|l| sys::lstat(&l.join(rel)).ok())
        else {
            continue;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            continue;
        }
        let fd = open_beneath(layer, rel).with_context(|| format!("open {:?}", layer.join(rel)))?;
        let what = || format!("copy lower metadata to {:?}", layer.join(rel));
        if sys::fchown(fd.as_fd(), st.st_uid, st.st_gid).is_err() && sys::is_root() {
            bail!("{}: chown failed", what());
        }
        sys::fchmod(fd.as_fd(), st.st_mode & 0o7777).with_context(what)?;
        sys::set_times_fd(fd.as_fd(), st.st_mtime, st.st_mtime_nsec).with_context(what)?;
    }
    Ok(())
}
