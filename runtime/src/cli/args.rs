//! The command line scanner: runc's flag syntax, driven by one table of flags
//! per command, and the `--help` text made from the same tables.
//!
//! Accepted as before (clap did this until skiff measured its start-up, see
//! README "peak RSS"): `--flag value`, `--flag=value`, `-f value`, `-fvalue`,
//! grouped switches (`-td`), switches as `--flag=true|false` (as runc's Go
//! flags take them), flags before, between and after the positionals, `--`
//! ending the flags, and for `exec` and `ps` everything after the first
//! word of the command taken literally. A value flag takes the next word
//! even when it starts with `-` (`update --memory -1`, as runc). A flag given
//! twice keeps the last value, as runc does; repeatable flags collect all.
//! Path values may be any bytes (as clap's PathBuf fields took them); every
//! other word must be UTF-8.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What a flag takes; the name is the value's in help (`DIR`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    Text(&'static str),
    Path(&'static str),
}

/// One flag of a command. A flag with empty `help` is accepted but not shown.
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub takes: Takes,
    pub help: &'static str,
}

/// A command's shape: its flags (in groups, so `run` can share `create`'s),
/// its positionals in order (those after `required` may be left out), and
/// the name of a trailing list that takes every word after them verbatim.
pub struct Shape {
    pub name: &'static str,
    pub about: &'static str,
    pub flags: &'static [&'static [Flag]],
    pub positionals: &'static [&'static str],
    pub required: usize,
    pub trailing: Option<&'static str>,
}

/// What a wrong command line did, for the message; the caller exits 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn usage(text: impl Into<String>) -> UsageError {
    UsageError(text.into())
}

/// The flags and words one scan found.
#[derive(Debug, Default)]
pub struct Matches {
    /// (long name, value) in command-line order; switches carry "true"/"false".
    flags: Vec<(&'static str, OsString)>,
    pub positionals: Vec<String>,
    pub trailing: Vec<String>,
    pub help: bool,
}

impl Matches {
    pub fn switch(&self, long: &str) -> bool {
        self.value(long) == Some("true")
    }

    fn last(&self, long: &str) -> Option<&OsStr> {
        self.flags
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .map(|(_, v)| v.as_os_str())
    }

    /// The last value given for a text flag (scan made it UTF-8).
    pub fn value(&self, long: &str) -> Option<&str> {
        self.last(long).and_then(OsStr::to_str)
    }

    /// The last value given for a path flag.
    pub fn path(&self, long: &str) -> Option<PathBuf> {
        self.last(long).map(PathBuf::from)
    }

    /// Every value given for a repeatable text flag, in order.
    pub fn values(&self, long: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(l, _)| *l == long)
            .filter_map(|(_, v)| v.to_str().map(str::to_string))
            .collect()
    }

