//! `skiff list [--format table|json] [-q]`, laid out as runc's tabwriter does.

use clap::{Args, ValueEnum};
use skiff_runtime::container;
use skiff_runtime::state::StateRoot;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Print only the container ids
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
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
