//! `export BUNDLE` (like `docker export`): the bundle's merged rootfs as one tar,
//! streamed: the mounted overlay's view (mounted for the export and unmounted again when
//! it was not), or the plain directory of a `--copy` bundle. The runtime's mount points
//! are left out, so the init layer's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`
//! never appear unless the image has its own; symlinks are written as symlinks, never
//! followed, so nothing outside the rootfs is read.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::bundle::{mount_bundle, open_bundle, unmount_bundle, BundleInfo};
use crate::changes::{runtime_mount_points, write_tree, LayerTar};
use crate::fsutil::AtomicFile;

/// What an export wrote.
#[derive(Debug, Clone, Copy)]
pub struct ExportReport {
    /// Tar entries.
    pub entries: u64,
}

/// Writes the rootfs of the bundle at `bundle` as a tar to `out`.
pub fn export_bundle(bundle: &Path, out: &mut dyn Write) -> Result<ExportReport> {
    let info = open_bundle(bundle)?;
    let _mount = MountedFor::export(&info)?;
    let rootfs = info.rootfs();
    let skip = runtime_mount_points(
        &rootfs,
        Some(&rootfs),
        &info.layers,
        &info.mount_destinations,
    )?;
    let mut tar = LayerTar::new(std::io::BufWriter::with_capacity(256 * 1024, out));
    write_tree(&rootfs, &skip, &mut tar).with_context(|| format!("export {bundle:?}"))?;
    let entries = tar.entries;
    tar.finish()?
        .flush()
        .with_context(|| format!("export {bundle:?}: write the tar"))?;
    Ok(ExportReport { entries })
}

/// Writes the tar to `path` atomically: a failed export leaves no file there.
pub fn export_bundle_to_file(bundle: &Path, path: &Path) -> Result<ExportReport> {
    let mut file = AtomicFile::create(path)?;
    let report = export_bundle(bundle, &mut file)?;
    file.commit()?;
    Ok(report)
}

/// An overlay rootfs mounted only for the export, unmounted when dropped.
struct MountedFor<'a> {
    info: Option<&'a BundleInfo>,
}

impl<'a> MountedFor<'a> {
    fn export(info: &'a BundleInfo) -> Result<Self> {
        if info.is_mounted() {
            return Ok(MountedFor { info: None });
        }
        mount_bundle(&info.dir).with_context(|| format!("mount {:?} to export it", info.dir))?;
        Ok(MountedFor { info: Some(info) })
    }
}

impl Drop for MountedFor<'_> {
    fn drop(&mut self) {
        if let Some(info) = self.info {
            if let Err(e) = unmount_bundle(&info.dir) {
                eprintln!("skiff-image: unmount {:?} after export: {e:#}", info.dir);
            }
        }
    }
}
