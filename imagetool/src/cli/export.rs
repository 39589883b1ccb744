//! `export BUNDLE [-o FILE]`: a bundle's root filesystem as a tar, to FILE or (`-`, or
//! no `-o`) to standard output, as `docker export` does.

use anyhow::{bail, Result};
use clap::Args;
use skiff_image::export::{export_bundle, export_bundle_to_file};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct Opts {
    /// Bundle directory made by `unpack`.
    pub bundle: PathBuf,
    /// Tar file to write (`-`: standard output, the default).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

pub fn run(o: Opts) -> Result<()> {
    match o.output {
        Some(path) if path.as_os_str() != "-" => {
            export_bundle_to_file(&o.bundle, &path)?;
        }
        _ => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!(
                    "export {:?}: refusing to write a tar to a terminal (use -o FILE or redirect)",
                    o.bundle
                );
            }
            export_bundle(&o.bundle, &mut stdout.lock())?;
        }
    }
    Ok(())
}
