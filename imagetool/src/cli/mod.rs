//! Command-line surface, one file per command, flags named as skopeo names them.

/// `println!` that returns the write error (a full disk, a closed pipe) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|e| anyhow::anyhow!("write to standard output: {e}"))?;
    }};
}

mod bundle_ops;
mod catalog;
mod commit;
mod copy;
mod delete;
mod export;
mod gc;
mod history;
mod images;
mod import;
mod inspect;
mod list_tags;
mod load;
mod login;
mod pull;
mod push;
mod rmi;
mod save;
mod sync;
mod tag;
mod unpack;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Parser, Subcommand};
use skiff_image::registry::RegistryOptions;
use skiff_image::transport::{Location, OpenOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "skiff-image", version, about = "Image and registry tool")]
pub struct Cli {
    /// Local store directory [default: /var/lib/skiff; rootless: $XDG_DATA_HOME/skiff].
    #[arg(long, global = true, env = "SKIFF_ROOT")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Copy an image between two locations (TRANSPORT:DETAILS).
    Copy(copy::Opts),
    /// Show an image's manifest, config or a summary.
    Inspect(inspect::Opts),
    /// Show the steps that built an image.
    History(history::Opts),
    /// Copy an image from a registry into the local store.
    Pull(pull::Opts),
    /// Copy an image from the local store to a registry.
    Push(push::Opts),
    /// Give a stored image another name.
    Tag(tag::Opts),
    /// Remove names from the local store (and unreferenced blobs).
    Rmi(rmi::Opts),
    /// List images in the local store.
    Images(images::Opts),
    /// Write stored images to a docker-archive tar.
    Save(save::Opts),
    /// Read images from a docker-archive or oci-archive tar into the store.
    Load(load::Opts),
    /// Make a one-layer image from a root filesystem tar.
    Import(import::Opts),
    /// List a repository's tags.
    ListTags(list_tags::Opts),
    /// Store credentials for a registry.
    Login(login::Opts),
    /// Remove stored credentials for a registry.
    Logout(login::LogoutOpts),
    /// List a registry's repositories.
    Catalog(catalog::Opts),
    /// Delete an image's manifest from a registry.
    Delete(delete::Opts),
    /// Copy repositories between registries or to directories.
    Sync(sync::Opts),
    /// Make a runnable OCI bundle of a stored image (overlay over the layer store).
    Unpack(unpack::Opts),
    /// Mount a bundle's overlay rootfs again.
    Mount(bundle_ops::Opts),
    /// Unmount a bundle's overlay rootfs.
    Umount(bundle_ops::Opts),
    /// Unmount and remove a bundle made by unpack.
    RmBundle(bundle_ops::Opts),
    /// Make a new image of a bundle's changes on top of the image it came from.
    Commit(commit::Opts),
    /// Write a bundle's root filesystem as a tar.
    Export(export::Opts),
    /// Remove extracted layers no stored image and no live bundle uses.
    Gc(gc::Opts),
}

pub fn run(cli: Cli) -> Result<()> {
    let root = cli
        .root
        .unwrap_or_else(skiff_image::transport::store::default_root);
    match cli.command {
        Command::Copy(o) => copy::run(&root, o),
        Command::Inspect(o) => inspect::run(&root, o),
        Command::History(o) => history::run(&root, o),
        Command::Pull(o) => pull::run(&root, o),
        Command::Push(o) => push::run(&root, o),
        Command::Tag(o) => tag::run(&root, o),
        Command::Rmi(o) => rmi::run(&root, o),
        Command::Images(o) => images::run(&root, o),
        Command::Save(o) => save::run(&root, o),
        Command::Load(o) => load::run(&root, o),
        Command::Import(o) => import::run(&root, o),
        Command::ListTags(o) => list_tags::run(o),
        Command::Login(o) => login::run(o),
        Command::Logout(o) => login::run_logout(o),
        Command::Catalog(o) => catalog::run(o),
        Command::Delete(o) => delete::run(o),
        Command::Sync(o) => sync::run(o),
        Command::Unpack(o) => unpack::run(&root, o),
        Command::Mount(o) => bundle_ops::run_mount(o),
        Command::Umount(o) => bundle_ops::run_umount(o),
        Command::RmBundle(o) => bundle_ops::run_remove(o),
        Command::Commit(o) => commit::run(&root, o),
        Command::Export(o) => export::run(o),
        Command::Gc(o) => gc::run(&root, o),
    }
}

