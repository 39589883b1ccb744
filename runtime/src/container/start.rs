//! `skiff start` (runtime.md "start"): release the waiting init, then run the
//! poststart hooks.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use anyhow::{bail, Context, Result};

use super::status::container_status;
use crate::hooks::run_hooks;
use crate::logging;
use crate::state::{oci_state_json, StateRoot, Status};

pub fn start(root: &StateRoot, id: &str) -> Result<()> {
    let dir = root.open_container_dir(id)?;
    let state = dir.load()?;
    match container_status(&dir, &state) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start container {id:?}: it has stopped"),
        other => bail!("cannot start container {id:?}: it is {other}, not created"),
    }
    let dir_file = std::fs::File::open(&dir.path)
        .with_context(|| format!("open state dir {:?}", dir.path.display().to_string()))?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        dir_file.as_raw_fd(),
        crate::state::EXEC_SOCKET
    );
    let mut conn = UnixStream::connect(&short)
        .with_context(|| format!("connect to the exec socket of container {id:?}"))?;
    conn.write_all(&[0]).context("signal the container init")?;
    // The init's exec closes the connection; anything written first is its error.
    let mut reply = String::new();
    conn.read_to_string(&mut reply)
        .context("read the container init's answer")?;
    let _ = std::fs::remove_file(dir.exec_socket());
    if !reply.trim().is_empty() {
        bail!("{}", reply.trim());
    }
    if let Some(hooks) = state.config.hooks() {
        let json = oci_state_json(
            &state.config,
            id,
            Status::Running,
            state.init_pid,
            &state.bundle,
        );
        let list = hooks.poststart().as_deref().unwrap_or(&[]);
        // runtime.md: a failing poststart hook is a warning; the container runs on.
        if let Err(err) = run_hooks("poststart", list, json.as_bytes()) {
            logging::log_warn(&format!("{err:#}"));
        }
    }
    Ok(())
}
