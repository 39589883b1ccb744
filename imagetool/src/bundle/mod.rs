//! Image in the store → OCI bundle (OCI runtime spec, bundle.md): `config.json` plus a
//! `rootfs` that is an overlay of the store's layer dirs under the bundle's own
//! `upper`/`work` dirs, or with `copy` a plain directory.
//!
//! `BUNDLE/skiff-bundle.json` records how the bundle was made, so `unmount_bundle`
//! and `remove_bundle` need only the bundle path; `<root>/bundles/<id>.json` points
//! back at the bundle so the store knows which layers are in use.

#![forbid(unsafe_code)]

mod copy;
mod info;
mod init;
mod mount;
mod options;
mod seccomp;
mod spec;
#[cfg(test)]
mod tests;
mod user;

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

#[cfg(test)]
pub(crate) use copy::copy_layers;
pub use info::{open_bundle, BundleInfo};
pub use options::{parse_size, BundleOptions};

use crate::unpack::{ensure_layers, image, sys};
use mount::{MountApi, Overlay};

const RECORD: &str = "skiff-bundle.json";
/// Everything `create_bundle` puts in a bundle directory.
const OWNED: [&str; 9] = [
    "rootfs",
    "upper",
    "work",
    "l",
    "empty",
    "etc",
    "volumes",
    "config.json",
    RECORD,
];

/// What `BUNDLE/skiff-bundle.json` and `<root>/bundles/<id>.json` hold.
#[derive(Debug, Serialize, Deserialize)]
struct BundleRecord {
    bundle: PathBuf,
    store_root: PathBuf,
    manifest: String,
    /// "overlay" or "copy".
    rootfs: String,
    layers: Vec<PathBuf>,
}

fn record_id(bundle: &Path) -> String {
    crate::unpack::hex(&Sha256::digest(bundle.as_os_str().as_encoded_bytes()))[..32].to_string()
}

/// image in the store → BUNDLE/config.json + BUNDLE/rootfs (overlay of the layer dirs
/// with BUNDLE/upper + BUNDLE/work, or a plain copy with `copy`)
pub fn create_bundle(
    store_root: &Path,
    manifest_digest: &str,
    bundle: &Path,
    opts: &BundleOptions,
) -> Result<()> {
    create_bundle_with(store_root, manifest_digest, bundle, opts, MountApi::Auto)
}

pub(crate) fn create_bundle_with(
    store_root: &Path,
    manifest_digest: &str,
    bundle: &Path,
    opts: &BundleOptions,
    api: MountApi,
) -> Result<()> {
    let (_, config) = image::read_manifest(store_root, manifest_digest)?;
    let bundle = std::path::absolute(bundle).with_context(|| format!("resolve {bundle:?}"))?;
    check_bundle_dir(store_root, &bundle)?;
    // Held until the bundle is recorded: gc must not take the layers in between.
    let _layers_in_use = crate::lock::lock_shared(&store_root.join(crate::gc::LAYERS_LOCK))?;
    let layers = ensure_layers(store_root, manifest_digest)?;
    let existed = bundle.exists();
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&rootfs).with_context(|| format!("create {rootfs:?}"))?;
    let record = BundleRecord {
        bundle: bundle.clone(),
        store_root: std::path::absolute(store_root).unwrap_or_else(|_| store_root.to_path_buf()),
        manifest: manifest_digest.to_string(),
        rootfs: if opts.copy { "copy" } else { "overlay" }.to_string(),
        layers: layers.clone(),
    };
    let result = (|| {
        make_rootfs(&bundle, &layers, opts, api)?;
        write_record(&bundle, &record)?;
        let image_config = config.config.unwrap_or_default();
        let user = user::resolve_user(
            &rootfs,
            opts.user
                .as_deref()
                .or(image_config.user.as_deref())
                .unwrap_or(""),
        )?;
        let hostname = opts
            .hostname
            .clone()
            .unwrap_or_else(|| record_id(&bundle)[..12].to_string());
        let host_net = opts.net.as_deref() == Some("host");
        init::write_init_files(&bundle, &hostname, opts, host_net)?;
        let anon_volumes = anonymous_volumes(&bundle, &rootfs, &image_config)?;
        let input = spec::SpecInput {
            image: &image_config,
            user: &user,
            hostname: &hostname,
            bundle: &bundle,
            anon_volumes: &anon_volumes,
        };
        let spec = spec::build_spec(&input, opts)?;
        spec::write_spec(&bundle, &spec)
    })();
    if let Err(e) = result {
        if existed {
            // The caller's directory stays; only what we made goes.
            let _ = unmount_bundle(&bundle);
            let _ = remove_record(&bundle);
            for name in OWNED {
                let p = bundle.join(name);
                let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
            }
        } else {
            let _ = remove_made_bundle(&bundle);
        }
        return Err(e.context(format!("create bundle {bundle:?} from {manifest_digest}")));
    }
    Ok(())
}

