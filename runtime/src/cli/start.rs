//! `skiff start ID`

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Container id
    pub id: String,
}

pub fn run(root: &StateRoot, args: &StartArgs) -> anyhow::Result<i32> {
    container::start(root, &args.id)?;
    Ok(0)
}
