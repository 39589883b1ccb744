//! `containerd-shim-skiff-v2`: containerd's runtime v2 shim (task API v2
//! over ttrpc, containerd runtime/v2/README.md) for the skiff runtime,
//! driving the `skiff` binary as containerd-shim-runc-v2 drives runc.
//! `start`, `delete` and serving come from the containerd-shim crate's
//! bootstrap; `-info` and `-v` are answered here first, because the
//! crate's bootstrap knows neither.
#![deny(unsafe_code)]

mod console;
mod container;
mod create;
mod delete;
mod error;
mod events;
mod exec;
mod exits;
mod info;
mod logging;
mod metrics;
mod metrics_v2;
mod oom;
mod options;
mod process;
mod rootfs;
mod runtime;
mod service;
mod stdio;
mod sys;
mod task;

/// What containerd calls this runtime: `--runtime io.containerd.skiff.v2`
/// runs the binary `containerd-shim-skiff-v2`.
pub const RUNTIME_ID: &str = "io.containerd.skiff.v2";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |names: &[&str]| args.iter().any(|a| names.contains(&a.as_str()));
    if flag(&["-info", "--info"]) {
        std::process::exit(info::print_runtime_info());
    }
    if flag(&["-v", "-version", "--version"]) {
        println!("{}:\n  Version: {}", RUNTIME_ID, env!("CARGO_PKG_VERSION"));
        return;
    }
    sys::use_one_malloc_arena();
    let config = containerd_shim::Config {
        default_log_level: "info".into(),
        ..Default::default()
    };
    containerd_shim::run::<service::Service>(RUNTIME_ID, Some(config));
}
