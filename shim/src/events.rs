//! Task events to containerd (runtime v2 README, "Events"), in the order
//! the shim queues them: one thread forwards the queue over ttrpc, so a
//! slow containerd never holds a task operation, and events never overtake
//! each other (create, start, exec-added, exec-started, exit, OOM, delete).

use std::sync::mpsc;
use std::sync::Mutex;

use containerd_shim::protos::protobuf::MessageDyn;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::Context;
use log::warn;

struct Event {
    topic: &'static str,
    message: Box<dyn MessageDyn>,
}

pub struct EventQueue {
    tx: Mutex<mpsc::Sender<Event>>,
}

impl EventQueue {
    pub fn start(publisher: RemotePublisher, namespace: String) -> EventQueue {
        let (tx, rx) = mpsc::channel::<Event>();
        let forward = move || {
            for event in rx {
                if let Err(e) =
                    publisher.publish(Context::default(), event.topic, &namespace, event.message)
                {
                    warn!("publish {}: {e}", event.topic);
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

    pub fn send(&self, topic: &'static str, message: impl MessageDyn) {
        let event = Event {
            topic,
            message: Box::new(message),
        };
        if let Ok(tx) = self.tx.lock() {
            if tx.send(event).is_err() {
                warn!("event {topic} dropped: the event thread is gone");
            }
        }
    }
}
