//! `skiff kill [--all] ID [SIGNAL]` (default SIGTERM, as runc).

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Container id
    pub id: String,
    /// Signal name or number
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process in the container
    #[arg(long, short = 'a')]
    pub all: bool,
}

pub fn run(root: &StateRoot, args: &KillArgs) -> anyhow::Result<i32> {
    let signal = container::parse_signal(&args.signal)?;
    container::kill(root, &args.id, signal, args.all)?;
    Ok(0)
}
