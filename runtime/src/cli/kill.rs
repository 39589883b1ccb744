//! `skiff kill [--all] ID [SIGNAL]` (default SIGTERM, as runc).

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes};

pub const SHAPE: Shape = Shape {
    name: "kill",
    about: "Send a signal to a container's init (or all its processes) [default signal: SIGTERM]",
    flags: &[&[Flag {
        long: "all",
        short: Some('a'),
        takes: Takes::Nothing,
        help: "Send the signal to every process in the container",
    }]],
    positionals: &["ID", "SIGNAL"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct KillArgs {
    pub id: String,
    /// A name or a number.
    pub signal: String,
    pub all: bool,
}

impl KillArgs {
    pub fn from_matches(m: &Matches) -> Self {
        KillArgs {
            id: m.positional(0, ""),
            signal: m.positional(1, "SIGTERM"),
            all: m.switch("all"),
        }
    }
}

pub fn run(root: &StateRoot, args: &KillArgs) -> anyhow::Result<i32> {
    let signal = container::parse_signal(&args.signal)?;
    container::kill(root, &args.id, signal, args.all)?;
    Ok(0)
}
