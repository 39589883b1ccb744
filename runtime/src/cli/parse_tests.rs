//! Whole command lines as containerd's runc shim, conmon and dockerd write
//! them, through `parse`.

use std::ffi::OsString;
use std::path::Path;

use super::*;

fn parse_line(line: &[&str]) -> Result<Parsed, UsageError> {
    let args: Vec<OsString> = line.iter().map(OsString::from).collect();
    parse(&args)
}

fn run_of(line: &[&str]) -> (Globals, Command) {
    match parse_line(line) {
        Ok(Parsed::Run(run)) => match *run {
            (globals, Some(command)) => (globals, command),
            (_, None) => panic!("{line:?}: no command"),
        },
        Ok(Parsed::Help(_)) => panic!("{line:?}: help"),
        Err(err) => panic!("{line:?}: {err}"),
    }
}

#[test]
fn containerd_shim_create() {
    let (g, c) = run_of(&[
        "--root",
        "/run/containerd/runc/default",
        "--log",
        "/run/x/log.json",
        "--log-format",
        "json",
        "create",
        "--bundle",
        "/run/x",
        "--pid-file",
        "/run/x/init.pid",
        "--console-socket",
        "/tmp/pty.sock",
        "--no-new-keyring",
        "web",
    ]);
    assert_eq!(
        g.root.as_deref(),
        Some(Path::new("/run/containerd/runc/default"))
    );
    assert_eq!(g.log.as_deref(), Some(Path::new("/run/x/log.json")));
    assert_eq!(g.log_format, LogFormat::Json);
    let Command::Create(a) = c else {
        panic!("not create")
    };
    assert_eq!(a.id, "web");
    assert_eq!(a.bundle, Path::new("/run/x"));
    assert_eq!(a.pid_file.as_deref(), Some(Path::new("/run/x/init.pid")));
    assert_eq!(
        a.console_socket.as_deref(),
        Some(Path::new("/tmp/pty.sock"))
    );
    assert!(a.no_new_keyring && !a.no_pivot);
    assert_eq!(a.preserve_fds, 0);
}

#[test]
fn exec_with_a_process_file_and_options_after_the_id() {
    let (_, c) = run_of(&[
        "--root",
        "/r",
        "exec",
        "--process",
        "/tmp/p.json",
        "--detach",
        "--pid-file",
        "/tmp/p.pid",
        "web",
    ]);
    let Command::Exec(a) = c else {
        panic!("not exec")
    };
    assert_eq!(a.process.as_deref(), Some(Path::new("/tmp/p.json")));
    assert!(a.detach && a.command.is_empty());
    let (_, c) = run_of(&[
        "exec", "-t", "web", "--user", "1:2", "sh", "-c", "id -u", "--user", "0",
    ]);
    let Command::Exec(a) = c else {
        panic!("not exec")
    };
    assert!(a.tty);
    assert_eq!(
        a.user.as_deref(),
        Some("1:2"),
        "between the id and the command it is a flag"
    );
    assert_eq!(a.command, ["sh", "-c", "id -u", "--user", "0"]);
    let (_, c) = run_of(&["exec", "--user", "1:2", "-g", "5", "-g", "6", "web", "id"]);
    let Command::Exec(a) = c else {
        panic!("not exec")
    };
    assert_eq!(a.user.as_deref(), Some("1:2"));
    assert_eq!(a.additional_gids, [5, 6]);
}

#[test]
fn kill_delete_and_globals_after_the_command() {
    let (_, c) = run_of(&["kill", "--all", "web", "9"]);
    let Command::Kill(a) = c else {
        panic!("not kill")
    };
    assert!(a.all);
    assert_eq!((a.id.as_str(), a.signal.as_str()), ("web", "9"));
    let (g, c) = run_of(&["delete", "--force", "web", "--root", "/r", "--debug"]);
    let Command::Delete(a) = c else {
        panic!("not delete")
    };
    assert!(a.force && g.debug);
    assert_eq!(g.root.as_deref(), Some(Path::new("/r")));
}

#[test]
fn run_shares_creates_flags() {
    let (_, c) = run_of(&["run", "-d", "--bundle", "/b", "--preserve-fds", "2", "web"]);
    let Command::Run(a) = c else {
        panic!("not run")
    };
    assert!(a.detach && !a.keep);
    assert_eq!(a.create.bundle, Path::new("/b"));
    assert_eq!(a.create.preserve_fds, 2);
    assert!(parse_line(&["run", "--preserve-fds", "two", "web"]).is_err());
}

#[test]
fn update_takes_negative_values() {
    let (_, c) = run_of(&[
        "update",
        "--memory",
        "-1",
        "--cpu-quota",
        "-1",
        "--pids-limit",
        "64",
        "web",
    ]);
    let Command::Update(a) = c else {
        panic!("not update")
    };
    assert_eq!(a.memory.as_deref(), Some("-1"));
    assert_eq!((a.cpu_quota, a.pids_limit), (Some(-1), Some(64)));
}

#[test]
fn spec_rootless_is_specs_switch_and_the_global_takes_a_value() {
    let (g, c) = run_of(&["--rootless", "true", "spec", "--rootless"]);
    let Command::Spec(a) = c else {
        panic!("not spec")
    };
    assert!(a.rootless);
    assert_eq!(g.rootless.as_deref(), Some("true"));
}

#[test]
fn aliases_version_help_and_mistakes() {
    assert!(matches!(run_of(&["ps-all", "-q"]).1, Command::List(_)));
    assert!(matches!(parse_line(&["-v"]), Ok(Parsed::Run(r)) if r.0.version && r.1.is_none()));
    assert!(matches!(parse_line(&["--help"]), Ok(Parsed::Help(_))));
    assert!(
        matches!(parse_line(&["help", "exec"]), Ok(Parsed::Help(t)) if t.contains("--process"))
    );
    assert!(
        matches!(parse_line(&["create", "--help"]), Ok(Parsed::Help(t)) if t.contains("--bundle"))
    );
    assert!(parse_line(&["nosuch"]).is_err());
    assert!(parse_line(&["--log-format", "xml", "list"]).is_err());
    assert!(parse_line(&["list", "--format", "yaml"]).is_err());
}

#[test]
fn no_command_has_two_flags_of_one_name() {
    for shape in COMMANDS.iter().copied().chain([&TOP]) {
        let flags: Vec<&Flag> = shape
            .flags
            .iter()
            .copied()
            .flatten()
            .chain(GLOBAL_FLAGS)
            .collect();
        for (i, a) in flags.iter().enumerate() {
            for b in &flags[i + 1..] {
                assert!(a.long != b.long, "{}: --{} twice", shape.name, a.long);
                assert!(
                    a.short.is_none() || a.short != b.short,
                    "{}: -{:?} twice",
                    shape.name,
                    a.short
                );
            }
        }
    }
}
