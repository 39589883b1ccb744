//! `skiff run [-d] [create flags] ID`

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::create::CreateArgs;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Accepted for runc compatibility; skiff is always its run's subreaper
    #[arg(long = "no-subreaper", hide = true)]
    pub no_subreaper: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

pub fn run(root: &StateRoot, args: &RunArgs, rootless: Option<bool>) -> anyhow::Result<i32> {
    let run_opts = container::RunOptions {
        detach: args.detach,
        keep: args.keep,
    };
    let outcome = container::run(root, &args.create.options(rootless)?, &run_opts)?;
    Ok(outcome.exit_code)
}
