//! `skiff create [--bundle DIR] [--pid-file F] [--console-socket S] ID`

use std::path::PathBuf;

use clap::Args;
use skiff_runtime::container::{self, CreateOptions};
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the bundle directory (defaults to the current directory)
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container init's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for ramfs roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (from 3 up) to the container process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
}

impl CreateArgs {
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
