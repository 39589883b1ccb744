//! `skiff-image`: parse the command line, run one library call, print the error chain on
//! one line and exit 1 on failure.

mod cli;
mod sys;

use clap::Parser;

fn main() {
    sys::default_sigpipe();
    let args = cli::Cli::parse();
    if let Err(e) = cli::run(args) {
        // One line, whatever a lower layer put in its message.
        eprintln!("skiff-image: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
