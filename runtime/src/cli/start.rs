//! `skiff start ID`

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Matches, Shape};

pub const SHAPE: Shape = Shape {
    name: "start",
    about: "Run the user process of a created container",
    flags: &[],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct StartArgs {
    pub id: String,
}

impl StartArgs {
    pub fn from_matches(m: &Matches) -> Self {
        StartArgs {
            id: m.positional(0, ""),
        }
    }
}

pub fn run(root: &StateRoot, args: &StartArgs) -> anyhow::Result<i32> {
    container::start(root, &args.id)?;
    Ok(0)
}