/// A bundle goes into a new or empty-of-ours directory outside the store:
/// anything unpack would make there already (a rootfs, a config.json) is the
/// caller's and must not be merged into, hidden under a mount or removed on
/// failure; a bundle inside the store (or a store inside the bundle) would
/// have gc or rm-bundle delete the other.
fn check_bundle_dir(store_root: &Path, bundle: &Path) -> Result<()> {
    for name in OWNED {
        let p = bundle.join(name);
        if p.symlink_metadata().is_ok() {
            bail!("create bundle {bundle:?}: {p:?} already exists (unpack into a new or empty directory)");
        }
    }
    let resolved = |p: &Path| {
        let mut probe = p.to_path_buf();
        let mut rest = Vec::new();
        // The bundle may not exist yet: canonicalise its nearest ancestor.
        loop {
            if let Ok(real) = probe.canonicalize() {
                return rest
                    .iter()
                    .rev()
                    .fold(real, |acc: PathBuf, c: &std::ffi::OsString| acc.join(c));
            }
            match (probe.file_name().map(|n| n.to_os_string()), probe.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    probe = parent.to_path_buf();
                }
                _ => return p.to_path_buf(),
            }
        }
    };
    let (store, target) = (resolved(store_root), resolved(bundle));
    if target.starts_with(&store) {
        bail!("create bundle {bundle:?}: it is inside the store {store_root:?}");
    }
    if store.starts_with(&target) {
        bail!("create bundle {bundle:?}: the store {store_root:?} is inside it");
    }
    Ok(())
}

fn make_rootfs(
    bundle: &Path,
    layers: &[PathBuf],
    opts: &BundleOptions,
    api: MountApi,
) -> Result<()> {
    let rootfs = bundle.join("rootfs");
    if opts.copy {
        return copy::copy_layers(layers, &rootfs);
    }
    let upper = bundle.join("upper");
    let work = bundle.join("work");
    for d in [&upper, &work] {
        std::fs::create_dir_all(d).with_context(|| format!("create {d:?}"))?;
    }
    // The merged root shows the upper dir's own metadata: give it the top layer's.
    if let Some(top) = layers.last() {
        let md = std::fs::metadata(top).with_context(|| format!("stat {top:?}"))?;
        std::os::unix::fs::chown(&upper, Some(md.uid()), Some(md.gid())).ok();
        std::fs::set_permissions(&upper, md.permissions())
            .with_context(|| format!("chmod {upper:?}"))?;
    }
    mount_layers(bundle, layers, api)
}

fn mount_layers(bundle: &Path, layers: &[PathBuf], api: MountApi) -> Result<()> {
    let rootfs = bundle.join("rootfs");
    let upper = bundle.join("upper");
    let work = bundle.join("work");
    let empty;
    let lowers = if layers.is_empty() {
        empty = vec![bundle.join("empty")];
        std::fs::create_dir_all(&empty[0]).with_context(|| format!("create {:?}", empty[0]))?;
        &empty[..]
    } else {
        layers
    };
    let ov = Overlay {
        lowers,
        upper: &upper,
        work: &work,
        userxattr: !sys::is_root(),
    };
    mount::mount_overlay(&ov, &rootfs, api)
}

