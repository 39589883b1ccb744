//! `commit [-m MSG] [-a AUTHOR] [-c INSTR]... BUNDLE IMAGE[:TAG]`: a bundle's changes →
//! a new image in the store (flags as `docker commit` names them); prints its digest.

use anyhow::Result;
use clap::Args;
use skiff_image::commit::{commit_bundle, CommitOptions};
use skiff_image::reference::ImageRef;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct Opts {
    /// Bundle directory made by `unpack`.
    pub bundle: PathBuf,
    /// Name for the new image.
    pub image: String,
    /// Commit message (the history entry's comment).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// Author, e.g. "Jane Doe <jane@example.org>".
    #[arg(long, short = 'a')]
    pub author: Option<String>,
    /// Dockerfile instruction applied to the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, ...).
    #[arg(long, short = 'c')]
    pub change: Vec<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let name: ImageRef = o.image.parse()?;
    let opts = CommitOptions {
        message: o.message,
        author: o.author,
        changes: o.change,
    };
    let report = commit_bundle(root, &o.bundle, &name, &opts)?;
    out!("{}", report.manifest_digest);
    Ok(())
}
