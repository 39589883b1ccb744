//! `mount BUNDLE`, `umount BUNDLE`, `rm-bundle BUNDLE`: the life of an unpacked bundle
//! after `unpack` (the bundle records its image, layers and mount, so its path is all
//! these need).

use anyhow::Result;
use clap::Args;
use skiff_image::bundle::{mount_bundle, remove_bundle, unmount_bundle};
use std::path::PathBuf;

#[derive(Args)]
pub struct Opts {
    /// Bundle directory made by `unpack`.
    pub bundle: PathBuf,
}

/// Mount the overlay rootfs again (after a reboot or an `umount`).
pub fn run_mount(o: Opts) -> Result<()> {
    mount_bundle(&o.bundle)
}

/// Unmount the overlay rootfs; the bundle and its changes stay.
pub fn run_umount(o: Opts) -> Result<()> {
    unmount_bundle(&o.bundle)
}

/// Unmount and remove everything `unpack` made, and release the image's layers for gc.
pub fn run_remove(o: Opts) -> Result<()> {
    remove_bundle(&o.bundle)
}
