//! The shim's errors, and the ttrpc status codes containerd maps them to
//! (its errdefs): NotFound for a missing task or a finished process is what
//! lets containerd's cleanup treat "already gone" as done.

use std::path::PathBuf;

use containerd_shim::protos::ttrpc::{self, Code};

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("container {0:?} not found")]
    ContainerNotFound(String),
    #[error("process {exec_id:?} of container {id:?} not found")]
    ProcessNotFound { id: String, exec_id: String },
    #[error("container {0:?} already exists")]
    ContainerExists(String),
    #[error("exec {exec_id:?} of container {id:?} already exists")]
    ExecExists { id: String, exec_id: String },
    #[error("process {0:?} already finished")]
    ProcessFinished(String),
    #[error("cannot {action} process {id:?}: it is {state}")]
    WrongState {
        action: &'static str,
        id: String,
        state: &'static str,
    },
    #[error("invalid {what}: {why}")]
    InvalidArgument { what: String, why: String },
    #[error("{0} is not supported by the skiff shim")]
    Unsupported(&'static str),
    /// A failed `skiff` call: the runtime's own last error line.
    #[error("skiff {command} failed: {message}")]
    Runtime { command: String, message: String },
    #[error("{action} {path:?}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{action}: {source}")]
    Os {
        action: &'static str,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, ShimError>;

impl ShimError {
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ShimError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub fn os(action: &'static str, source: impl Into<std::io::Error>) -> Self {
        ShimError::Os {
            action,
            source: source.into(),
        }
    }

    pub fn invalid(what: impl Into<String>, why: impl ToString) -> Self {
        ShimError::InvalidArgument {
            what: what.into(),
            why: why.to_string(),
        }
    }

    fn code(&self) -> Code {
        match self {
            ShimError::ContainerNotFound(_)
            | ShimError::ProcessNotFound { .. }
            | ShimError::ProcessFinished(_) => Code::NOT_FOUND,
            ShimError::ContainerExists(_) | ShimError::ExecExists { .. } => Code::ALREADY_EXISTS,
            ShimError::WrongState { .. } => Code::FAILED_PRECONDITION,
            ShimError::InvalidArgument { .. } => Code::INVALID_ARGUMENT,
            ShimError::Unsupported(_) => Code::UNIMPLEMENTED,
            ShimError::Runtime { .. } | ShimError::Io { .. } | ShimError::Os { .. } => {
                Code::UNKNOWN
            }
        }
    }
}

impl From<ShimError> for ttrpc::Error {
    fn from(err: ShimError) -> Self {
        ttrpc::Error::RpcStatus(ttrpc::get_status(err.code(), err.to_string()))
    }
}

impl From<ShimError> for containerd_shim::Error {
    fn from(err: ShimError) -> Self {
        containerd_shim::Error::Other(err.to_string())
    }
}
