//! `skiff ps [--format table|json] ID [PS ARGS...]`

use clap::{Args, ValueEnum};
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Container id
    pub id: String,
    /// Arguments for ps(1) (table format only; default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: PsFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
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
