//! runc's command line surface (see ARCHITECTURE.md): global flags first,
//! one file per subcommand. Flags after the container id are accepted, as
//! runc's clients put them there.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use skiff_runtime::logging::{self, LogFormat};
use skiff_runtime::state::StateRoot;

/// runc's three lines: `runc version X`, `commit: …`, `spec: …`.
const VERSION: &str = concat!(
    "skiff version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("SKIFF_COMMIT"),
    "\nspec: 1.2.0"
);

#[derive(Parser, Debug)]
#[command(
    name = "skiff",
    disable_version_flag = true,
    about = "An OCI container runtime with runc's command line"
)]
pub struct Cli {
    /// Root directory for container state [default: /run/skiff; not root: $XDG_RUNTIME_DIR/skiff]
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Write log messages to this file instead of stderr
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: CliLogFormat,
    /// Enable debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Use the systemd cgroup driver
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (accepted as runc does)
    #[arg(long, value_name = "true|false|auto")]
    rootless: Option<String>,
    /// Print the version
    #[arg(long, short = 'v')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CliLogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container from a bundle
    Create(create::CreateArgs),
    /// Run the user process of a created container
    Start(start::StartArgs),
    /// Create and start a container
    Run(run::RunArgs),
    /// Print the state of a container
    State(state::StateArgs),
    /// Run a new process inside a running container
    Exec(exec::ExecArgs),
    /// Send a signal to a container's init (or all its processes)
    Kill(kill::KillArgs),
    /// Delete a container and everything it holds
    Delete(delete::DeleteArgs),
    /// List containers
    #[command(alias = "ps-all")]
    List(list::ListArgs),
    /// Freeze every process of a container
    Pause(pause::IdArgs),
    /// Thaw a paused container
    Resume(pause::IdArgs),
    /// List the processes of a container
    Ps(ps::PsArgs),
    /// Stream a container's events (OOM, stats), or print its stats once
    Events(events::EventsArgs),
    /// Change a running container's resources
    Update(update::UpdateArgs),
    /// Write a default config.json
    Spec(spec::SpecArgs),
    /// Print the features this runtime supports
    Features,
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    let format = match cli.log_format {
        CliLogFormat::Text => LogFormat::Text,
        CliLogFormat::Json => LogFormat::Json,
    };
    if let Err(err) = logging::init_logging(cli.log.as_deref(), format, cli.debug) {
        eprintln!("skiff: {err:#}");
        return 1;
    }
    match dispatch(&cli) {
        Ok(code) => code,
        Err(err) => {
            let text = logging::escape_controls(&format!("{err:#}"));
            logging::log_error(&text);
            if cli.log.is_some() {
                eprintln!("skiff: {text}");
            }
            1
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    if cli.version && cli.command.is_none() {
        println!("{VERSION}");
        return Ok(0);
    }
    if cli.systemd_cgroup {
        anyhow::bail!("--systemd-cgroup: the systemd cgroup driver is not available in skiff yet; use the cgroupfs driver (omit the flag)");
    }
    let root = StateRoot::new(&cli.root.clone().unwrap_or_else(default_state_root));
    let Some(command) = &cli.command else {
        anyhow::bail!("no command given (see skiff --help)");
    };
    match command {
        Command::Create(args) => create::run(&root, args, rootless(cli)?),
        Command::Start(args) => start::run(&root, args),
        Command::Run(args) => run::run(&root, args, rootless(cli)?),
        Command::State(args) => state::run(&root, args),
        Command::Exec(args) => exec::run(&root, args),
        Command::Kill(args) => kill::run(&root, args),
        Command::Delete(args) => delete::run(&root, args),
        Command::List(args) => list::run(&root, args),
        Command::Pause(args) => pause::pause(&root, args),
        Command::Resume(args) => pause::resume(&root, args),
        Command::Ps(args) => ps::run(&root, args),
        Command::Events(args) => events::run(&root, args),
        Command::Update(args) => update::run(&root, args),
        Command::Spec(args) => spec::run(args),
        Command::Features => {
            let text = serde_json::to_string_pretty(&skiff_runtime::features::features())?;
            println!("{text}");
            Ok(0)
        }
    }
}

/// runc's choice: `/run/skiff` for root; an unprivileged user cannot write
/// there, so their containers live under `$XDG_RUNTIME_DIR/skiff`.
fn default_state_root() -> PathBuf {
    if !nix::unistd::geteuid().is_root() {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("skiff");
        }
    }
    PathBuf::from("/run/skiff")
}

/// `--rootless true|false|auto` (runc's flag): whether a cgroup that may not
/// be created is skipped (with a warning) instead of failing. `auto`, the
/// default, means "when not root".
fn rootless(cli: &Cli) -> anyhow::Result<Option<bool>> {
    match cli.rootless.as_deref() {
        None | Some("auto") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => anyhow::bail!("--rootless {other:?}: expected true, false or auto"),
    }
}
