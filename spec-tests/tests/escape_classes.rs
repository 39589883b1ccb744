//! Container escapes of the runc CVE classes (issue 4), each mounted for
//! real against the runtime binary: a hostile image or a hostile process in
//! the container must not reach a host file, a host mount or the runtime
//! binary itself.
//!
//! Checked to fail on a vulnerable runtime: runc 1.1.5 fails
//! `hostile_dev_and_etc_stay_inside` (/dev entries made in the host dir) and
//! `mount_destination_swap_race_stays_inside` (the bind target made in the
//! host dir); skiff with RESOLVE_NO_XDEV and the procfs check removed from
//! `proc_attrs::write_procfs_file` fails `proc_writes_not_redirected` (the
//! sysctl lands in the host file). Every defence was also removed from
//! skiff on its own and each test below failed without it; spec-tests/
//! DEFENCES.md records which edit fails which test and how.
//!
//! The host-side evidence is always the same: a host "victim" file keeps its
//! bytes, a host directory gets no new entry, and the host's mount table is
//! the one from before the attack.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use spec_tests::console::ConsoleSocket;
use spec_tests::{Bundle, Out, Runtime, TempDir};

const VICTIM_TEXT: &str = "host secret, must stay\n";

/// A host directory with a victim file the attacks aim at.
struct Host {
    dir: TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = TempDir::new("skt-escape-host");
        let h = Host { dir };
        std::fs::write(h.victim(), VICTIM_TEXT).expect("write victim");
        h
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn victim(&self) -> PathBuf {
        self.dir().join("victim")
    }

    /// The victim is unchanged and the directory holds nothing else.
    #[track_caller]
    fn assert_untouched(&self, what: &str) {
        let text = std::fs::read_to_string(self.victim()).unwrap_or_default();
        assert_eq!(text, VICTIM_TEXT, "{what}: host file was written");
        let names: Vec<String> = std::fs::read_dir(self.dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            names,
            vec!["victim".to_string()],
            "{what}: host dir got entries"
        );
        let mounts = spec_tests::leaks::mountinfo_mentions(self.dir());
        assert!(mounts.is_empty(), "{what}: host mounts on {mounts:?}");
    }
}

/// A relative symlink target that climbs out of `link`'s directory to the
/// host path `target` when followed in the host's view.
fn climbing(target: &Path) -> String {
    format!("{}{}", "../".repeat(20), target.display())
}

/// The host's mount points, less those of other tests' private temp dirs
/// (podman, dockerd and containerd mount there while these tests run);
/// this file's own dirs (`skt-escape*`) and everything else count.
fn host_mounts() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let tmp = std::env::temp_dir().to_string_lossy().into_owned();
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|mp| !mp.starts_with(&tmp) || mp.contains("/skt-escape"))
        .collect();
    v.sort();
    v
}

/// A failure must be an error message, never a crash or a hang.
#[track_caller]
fn assert_clean_result(out: &Out) {
    assert!(out.code >= 0 && out.code < 128, "crash or timeout: {out}");
    assert!(!out.stderr.contains("panicked"), "panic: {out}");
    if !out.ok() {
        assert!(!out.last_err_line().is_empty(), "silent failure: {out}");
    }
}

