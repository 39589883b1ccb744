//! runc's command line surface (see ARCHITECTURE.md): global flags first,
//! one file per subcommand. Flags after the container id are accepted, as
//! runc's clients put them there.

mod args;
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

use std::ffi::OsString;
use std::path::PathBuf;

use args::{help_text, scan, usage, Flag, Matches, Shape, Takes, UsageError};
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

/// runc's global flags: accepted before the command and after it.
const GLOBAL_FLAGS: &[Flag] = &[
    Flag {
        long: "root",
        short: None,
        takes: Takes::Path("DIR"),
        help: "Root directory for container state [default: /run/skiff; not root: $XDG_RUNTIME_DIR/skiff]",
    },
    Flag {
        long: "log",
        short: None,
        takes: Takes::Path("FILE"),
        help: "Write log messages to this file instead of stderr",
    },
    Flag {
        long: "log-format",
        short: None,
        takes: Takes::Text("text|json"),
        help: "Log format: text or json [default: text]",
    },
    Flag {
        long: "debug",
        short: None,
        takes: Takes::Nothing,
        help: "Enable debug logging",
    },
    Flag {
        long: "systemd-cgroup",
        short: None,
        takes: Takes::Nothing,
        help: "Use the systemd cgroup driver",
    },
];

/// The top level: flags only accepted before the command, then the command.
const TOP: Shape = Shape {
    name: "skiff",
    about: "skiff: an OCI container runtime with runc's command line",
    flags: &[&[
        Flag {
            long: "rootless",
            short: None,
            takes: Takes::Text("true|false|auto"),
            help: "Rootless mode: true, false or auto (accepted as runc does)",
        },
        Flag {
            long: "version",
            short: Some('v'),
            takes: Takes::Nothing,
            help: "Print the version",
        },
    ]],
    positionals: &["COMMAND"],
    required: 0,
    trailing: Some("ARGS"),
};

/// Every command, in help order; `ps-all` is runc's alias of `list`.
const COMMANDS: &[&Shape] = &[
    &create::SHAPE,
    &start::SHAPE,
    &run::SHAPE,
    &state::SHAPE,
    &exec::SHAPE,
    &kill::SHAPE,
    &delete::SHAPE,
    &list::SHAPE,
    &pause::PAUSE,
    &pause::RESUME,
    &ps::SHAPE,
    &events::SHAPE,
    &update::SHAPE,
    &spec::SHAPE,
    &FEATURES,
];

const FEATURES: Shape = Shape {
    name: "features",
    about: "Print the features this runtime supports",
    flags: &[],
    positionals: &[],
    required: 0,
    trailing: None,
};

/// The global flags, from before and after the command (the later wins).
struct Globals {
    root: Option<PathBuf>,
    log: Option<PathBuf>,
    log_format: LogFormat,
    debug: bool,
    systemd_cgroup: bool,
    rootless: Option<String>,
    version: bool,
}

impl Globals {
    fn from_matches(top: &Matches, cmd: Option<&Matches>) -> Result<Self, UsageError> {
        let pick = |f: &dyn Fn(&Matches) -> bool| cmd.is_some_and(f) || f(top);
        let path = |long: &str| cmd.and_then(|m| m.path(long)).or_else(|| top.path(long));
        let format = cmd
            .and_then(|m| m.value("log-format"))
            .or_else(|| top.value("log-format"));
        let log_format = match format {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(usage(format!(
                    "invalid value {other:?} for --log-format: expected text or json"
                )))
            }
        };
        Ok(Globals {
            root: path("root"),
            log: path("log"),
            log_format,
            debug: pick(&|m| m.switch("debug")),
            systemd_cgroup: pick(&|m| m.switch("systemd-cgroup")),
            rootless: top.value("rootless").map(str::to_string),
            version: top.switch("version"),
        })
    }
}

/// A command with its validated arguments.
enum Command {
    Create(create::CreateArgs),
    Start(start::StartArgs),
    Run(run::RunArgs),
    State(state::StateArgs),
    Exec(exec::ExecArgs),
    Kill(kill::KillArgs),
    Delete(delete::DeleteArgs),
    List(list::ListArgs),
    Pause(pause::IdArgs),
    Resume(pause::IdArgs),
    Ps(ps::PsArgs),
    Events(events::EventsArgs),
    Update(update::UpdateArgs),
    Spec(spec::SpecArgs),
    Features,
}