/// Registry flags of a command that talks to one registry.
#[derive(Args, Clone, Debug)]
pub struct RegistryArgs {
    /// Require HTTPS and verify certificates (`--tls-verify=false` allows plain HTTP).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// USER:PASSWORD for the registry.
    #[arg(long)]
    pub creds: Option<String>,
    /// Access the registry anonymously, whatever credentials are stored for it.
    #[arg(long)]
    pub no_creds: bool,
    /// Credentials file (auth.json format).
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// Directory with CA certificates (*.crt) for the registry.
    #[arg(long)]
    pub cert_dir: Option<PathBuf>,
    /// Retries on 429, 5xx and connection errors.
    #[arg(long, default_value_t = 3)]
    pub retry_times: u32,
}

impl RegistryArgs {
    pub fn options(&self) -> Result<RegistryOptions> {
        registry_options(
            self.tls_verify,
            Creds::from_flags(self.creds.as_deref(), self.no_creds, "")?,
            self.authfile.clone(),
            self.cert_dir.clone(),
            self.retry_times,
        )
    }
}

/// Which credentials a registry gets, from one side's flags.
pub enum Creds<'a> {
    /// Those stored for the registry (authfile, docker config, helpers).
    Stored,
    /// `--creds USER:PASSWORD`.
    Given(&'a str),
    /// `--no-creds`: none at all.
    Anonymous,
}

impl<'a> Creds<'a> {
    /// From `--{side}creds` and `--{side}no-creds` (side: "", "src-" or "dest-").
    pub fn from_flags(creds: Option<&'a str>, no_creds: bool, side: &str) -> Result<Creds<'a>> {
        match (creds, no_creds) {
            (Some(_), true) => {
                bail!("parse flags: --{side}creds and --{side}no-creds exclude each other")
            }
            (Some(c), false) => Ok(Creds::Given(c)),
            (None, true) => Ok(Creds::Anonymous),
            (None, false) => Ok(Creds::Stored),
        }
    }
}

pub fn registry_options(
    tls_verify: Option<bool>,
    creds: Creds<'_>,
    authfile: Option<PathBuf>,
    cert_dir: Option<PathBuf>,
    retry_times: u32,
) -> Result<RegistryOptions> {
    let mut o = RegistryOptions {
        tls_verify,
        authfile,
        retry_times,
        read_timeout: skiff_image::registry::read_timeout_from_env()?,
        ..Default::default()
    };
    match creds {
        Creds::Stored => {}
        Creds::Given(c) => {
            let (u, p) = c
                .split_once(':')
                .ok_or_else(|| anyhow!("parse --creds: expected USER:PASSWORD"))?;
            o.creds = Some((u.to_string(), p.to_string()));
        }
        Creds::Anonymous => o.no_creds = true,
    }
    if let Some(d) = cert_dir {
        o.cert_dir = Some(d);
    }
    Ok(o)
}

const TRANSPORTS: &[&str] = &[
    "docker://",
    "oci:",
    "oci-archive:",
    "docker-archive:",
    "dir:",
    "skiff:",
];

/// A location with a transport prefix, or a name in the local store.
pub fn location_or_store(s: &str) -> Result<Location> {
    if TRANSPORTS.iter().any(|t| s.starts_with(t)) {
        Location::parse(s)
    } else {
        Ok(Location::Store(s.to_string()))
    }
}

/// Progress lines when stdout is a terminal and `--quiet` was not given.
pub fn progress_unless(
    quiet: bool,
    verbs: skiff_image::progress::Verbs,
) -> Option<std::sync::Arc<skiff_image::progress::Progress>> {
    if quiet {
        return None;
    }
    skiff_image::progress::Progress::stdout_if_terminal(verbs)
}

pub fn open_options(root: &std::path::Path, registry: RegistryOptions) -> OpenOptions {
    OpenOptions {
        store_root: root.to_path_buf(),
        registry,
    }
}