fn replace_with_symlink(path: &Path, target: &str) {
    let _ = std::fs::remove_dir_all(path);
    let _ = std::fs::remove_file(path);
    symlink(target, path).unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `bin --root ROOT ARGS` through the harness (timeouts, captured output).
fn run_with(rt: &Runtime, bin: &Path, args: &[&str]) -> Out {
    let mut c = Command::new(bin);
    c.arg("--root").arg(rt.root()).args(args);
    rt.output(c, Duration::from_secs(30))
}

const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Class 1 (CVE-2019-5736): a process in the container watches for every
/// process that `skiff exec` sends in and tries to reach its exe (the host's
/// runtime binary) to read, write, or hold it for a write after the runtime
/// exits. The defence is non-dumpable (prctl) from the moment the exec
/// process is forked until its execve.
#[test]
fn runtime_binary_unreachable_from_container() {
    attack_runtime_exe(DOCKER_CAPS, ExeCopy::Host);
}

/// Class 1 with CAP_SYS_PTRACE, which lets the container open a
/// non-dumpable process's /proc/PID/exe: `skiff exec` then runs from a
/// sealed memfd copy of itself, so what the container reaches is not the
/// host's binary and cannot be written.
#[test]
fn runtime_binary_unreachable_with_cap_sys_ptrace() {
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_PTRACE");
    attack_runtime_exe(&caps, ExeCopy::Sealed);
}

/// Which binary `skiff exec` runs while it sets up the process.
#[derive(PartialEq)]
enum ExeCopy {
    /// The host's binary itself: busy (ETXTBSY) while it runs.
    Host,
    /// A sealed memfd copy: the host's binary is not in use at all.
    Sealed,
}

fn attack_runtime_exe(caps: &[&str], exe: ExeCopy) {
    let bins = TempDir::new("skt-escape-bin");
    let copy = bins.path().join("skiff-copy");
    std::fs::copy(spec_tests::runtime::runtime_bin(), &copy).expect("copy runtime");
    let before = sha256(&copy);
    // No fork per probe (builtins only) so the loop is as fast as ash gets.
    let mut b = Bundle::sh(
        r#": > /tmp/report; touch /tmp/.ready
while [ ! -e /tmp/.stop ]; do
  for p in /proc/[0-9]*; do
    [ -e "$p/exe" ] || continue
    [ "$p/exe" -ef /bin/busybox ] && continue
    # A process that exited between the probes is no hit: name the exe.
    t=$(readlink "$p/exe" 2>/dev/null)
    case "$t" in *skiff-copy*) ;; *) continue;; esac
    echo "reached $p $t" >> /tmp/report
    { echo pwned; } >> "$p/exe" 2>> /tmp/report && echo "wrote $p" >> /tmp/report
    command exec 7< "$p/exe" 2>/dev/null && echo "held $p" >> /tmp/report
  done
done
# A handle held on the runtime becomes a write once the runtime exited.
if { :; } 2>/dev/null <&7; then
  { echo pwned; } 2>> /tmp/report >> /proc/self/fd/7 && echo "wrote via fd" >> /tmp/report
fi
echo done >> /tmp/report"#,
    );
    b.caps(caps);
    b.set("/process/noNewPrivileges", json!(false));
    let rt = Runtime::new();
    let id = rt.id("exe");
    b.save();
    let bundle = b.path().to_string_lossy().into_owned();
    run_with(&rt, &copy, &["run", "-d", "--bundle", &bundle, &id]).expect_ok();
    let ready = b.rootfs().join("tmp/.ready");
    for _ in 0..500 {
        if ready.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..40 {
        for args in [
            &["exec", &id, "/bin/true"][..],
            &["exec", "-d", &id, "/bin/true"],
        ] {
            let out = run_with(&rt, &copy, args);
            let report = std::fs::read_to_string(b.rootfs().join("tmp/report"));
            assert!(out.ok(), "{out}\nattacker report: {report:?}");
        }
    }
    // While `exec` runs, the binary cannot be opened for writing at all.
    let mut busy = Command::new(&copy);
    busy.arg("--root")
        .arg(rt.root())
        .args(["exec", &id, "sleep", "1"]);
    let mut child = busy.spawn().expect("spawn exec");
    std::thread::sleep(Duration::from_millis(300));
    let open = std::fs::OpenOptions::new().write(true).open(&copy);
    let exe_link = std::fs::read_link(format!("/proc/{}/exe", child.id()));
    let _ = child.wait();
    std::fs::write(b.rootfs().join("tmp/.stop"), "").expect("stop attacker");
    let report = b.rootfs().join("tmp/report");
    for _ in 0..500 {
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        if text.contains("done") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    rt.delete_force(&id);
    assert!(text.contains("done"), "attacker did not finish: {text:?}");
    assert!(
        !text.contains("reached"),
        "container reached the runtime's exe:\n{text}"
    );
    assert_eq!(sha256(&copy), before, "runtime binary changed:\n{text}");
    // The attack's outcome first, then how the defence held.
    if exe == ExeCopy::Host {
        assert_eq!(
            open.err().and_then(|e| e.raw_os_error()),
            Some(libc::ETXTBSY),
            "open the running runtime binary for writing"
        );
    } else {
        let link = exe_link
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        assert!(
            link.starts_with("/memfd:"),
            "exec runs from {link:?}, not a sealed copy"
        );
    }
}

/// Class 2 (CVE-2021-30465), static part: mount destinations that are
/// symlinks to `/`, to `..` and climbing to a host dir.
#[test]
fn mount_destinations_through_symlinks_stay_inside() {
    let host = Host::new();
    let mut b = Bundle::sh("grep -c . /proc/self/mountinfo >/dev/null; echo ok");
    let mnt = b.rootfs().join("mnt");
    std::fs::create_dir_all(&mnt).expect("mkdir mnt");
    symlink("/", mnt.join("to-root")).expect("symlink");
    symlink("..", mnt.join("to-dotdot")).expect("symlink");
    symlink(climbing(host.dir()), mnt.join("to-host")).expect("symlink");
    symlink(host.dir(), mnt.join("to-host-abs")).expect("symlink");
    let src = b.host_dir("src");
    std::fs::write(src.join("planted"), "x").expect("write");
    for dest in ["to-root", "to-dotdot", "to-host", "to-host-abs"] {
        b.mount(
            json!({"destination": format!("/mnt/{dest}/sub-{dest}"), "type": "tmpfs",
            "source": "tmpfs"}),
        );
        b.mount(
            json!({"destination": format!("/mnt/{dest}/bind-{dest}"), "type": "bind",
            "source": src, "options": ["bind"]}),
        );
    }
    let before = host_mounts();
    let rt = Runtime::new();
    let out = rt.run(&b, &rt.id("symdest"));
    // The destinations resolved inside the rootfs, in the bundle's view too.
    // What a vulnerable runtime made in the host's / is removed (empty dirs
    // only) before the assertion, so a failed run leaves nothing behind.
    let made: Vec<&str> = ["sub-to-root", "sub-to-dotdot", "bind-to-root"]
        .into_iter()
        .filter(|name| {
            let p = Path::new("/").join(name);
            let made = p.exists();
            if made {
                let _ = std::fs::remove_dir(&p);
            }
            made
        })
        .collect();
    assert_clean_result(&out);
    assert_eq!(host_mounts(), before, "host mount table changed: {out}");
    host.assert_untouched("symlinked mount destinations");
    assert!(made.is_empty(), "{made:?} created in the host's /");
}

/// Class 2, racing part: a host thread swaps a directory in the rootfs for
/// a symlink out of it, in a loop, while containers start with a bind mount
/// below it.
#[test]
fn mount_destination_swap_race_stays_inside() {
    let host = Host::new();
    let mut b = Bundle::sh("true");
    let vol = b.rootfs().join("vol");
    std::fs::create_dir_all(vol.join("dir")).expect("mkdir");
    let src = b.host_dir("src");
    b.mount(json!({"destination": "/vol/dir/target", "type": "bind",
        "source": src, "options": ["bind"]}));
    b.mount(json!({"destination": "/vol/dir/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.save();
    let before = host_mounts();
    let rt = Runtime::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let outs = std::thread::scope(|s| {
        s.spawn(|| {
            let dir = vol.join("dir");
            let link = vol.join("link");
            let _ = symlink(climbing(host.dir()), &link);
            let _ = std::fs::create_dir_all(vol.join("real"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // dir <-> link, each an atomic rename.
                let _ = std::fs::rename(&dir, vol.join("real"));
                let _ = std::fs::rename(&link, &dir);
                std::thread::yield_now();
                let _ = std::fs::rename(&dir, &link);
                let _ = std::fs::rename(vol.join("real"), &dir);
            }
        });
        let mut outs = Vec::new();
        for _ in 0..50 {
            outs.push(rt.run(&b, &rt.id("race")));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        outs
    });
    for out in &outs {
        assert_clean_result(out);
    }
    assert_eq!(host_mounts(), before, "host mount table changed");
    host.assert_untouched("swap race");
}

/// Class 3 (CVE-2024-21626): process.cwd through every fd the runtime
/// might hold must not give the container a host directory. For fds 3 to 9
/// the runtime's caller really leaks a host directory there (opened without
/// close-on-exec, no --preserve-fds), so chdir through it succeeds and only
/// the check that the cwd lies inside the root stops the escape.
#[test]
fn cwd_through_leaked_fds_fails() {
    let host = Host::new();
    let rt = Runtime::new();
    let probe = format!("ls {} && echo ESCAPED", climbing(&host.victim()));
    for n in 3..20 {
        let mut b = Bundle::sh(&probe);
        b.set("/process/cwd", json!(format!("/proc/self/fd/{n}")));
        let id = rt.id("cwdfd");
        b.save();
        // dash takes single-digit fds in redirections only.
        let leak = if n < 10 {
            format!("exec {n}< \"$1\"; ")
        } else {
            String::new()
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{leak}shift; exec \"$@\""))
            .arg("sh")
            .arg(host.dir())
            .arg(rt.bin())
            .arg("--root")
            .arg(rt.root())
            .args(["run", "--bundle"])
            .arg(b.path())
            .arg(&id);
        let out = rt.output(cmd, Duration::from_secs(30));
        assert_clean_result(&out);
        assert!(!out.stdout.contains("ESCAPED"), "fd {n}: {out}");
        assert!(
            !out.ok(),
            "fd {n}: cwd through a magic link must be refused: {out}"
        );
    }
    host.assert_untouched("cwd fds");
}

/// Class 3 for `exec --cwd`: the caller of `skiff exec` leaks a host
/// directory on fd N; the exec'd process must not start there.
#[test]
fn exec_cwd_through_a_leaked_fd_fails() {
    let host = Host::new();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = rt.id("execcwd");
    rt.run_detached(&b, &id).expect_ok();
    let probe = format!("ls {} && echo ESCAPED", climbing(&host.victim()));
    for n in [3, 5, 9] {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {n}< \"$1\"; shift; exec \"$@\""))
            .arg("sh")
            .arg(host.dir())
            .arg(rt.bin())
            .arg("--root")
            .arg(rt.root())
            .args(["exec", "--cwd", &format!("/proc/self/fd/{n}"), &id])
            .args(["sh", "-c", &probe]);
        let out = rt.output(cmd, Duration::from_secs(30));
        assert_clean_result(&out);
        assert!(!out.stdout.contains("ESCAPED"), "fd {n}: {out}");
        assert!(
            !out.ok(),
            "exec --cwd /proc/self/fd/{n} (a host directory) must be refused: {out}"
        );
    }
    rt.delete_force(&id);
    host.assert_untouched("exec cwd fds");
}

/// The fds `pid` holds, as the host sees them: "0 1 2".
fn fds_of(pid: i32) -> String {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort();
    fds.iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn pid_in_file(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file {}: {text:?}", path.display()))
}

/// Class 3: what the container's pid 1 and an exec'd process hold is
/// exactly stdio plus `--preserve-fds`, looked at from the host while
/// they sleep (a shell inside would count its own saved fds).
#[test]
fn container_fd_inventory_is_stdio_only() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "100"]);
    let id = rt.id("fdinit");
    rt.run_detached(&b, &id).expect_ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap_or(0) as i32;
    assert_eq!(fds_of(pid), "0 1 2", "container init {pid}");

    let pidfile = b.host_dir("pids").join("exec.pid");
    let pidfile_s = pidfile.to_string_lossy().into_owned();
    rt.exec(&["exec", "-d", "--pid-file", &pidfile_s, &id, "sleep", "100"])
        .expect_ok();
    let epid = pid_in_file(&pidfile);
    rt.track_pid(epid);
    assert_eq!(fds_of(epid), "0 1 2", "exec'd process {epid}");
    rt.delete_force(&id).expect_ok();

    let b = Bundle::new(&["sleep", "100"]);
    let id = rt.id("fdpres");
    b.save();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec 3</dev/null 4</dev/null; exec \"$@\"")
        .arg("sh")
        .arg(rt.bin())
        .arg("--root")
        .arg(rt.root())
        .args(["run", "-d", "--preserve-fds", "1", "--bundle"])
        .arg(b.path())
        .arg(&id);
    rt.output(cmd, Duration::from_secs(30)).expect_ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap_or(0) as i32;
    assert_eq!(
        fds_of(pid),
        "0 1 2 3",
        "container init {pid} with --preserve-fds 1"
    );
    rt.delete_force(&id).expect_ok();
}

