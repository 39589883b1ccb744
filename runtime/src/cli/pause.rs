//! `skiff pause ID` and `skiff resume ID`

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Matches, Shape};

pub const PAUSE: Shape = Shape {
    name: "pause",
    about: "Freeze every process of a container",
    flags: &[],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

pub const RESUME: Shape = Shape {
    name: "resume",
    about: "Thaw a paused container",
    ..PAUSE
};

#[derive(Debug)]
pub struct IdArgs {
    pub id: String,
}

impl IdArgs {
    pub fn from_matches(m: &Matches) -> Self {
        IdArgs {
            id: m.positional(0, ""),
        }
    }
}

pub fn pause(root: &StateRoot, args: &IdArgs) -> anyhow::Result<i32> {
    container::pause(root, &args.id)?;
    Ok(0)
}

pub fn resume(root: &StateRoot, args: &IdArgs) -> anyhow::Result<i32> {
    container::resume(root, &args.id)?;
    Ok(0)
}
