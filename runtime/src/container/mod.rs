//! The container lifecycle (runtime.md "Lifecycle" and "Operations"):
//! creating → created → running → stopped, one file per operation.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod start;
mod status;
mod tty_proxy;
mod update;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::{stats_event, stream_events};
pub use exec::{exec, parse_capabilities, ExecOptions};
pub use kill::{kill, parse_signal};
pub use list::{list, ListEntry};
pub use pause::{pause, resume};
pub use ps::{container_pids, ps_table};
pub use run::{run, RunOptions, RunOutcome};
pub use start::start;
pub use status::{container_process, container_status, state_json, RuncState};
pub use update::update;
