//! `skiff events [--stats] [--interval 5s] ID`

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context};
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{Flag, Matches, Shape, Takes};

pub const SHAPE: Shape = Shape {
    name: "events",
    about: "Stream a container's events (OOM, stats), or print its stats once",
    flags: &[&[
        Flag {
            long: "stats",
            short: None,
            takes: Takes::Nothing,
            help: "Print one stats event and exit",
        },
        Flag {
            long: "interval",
            short: None,
            takes: Takes::Text("DURATION"),
            help: "Interval between stats events (e.g. 5s, 500ms) [default: 5s]",
        },
    ]],
    positionals: &["ID"],
    required: 1,
    trailing: None,
};

#[derive(Debug)]
pub struct EventsArgs {
    pub id: String,
    pub stats: bool,
    pub interval: String,
}

impl EventsArgs {
    pub fn from_matches(m: &Matches) -> Self {
        EventsArgs {
            id: m.positional(0, ""),
            stats: m.switch("stats"),
            interval: m.value("interval").unwrap_or("5s").to_string(),
        }
    }
}

pub fn run(root: &StateRoot, args: &EventsArgs) -> anyhow::Result<i32> {
    if args.stats {
        println!("{}", container::stats_event(root, &args.id)?);
        return Ok(0);
    }
    let interval = parse_duration(&args.interval)?;
    let stdout = std::io::stdout();
    container::stream_events(root, &args.id, interval, &mut |event| {
        let mut out = stdout.lock();
        writeln!(out, "{event}").context("write event")?;
        out.flush().context("write event")
    })?;
    Ok(0)
}

/// Go duration strings as runc takes them: 5s, 500ms, 1m, 1h, 1m30s.
fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        bail!("invalid --interval {text:?}");
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(|| anyhow::anyhow!("invalid --interval {text:?}: missing unit"))?;
        let value: f64 = rest[..digits]
            .parse()
            .with_context(|| format!("invalid --interval {text:?}"))?;
        let unit_end = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .map(|i| i + digits)
            .unwrap_or(rest.len());
        let secs = match &rest[digits..unit_end] {
            "ns" => value / 1e9,
            "us" | "µs" => value / 1e6,
            "ms" => value / 1e3,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            unit => bail!("invalid --interval {text:?}: unknown unit {unit:?}"),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_end..];
    }
    if total.is_zero() {
        bail!("invalid --interval {text:?}: must be positive");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("5s").ok(), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("1m30s").ok(), Some(Duration::from_secs(90)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3x").is_err());
    }
}