impl Command {
    fn from_matches(name: &str, m: &Matches) -> Result<Self, UsageError> {
        Ok(match name {
            "create" => Command::Create(create::CreateArgs::from_matches(m)?),
            "start" => Command::Start(start::StartArgs::from_matches(m)),
            "run" => Command::Run(run::RunArgs::from_matches(m)?),
            "state" => Command::State(state::StateArgs::from_matches(m)),
            "exec" => Command::Exec(exec::ExecArgs::from_matches(m)?),
            "kill" => Command::Kill(kill::KillArgs::from_matches(m)),
            "delete" => Command::Delete(delete::DeleteArgs::from_matches(m)),
            "list" => Command::List(list::ListArgs::from_matches(m)?),
            "pause" => Command::Pause(pause::IdArgs::from_matches(m)),
            "resume" => Command::Resume(pause::IdArgs::from_matches(m)),
            "ps" => Command::Ps(ps::PsArgs::from_matches(m)?),
            "events" => Command::Events(events::EventsArgs::from_matches(m)),
            "update" => Command::Update(update::UpdateArgs::from_matches(m)?),
            "spec" => Command::Spec(spec::SpecArgs::from_matches(m)),
            _ => Command::Features,
        })
    }
}

/// A parsed command line: help to print, or what `dispatch` runs.
enum Parsed {
    Help(String),
    Run(Box<(Globals, Option<Command>)>),
}

fn parse(args: &[OsString]) -> Result<Parsed, UsageError> {
    let (top, at) = scan(args, &TOP, GLOBAL_FLAGS, true)?;
    if top.help {
        return Ok(Parsed::Help(top_help()));
    }
    let Some(word) = args.get(at) else {
        return Ok(Parsed::Run(Box::new((
            Globals::from_matches(&top, None)?,
            None,
        ))));
    };
    let name = word.to_string_lossy();
    if name == "help" {
        let text = match args.get(at + 1).map(|a| a.to_string_lossy()) {
            Some(cmd) => help_text(find_command(&cmd)?, GLOBAL_FLAGS),
            None => top_help(),
        };
        return Ok(Parsed::Help(text));
    }
    let shape = find_command(&name)?;
    let (matches, _) = scan(&args[at + 1..], shape, GLOBAL_FLAGS, false)?;
    if matches.help {
        return Ok(Parsed::Help(help_text(shape, GLOBAL_FLAGS)));
    }
    let globals = Globals::from_matches(&top, Some(&matches))?;
    let command = Command::from_matches(shape.name, &matches)?;
    Ok(Parsed::Run(Box::new((globals, Some(command)))))
}

fn find_command(name: &str) -> Result<&'static Shape, UsageError> {
    let name = if name == "ps-all" { "list" } else { name };
    COMMANDS
        .iter()
        .copied()
        .find(|c| c.name == name)
        .ok_or_else(|| usage(format!("unknown command {name:?}")))
}

fn top_help() -> String {
    let mut out = format!(
        "{}\n\nUsage: skiff [FLAGS] COMMAND [COMMAND FLAGS] [ARGS]\n\nCommands:\n",
        TOP.about
    );
    for c in COMMANDS {
        out.push_str(&format!("  {:<10} {}\n", c.name, c.about));
    }
    out.push_str("\nFlags:\n");
    args::flag_lines(&mut out, TOP.flags[0]);
    args::flag_lines(&mut out, GLOBAL_FLAGS);
    out.push_str("\nSee skiff COMMAND --help for a command's flags.\n");
    out
}

pub fn main() -> i32 {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (globals, command) = match parse(&argv) {
        Ok(Parsed::Help(text)) => {
            print!("{text}");
            return 0;
        }
        Ok(Parsed::Run(run)) => *run,
        Err(err) => {
            let cmd = argv
                .iter()
                .find(|a| find_command(&a.to_string_lossy()).is_ok());
            let hint = cmd.map(|c| format!(" {}", c.to_string_lossy()));
            eprintln!(
                "skiff: {}\n(see skiff{} --help)",
                logging::escape_controls(&err.0),
                hint.unwrap_or_default()
            );
            return 2;
        }
    };
    if let Err(err) =
        logging::init_logging(globals.log.as_deref(), globals.log_format, globals.debug)
    {
        eprintln!("skiff: {err:#}");
        return 1;
    }
    match dispatch(&globals, command.as_ref()) {
        Ok(code) => code,
        Err(err) => {
            let text = logging::escape_controls(&format!("{err:#}"));
            logging::log_error(&text);
            if globals.log.is_some() {
                eprintln!("skiff: {text}");
            }
            1
        }
    }
}

fn dispatch(cli: &Globals, command: Option<&Command>) -> anyhow::Result<i32> {
    if cli.version && command.is_none() {
        println!("{VERSION}");
        return Ok(0);
    }
    if cli.systemd_cgroup {
        anyhow::bail!("--systemd-cgroup: the systemd cgroup driver is not available in skiff yet; use the cgroupfs driver (omit the flag)");
    }
    let root = StateRoot::new(&cli.root.clone().unwrap_or_else(default_state_root));
    let Some(command) = command else {
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
fn rootless(cli: &Globals) -> anyhow::Result<Option<bool>> {
    match cli.rootless.as_deref() {
        None | Some("auto") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => anyhow::bail!("--rootless {other:?}: expected true, false or auto"),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