/// Each image `Volumes` path becomes a bundle-local dir bind-mounted there, seeded
/// (as docker does) with what the image holds at that path, resolved inside the rootfs.
fn anonymous_volumes(
    bundle: &Path,
    rootfs: &Path,
    cfg: &image::ContainerConfig,
) -> Result<Vec<(String, PathBuf)>> {
    let root = sys::open_dir(rootfs).with_context(|| format!("open {rootfs:?}"))?;
    let mut out = Vec::new();
    for dest in cfg.volumes.iter().flat_map(|v| v.keys()) {
        if !dest.starts_with('/') {
            bail!("read image Volumes: {dest:?} is not an absolute path");
        }
        let name: String = dest
            .trim_matches('/')
            .chars()
            .map(|c| if c == '/' { '_' } else { c })
            .collect();
        let src = bundle.join("volumes").join(if name.is_empty() {
            "_root".into()
        } else {
            name
        });
        std::fs::create_dir_all(&src).with_context(|| format!("create {src:?}"))?;
        if let Ok(dir) = sys::open_in_root(root.as_fd(), Path::new(dest)) {
            if dir.metadata().is_ok_and(|m| m.is_dir()) {
                copy::copy_tree(&sys::fd_path(dir.as_fd()), &src)
                    .with_context(|| format!("seed volume {dest:?} from the image"))?;
            }
        }
        out.push((dest.clone(), src));
    }
    Ok(out)
}

fn write_record(bundle: &Path, record: &BundleRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record).context("serialize the bundle record")?;
    let dir = record.store_root.join("bundles");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {dir:?}"))?;
    for path in [
        bundle.join(RECORD),
        dir.join(format!("{}.json", record_id(bundle))),
    ] {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &bytes).with_context(|| format!("write {tmp:?}"))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("rename {tmp:?} to {path:?}"))?;
    }
    Ok(())
}

fn read_record(bundle: &Path) -> Result<Option<BundleRecord>> {
    let path = bundle.join(RECORD);
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(
            serde_json::from_slice(&b).with_context(|| format!("parse {path:?}"))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {path:?}")),
    }
}

/// Mounts a bundle's overlay rootfs again from its record (after `unmount_bundle` or a
/// reboot); a mounted or copied rootfs is left as it is.
pub fn mount_bundle(bundle: &Path) -> Result<()> {
    let rec = read_record(bundle)?
        .with_context(|| format!("mount bundle {bundle:?}: no {RECORD} (not made by skiff?)"))?;
    if rec.rootfs != "overlay" || mount::is_mounted(&bundle.join("rootfs")) {
        return Ok(());
    }
    for l in &rec.layers {
        if !l.is_dir() {
            bail!("mount bundle {bundle:?}: layer {l:?} is gone from the store");
        }
    }
    mount_layers(bundle, &rec.layers, MountApi::Auto)
}

/// Unmounts the bundle's rootfs overlay (nothing to do for a copied rootfs).
pub fn unmount_bundle(bundle: &Path) -> Result<()> {
    mount::unmount(&bundle.join("rootfs"))
}

/// Unmounts and deletes what unpack made in the bundle and its record in the
/// store; the directory itself goes only if nothing else is left in it. A
/// directory without a bundle record is not a bundle and is left alone.
pub fn remove_bundle(bundle: &Path) -> Result<()> {
    if read_record(bundle)?.is_none() {
        if !bundle.exists() {
            return Ok(());
        }
        bail!("remove bundle {bundle:?}: no {RECORD} (not made by skiff-image unpack); refusing to delete it");
    }
    remove_made_bundle(bundle)
}

fn remove_made_bundle(bundle: &Path) -> Result<()> {
    unmount_bundle(bundle)?;
    remove_record(bundle)?;
    for name in OWNED {
        let p = bundle.join(name);
        let removed = match p.symlink_metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            Ok(_) => std::fs::remove_file(&p),
            Err(_) => Ok(()),
        };
        removed.with_context(|| format!("remove {p:?}"))?;
    }
    match std::fs::remove_dir(bundle) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // The caller's own files stay, and so does the directory.
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("remove {bundle:?}")),
        Ok(()) => Ok(()),
    }
}

fn remove_record(bundle: &Path) -> Result<()> {
    if let Some(rec) = read_record(bundle)? {
        let p = rec
            .store_root
            .join("bundles")
            .join(format!("{}.json", record_id(&rec.bundle)));
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("remove {p:?}"));
            }
            _ => {}
        }
    }
    Ok(())
}
