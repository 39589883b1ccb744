//! `skiff ps [--format table|json] ID [PS ARGS...]`

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes, UsageError};
use super::list::ListFormat as PsFormat;

pub const SHAPE: Shape = Shape {
    name: "ps",
    about: "List the processes of a container (PS_ARGS go to ps(1); default -ef)",
    flags: &[&[Flag {
        long: "format",
        short: Some('f'),
        takes: Takes::Text("table|json"),
        help: "Output format [default: table]",
    }]],
    positionals: &["ID"],
    required: 1,
    trailing: Some("PS_ARGS"),
};

#[derive(Debug)]
pub struct PsArgs {
    pub id: String,
    /// Arguments for ps(1) (table format only).
    pub ps_args: Vec<String>,
    pub format: PsFormat,
}

impl PsArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        Ok(PsArgs {
            id: m.positional(0, ""),
            ps_args: m.trailing.clone(),
            format: PsFormat::from_matches(m)?,
        })
    }
}

pub fn run(root: &StateRoot, args: &PsArgs) -> anyhow::Result<i32> {
    let pids = container::container_pids(root, &args.id)?;
    match args.format {
        PsFormat::Json => {
            if !args.ps_args.is_empty() {
                anyhow::bail!("ps arguments cannot be used with --format json");
            }
            println!("{}", serde_json::to_string(&pids)?);
        }
        PsFormat::Table => print!("{}", container::ps_table(&pids, &args.ps_args)?),
    }
    Ok(0)
}
