//! `skiff delete [--force] ID`

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes};

pub const SHAPE: Shape = Shape {
    name: "delete",
    about: "Delete a container and everything it holds",
    flags: &[&[Flag {
        long: "force",
        short: Some('f'),
        takes: Takes::Nothing,
        help: "Kill the container first if it is still running",
    }]],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct DeleteArgs {
    pub id: String,
    pub force: bool,
}

impl DeleteArgs {
    pub fn from_matches(m: &Matches) -> Self {
        DeleteArgs {
            id: m.positional(0, ""),
            force: m.switch("force"),
        }
    }
}

pub fn run(root: &StateRoot, args: &DeleteArgs) -> anyhow::Result<i32> {
    container::delete(root, &args.id, args.force)?;
    Ok(0)
}
