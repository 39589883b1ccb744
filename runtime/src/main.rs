//! `skiff`: the command line. Parses runc's flags, calls the library, prints
//! the result; the error chain is printed once here and becomes the exit code.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
