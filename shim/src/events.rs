//! Task events to containerd (runtime v2 README, "Events"), in the order
//! the shim queues them: one thread forwards the queue over ttrpc to
//! containerd's events service, so a slow containerd never holds a task
//! operation, and events never overtake each other (create, start,
//! exec-added, exec-started, exit, OOM, delete).
//!
//! Each event is packed here with its type name written out, rather than
//! through containerd-shim's publisher, which asks protobuf reflection for
//! the name: building those descriptors cost the shim about 0.3 MB of
//! resident heap, paid once per container.

use std::sync::mpsc;
use std::sync::Mutex;

use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use containerd_shim::protos::shim::events::{Envelope, ForwardRequest};
use containerd_shim::protos::shim_sync::EventsClient;
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc;
use containerd_shim::Context;
use log::warn;

/// A task event: its topic and the type name containerd's typeurl knows.
pub trait TaskEvent: Message {
    const TOPIC: &'static str;
    const TYPE_URL: &'static str;
}

macro_rules! task_events {
    ($($event:ident => $topic:ident),* $(,)?) => {$(
        impl TaskEvent for $event {
            const TOPIC: &'static str = topics::$topic;
            const TYPE_URL: &'static str = concat!("containerd.events.", stringify!($event));
        }
    )*};
}

task_events! {
    TaskCreate => TASK_CREATE_EVENT_TOPIC,
    TaskStart => TASK_START_EVENT_TOPIC,
    TaskExecAdded => TASK_EXEC_ADDED_EVENT_TOPIC,
    TaskExecStarted => TASK_EXEC_STARTED_EVENT_TOPIC,
    TaskExit => TASK_EXIT_EVENT_TOPIC,
    TaskOOM => TASK_OOM_EVENT_TOPIC,
    TaskDelete => TASK_DELETE_EVENT_TOPIC,
    TaskPaused => TASK_PAUSED_EVENT_TOPIC,
    TaskResumed => TASK_RESUMED_EVENT_TOPIC,
}

struct Queued {
    topic: &'static str,
    event: Any,
}

pub struct EventQueue {
    tx: Mutex<mpsc::Sender<Queued>>,
}

impl EventQueue {
    /// Forwards to containerd's ttrpc address (`TTRPC_ADDRESS`, which
    /// containerd sets for its shims).
    pub fn start(namespace: String) -> EventQueue {
        let (tx, rx) = mpsc::channel::<Queued>();
        let forward = move || {
            let client = match connect() {
                Ok(client) => client,
                Err(e) => {
                    warn!("connect to containerd's events service: {e}; events are dropped");
                    return;
                }
            };
            for queued in rx {
                let envelope = Envelope {
                    timestamp: MessageField::some(crate::process::Exit::now(0).at),
                    namespace: namespace.clone(),
                    topic: queued.topic.into(),
                    event: MessageField::some(queued.event),
                    ..Default::default()
                };
                let request = ForwardRequest {
                    envelope: MessageField::some(envelope),
                    ..Default::default()
                };
                if let Err(e) = client.forward(Context::default(), &request) {
                    warn!("publish {}: {e}", queued.topic);
                }
            }
        };
        if let Err(e) = std::thread::Builder::new()
            .name("events".into())
            .spawn(forward)
        {
            warn!("start the event thread: {e}; events are dropped");
        }
        EventQueue { tx: Mutex::new(tx) }
    }

    pub fn send<E: TaskEvent>(&self, event: E) {
        let value = match event.write_to_bytes() {
            Ok(value) => value,
            Err(e) => {
                warn!("encode {}: {e}", E::TOPIC);
                return;
            }
        };
        let queued = Queued {
            topic: E::TOPIC,
            event: Any {
                type_url: E::TYPE_URL.into(),
                value,
                ..Default::default()
            },
        };
        if let Ok(tx) = self.tx.lock() {
            if tx.send(queued).is_err() {
                warn!("event {} dropped: the event thread is gone", E::TOPIC);
            }
        }
    }
}

fn connect() -> Result<EventsClient, String> {
    let address = std::env::var("TTRPC_ADDRESS").map_err(|e| format!("TTRPC_ADDRESS: {e}"))?;
    let fd = containerd_shim::util::connect(&address).map_err(|e| format!("{address}: {e}"))?;
    let client = ttrpc::Client::new(fd).map_err(|e| format!("{address}: {e}"))?;
    Ok(EventsClient::new(client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_containerds() {
        assert_eq!(TaskCreate::TYPE_URL, "containerd.events.TaskCreate");
        assert_eq!(TaskOOM::TYPE_URL, "containerd.events.TaskOOM");
        assert_eq!(TaskExecStarted::TOPIC, "/tasks/exec-started");
        // The names protobuf's reflection gives, which containerd decodes by.
        use containerd_shim::protos::protobuf::MessageFull;
        assert_eq!(TaskExit::TYPE_URL, TaskExit::descriptor().full_name());
        assert_eq!(TaskResumed::TYPE_URL, TaskResumed::descriptor().full_name());
    }
}
