//! `skiff pause ID` and `skiff resume ID`

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct IdArgs {
    /// Container id
    pub id: String,
}

pub fn pause(root: &StateRoot, args: &IdArgs) -> anyhow::Result<i32> {
    container::pause(root, &args.id)?;
    Ok(0)
}

pub fn resume(root: &StateRoot, args: &IdArgs) -> anyhow::Result<i32> {
    container::resume(root, &args.id)?;
    Ok(0)
}