/// Class 4 (CVE-2025-31133, CVE-2025-52565): the image's /dev/null and
/// /dev/console are symlinks to a host file, with masked paths and a
/// terminal.
#[test]
fn masked_path_and_console_symlinks_stay_inside() {
    let host = Host::new();
    for target in [
        host.victim().display().to_string(),
        climbing(&host.victim()),
    ] {
        let mut b = Bundle::sh("echo hello; cat /proc/kcore 2>&1 | head -c 10; sleep 1");
        // The image's own /dev: no tmpfs over it.
        if let Some(serde_json::Value::Array(m)) = b.config().pointer_mut("/mounts") {
            m.retain(|m| {
                m["destination"] != "/dev"
                    && m["destination"] != "/dev/shm"
                    && m["destination"] != "/dev/mqueue"
            });
        }
        b.set("/process/terminal", json!(true));
        let dev = b.rootfs().join("dev");
        std::fs::create_dir_all(dev.join("pts")).expect("mkdir dev/pts");
        replace_with_symlink(&dev.join("null"), &target);
        replace_with_symlink(&dev.join("console"), &target);
        b.save();
        let sockdir = TempDir::new("skt-escape-tty");
        let sock = ConsoleSocket::bind(sockdir.path());
        let before = host_mounts();
        let rt = Runtime::new();
        let id = rt.id("mask");
        let bundle = b.path().to_string_lossy().into_owned();
        let sock_path = sock.path().to_string_lossy().into_owned();
        let out = std::thread::scope(|s| {
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
            let _master = sock.receive_master(Duration::from_secs(10));
            let out = create.join().expect("create thread");
            if out.ok() {
                rt.start(&id).expect_ok();
                std::thread::sleep(Duration::from_millis(300));
            }
            out
        });
        assert_clean_result(&out);
        rt.delete_force(&id);
        assert_eq!(host_mounts(), before, "{target}: host mount table changed");
        host.assert_untouched(&format!("/dev/null and /dev/console -> {target}"));
    }
}

