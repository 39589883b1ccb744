//! The typed channel between `skiff create` and the processes it forks: a
//! SOCK_SEQPACKET socketpair, so each message arrives whole and a peer that
//! dies shows up as end-of-file rather than a hang.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// Every message of the handshake, named after the sync point it belongs to
/// (see the table in `process/mod.rs`).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Message {
    /// sync 1, parent → stage 1: you are in your cgroup; go on.
    Continue,
    /// sync 2, stage 1 → parent: I unshared my user namespace; write my id maps.
    MapIds,
    /// sync 2, parent → stage 1: the maps are written.
    IdsMapped,
    /// sync 3, stage 1 → parent: the container init's pid, in the parent's pid namespace.
    InitPid(i32),
    /// sync 4, init → parent: mounts are done; run prestart and createRuntime hooks.
    RuntimeHooks,
    /// sync 4, parent → init: hooks done; the OCI state for the init's own hooks.
    Proceed {
        creating_state: String,
        created_state: String,
    },
    /// sync 5, init → parent: set up, waiting for `start`.
    Ready,
    /// sync 6, parent → init: the state is recorded; wait for `start`. An
    /// init whose parent died before this exits instead of waiting forever.
    Committed,
    /// Any child → parent: the step that failed, with its cause chain.
    Error(String),
}

/// One end of the socketpair.
pub struct SyncSocket {
    fd: OwnedFd,
}

/// Creates the pair: (parent's end, child's end). Both close-on-exec.
pub fn sync_pair() -> Result<(SyncSocket, SyncSocket)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("create sync socketpair")?;
    Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
}

impl SyncSocket {
    pub fn send(&self, msg: &Message) -> Result<()> {
        let data = serde_json::to_vec(msg).context("encode sync message")?;
        send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .with_context(|| format!("send sync message {}", msg.name()))?;
        Ok(())
    }

    /// The next message, or None when every peer has closed its end.
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other.context("receive sync message")?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode sync message")?;
        Ok(Some(msg))
    }

    /// Waits for one particular message; an `Error` from the peer becomes ours.
    pub fn expect(&self, want: &Message) -> Result<()> {
        match self.recv()? {
            Some(ref got) if got == want => Ok(()),
            Some(Message::Error(msg)) => bail!("{msg}"),
            Some(other) => bail!("sync: expected {}, got {}", want.name(), other.name()),
            None => bail!(
                "sync: peer closed the channel while waiting for {}",
                want.name()
            ),
        }
    }
}

impl Message {
    fn name(&self) -> &'static str {
        match self {
            Message::Continue => "Continue",
            Message::MapIds => "MapIds",
            Message::IdsMapped => "IdsMapped",
            Message::InitPid(_) => "InitPid",
            Message::RuntimeHooks => "RuntimeHooks",
            Message::Proceed { .. } => "Proceed",
            Message::Ready => "Ready",
            Message::Committed => "Committed",
            Message::Error(_) => "Error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_whole_and_eof_is_none() {
        let (a, b) = sync_pair().expect("pair");
        a.send(&Message::InitPid(42)).expect("send");
        a.send(&Message::Error("boom".into())).expect("send");
        assert_eq!(b.recv().expect("recv"), Some(Message::InitPid(42)));
        let err = b.expect(&Message::Ready).expect_err("error message");
        assert_eq!(err.to_string(), "boom");
        drop(a);
        assert_eq!(b.recv().expect("recv"), None);
    }
}
