//! `skiff state ID`: runc's JSON, indented as runc indents it.

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Matches, Shape};

pub const SHAPE: Shape = Shape {
    name: "state",
    about: "Print the state of a container",
    flags: &[],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct StateArgs {
    pub id: String,
}

impl StateArgs {
    pub fn from_matches(m: &Matches) -> Self {
        StateArgs {
            id: m.positional(0, ""),
        }
    }
}

pub fn run(root: &StateRoot, args: &StateArgs) -> anyhow::Result<i32> {
    let state = container::state_json(root, &args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}