/// Drop the /dev tmpfs (and what sits on it but devpts) so the image's own
/// /dev entries are what the runtime finds.
fn use_image_dev(b: &mut Bundle) {
    if let Some(serde_json::Value::Array(m)) = b.config().pointer_mut("/mounts") {
        m.retain(|m| {
            m["destination"] != "/dev"
                && m["destination"] != "/dev/shm"
                && m["destination"] != "/dev/mqueue"
        });
    }
    std::fs::create_dir_all(b.rootfs().join("dev/pts")).expect("mkdir dev/pts");
}

/// The mount points of `pid`'s mount namespace, as the host reads them.
fn mount_points_of(pid: i32) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .collect()
}

/// Class 4, with the symlinks aimed inside the image. After pivot_root a
/// host path in a symlink resolves inside the root anyway, so what is left
/// to the attacker (as in the CVEs, which aim at /proc files) is a file of
/// its choosing in the container that the runtime would bind over masked
/// paths (/dev/null) or mount the pty over (/dev/console). Either start
/// fails, or neither file moved.
#[test]
fn masked_path_and_console_symlinks_into_the_image_are_refused() {
    let rt = Runtime::new();
    // /dev/null -> /etc/planted: masking must not bind the image's file.
    let mut b = Bundle::sh("cat /etc/masked /proc/kcore > /tmp/masked-read 2>&1; true");
    use_image_dev(&mut b);
    std::fs::write(b.rootfs().join("etc/planted"), "planted data\n").expect("write");
    std::fs::write(b.rootfs().join("etc/masked"), "image data\n").expect("write");
    replace_with_symlink(&b.rootfs().join("dev/null"), "/etc/planted");
    b.push("/linux/maskedPaths", json!("/etc/masked"));
    let out = rt.run(&b, &rt.id("nullin"));
    assert_clean_result(&out);
    let read = std::fs::read_to_string(b.rootfs().join("tmp/masked-read")).unwrap_or_default();
    assert!(
        !read.contains("planted data"),
        "/dev/null -> /etc/planted was bound over masked paths: {read:?} {out}"
    );

    // /dev/console -> /etc/console-target: the pty must not land on it.
    let mut b = Bundle::sh("sleep 10");
    use_image_dev(&mut b);
    b.set("/process/terminal", json!(true));
    std::fs::write(b.rootfs().join("etc/console-target"), "image file\n").expect("write");
    replace_with_symlink(&b.rootfs().join("dev/console"), "/etc/console-target");
    b.save();
    let sockdir = TempDir::new("skt-escape-tty");
    let sock = ConsoleSocket::bind(sockdir.path());
    let id = rt.id("consin");
    let bundle = b.path().to_string_lossy().into_owned();
    let sock_path = sock.path().to_string_lossy().into_owned();
    let out = std::thread::scope(|s| {
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
        let _master = sock.receive_master(Duration::from_secs(10));
        create.join().expect("create thread")
    });
    assert_clean_result(&out);
    let mounts = if out.ok() {
        let pid = rt.state(&id)["pid"].as_i64().unwrap_or(0) as i32;
        mount_points_of(pid)
    } else {
        Vec::new()
    };
    rt.delete_force(&id);
    assert!(
        !mounts.iter().any(|m| m == "/etc/console-target"),
        "the pty was mounted through the /dev/console symlink: {mounts:?} {out}"
    );
}

