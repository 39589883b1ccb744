//! `skiff delete [--force] ID`

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Container id
    pub id: String,
    /// Kill the container first if it is still running
    #[arg(long, short = 'f')]
    pub force: bool,
}

pub fn run(root: &StateRoot, args: &DeleteArgs) -> anyhow::Result<i32> {
    container::delete(root, &args.id, args.force)?;
    Ok(0)
}
