//! cgroup v1 freezer (kernel admin-guide/cgroup-v1/freezer-subsystem.rst),
//! behind `pause`/`resume` and `kill --all`. FREEZING is transient: the
//! state is polled until the kernel reports FROZEN, rewriting FROZEN now and
//! then because a task that forked mid-freeze can leave the cgroup stuck in
//! FREEZING until asked again (runc retries the same way).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::cgroups::fs::{read_file, write_file, CgroupError};

const STATE: &str = "freezer.state";
const TIMEOUT: Duration = Duration::from_secs(5);

fn set(dir: &Path, want: &str) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut round = 0u32;
    loop {
        if round == 0 {
            write_file(dir, STATE, want)?;
        }
        let got = read_file(dir, STATE)?;
        if got.trim() == want {
            return Ok(());
        }
        if start.elapsed() > TIMEOUT {
            return Err(CgroupError::Invalid {
                field: STATE.into(),
                value: want.into(),
                why: format!("still {:?} in {dir:?} after {TIMEOUT:?}", got.trim()),
            });
        }
        round = (round + 1) % 50;
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn freeze(dir: &Path) -> Result<(), CgroupError> {
    set(dir, "FROZEN")
}

pub fn thaw(dir: &Path) -> Result<(), CgroupError> {
    set(dir, "THAWED")
}

pub fn is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(read_file(dir, STATE)?.trim() == "FROZEN")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::fs::tests::tempdir;

    #[test]
    fn plain_file_freezes_and_thaws() {
        let d = tempdir();
        std::fs::write(d.join(STATE), "THAWED\n").unwrap();
        assert!(!is_frozen(&d).unwrap());
        freeze(&d).unwrap();
        assert!(is_frozen(&d).unwrap());
        thaw(&d).unwrap();
        assert!(!is_frozen(&d).unwrap());
        std::fs::remove_dir_all(d).unwrap();
    }
}