/// Class 4 (CVE-2025-52565), the console's pty slave: the config mounts
/// the container's devpts at /dev/realpts and binds a decoy directory over
/// /dev/pts, whose `ptmx` leads to the real one and whose `0`..`15` lead
/// to /dev/realpts/ptmx as well. That is what a race that mounts over
/// /dev/pts after the master is opened leaves behind. A runtime that opens
/// or binds the slave by its `ptsname` path ("/dev/pts/0") gets the decoy;
/// the master's own peer (TIOCGPTPEER) must become /dev/console and fd 0,
/// and what the container writes to /dev/console must reach the master
/// sent over the console socket.
#[test]
fn console_is_the_masters_peer_when_dev_pts_is_a_decoy() {
    let mut b = Bundle::sh(
        "stat -L -c %t:%T /dev/console /proc/self/fd/0 > /tmp/console-dev; \
         echo via-console > /dev/console; sleep 100",
    );
    b.set("/process/terminal", json!(true));
    let decoy = b.host_dir("decoy-pts");
    symlink("/dev/realpts/ptmx", decoy.join("ptmx")).expect("symlink decoy ptmx");
    for n in 0..16 {
        symlink("/dev/realpts/ptmx", decoy.join(n.to_string())).expect("symlink decoy pty");
    }
    if let Some(serde_json::Value::Array(m)) = b.config().pointer_mut("/mounts") {
        for mount in m.iter_mut().filter(|m| m["destination"] == "/dev/pts") {
            mount["destination"] = json!("/dev/realpts");
        }
        let at = m
            .iter()
            .position(|m| m["destination"] == "/dev/realpts")
            .map_or(m.len(), |i| i + 1);
        let source = decoy.to_string_lossy().into_owned();
        let bind = json!({"destination": "/dev/pts", "type": "bind", "source": source,
                          "options": ["bind"]});
        m.insert(at, bind);
    }
    b.save();
    let rt = Runtime::new();
    let sockdir = TempDir::new("skt-escape-tty");
    let sock = ConsoleSocket::bind(sockdir.path());
    let id = rt.id("ptpeer");
    let bundle = b.path().to_string_lossy().into_owned();
    let sock_path = sock.path().to_string_lossy().into_owned();
    let (master, out) = std::thread::scope(|s| {
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
        let master = sock.receive_master(Duration::from_secs(20));
        (master, create.join().expect("create thread"))
    });
    assert_clean_result(&out);
    let text = match master {
        Ok(mut m) if out.ok() => {
            rt.start(&id).expect_ok();
            spec_tests::console::read_until(&mut m, "via-console", Duration::from_secs(10))
        }
        _ => String::new(),
    };
    let devs = std::fs::read_to_string(b.rootfs().join("tmp/console-dev")).unwrap_or_default();
    rt.delete_force(&id);
    assert!(out.ok(), "create with a decoy /dev/pts failed: {out}");
    let devs: Vec<&str> = devs.lines().collect();
    let pty_slave = |d: &&str| {
        d.split_once(':')
            .and_then(|(maj, _)| u64::from_str_radix(maj, 16).ok())
            .is_some_and(|maj| (136..=143).contains(&maj))
    };
    assert!(
        devs.len() == 2 && devs[0] == devs[1] && devs.iter().all(pty_slave),
        "/dev/console and fd 0 (major:minor, hex) are not one pty slave: {devs:?}"
    );
    assert!(
        text.contains("via-console"),
        "the master did not receive what was written to /dev/console: {text:?}"
    );
}

