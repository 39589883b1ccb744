//! The shim binary's three roles (runtime v2 README, "Commands"):
//! - `start`: spawn the serving shim and print its address. A container
//!   gets a shim of its own unless its config names a group (a Kubernetes
//!   pod's `io.kubernetes.cri.sandbox-id`, or `io.containerd.skiff.v2.group`):
//!   the containers of a group share one shim, as containerd's runc shim
//!   groups them, and `start` answers with the running shim's address;
//! - serve: the task service until containerd shuts it down;
//! - `delete`: clean up after a shim that is gone (killed, crashed):
//!   `skiff delete --force` and the rootfs unmounted, so containerd can
//!   remove the task.

use std::path::Path;
use std::sync::Arc;

use containerd_shim::api::DeleteResponse;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::util::write_address;
use containerd_shim::{socket_address, spawn, Config, ExitSignal, Flags, StartOpts};

use crate::events::EventQueue;
use crate::options::RuntimeOptions;
use crate::process::Exit;
use crate::rootfs::unmount_rootfs;
use crate::runtime::Skiff;
use crate::task::{TaskService, Tasks};

pub struct Service {
    namespace: String,
    id: String,
    bundle: String,
    exit: Arc<ExitSignal>,
}

impl containerd_shim::Shim for Service {
    type T = TaskService;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            bundle: args.bundle.clone(),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        // containerd runs `start` in the bundle.
        let grouping = group_of(Path::new("config.json")).unwrap_or_else(|| opts.id.clone());
        let address = socket_address(&opts.address, &opts.namespace, &grouping);
        if serving(&address) {
            write_address(&address)?;
            return Ok(address);
        }
        // Two starts of one group at once: the second serving shim finds the
        // socket bound and working, and leaves it to the first.
        let (_pid, address) = spawn(opts, &grouping, Vec::new())?;
        write_address(&address)?;
        Ok(address)
    }

    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        // containerd runs this in the bundle, or names it with -bundle.
        let bundle = match self.bundle.as_str() {
            "" => std::env::current_dir()
                .map_err(|e| containerd_shim::Error::Other(format!("cwd: {e}")))?,
            dir => Path::new(dir).to_path_buf(),
        };
        let options = RuntimeOptions::load(&bundle)?
            .unwrap_or_else(|| RuntimeOptions::defaults(&self.namespace));
        let skiff = Skiff::new(options, &bundle);
        if let Err(e) = skiff.delete(&self.id, true) {
            let gone = e.to_string().contains("does not exist");
            if !gone {
                log::warn!("delete {:?} after its shim: {e}", self.id);
            }
        }
        unmount_rootfs(&bundle);
        remove_dead_socket(&bundle);
        let exit = Exit::now(128 + libc::SIGKILL as u32);
        Ok(DeleteResponse {
            pid: 0,
            exit_status: exit.status,
            exited_at: Some(exit.at).into(),
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    /// containerd-shim's publisher is not used: see events.rs.
    fn create_task_service(&self, _publisher: RemotePublisher) -> TaskService {
        let events = EventQueue::start(self.namespace.clone());
        let tasks = Arc::new(Tasks::new(&self.namespace, events, self.exit.clone()));
        crate::exits::start_dispatcher(tasks.clone());
        TaskService { tasks }
    }
}

/// The annotations that put containers in one shim, first match wins.
const GROUP_ANNOTATIONS: [&str; 2] = [
    "io.containerd.skiff.v2.group",
    "io.kubernetes.cri.sandbox-id",
];

/// The group the bundle's config names, if any.
fn group_of(config: &Path) -> Option<String> {
    let text = std::fs::read(config).ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&text).ok()?;
    GROUP_ANNOTATIONS.iter().find_map(|a| {
        spec["annotations"][a]
            .as_str()
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
    })
}

/// Whether a shim answers at `address` (`unix://PATH`).
fn serving(address: &str) -> bool {
    let path = address.strip_prefix("unix://").unwrap_or(address);
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// A killed shim leaves its socket behind; containerd would otherwise find
/// the name taken by nobody.
fn remove_dead_socket(bundle: &Path) {
    let Ok(address) = std::fs::read_to_string(bundle.join("address")) else {
        return;
    };
    let path = Path::new(address.trim().trim_start_matches("unix://"));
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_socket()
    });
    if is_socket {
        let _ = std::fs::remove_file(path);
    }
}
