//! `skiff state ID`: runc's JSON, indented as runc indents it.

use clap::Args;
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct StateArgs {
    /// Container id
    pub id: String,
}

pub fn run(root: &StateRoot, args: &StateArgs) -> anyhow::Result<i32> {
    let state = container::state_json(root, &args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}
