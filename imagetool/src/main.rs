//! `skiff-image`: parse the command line, run one library call, print the error chain on
//! one line and exit 1 on failure.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        eprintln!("skiff-image: {e:#}");
        std::process::exit(1);
    }
}
