//! `skiff exec [flags] ID COMMAND [ARGS...]` or `skiff exec --process FILE ID`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use oci_spec::runtime::{Capability, Process, User};
use skiff_runtime::container::{self, parse_capabilities, ExecOptions};
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// Command and arguments (unless --process is given)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// JSON file with the process to run (OCI "process" object)
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables (KEY=VALUE), repeatable
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(long, short = 't')]
    pub tty: bool,
    /// UID[:GID] to run as
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Additional gids, repeatable
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    #[arg(long, short = 'd')]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability, repeatable
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Exec even if the container is paused
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for runc compatibility (SELinux/AppArmor are not supported)
    #[arg(long = "process-label", hide = true)]
    pub process_label: Option<String>,
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
}

pub fn run(root: &StateRoot, args: &ExecArgs) -> Result<i32> {
    if args.preserve_fds < 0 {
        bail!("--preserve-fds must not be negative");
    }
    let process = match &args.process {
        Some(path) => load_process(path)?,
        None => process_from_flags(root, args)?,
    };
    container::exec(
        root,
        &ExecOptions {
            id: args.id.clone(),
            process,
            console_socket: args.console_socket.clone(),
            pid_file: args.pid_file.clone(),
            detach: args.detach,
            preserve_fds: args.preserve_fds,
            ignore_paused: args.ignore_paused,
        },
    )
}

fn load_process(path: &PathBuf) -> Result<Process> {
    let text = std::fs::read(path)
        .with_context(|| format!("read --process {:?}", path.display().to_string()))?;
    skiff_runtime::json::from_slice_with_path(&text).map_err(|err| {
        anyhow::anyhow!(
            "parse --process {:?}: {}: {}",
            path.display().to_string(),
            err.path,
            err.message
        )
    })
}

/// runc builds the exec'd process from the container's own process,
/// overridden by the flags.
fn process_from_flags(root: &StateRoot, args: &ExecArgs) -> Result<Process> {
    if args.command.is_empty() {
        bail!("exec: no command given (pass COMMAND after the container id, or --process)");
    }
    let base = container::container_process(root, &args.id)?;
    let mut process = base;
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    process.set_console_size(None);
    let mut env = process.env().clone().unwrap_or_default();
    for entry in &args.env {
        let key = entry.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    process.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some(user) = &args.user {
        process.set_user(parse_user(user, &args.additional_gids)?);
    } else if !args.additional_gids.is_empty() {
        let mut user = process.user().clone();
        user.set_additional_gids(Some(args.additional_gids.clone()));
        process.set_user(user);
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        add_capabilities(&mut process, &parse_capabilities(&args.cap)?);
    }
    Ok(process)
}

fn parse_user(text: &str, additional: &[u32]) -> Result<User> {
    let (uid, gid) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let uid: u32 = uid
        .parse()
        .with_context(|| format!("--user {text:?}: uid must be a number"))?;
    let gid: u32 = match gid {
        Some(g) => g
            .parse()
            .with_context(|| format!("--user {text:?}: gid must be a number"))?,
        None => 0,
    };
    let mut user = User::default();
    user.set_uid(uid);
    user.set_gid(gid);
    if !additional.is_empty() {
        user.set_additional_gids(Some(additional.to_vec()));
    }
    Ok(user)
}

/// runc's --cap adds to the bounding, effective, permitted and ambient sets.
fn add_capabilities(process: &mut Process, extra: &[Capability]) {
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let add = |set: Option<std::collections::HashSet<Capability>>| {
        let mut set = set.unwrap_or_default();
        set.extend(extra.iter().copied());
        Some(set)
    };
    caps.set_bounding(add(caps.bounding().clone()));
    caps.set_effective(add(caps.effective().clone()));
    caps.set_permitted(add(caps.permitted().clone()));
    caps.set_inheritable(add(caps.inheritable().clone()));
    caps.set_ambient(add(caps.ambient().clone()));
    process.set_capabilities(Some(caps));
}
