//! `images [-a] [-q] [--digests] [--no-trunc] [--filter reference=P] [--format json]`: the
//! local store's names, with docker's flags.

use anyhow::Result;
use clap::Args;
use skiff_image::filter::ImageFilter;
use skiff_image::manifest::{self, Parsed};
use skiff_image::reference::ImageRef;
use skiff_image::transport::store::{Store, StoreImage};
use std::path::Path;

#[derive(Args)]
pub struct Opts {
    /// Print image IDs only.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Show every image (docker's flag; the store keeps no intermediate images to hide).
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Show the manifest digest of each image.
    #[arg(long)]
    pub digests: bool,
    /// Show whole image IDs (sha256:...).
    #[arg(long)]
    pub no_trunc: bool,
    /// reference=PATTERN: only names matching the glob (docker's; repeat for either).
    #[arg(long)]
    pub filter: Vec<String>,
    /// `json` for a machine-readable list.
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(root: &Path, o: Opts) -> Result<()> {
    if let Some(f) = o.format.as_deref().filter(|f| *f != "json") {
        anyhow::bail!("parse --format {f:?}: only \"json\" is supported");
    }
    let filter = ImageFilter::parse(&o.filter)?;
    // `-a` changes nothing: every stored image is listed anyway.
    let _ = o.all;
    let store = Store::open(root)?;
    let images: Vec<StoreImage> = store
        .images()?
        .into_iter()
        .filter(|i| filter.matches(&i.name))
        .collect();
    if o.format.is_some() {
        out!("{}", serde_json::to_string_pretty(&images)?);
        return Ok(());
    }
    let id = |i: &StoreImage| {
        if o.no_trunc {
            i.digest.to_string()
        } else {
            i.digest.hex()[..12].to_string()
        }
    };
    if o.quiet {
        for i in &images {
            out!("{}", id(i));
        }
        return Ok(());
    }
    let id_width = if o.no_trunc { 71 } else { 12 };
    let digest_col = |d: &str| {
        if o.digests {
            format!("{d:<71} ")
        } else {
            String::new()
        }
    };
    out!(
        "{:<50} {:<20} {}{:<id_width$}   {:>10}",
        "REPOSITORY",
        "TAG",
        digest_col("DIGEST"),
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
            "{repo:<50} {tag:<20} {}{:<id_width$}   {:>10}",
            digest_col(&i.digest.to_string()),
            id(i),
            human(image_size(&store, i))
        );
    }
    Ok(())
}

/// Compressed size of the image: manifest, config and layers (first platform of an index).
fn image_size(store: &Store, i: &StoreImage) -> u64 {
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
