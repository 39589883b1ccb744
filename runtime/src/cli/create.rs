//! `skiff create [--bundle DIR] [--pid-file F] [--console-socket S] ID`

use std::path::PathBuf;

use skiff_runtime::container::{self, CreateOptions};
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes, UsageError};

pub const SHAPE: Shape = Shape {
    name: "create",
    about: "Create a container from a bundle",
    flags: &[FLAGS],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

/// Shared with `run`.
pub const FLAGS: &[Flag] = &[
    Flag {
        long: "bundle",
        short: Some('b'),
        takes: Takes::Path("DIR"),
        help: "Path to the bundle directory [default: the current directory]",
    },
    Flag {
        long: "pid-file",
        short: None,
        takes: Takes::Path("FILE"),
        help: "File to write the container init's pid to",
    },
    Flag {
        long: "console-socket",
        short: None,
        takes: Takes::Path("SOCKET"),
        help: "Unix socket that receives the pty master when process.terminal is true",
    },
    Flag {
        long: "no-pivot",
        short: None,
        takes: Takes::Nothing,
        help: "Use chroot instead of pivot_root (for ramfs roots)",
    },
    Flag {
        long: "no-new-keyring",
        short: None,
        takes: Takes::Nothing,
        help: "Do not create a new session keyring for the container",
    },
    Flag {
        long: "preserve-fds",
        short: None,
        takes: Takes::Text("N"),
        help: "Pass this many extra fds (from 3 up) to the container process",
    },
];

#[derive(Debug, Clone)]
pub struct CreateArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
}

impl CreateArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        Ok(CreateArgs {
            id: m.positional(0, ""),
            bundle: m.path("bundle").unwrap_or_else(|| PathBuf::from(".")),
            pid_file: m.path("pid-file"),
            console_socket: m.path("console-socket"),
            no_pivot: m.switch("no-pivot"),
            no_new_keyring: m.switch("no-new-keyring"),
            preserve_fds: m.parsed("preserve-fds")?.unwrap_or(0),
        })
    }

    pub fn options(&self, rootless: Option<bool>) -> anyhow::Result<CreateOptions> {
        if self.preserve_fds < 0 {
            anyhow::bail!("--preserve-fds must not be negative");
        }
        Ok(CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            console_peer: None,
            rootless,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        })
    }
}

pub fn run(root: &StateRoot, args: &CreateArgs, rootless: Option<bool>) -> anyhow::Result<i32> {
    container::create(root, &args.options(rootless)?)?;
    Ok(0)
}
