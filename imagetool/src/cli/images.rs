//! `images [-q] [--format json]`: the local store's names.

use anyhow::Result;
use clap::Args;
use skiff_image::manifest::{self, Parsed};
use skiff_image::reference::ImageRef;
use skiff_image::transport::store::Store;
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Print image IDs only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// `json` for a machine-readable list.
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    let store = Store::open(root)?;
    let images = store.images()?;
    if o.format.as_deref() == Some("json") {
        out!("{}", serde_json::to_string_pretty(&images)?);
        return Ok(());
    }
    if let Some(f) = &o.format {
        anyhow::bail!("parse --format {f:?}: only \"json\" is supported");
    }
    if o.quiet {
        for i in &images {
            out!("{}", &i.digest.hex()[..12]);
        }
        return Ok(());
    }
    out!(
        "{:<50} {:<20} {:<14} {:>10}",
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "SIZE"
    );
    for i in &images {
        let (repo, tag) = match i.name.parse::<ImageRef>() {
            Ok(r) => (
                r.repository(),
                r.tag_or_latest().unwrap_or("<none>").to_string(),
            ),
            Err(_) => ("<none>".to_string(), "<none>".to_string()),
        };
        out!(
            "{repo:<50} {tag:<20} {:<14} {:>10}",
            &i.digest.hex()[..12],
            human(image_size(&store, i))
        );
    }
    Ok(())
}

/// Compressed size of the image: manifest, config and layers (first platform of an index).
fn image_size(store: &Store, i: &skiff_image::transport::store::StoreImage) -> u64 {
    let Ok(bytes) = store.layout().read_blob(&i.digest) else {
        return i.size;
    };
    match manifest::parse(&bytes, &i.media_type) {
        Ok(Parsed::Image(m)) => {
            i.size + m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>()
        }
        _ => i.size,
    }
}

fn human(n: u64) -> String {
    const UNITS: &[&str] = &["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}
