//! `skiff-image`: parse the command line, run one library call, print the error chain on
//! one line and exit 1 on failure (2 for a command line it cannot parse).

mod cli;
mod sys;

use clap::Parser;

fn main() {
    sys::default_sigpipe();
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => usage_error(e),
    };
    if let Err(e) = cli::run(args) {
        // One line, whatever a lower layer put in its message.
        eprintln!("skiff-image: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}

/// clap's own output for help and version; any other parse error as one line naming the
/// flag, like every other error of skiff-image, with clap's usage exit code.
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    // The message without clap's usage and hint lines, whose names a missing-argument
    // error lists on lines of their own.
    let text = e.to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    eprintln!(
        "skiff-image: {}",
        message.strip_prefix("error: ").unwrap_or(&message)
    );
    std::process::exit(2);
}
