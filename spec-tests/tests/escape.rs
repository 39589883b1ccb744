//! Escapes that runc has shipped fixes for, each mounted as a real attack
//! against the runtime: the runtime binary through /proc/PID/exe
//! (CVE-2019-5736), a symlink swapped in on a mount path while containers
//! start (CVE-2021-30465), leaked fds as the cwd and in the container
//! (CVE-2024-21626), a masking /dev/null and a /dev/console that are
//! symlinks (CVE-2025-31133, CVE-2025-52565), a sysctl write redirected by a
//! mount over /proc/sys (CVE-2025-52881), and a hostile image's symlinked
//! /dev and /etc/hosts.

use std::path::Path;

use serde_json::json;
use spec_tests::leaks::assert_clean;
use spec_tests::{is_skiff, Bundle, Runtime, TempDir};

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A container process watches every pid for the runtime's exe while
/// `skiff exec` joins it again and again, and tries to read the exe's link
/// and to write through it. The exec process is non-dumpable until it
/// execs, so the container cannot even resolve the link, and the binary
/// (a private copy, the runtime under test) stays byte for byte the same.
#[test]
fn runtime_binary_is_out_of_reach_through_proc_exe() {
    let copy_dir = TempDir::new("skt-exe");
    let runtime = copy_dir.path().join("runtime-under-attack");
    std::fs::copy(spec_tests::runtime::runtime_bin(), &runtime).expect("copy the runtime");
    let before = sha256(&runtime);

    let shared = TempDir::new("skt-exe-shared");
    let mut b = Bundle::sh(
        "while [ ! -e /shared/stop ]; do \
           for d in /proc/[0-9]*; do p=${d#/proc/}; [ $p = $$ ] && continue; \
             t=$(readlink $d/exe 2>/dev/null) || continue; \
             case $t in /bin/busybox|'') ;; *) echo \"saw $p $t\" >> /shared/log;; esac; \
             (printf X >> $d/exe) 2>/dev/null && echo \"wrote $p\" >> /shared/log; \
           done; \
         done",
    );
    b.mount(json!({
        "destination": "/shared", "type": "bind",
        "source": shared.path(), "options": ["rbind", "rw"]
    }));
    let rt = Runtime::with_bin(&runtime);
    let id = rt.id("exe");
    rt.run_detached(&b, &id).expect_ok();
    for _ in 0..40 {
        rt.exec(&["exec", &id, "/bin/true"]).expect_ok();
    }
    std::fs::write(shared.path().join("stop"), "").expect("stop the attacker");
    rt.delete_force(&id).expect_ok();
    let log = std::fs::read_to_string(shared.path().join("log")).unwrap_or_default();
    assert!(
        !log.contains("wrote"),
        "wrote through /proc/PID/exe:\n{log}"
    );
    if is_skiff() {
        assert!(
            !log.contains("saw"),
            "the runtime's exe was visible:\n{log}"
        );
    }
    assert_eq!(sha256(&runtime), before, "the runtime binary changed");
    assert_clean(&rt, &id, &b, None);
}

/// process.cwd through an fd the runtime might hold open must not start a
/// process in a host directory; nothing is left behind either way.
#[test]
fn cwd_through_a_leaked_fd_is_refused() {
    for n in 3..16 {
        let mut b = Bundle::sh("pwd; ls /..");
        b.set("/process/cwd", json!(format!("/proc/self/fd/{n}")));
        let rt = Runtime::new();
        let id = rt.id("cwdfd");
        let out = rt.run(&b, &id);
        assert_ne!(out.code, 0, "cwd /proc/self/fd/{n} ran: {out}");
        assert_clean(&rt, &id, &b, None);
    }
}

/// The same with a host directory really open as fd 3 (passed on with
/// --preserve-fds, as a leaked fd would be): chdir through it succeeds, and
/// only the runtime's check that the cwd has a path inside the root stops
/// the process from starting in the host's tree.
#[test]
fn cwd_through_an_open_host_directory_fd_is_refused() {
    let host = TempDir::new("skt-cwd-host");
    let mut b = Bundle::sh("pwd; ls ..");
    b.set("/process/cwd", json!("/proc/self/fd/3"));
    b.save();
    let rt = Runtime::new();
    let id = rt.id("cwdhost");
    let line = format!(
        "exec 3<{}; exec {} --root {} run --preserve-fds 1 --bundle {} {id}",
        host.path().display(),
        rt.bin().display(),
        rt.root().display(),
        b.path().display()
    );
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", &line]);
    let out = rt.output(sh, std::time::Duration::from_secs(30));
    assert_ne!(
        out.code, 0,
        "the process started in a host directory: {out}"
    );
    if is_skiff() {
        assert!(out.stderr.contains("outside the container root"), "{out}");
    }
    assert_clean(&rt, &id, &b, None);
}

