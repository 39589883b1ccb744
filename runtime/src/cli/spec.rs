//! `skiff spec [--bundle DIR] [--rootless]`: writes runc's default config.json.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Serialize;

use super::args::{Flag, Matches, Shape, Takes};

pub const SHAPE: Shape = Shape {
    name: "spec",
    about: "Write a default config.json",
    flags: &[&[
        Flag {
            long: "bundle",
            short: Some('b'),
            takes: Takes::Path("DIR"),
            help: "Directory to write config.json into [default: the current directory]",
        },
        Flag {
            long: "rootless",
            short: None,
            takes: Takes::Nothing,
            help: "Generate a config for a rootless container",
        },
    ]],
    positionals: &[],
    required: 0,
    trailing: None,
};

#[derive(Debug)]
pub struct SpecArgs {
    pub bundle: PathBuf,
    pub rootless: bool,
}

impl SpecArgs {
    pub fn from_matches(m: &Matches) -> Self {
        SpecArgs {
            bundle: m.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
            rootless: m.switch("rootless"),
        }
    }
}

pub fn run(args: &SpecArgs) -> anyhow::Result<i32> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!(
            "file {:?} exists: remove it first",
            path.display().to_string()
        );
    }
    let spec = skiff_runtime::default_spec::default_spec(args.rootless)?;
    let mut spec = serde_json::to_value(&spec).context("serialize the default spec")?;
    // The capability sets are hash sets in memory; sorted, the file is the
    // same on every run (and matches runc's order).
    if let Some(sets) = spec
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in sets.values_mut().filter_map(|v| v.as_array_mut()) {
            set.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    // runc indents config.json with tabs.
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    spec.serialize(&mut ser)?;
    std::fs::write(&path, out)
        .with_context(|| format!("write {:?}", path.display().to_string()))?;
    Ok(0)
}
