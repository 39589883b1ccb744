//! containerd's task service (runtime/v2/task/shim.proto, v2) over the
//! shim's tasks: each method parses its request, calls one operation and
//! builds the response. Create, exec and delete live in their own files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use containerd_shim::api::{
    CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest, CreateTaskResponse,
    DeleteRequest, DeleteResponse, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, UpdateTaskRequest,
    WaitRequest, WaitResponse,
};
use containerd_shim::protos::events::task::{TaskPaused, TaskResumed};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use containerd_shim::protos::shim::oci::ProcessDetails;
use containerd_shim::protos::types::task::{ProcessInfo, Status as TaskStatus};
use containerd_shim::{ExitSignal, TtrpcContext, TtrpcResult};

use crate::container::Container;
use crate::error::{Result, ShimError};
use crate::events::EventQueue;
use crate::exits::Unclaimed;
use crate::process::Status;

/// The shim's tasks, shared by the ttrpc threads and the exit dispatcher.
pub struct Tasks {
    pub namespace: String,
    containers: Mutex<HashMap<String, Arc<Container>>>,
    pub unclaimed: Unclaimed,
    pub events: Arc<EventQueue>,
    pub exit: Arc<ExitSignal>,
}

impl Tasks {
    pub fn new(namespace: &str, events: EventQueue, exit: Arc<ExitSignal>) -> Tasks {
        Tasks {
            namespace: namespace.to_string(),
            containers: Mutex::default(),
            unclaimed: Unclaimed::default(),
            events: Arc::new(events),
            exit,
        }
    }

    fn all(&self) -> Vec<Arc<Container>> {
        self.containers
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn find(&self, id: &str) -> Option<Arc<Container>> {
        self.containers.lock().ok()?.get(id).cloned()
    }

    fn get(&self, id: &str) -> Result<Arc<Container>> {
        self.find(id)
            .ok_or_else(|| ShimError::ContainerNotFound(id.into()))
    }

    pub fn insert(&self, container: Arc<Container>) {
        if let Ok(mut all) = self.containers.lock() {
            all.insert(container.id.clone(), container);
        }
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut all) = self.containers.lock() {
            all.remove(id);
        }
    }

    pub fn handle_exit(&self, pid: i32, code: i32) -> bool {
        let Ok(pid) = u32::try_from(pid) else {
            return false;
        };
        self.all().iter().any(|c| c.handle_exit(pid, code))
    }

    pub fn owns_pid(&self, pid: i32) -> bool {
        u32::try_from(pid).is_ok_and(|pid| self.all().iter().any(|c| c.owns_pid(pid)))
    }
}

#[derive(Clone)]
pub struct TaskService {
    pub tasks: Arc<Tasks>,
}

fn reply<T>(result: Result<T>) -> TtrpcResult<T> {
    result.map_err(Into::into)
}

impl TaskService {
    fn state(&self, req: &StateRequest) -> Result<StateResponse> {
        let container = self.tasks.get(&req.id)?;
        let state = container.lock();
        let process = state.process(&req.id, &req.exec_id)?;
        let status = match process.status {
            Status::Created => TaskStatus::CREATED,
            Status::Running if req.exec_id.is_empty() && state.paused => TaskStatus::PAUSED,
            Status::Running => TaskStatus::RUNNING,
            Status::Stopped => TaskStatus::STOPPED,
        };
        Ok(StateResponse {
            id: process.id.clone(),
            bundle: container.bundle.display().to_string(),
            pid: process.pid,
            status: status.into(),
            stdin: process.stdio.stdin.clone(),
            stdout: process.stdio.stdout.clone(),
            stderr: process.stdio.stderr.clone(),
            terminal: process.stdio.terminal,
            exit_status: process.exit_status(),
            exited_at: process.exited_at(),
            exec_id: req.exec_id.clone(),
            ..Default::default()
        })
    }