/// Inside, the init holds stdio and nothing else, and so does an exec'd
/// process: no fd of the runtime (state dir, sockets, the bundle) leaks in.
#[test]
fn container_processes_hold_only_stdio() {
    let b = Bundle::sh("sleep 100");
    let rt = Runtime::new();
    let id = rt.id("fds");
    rt.run_detached(&b, &id).expect_ok();
    let init = rt.exec(&["exec", &id, "ls", "/proc/1/fd"]);
    let mut fds: Vec<&str> = init.stdout.split_whitespace().collect();
    fds.sort_unstable();
    assert_eq!(fds, ["0", "1", "2"], "init fds: {init}");
    // An exec'd process, looked at from the host.
    let pid_file = rt.root().join("exec.pid");
    let pid_path = pid_file.to_string_lossy().into_owned();
    rt.exec(&["exec", "-d", "--pid-file", &pid_path, &id, "sleep", "50"])
        .expect_ok();
    let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
    let mut own: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", pid.trim()))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    own.sort_unstable();
    assert_eq!(own, ["0", "1", "2"], "exec fds of pid {pid}");
    rt.delete_force(&id).expect_ok();
    assert_clean(&rt, &id, &b, None);
}

/// A rootfs whose /dev/null is a symlink, with no /dev mount over it:
/// masking a path must not bind the symlink's target over it, whether that
/// is a host path or a file of the image (the masking /dev/null is opened
/// without following and checked to be char 1:3).
#[test]
fn masking_null_that_is_a_symlink_exposes_nothing() {
    let host = TempDir::new("skt-null");
    let secret = host.path().join("host-secret");
    std::fs::write(&secret, "host secret\n").expect("write");
    for target in [
        secret.to_string_lossy().into_owned(),
        "/etc/planted".to_string(),
    ] {
        let mut b = Bundle::sh("cat /etc/masked 2>&1; echo end");
        std::fs::create_dir_all(b.rootfs().join("dev")).expect("mkdir dev");
        let null = b.rootfs().join("dev/null");
        let _ = std::fs::remove_file(&null);
        std::os::unix::fs::symlink(&target, &null).expect("symlink");
        std::fs::write(b.rootfs().join("etc/masked"), "image data\n").expect("write");
        std::fs::write(b.rootfs().join("etc/planted"), "planted data\n").expect("write");
        let mounts: Vec<serde_json::Value> = b.config()["mounts"]
            .as_array()
            .expect("mounts")
            .iter()
            .filter(|m| !m["destination"].as_str().unwrap_or("").starts_with("/dev"))
            .cloned()
            .collect();
        b.set("/mounts", json!(mounts))
            .set("/linux/maskedPaths", json!(["/etc/masked"]));
        let rt = Runtime::new();
        let id = rt.id("null");
        let out = rt.run(&b, &id);
        assert!(
            !out.stdout.contains("host secret"),
            "host file exposed: {out}"
        );
        assert!(
            !out.stdout.contains("planted data"),
            "symlink target bound: {out}"
        );
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap_or_default(),
            "host secret\n"
        );
        assert_clean(&rt, &id, &b, None);
    }
}

/// A hostile image: /dev and /etc/hosts are symlinks to host paths. The
/// /dev tmpfs and a bind over /etc/hosts must land inside the rootfs, and
/// nothing on the host is mounted over or written.
#[test]
fn symlinked_dev_and_etc_hosts_stay_inside() {
    let host = TempDir::new("skt-hostile");
    let host_dev = host.path().join("dev");
    std::fs::create_dir_all(&host_dev).expect("mkdir");
    let host_hosts = host.path().join("hosts");
    std::fs::write(&host_hosts, "127.0.0.1 host-only\n").expect("write");
    let ours = host.path().join("ours");
    std::fs::write(&ours, "10.0.0.1 from-bundle\n").expect("write");

    let mut b = Bundle::sh("cat /etc/hosts; echo written > /dev/probe; echo ok");
    let _ = std::fs::remove_dir_all(b.rootfs().join("dev"));
    std::os::unix::fs::symlink(&host_dev, b.rootfs().join("dev")).expect("symlink dev");
    let _ = std::fs::remove_file(b.rootfs().join("etc/hosts"));
    std::os::unix::fs::symlink(&host_hosts, b.rootfs().join("etc/hosts")).expect("symlink hosts");
    b.mount(json!({
        "destination": "/etc/hosts", "type": "bind",
        "source": ours, "options": ["bind", "ro"]
    }));
    let rt = Runtime::new();
    let id = rt.id("hostile");
    let out = rt.run(&b, &id);
    let mounted = spec_tests::leaks::mountinfo_mentions(host.path());
    assert!(mounted.is_empty(), "host paths mounted over: {mounted:?}");
    assert_eq!(
        std::fs::read_to_string(&host_hosts).unwrap_or_default(),
        "127.0.0.1 host-only\n"
    );
    assert!(
        std::fs::read_dir(&host_dev).map(|d| d.count()).unwrap_or(0) == 0,
        "files created in the host's directory"
    );
    if out.code == 0 {
        assert!(out.stdout.contains("from-bundle"), "{out}");
    }
    assert_clean(&rt, &id, &b, None);
}

