//! `skiff exec [flags] ID COMMAND [ARGS...]` or `skiff exec --process FILE ID`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capability, Process, User};
use skiff_runtime::container::{self, parse_capabilities, ExecOptions};
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes, UsageError};

pub const SHAPE: Shape = Shape {
    name: "exec",
    about: "Run a new process inside a running container",
    // --process-label and --apparmor set process.selinuxLabel and
    // process.apparmorProfile as runc's do; hidden from help like the
    // other LSM details.
    flags: &[&[
        Flag {
            long: "process",
            short: Some('p'),
            takes: Takes::Path("FILE"),
            help: "JSON file with the process to run (OCI \"process\" object)",
        },
        Flag {
            long: "console-socket",
            short: None,
            takes: Takes::Path("SOCKET"),
            help: "Unix socket that receives the pty master with --tty",
        },
        Flag {
            long: "cwd",
            short: None,
            takes: Takes::Path("DIR"),
            help: "Working directory in the container",
        },
        Flag {
            long: "env",
            short: Some('e'),
            takes: Takes::Text("KEY=VALUE"),
            help: "Set an environment variable (repeatable)",
        },
        Flag {
            long: "tty",
            short: Some('t'),
            takes: Takes::Nothing,
            help: "Allocate a pseudo-TTY",
        },
        Flag {
            long: "user",
            short: Some('u'),
            takes: Takes::Text("UID[:GID]"),
            help: "User to run as",
        },
        Flag {
            long: "additional-gids",
            short: Some('g'),
            takes: Takes::Text("GID"),
            help: "Add a supplementary group (repeatable)",
        },
        Flag {
            long: "detach",
            short: Some('d'),
            takes: Takes::Nothing,
            help: "Detach from the process",
        },
        Flag {
            long: "pid-file",
            short: None,
            takes: Takes::Path("FILE"),
            help: "File to write the process's pid to",
        },
        Flag {
            long: "no-new-privs",
            short: None,
            takes: Takes::Nothing,
            help: "Set no_new_privs for the process",
        },
        Flag {
            long: "cap",
            short: Some('c'),
            takes: Takes::Text("CAP"),
            help: "Add a capability (repeatable)",
        },
        Flag {
            long: "preserve-fds",
            short: None,
            takes: Takes::Text("N"),
            help: "Pass this many extra fds (from 3 up) to the process",
        },
        Flag {
            long: "ignore-paused",
            short: None,
            takes: Takes::Nothing,
            help: "Exec even if the container is paused",
        },
        Flag {
            long: "process-label",
            short: None,
            takes: Takes::Text("LABEL"),
            help: "",
        },
        Flag {
            long: "apparmor",
            short: None,
            takes: Takes::Text("PROFILE"),
            help: "",
        },
    ]],
    positionals: &["ID"],
    required: 1,
    trailing: Some("COMMAND"),
};

#[derive(Debug)]
pub struct ExecArgs {
    pub id: String,
    /// Command and arguments (unless --process is given).
    pub command: Vec<String>,
    pub process: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub no_new_privs: bool,
    pub cap: Vec<String>,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    /// --apparmor: overrides process.apparmorProfile (without --process).
    pub apparmor: Option<String>,
    /// --process-label: overrides process.selinuxLabel (without --process).
    pub process_label: Option<String>,
}

impl ExecArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        let additional_gids = m
            .values("additional-gids")
            .iter()
            .map(|g| {
                g.parse::<u32>().map_err(|e| {
                    super::args::usage(format!("invalid value {g:?} for --additional-gids: {e}"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ExecArgs {
            id: m.positional(0, ""),
            command: m.trailing.clone(),
            process: m.path("process"),
            console_socket: m.path("console-socket"),
            cwd: m.path("cwd"),
            env: m.values("env"),
            tty: m.switch("tty"),
            user: m.value("user").map(str::to_string),
            additional_gids,
            detach: m.switch("detach"),
            pid_file: m.path("pid-file"),
            no_new_privs: m.switch("no-new-privs"),
            cap: m.values("cap"),
            preserve_fds: m.parsed("preserve-fds")?.unwrap_or(0),
            ignore_paused: m.switch("ignore-paused"),
            apparmor: m.value("apparmor").map(str::to_string),
            process_label: m.value("process-label").map(str::to_string),
        })
    }
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
    if let Some(profile) = args.apparmor.as_ref().filter(|p| !p.is_empty()) {
        process.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = args.process_label.as_ref().filter(|l| !l.is_empty()) {
        process.set_selinux_label(Some(label.clone()));
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