    fn kill(&self, req: &KillRequest) -> Result<()> {
        let container = self.tasks.get(&req.id)?;
        let state = container.lock();
        let process = state.process(&req.id, &req.exec_id)?;
        if req.exec_id.is_empty() {
            if process.status == Status::Stopped && !req.all {
                return Err(ShimError::ProcessFinished(req.id.clone()));
            }
            return container
                .runtime
                .kill(&req.id, req.signal, req.all)
                .map_err(|e| match process.status {
                    // The init went while we asked: it is gone either way.
                    Status::Stopped => ShimError::ProcessFinished(req.id.clone()),
                    _ => e,
                });
        }
        if process.status != Status::Running {
            return Err(ShimError::ProcessFinished(req.exec_id.clone()));
        }
        let signal = nix::sys::signal::Signal::try_from(req.signal as i32)
            .map_err(|_| ShimError::invalid("signal", req.signal))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(process.pid as i32), signal)
            .map_err(|e| ShimError::os("kill the exec'd process", e))
    }

    fn pids(&self, req: &PidsRequest) -> Result<PidsResponse> {
        let container = self.tasks.get(&req.id)?;
        let pids = container.runtime.pids(&req.id)?;
        let state = container.lock();
        let processes = pids
            .into_iter()
            .map(|pid| {
                let exec = state.execs.values().find(|p| p.pid == pid);
                let info = exec.and_then(|p| {
                    let details = ProcessDetails {
                        exec_id: p.id.clone(),
                        ..Default::default()
                    };
                    details.write_to_bytes().ok().map(|value| Any {
                        type_url: "containerd.runc.v1.ProcessDetails".into(),
                        value,
                        ..Default::default()
                    })
                });
                ProcessInfo {
                    pid,
                    info: MessageField::from_option(info),
                    ..Default::default()
                }
            })
            .collect();
        Ok(PidsResponse {
            processes,
            ..Default::default()
        })
    }

    fn pause(&self, id: &str, pause: bool) -> Result<()> {
        let container = self.tasks.get(id)?;
        let mut state = container.lock();
        if pause {
            container.runtime.pause(id)?;
            state.paused = true;
            let event = TaskPaused {
                container_id: id.into(),
                ..Default::default()
            };
            container.events.send(event);
        } else {
            container.runtime.resume(id)?;
            state.paused = false;
            let event = TaskResumed {
                container_id: id.into(),
                ..Default::default()
            };
            container.events.send(event);
        }
        Ok(())
    }

    fn wait(&self, req: &WaitRequest) -> Result<WaitResponse> {
        let container = self.tasks.get(&req.id)?;
        let state = container.wait_stopped(container.lock(), &req.exec_id, None)?;
        let process = state.process(&req.id, &req.exec_id)?;
        Ok(WaitResponse {
            exit_status: process.exit_status(),
            exited_at: process.exited_at(),
            ..Default::default()
        })
    }

    fn update(&self, req: &UpdateTaskRequest) -> Result<()> {
        let container = self.tasks.get(&req.id)?;
        let resources = req
            .resources
            .as_ref()
            .ok_or_else(|| ShimError::invalid("update", "no resources"))?;
        container.runtime.update(&req.id, &resources.value)
    }

    fn stats(&self, req: &StatsRequest) -> Result<StatsResponse> {
        let container = self.tasks.get(&req.id)?;
        let stats = container.runtime.stats(&req.id)?;
        Ok(StatsResponse {
            stats: MessageField::some(crate::metrics::metrics_any(&stats)?),
            ..Default::default()
        })
    }

    fn with_process(
        &self,
        id: &str,
        exec_id: &str,
        f: impl FnOnce(&crate::process::Process) -> Result<()>,
    ) -> Result<()> {
        let container = self.tasks.get(id)?;
        let state = container.lock();
        f(state.process(id, exec_id)?)
    }
}

impl containerd_shim::Task for TaskService {
    fn state(&self, _: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        reply(self.state(&req))
    }

    fn create(&self, _: &TtrpcContext, req: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        reply(crate::create::create(&self.tasks, &req))
    }

    fn start(&self, _: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        let started = self
            .tasks
            .get(&req.id)
            .and_then(|c| match req.exec_id.as_str() {
                "" => crate::create::start_init(&c),
                exec_id => crate::exec::start_exec(&self.tasks, &c, exec_id),
            });
        reply(started.map(|pid| StartResponse {
            pid,
            ..Default::default()
        }))
    }

    fn delete(&self, _: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        reply(
            self.tasks
                .get(&req.id)
                .and_then(|c| match req.exec_id.as_str() {
                    "" => crate::delete::delete_init(&self.tasks, &c),
                    exec_id => crate::delete::delete_exec(&c, exec_id),
                }),
        )
    }

    fn pids(&self, _: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        reply(self.pids(&req))
    }

    fn pause(&self, _: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        reply(self.pause(&req.id, true).map(|()| Empty::new()))
    }

    fn resume(&self, _: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        reply(self.pause(&req.id, false).map(|()| Empty::new()))
    }

    fn kill(&self, _: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        reply(self.kill(&req).map(|()| Empty::new()))
    }

    fn exec(&self, _: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        let added = self
            .tasks
            .get(&req.id)
            .and_then(|c| crate::exec::add_exec(&c, &req));
        reply(added.map(|()| Empty::new()))
    }

    fn resize_pty(&self, _: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let resized = self.with_process(&req.id, &req.exec_id, |p| {
            p.io.resize(req.width, req.height)
        });
        reply(resized.map(|()| Empty::new()))
    }

    fn close_io(&self, _: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let closed = self.with_process(&req.id, &req.exec_id, |p| {
            if req.stdin {
                p.io.close_stdin();
            }
            Ok(())
        });
        reply(closed.map(|()| Empty::new()))
    }

    fn update(&self, _: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        reply(self.update(&req).map(|()| Empty::new()))
    }

    fn wait(&self, _: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        reply(self.wait(&req))
    }

    fn stats(&self, _: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        reply(self.stats(&req))
    }

    fn connect(&self, _: &TtrpcContext, req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let task_pid = self.tasks.find(&req.id).map_or(0, |c| c.lock().init.pid);
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _: &TtrpcContext, req: ShutdownRequest) -> TtrpcResult<Empty> {
        // A shim serves its container, or its group's: it goes once the
        // last of their tasks is deleted.
        if req.now || self.tasks.all().is_empty() {
            self.tasks.exit.signal();
        }
        Ok(Empty::new())
    }

    fn checkpoint(
        &self,
        _: &TtrpcContext,
        _: containerd_shim::api::CheckpointTaskRequest,
    ) -> TtrpcResult<Empty> {
        reply(Err(ShimError::Unsupported(
            "checkpoint (skiff has no CRIU support)",
        )))
    }
}
