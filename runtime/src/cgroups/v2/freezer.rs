//! cgroup v2 freezer (kernel admin-guide/cgroup-v2.rst "cgroup.freeze"):
//! the write asks, "frozen 1" in cgroup.events confirms once every task
//! has stopped.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups::fs::{read_keyed_or_zero, write_file, CgroupError};

const TIMEOUT: Duration = Duration::from_secs(5);

fn set(dir: &Path, want: u64) -> Result<(), CgroupError> {
    write_file(dir, "cgroup.freeze", &want.to_string())?;
    let start = Instant::now();
    loop {
        if read_keyed_or_zero(dir, "cgroup.events", "frozen")? == want {
            return Ok(());
        }
        if start.elapsed() > TIMEOUT {
            return Err(CgroupError::Invalid {
                field: "cgroup.freeze".into(),
                value: want.to_string(),
                why: format!(
                    "cgroup.events in {dir:?} does not say frozen {want} after {TIMEOUT:?}"
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn freeze(dir: &Path) -> Result<(), CgroupError> {
    set(dir, 1)
}

pub fn thaw(dir: &Path) -> Result<(), CgroupError> {
    set(dir, 0)
}

pub fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(read_keyed_or_zero(dir, "cgroup.events", "frozen")? == 1)
}
