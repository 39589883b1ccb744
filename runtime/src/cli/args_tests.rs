//! The scanner against the command lines runc's clients write.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use super::*;

const FLAGS: &[Flag] = &[
    Flag {
        long: "bundle",
        short: Some('b'),
        takes: Takes::Path("DIR"),
        help: "bundle",
    },
    Flag {
        long: "tty",
        short: Some('t'),
        takes: Takes::Nothing,
        help: "tty",
    },
    Flag {
        long: "detach",
        short: Some('d'),
        takes: Takes::Nothing,
        help: "detach",
    },
    Flag {
        long: "env",
        short: Some('e'),
        takes: Takes::Text("KEY=VALUE"),
        help: "env",
    },
    Flag {
        long: "memory",
        short: None,
        takes: Takes::Text("BYTES"),
        help: "",
    },
];

const GLOBALS: &[Flag] = &[Flag {
    long: "root",
    short: None,
    takes: Takes::Path("DIR"),
    help: "root",
}];

const EXEC: Shape = Shape {
    name: "exec",
    about: "",
    flags: &[FLAGS],
    positionals: &["ID"],
    required: 1,
    trailing: Some("COMMAND"),
};

const KILL: Shape = Shape {
    name: "kill",
    about: "",
    flags: &[FLAGS],
    positionals: &["ID", "SIGNAL"],
    required: 1,
    trailing: None,
};

fn words(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn ok(shape: &Shape, args: &[&str]) -> Matches {
    scan(&words(args), shape, GLOBALS, false).unwrap().0
}

fn err(shape: &Shape, args: &[&str]) -> String {
    scan(&words(args), shape, GLOBALS, false).unwrap_err().0
}

#[test]
fn long_flags_take_their_value_either_way() {
    let m = ok(&EXEC, &["--bundle", "/b", "id"]);
    assert_eq!(m.path("bundle").unwrap(), std::path::Path::new("/b"));
    let m = ok(&EXEC, &["--bundle=/c", "id"]);
    assert_eq!(m.path("bundle").unwrap(), std::path::Path::new("/c"));
}

#[test]
fn short_flags_group_and_take_attached_values() {
    let m = ok(&EXEC, &["-td", "-b/x", "-e", "A=1", "-e=B=2", "id", "sh"]);
    assert!(m.switch("tty") && m.switch("detach"));
    assert_eq!(m.path("bundle").unwrap(), std::path::Path::new("/x"));
    assert_eq!(m.values("env"), ["A=1", "B=2"]);
}

#[test]
fn flags_may_follow_the_id_and_globals_are_accepted() {
    let m = ok(
        &EXEC,
        &["id", "--tty", "--root", "/r", "sh", "-c", "echo --tty"],
    );
    assert_eq!(m.positionals, ["id"]);
    assert!(m.switch("tty"));
    assert_eq!(m.path("root").unwrap(), std::path::Path::new("/r"));
    assert_eq!(m.trailing, ["sh", "-c", "echo --tty"]);
}

#[test]
fn the_command_is_taken_verbatim_after_its_first_word() {
    let m = ok(&EXEC, &["id", "ls", "-d", "--", "--bundle"]);
    assert!(!m.switch("detach"));
    assert_eq!(m.trailing, ["ls", "-d", "--", "--bundle"]);
    let m = ok(&EXEC, &["id", "--", "-weird", "x"]);
    assert_eq!(m.trailing, ["-weird", "x"]);
}

#[test]
fn a_value_may_start_with_a_dash() {
    let m = ok(&EXEC, &["--memory", "-1", "id"]);
    assert_eq!(m.value("memory"), Some("-1"));
}

#[test]
fn the_last_value_wins_and_switches_take_true_or_false() {
    let m = ok(
        &EXEC,
        &["--bundle", "/a", "--bundle", "/b", "--tty=false", "id"],
    );
    assert_eq!(m.path("bundle").unwrap(), std::path::Path::new("/b"));
    assert!(!m.switch("tty"));
    assert!(err(&EXEC, &["--tty=maybe", "id"]).contains("--tty"));
}

#[test]
fn optional_positionals_and_empty_ids() {
    let m = ok(&KILL, &["id"]);
    assert_eq!(m.positional(1, "SIGTERM"), "SIGTERM");
    let m = ok(&KILL, &["id", "KILL"]);
    assert_eq!(m.positional(1, "SIGTERM"), "KILL");
    // An empty id is the id's own check to refuse, with its message.
    let m = ok(&KILL, &[""]);
    assert_eq!(m.positionals, [""]);
}

#[test]
fn mistakes_name_what_is_wrong() {
    assert!(err(&KILL, &[]).contains("missing ID"));
    assert!(err(&KILL, &["id", "KILL", "extra"]).contains("\"extra\""));
    assert!(err(&KILL, &["--nope", "id"]).contains("--nope"));
    assert!(err(&KILL, &["-z", "id"]).contains("-z"));
    assert!(err(&KILL, &["id", "--bundle"]).contains("needs a value"));
}

#[test]
fn help_is_asked_for_anywhere() {
    assert!(ok(&KILL, &["--help"]).help);
    assert!(ok(&KILL, &["id", "-h"]).help);
    let text = help_text(&EXEC, GLOBALS);
    assert!(
        text.contains("skiff exec [FLAGS] ID [COMMAND...]"),
        "{text}"
    );
    assert!(text.contains("-b, --bundle DIR"), "{text}");
    assert!(
        !text.contains("--memory"),
        "hidden flags stay hidden: {text}"
    );
}

#[test]
fn the_top_level_stops_at_the_command() {
    let top = Shape {
        name: "skiff",
        about: "",
        flags: &[],
        positionals: &["COMMAND"],
        required: 0,
        trailing: Some("ARGS"),
    };
    let args = words(&["--root", "/r", "create", "--bundle", "b", "id"]);
    let (m, at) = scan(&args, &top, GLOBALS, true).unwrap();
    assert_eq!(at, 2);
    assert_eq!(m.path("root").unwrap(), std::path::Path::new("/r"));
}

#[test]
fn paths_may_be_any_bytes_but_text_must_be_utf8() {
    let mut args = vec![
        OsString::from("--bundle"),
        OsString::from_vec(b"/b\xff".to_vec()),
    ];
    args.push("id".into());
    let (m, _) = scan(&args, &EXEC, GLOBALS, false).unwrap();
    assert_eq!(m.path("bundle").unwrap().as_os_str().len(), 3);
    let bad = vec![
        OsString::from("-e"),
        OsString::from_vec(b"A=\xff".to_vec()),
        "id".into(),
    ];
    assert!(scan(&bad, &EXEC, GLOBALS, false).is_err());
}