    /// A value parsed as `T`, naming the flag when it is not one.
    pub fn parsed<T: std::str::FromStr>(&self, long: &str) -> Result<Option<T>, UsageError>
    where
        T::Err: std::fmt::Display,
    {
        self.value(long)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| usage(format!("invalid value {v:?} for --{long}: {e}")))
            })
            .transpose()
    }

    /// Positional `i`, or `default` when it was left out.
    pub fn positional(&self, i: usize, default: &str) -> String {
        self.positionals
            .get(i)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

/// Scans `args` (the words after the command's name) against `shape` and the
/// flags of `also` (global flags accepted after the command, as clap's global
/// flags and runc's are). When `stop_at_word` is set the scan ends at the
/// first word that is not a flag or a flag's value and returns its index:
/// the top level stops at the command's name.
pub fn scan(
    args: &[OsString],
    shape: &Shape,
    also: &[Flag],
    stop_at_word: bool,
) -> Result<(Matches, usize), UsageError> {
    let mut m = Matches::default();
    let mut i = 0;
    let mut only_words = false;
    while i < args.len() {
        let arg = args[i].as_bytes();
        i += 1;
        let in_trailing = !m.trailing.is_empty();
        if only_words || in_trailing || arg == b"-" || !arg.starts_with(b"-") {
            if stop_at_word {
                return Ok((m, i - 1));
            }
            push_word(&mut m, shape, text(&args[i - 1], shape.name)?)?;
            continue;
        }
        if arg == b"--" {
            only_words = true;
            continue;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            let (name, inline) = match long.iter().position(|b| *b == b'=') {
                Some(at) => (&long[..at], Some(OsStr::from_bytes(&long[at + 1..]))),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name);
            if name == "help" {
                m.help = true;
                continue;
            }
            let flag = find(shape, also, |f| f.long == name)
                .ok_or_else(|| usage(format!("unknown flag --{name} for {}", shape.name)))?;
            let value = match inline {
                Some(v) if flag.takes == Takes::Nothing => switch_value(flag, v)?,
                Some(v) => checked(flag, v.to_os_string())?,
                None if flag.takes == Takes::Nothing => "true".into(),
                None => next_value(args, &mut i, flag)?,
            };
            m.flags.push((flag.long, value));
            continue;
        }
        let cluster = text(&args[i - 1], shape.name)?;
        scan_shorts(&cluster[1..], args, &mut i, shape, also, &mut m)?;
    }
    if stop_at_word {
        return Ok((m, args.len()));
    }
    if !m.help && m.positionals.len() < shape.required {
        let missing = shape.positionals[m.positionals.len()];
        return Err(usage(format!("{}: missing {missing}", shape.name)));
    }
    Ok((m, args.len()))
}

/// `-td`, `-b DIR`, `-bDIR`, `-b=DIR`.
fn scan_shorts(
    cluster: &str,
    args: &[OsString],
    i: &mut usize,
    shape: &Shape,
    also: &[Flag],
    m: &mut Matches,
) -> Result<(), UsageError> {
    for (at, c) in cluster.char_indices() {
        if c == 'h' {
            m.help = true;
            continue;
        }
        let flag = find(shape, also, |f| f.short == Some(c))
            .ok_or_else(|| usage(format!("unknown flag -{c} for {}", shape.name)))?;
        if flag.takes == Takes::Nothing {
            m.flags.push((flag.long, "true".into()));
            continue;
        }
        let rest = &cluster[at + c.len_utf8()..];
        let value = match rest.strip_prefix('=').unwrap_or(rest) {
            "" => next_value(args, i, flag)?,
            v => v.into(),
        };
        m.flags.push((flag.long, value));
        return Ok(());
    }
    Ok(())
}

fn find<'a>(shape: &'a Shape, also: &'a [Flag], pred: impl Fn(&Flag) -> bool) -> Option<&'a Flag> {
    // The command's own flags win: `spec --rootless` is spec's switch, not
    // the global `--rootless VALUE`.
    shape
        .flags
        .iter()
        .copied()
        .flatten()
        .chain(also)
        .find(|f| pred(f))
}

fn next_value(args: &[OsString], i: &mut usize, flag: &Flag) -> Result<OsString, UsageError> {
    let value = args
        .get(*i)
        .cloned()
        .ok_or_else(|| usage(format!("--{} needs a value", flag.long)))?;
    *i += 1;
    checked(flag, value)
}

/// A text flag's value must be UTF-8; a path's may be any bytes.
fn checked(flag: &Flag, value: OsString) -> Result<OsString, UsageError> {
    match flag.takes {
        Takes::Text(_) if value.to_str().is_none() => Err(usage(format!(
            "--{}: {:?} is not UTF-8",
            flag.long,
            value.to_string_lossy()
        ))),
        _ => Ok(value),
    }
}

fn switch_value(flag: &Flag, text: &OsStr) -> Result<OsString, UsageError> {
    match text.as_bytes() {
        b"true" | b"1" => Ok("true".into()),
        b"false" | b"0" => Ok("false".into()),
        _ => Err(usage(format!(
            "--{} is a switch: {:?} is not true or false",
            flag.long,
            text.to_string_lossy()
        ))),
    }
}

fn text(word: &OsStr, command: &str) -> Result<String, UsageError> {
    word.to_str().map(str::to_string).ok_or_else(|| {
        usage(format!(
            "{command}: argument {:?} is not UTF-8",
            word.to_string_lossy()
        ))
    })
}

fn push_word(m: &mut Matches, shape: &Shape, word: String) -> Result<(), UsageError> {
    if m.positionals.len() < shape.positionals.len() {
        m.positionals.push(word);
    } else if shape.trailing.is_some() {
        m.trailing.push(word);
    } else {
        return Err(usage(format!(
            "unexpected argument {word:?} for {}",
            shape.name
        )));
    }
    Ok(())
}

/// `skiff COMMAND --help`.
pub fn help_text(shape: &Shape, globals: &[Flag]) -> String {
    let mut out = format!("{}\n\nUsage: skiff {} [FLAGS]", shape.about, shape.name);
    for (i, p) in shape.positionals.iter().enumerate() {
        if i < shape.required {
            let _ = write!(out, " {p}");
        } else {
            let _ = write!(out, " [{p}]");
        }
    }
    if let Some(t) = shape.trailing {
        let _ = write!(out, " [{t}...]");
    }
    out.push_str("\n\nFlags:\n");
    for group in shape.flags {
        flag_lines(&mut out, group);
    }
    if !globals.is_empty() {
        out.push_str("\nGlobal flags:\n");
        flag_lines(&mut out, globals);
    }
    out
}

pub fn flag_lines(out: &mut String, flags: &[Flag]) {
    for f in flags.iter().filter(|f| !f.help.is_empty()) {
        let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        let value = match f.takes {
            Takes::Nothing => String::new(),
            Takes::Text(v) | Takes::Path(v) => format!(" {v}"),
        };
        let left = format!("{short}--{}{value}", f.long);
        let _ = writeln!(out, "  {left:<30} {}", f.help);
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