/// Class 5 (CVE-2025-52881): the config mounts over /proc/sys (a host file
/// bound on the sysctl file, a tmpfs over /proc/sys) before skiff writes
/// sysctls and oom_score_adj; the rootfs' /proc is a symlink out.
#[test]
fn proc_writes_not_redirected() {
    let host = Host::new();
    // Bind the host victim over the sysctl file that will be written.
    let mut b = Bundle::sh("cat /proc/sys/kernel/shm_rmid_forced");
    b.mount(
        json!({"destination": "/proc/sys/kernel/shm_rmid_forced", "type": "bind",
        "source": host.victim(), "options": ["bind"]}),
    );
    b.set("/linux/sysctl", json!({"kernel.shm_rmid_forced": "1"}));
    b.set("/process/oomScoreAdj", json!(100));
    let rt = Runtime::new();
    let out = rt.run(&b, &rt.id("procbind"));
    assert_clean_result(&out);
    host.assert_untouched("host file bound over /proc/sys/kernel/shm_rmid_forced");

    // The same over the init's own oom_score_adj.
    let oom_host = Host::new();
    let mut b = Bundle::sh("cat /proc/self/oom_score_adj");
    b.mount(
        json!({"destination": "/proc/self/oom_score_adj", "type": "bind",
        "source": oom_host.victim(), "options": ["bind"]}),
    );
    b.set("/process/oomScoreAdj", json!(100));
    let out = rt.run(&b, &rt.id("oombind"));
    assert_clean_result(&out);
    oom_host.assert_untouched("host file bound over /proc/self/oom_score_adj");

    // A tmpfs over /proc/sys: the write must reach procfs or fail.
    let mut b = Bundle::sh("cat /proc/sys/kernel/shm_rmid_forced");
    b.mount(json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}));
    b.set("/linux/sysctl", json!({"kernel.shm_rmid_forced": "1"}));
    let out = rt.run(&b, &rt.id("proctmpfs"));
    assert_clean_result(&out);
    assert!(
        !out.ok() || out.stdout.is_empty(),
        "sysctl written into the tmpfs: {out}"
    );

    // The image's /proc is a symlink to a host dir.
    for target in [host.dir().display().to_string(), climbing(host.dir())] {
        let mut b = Bundle::sh("true");
        replace_with_symlink(&b.rootfs().join("proc"), &target);
        b.set("/linux/sysctl", json!({"kernel.shm_rmid_forced": "1"}));
        b.set("/process/oomScoreAdj", json!(100));
        let before = host_mounts();
        let out = rt.run(&b, &rt.id("proclink"));
        assert_clean_result(&out);
        assert_eq!(host_mounts(), before, "{target}: host mount table changed");
        host.assert_untouched(&format!("/proc -> {target}"));
    }
}

