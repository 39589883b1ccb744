//! One process of a task, the container's init or an exec, as containerd
//! sees it: created → running → stopped, with its pid, its exit and its
//! stdio.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageField;

use crate::stdio::{ProcessIo, StdioPaths};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Exit {
    pub status: u32,
    pub at: Timestamp,
}

impl Exit {
    pub fn now(status: u32) -> Exit {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Exit {
            status,
            at: Timestamp {
                seconds: now.as_secs() as i64,
                nanos: now.subsec_nanos() as i32,
                ..Default::default()
            },
        }
    }
}

pub struct Process {
    /// The exec id; the container id for init.
    pub id: String,
    pub pid: u32,
    pub status: Status,
    pub exit: Option<Exit>,
    pub stdio: StdioPaths,
    pub io: ProcessIo,
    /// An exec's process.json, removed with the process.
    pub spec_file: Option<PathBuf>,
    /// An exec's process spec until it is started.
    pub spec: Option<Vec<u8>>,
}

impl Process {
    pub fn new(id: &str, stdio: StdioPaths) -> Process {
        Process {
            id: id.to_string(),
            pid: 0,
            status: Status::Created,
            exit: None,
            stdio,
            io: ProcessIo::default(),
            spec_file: None,
            spec: None,
        }
    }

    pub fn exit_status(&self) -> u32 {
        self.exit.as_ref().map_or(0, |e| e.status)
    }

    pub fn exited_at(&self) -> MessageField<Timestamp> {
        MessageField::from_option(self.exit.as_ref().map(|e| e.at.clone()))
    }

    pub fn set_exited(&mut self, exit: Exit) {
        self.status = Status::Stopped;
        self.exit = Some(exit);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(file) = &self.spec_file {
            let _ = std::fs::remove_file(file);
        }
    }
}
