//! `skiff run [-d] [create flags] ID`

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes, UsageError};
use super::create::{self, CreateArgs};

pub const SHAPE: Shape = Shape {
    name: "run",
    about: "Create and start a container",
    flags: &[create::FLAGS, FLAGS],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

const FLAGS: &[Flag] = &[
    Flag {
        long: "detach",
        short: Some('d'),
        takes: Takes::Nothing,
        help: "Detach from the container's process",
    },
    // Accepted for runc compatibility; skiff is always its run's subreaper.
    Flag {
        long: "no-subreaper",
        short: None,
        takes: Takes::Nothing,
        help: "",
    },
    Flag {
        long: "keep",
        short: None,
        takes: Takes::Nothing,
        help: "Do not delete the container after it exits",
    },
];

#[derive(Debug)]
pub struct RunArgs {
    pub create: CreateArgs,
    pub detach: bool,
    pub keep: bool,
}

impl RunArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        Ok(RunArgs {
            create: CreateArgs::from_matches(m)?,
            detach: m.switch("detach"),
            keep: m.switch("keep"),
        })
    }
}

pub fn run(root: &StateRoot, args: &RunArgs, rootless: Option<bool>) -> anyhow::Result<i32> {
    let run_opts = container::RunOptions {
        detach: args.detach,
        keep: args.keep,
    };
    let outcome = container::run(root, &args.create.options(rootless)?, &run_opts)?;
    Ok(outcome.exit_code)
}
