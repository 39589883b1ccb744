//! `skiff list [--format table|json] [-q]`, laid out as runc's tabwriter does.

use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

use super::args::{usage, Flag, Matches, Shape, Takes, UsageError};

pub const SHAPE: Shape = Shape {
    name: "list",
    about: "List containers",
    flags: &[&[
        Flag {
            long: "format",
            short: Some('f'),
            takes: Takes::Text("table|json"),
            help: "Output format [default: table]",
        },
        Flag {
            long: "quiet",
            short: Some('q'),
            takes: Takes::Nothing,
            help: "Print only the container ids",
        },
    ]],
    positionals: &[],
    required: 0,
    trailing: None,
};

#[derive(Debug)]
pub struct ListArgs {
    pub format: ListFormat,
    pub quiet: bool,
}

impl ListArgs {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        Ok(ListArgs {
            format: ListFormat::from_matches(m)?,
            quiet: m.switch("quiet"),
        })
    }
}

/// `--format table|json` (`list` and `ps`).
#[derive(Clone, Copy, Debug)]
pub enum ListFormat {
    Table,
    Json,
}

impl ListFormat {
    pub fn from_matches(m: &Matches) -> Result<Self, UsageError> {
        match m.value("format") {
            None | Some("table") => Ok(ListFormat::Table),
            Some("json") => Ok(ListFormat::Json),
            Some(other) => Err(usage(format!(
                "invalid value {other:?} for --format: expected table or json"
            ))),
        }
    }
}

pub fn run(root: &StateRoot, args: &ListArgs) -> anyhow::Result<i32> {
    let entries = container::list(root)?;
    if args.quiet {
        for e in &entries {
            println!("{}", e.id);
        }
        return Ok(0);
    }
    match args.format {
        ListFormat::Json => println!("{}", serde_json::to_string(&entries)?),
        ListFormat::Table => {
            let mut rows =
                vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
            for e in &entries {
                rows.push([
                    e.id.clone(),
                    e.pid.to_string(),
                    e.status.to_string(),
                    e.bundle.clone(),
                    e.created.clone(),
                    e.owner.clone(),
                ]);
            }
            print!("{}", tabulate(&rows));
        }
    }
    Ok(0)
}

/// Go's tabwriter with minwidth 12, padding 3 (runc's settings).
fn tabulate(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len() + 3).max(12);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}", width = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}