/// Class 5 in a joined mount namespace: container A (the attacker's own
/// config) has a tmpfs for /proc with a host file bound at
/// /proc/self/timens_offsets; container B joins A's mount namespace and
/// asks for a time namespace with offsets, which skiff writes after the
/// join. The write must find no procfs there and fail, not land in the host
/// file.
#[test]
fn time_offsets_not_redirected_in_a_joined_mount_namespace() {
    let host = Host::new();
    let rt = Runtime::new();
    let mut a = Bundle::new(&["sleep", "100"]);
    if let Some(serde_json::Value::Array(m)) = a.config().pointer_mut("/mounts") {
        m.retain(|m| m["destination"] != "/proc");
        m.insert(
            0,
            json!({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"}),
        );
    }
    a.mount(
        json!({"destination": "/proc/self/timens_offsets", "type": "bind",
        "source": host.victim(), "options": ["bind"]}),
    );
    let a_id = rt.id("fakeproc");
    rt.run_detached(&a, &a_id).expect_ok();
    let pid = rt.state(&a_id)["pid"].as_i64().unwrap_or(0);
    let mut b = Bundle::new(&["true"]);
    b.namespace("mount", Some(&format!("/proc/{pid}/ns/mnt")))
        .namespace("time", None)
        .set(
            "/linux/timeOffsets",
            json!({"monotonic": {"secs": 86400, "nanosecs": 0}}),
        );
    let out = rt.run(&b, &rt.id("joinmnt"));
    rt.delete_force(&a_id);
    assert_clean_result(&out);
    host.assert_untouched("timens_offsets in a joined mount namespace");
}

/// Class 6: a hostile image's /dev, /dev/pts and /etc/hosts point out of
/// the root; nothing is created or written outside it.
#[test]
fn hostile_dev_and_etc_stay_inside() {
    let host = Host::new();
    let rt = Runtime::new();
    for target in [host.dir().display().to_string(), climbing(host.dir())] {
        let victim = host.victim().display().to_string();
        let victim_climb = climbing(&host.victim());
        // Not there yet: the bind mount's target would be created on the host.
        let missing = host.dir().join("planted-hosts").display().to_string();
        let missing_climb = climbing(&host.dir().join("planted-hosts"));
        for (what, link, to, own_dev) in [
            ("dev", "dev", target.clone(), false),
            ("dev/pts", "dev/pts", target.clone(), false),
            // No /dev tmpfs: device nodes and /dev links go into the image's /dev.
            ("image's own dev", "dev", target.clone(), true),
            ("image's own dev/pts", "dev/pts", target.clone(), true),
            ("etc/hosts", "etc/hosts", victim.clone(), false),
            (
                "etc/hosts climbing",
                "etc/hosts",
                victim_climb.clone(),
                false,
            ),
            ("etc/hosts missing", "etc/hosts", missing.clone(), false),
            (
                "etc/hosts missing climbing",
                "etc/hosts",
                missing_climb.clone(),
                false,
            ),
        ] {
            let mut b = Bundle::sh("echo hi > /dev/null; cat /etc/hosts >/dev/null 2>&1; true");
            if own_dev {
                use_image_dev(&mut b);
            }
            std::fs::create_dir_all(b.rootfs().join("dev")).expect("mkdir dev");
            replace_with_symlink(&b.rootfs().join(link), &to);
            let hosts = b.host_dir("src").join("hosts");
            std::fs::write(&hosts, "127.0.0.1 attacker\n").expect("write hosts");
            b.mount(json!({"destination": "/etc/hosts", "type": "bind",
                "source": hosts, "options": ["bind", "rw"]}));
            let before = host_mounts();
            let out = rt.run(&b, &rt.id("hostile"));
            assert_clean_result(&out);
            assert_eq!(
                host_mounts(),
                before,
                "{what} -> {to}: host mount table changed"
            );
            host.assert_untouched(&format!("{what} -> {to}"));
        }
    }
}
