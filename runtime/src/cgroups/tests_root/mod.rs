//! Root tests on this host's real hierarchies (hybrid: v1 controllers plus
//! a cgroup2 mount holding hugetlb). Each test makes its own cgroup,
//! "/skiff-test-<pid>-<n>", and a guard removes it and kills its children
//! even when an assertion fails.

mod hybrid;
mod v2;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxHugepageLimitBuilder,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

use super::mountinfo::{read_mounts, CgroupLayout};
use super::{cgroup_for, detect_layout, Cgroup};

fn unique_path() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "/skiff-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Owns a test cgroup and the processes in it; cleans both up on drop.
struct Guard {
    cg: Cgroup,
    children: Vec<Child>,
}

impl Guard {
    fn new(cg: Cgroup) -> Self {
        Self {
            cg,
            children: Vec::new(),
        }
    }

    /// Starts `sh -c script` waiting on stdin and moves it into the cgroup;
    /// `go` lets it run, so the script runs entirely inside the cgroup.
    fn spawn_waiting(&mut self, script: &str) -> usize {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("read _ ; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let pid = child.id() as i32;
        self.children.push(child);
        self.cg.add_process(pid).expect("add child to cgroup");
        self.children.len() - 1
    }

    fn go(&mut self, i: usize) {
        let stdin = self.children[i].stdin.as_mut().expect("child stdin");
        stdin.write_all(b"go\n").expect("write to child");
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let destroyed = self.cg.destroy();
        if !std::thread::panicking() {
            destroyed.expect("destroy test cgroup");
            for d in self.cg.dirs() {
                assert!(!d.exists(), "{d:?} left behind");
            }
        }
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("read {file}: {e}"))
}

fn hybrid_cgroup() -> Guard {
    let cg = cgroup_for(Some(&unique_path()), "skiff-test").expect("resolve cgroup");
    cg.create().expect("create cgroup");
    Guard::new(cg)
}

/// /dev/kmsg (c 1:11) is outside runc's default devices, /dev/null inside.
const OPEN_KMSG: &str = ": < /dev/kmsg";
const OPEN_NULL: &str = ": < /dev/null";

/// Runs `script` as a fresh child in the cgroup; returns (success, stderr).
fn run_in(g: &mut Guard, script: &str) -> (bool, String) {
    let i = g.spawn_waiting(script);
    g.go(i);
    let out = g.children.remove(i).wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn deny_all_resources(extra: Vec<oci_spec::runtime::LinuxDeviceCgroup>) -> LinuxResources {
    let deny = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .unwrap();
    let mut rules = vec![deny];
    rules.extend(extra);
    LinuxResourcesBuilder::default()
        .devices(rules)
        .build()
        .unwrap()
}

fn allow_kmsg() -> oci_spec::runtime::LinuxDeviceCgroup {
    LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .major(1i64)
        .minor(11i64)
        .access("r")
        .build()
        .unwrap()
}