/// A config that mounts a host file over a /proc/sys entry the runtime is
/// about to write for `linux.sysctl` (the CVE-2025-52881 class): the write
/// goes through a verified procfs handle that does not cross mounts, so it
/// fails cleanly or reaches the real procfs, never the host file.
#[test]
fn sysctl_write_is_not_redirected_by_a_mount_over_proc_sys() {
    let host = TempDir::new("skt-procsys");
    let decoy = host.path().join("decoy");
    std::fs::write(&decoy, "untouched\n").expect("write");
    let mut b = Bundle::sh("cat /proc/sys/net/ipv4/ip_forward");
    b.mount(json!({
        "destination": "/proc/sys/net/ipv4/ip_forward", "type": "bind",
        "source": decoy, "options": ["bind", "rw"]
    }))
    .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}));
    // /proc/sys must not be read-only for the attack to have a chance.
    b.set("/linux/readonlyPaths", json!([]));
    let rt = Runtime::new();
    let id = rt.id("procsys");
    let out = rt.run(&b, &id);
    assert_eq!(
        std::fs::read_to_string(&decoy).unwrap_or_default(),
        "untouched\n",
        "the sysctl write was redirected to a host file: {out}"
    );
    if is_skiff() {
        assert_ne!(
            out.code, 0,
            "the write through a mount must be refused: {out}"
        );
        assert!(
            out.stderr.contains("ip_forward"),
            "error names the sysctl: {out}"
        );
    }
    assert_clean(&rt, &id, &b, None);
}

/// CVE-2021-30465 class: while containers start, a racing process swaps a
/// directory on the path of a mount destination for a symlink to a host
/// directory, again and again. The destination's missing part is created
/// and mounted through fds resolved inside the root, so nothing is ever
/// created in, or mounted on, the host directory; each start either works
/// or fails cleanly.
#[test]
fn racing_symlink_swap_on_a_mount_path_never_reaches_the_host() {
    let host = TempDir::new("skt-race-host");
    let target = host.path().join("target");
    std::fs::create_dir_all(&target).expect("mkdir");
    let b = Bundle::sh("true");
    let mnt = b.rootfs().join("mnt");
    let dir = mnt.join("d");
    let parked = mnt.join("d.parked");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let mut b = b;
    b.mount(json!({
        "destination": "/mnt/d/sub/deeper", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=1m"]
    }));
    b.save();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rt = Runtime::new();
    let mut started = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if std::fs::rename(&dir, &parked).is_ok() {
                    let _ = std::os::unix::fs::symlink(&target, &dir);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&dir);
                    let _ = std::fs::rename(&parked, &dir);
                }
            }
        });
        for i in 0..30 {
            let id = rt.id(&format!("race{i}"));
            let out = rt.run(&b, &id);
            if out.code == 0 {
                started += 1;
            }
            assert_clean(&rt, &id, &b, None);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let created: Vec<_> = std::fs::read_dir(&target)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        created.is_empty(),
        "created on the host through the race: {created:?}"
    );
    let mounted = spec_tests::leaks::mountinfo_mentions(host.path());
    assert!(mounted.is_empty(), "{mounted:?}");
    eprintln!("{started} of 30 starts won the race");
}

/// CVE-2025-52565 class: an image whose /dev/console is a symlink to a host
/// path (not there yet), used as /dev (no tmpfs over it), with a terminal.
/// The pty is mounted over /dev/console resolved inside the root: the host
/// path is never created or mounted over.
#[test]
fn console_that_is_a_symlink_stays_inside() {
    use spec_tests::console::ConsoleSocket;
    let host = TempDir::new("skt-console-host");
    let victim = host.path().join("victim");
    let mut b = Bundle::sh("tty; echo END; sleep 100");
    std::fs::create_dir_all(b.rootfs().join("dev")).expect("mkdir dev");
    let _ = std::fs::remove_file(b.rootfs().join("dev/console"));
    std::os::unix::fs::symlink(&victim, b.rootfs().join("dev/console")).expect("symlink");
    let mounts: Vec<serde_json::Value> = b.config()["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .filter(|m| m["destination"] != "/dev")
        .cloned()
        .collect();
    b.set("/mounts", json!(mounts))
        .set("/process/terminal", json!(true));
    b.save();
    let dir = TempDir::new("skt-console-sock");
    let sock = ConsoleSocket::bind(dir.path());
    let rt = Runtime::new();
    let id = rt.id("console");
    let bundle = b.path().to_string_lossy().into_owned();
    let sock_path = sock.path().to_string_lossy().into_owned();
    let created = std::thread::scope(|s| {
        let create = s.spawn(|| {
            rt.exec(&[
                "create",
                "--bundle",
                &bundle,
                "--console-socket",
                &sock_path,
                &id,
            ])
        });
        let _master = sock.receive_master(std::time::Duration::from_secs(20));
        create.join().expect("create thread")
    });
    if created.ok() {
        rt.start(&id);
    }
    assert!(
        !victim.exists(),
        "the host path was created through /dev/console: {created}"
    );
    let mounted = spec_tests::leaks::mountinfo_mentions(host.path());
    assert!(mounted.is_empty(), "{mounted:?}");
    let _ = rt.delete_force(&id);
    assert_clean(&rt, &id, &b, None);
}
