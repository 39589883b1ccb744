//! `skiff list`: every container under the state root.

use std::os::unix::fs::MetadataExt;

use anyhow::Result;

use super::status::{runc_state, RuncState};
use crate::state::StateRoot;

pub type ListEntry = RuncState;

pub fn list(root: &StateRoot) -> Result<Vec<ListEntry>> {
    let mut out = Vec::new();
    for id in root.list_ids()? {
        // A container deleted while we list is simply not listed.
        let Ok(dir) = root.open_container_dir(&id) else {
            continue;
        };
        let Ok(state) = dir.load() else { continue };
        let owner = std::fs::metadata(&dir.path)
            .map(|m| user_name(m.uid()))
            .unwrap_or_default();
        out.push(runc_state(&dir, &state, owner));
    }
    Ok(out)
}

/// runc shows the owner's name, or `#UID` when it has none.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id = fields.nth(1)?.parse::<u32>().ok()?;
                (id == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| format!("#{uid}"))
}
