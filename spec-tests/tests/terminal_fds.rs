//! config "Console" (`process.terminal`, `consoleSize`) through runc's
//! `--console-socket` protocol, and the fds a runtime passes on:
//! `--preserve-fds N` and systemd socket activation (`LISTEN_FDS`).

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use spec_tests::console::{is_tty, read_until, ConsoleSocket};
use spec_tests::leaks::assert_clean;
use spec_tests::{Bundle, Out, Runtime, TempDir};

#[test]
fn terminal_through_console_socket() {
    let mut b = Bundle::sh(
        "[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-ok; stty size; tty; echo END; sleep 100",
    );
    b.set("/process/terminal", json!(true))
        .set("/process/consoleSize", json!({"height": 30, "width": 100}));
    let dir = TempDir::new("skt-console");
    let sock = ConsoleSocket::bind(dir.path());
    let rt = Runtime::new();
    let id = rt.id("tty");
    b.save();
    let bundle = b.path().to_string_lossy().into_owned();
    let sock_path = sock.path().to_string_lossy().into_owned();
    let mut master = std::thread::scope(|s| {
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
        let out = create.join().expect("create thread");
        match master {
            Ok(m) if out.ok() => m,
            Ok(_) => panic!("create failed after sending the pty: {out}"),
            Err(e) => panic!("{e}\n{out}"),
        }
    });
    assert!(is_tty(&master), "the received fd is a pty master");
    rt.start(&id).expect_ok();
    let text = read_until(&mut master, "END", Duration::from_secs(10));
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    assert_eq!(lines.first(), Some(&"tty-ok"), "{text:?}");
    assert_eq!(lines.get(1), Some(&"30 100"), "consoleSize: {text:?}");
    assert!(
        lines.get(2).is_some_and(|l| l.starts_with("/dev/pts/")),
        "{text:?}"
    );
    rt.delete_force(&id).expect_ok();
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn preserve_fds_passes_fd_3() {
    let b = Bundle::sh("cat <&3; readlink /proc/self/fd/4 || echo no-fd-4");
    let rt = Runtime::new();
    let id = rt.id("fds");
    let data = b.host_dir("data").join("extra");
    std::fs::write(&data, "from fd 3\n").expect("write");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec 3<\"$0\" 4<\"$0\"; exec \"$@\"")
        .arg(&data)
        .arg(rt.bin())
        .arg("--root")
        .arg(rt.root())
        .args(["run", "--preserve-fds", "1", "--bundle"])
        .arg(b.path())
        .arg(&id);
    let out = rt.output(cmd, Duration::from_secs(30));
    assert_eq!(
        out.expect_ok().stdout,
        "from fd 3\nno-fd-4\n",
        "only fds 3..3+N pass: {out}"
    );
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn listen_fds_are_passed_on() {
    let b = Bundle::sh("echo LISTEN_FDS=$LISTEN_FDS; cat <&3");
    let rt = Runtime::new();
    let id = rt.id("listen");
    let data = b.host_dir("data").join("sock");
    std::fs::write(&data, "activated\n").expect("write");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec 3<\"$0\"; export LISTEN_FDS=1 LISTEN_PID=$$; exec \"$@\"")
        .arg(&data)
        .arg(rt.bin())
        .arg("--root")
        .arg(rt.root())
        .args(["run", "--bundle"])
        .arg(b.path())
        .arg(&id);
    let out = rt.output(cmd, Duration::from_secs(30));
    assert_eq!(out.expect_ok().stdout, "LISTEN_FDS=1\nactivated\n", "{out}");
}

/// `skiff ARGS` under a terminal of 33x101.
fn under_a_terminal(rt: &Runtime, args: &str) -> Out {
    let line = format!(
        "stty rows 33 cols 101; {} --root {} {args}",
        rt.bin().display(),
        rt.root().display()
    );
    spec_tests::console::under_script(&line, Duration::from_secs(30))
}

#[test]
fn foreground_run_gives_the_container_our_terminal() {
    let mut b = Bundle::sh("[ -t 0 ] && [ -t 1 ] && echo tty-ok; stty size; tty; exit 3");
    b.set("/process/terminal", json!(true));
    b.save();
    let rt = Runtime::new();
    let id = rt.id("fgtty");
    let out = under_a_terminal(&rt, &format!("run --bundle {} {id}", b.path().display()));
    assert_eq!(out.code, 3, "{out}");
    let text = out.stdout.replace('\r', "");
    assert!(text.contains("tty-ok\n33 101\n/dev/pts/"), "{text:?}");
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn foreground_exec_tty_gives_the_process_our_terminal() {
    let b = Bundle::sh("sleep 100");
    let rt = Runtime::new();
    let id = rt.id("fgexec");
    b.save();
    rt.exec(&["run", "-d", "--bundle", &b.path().to_string_lossy(), &id])
        .expect_ok();
    let out = under_a_terminal(&rt, &format!("exec -t {id} sh -c 'stty size; tty; exit 4'"));
    assert_eq!(out.code, 4, "{out}");
    let text = out.stdout.replace('\r', "");
    assert!(text.contains("33 101\n/dev/pts/"), "{text:?}");
    rt.delete_force(&id).expect_ok();
    assert_clean(&rt, &id, &b, None);
}

#[test]
fn run_keep_leaves_the_stopped_container() {
    let b = Bundle::sh("exit 5");
    let rt = Runtime::new();
    let id = rt.id("keep");
    b.save();
    let out = rt.exec(&[
        "run",
        "--keep",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ]);
    assert_eq!(out.code, 5, "{out}");
    assert_eq!(rt.state(&id)["status"], "stopped");
    rt.exec(&["delete", &id]).expect_ok();
    assert_clean(&rt, &id, &b, None);
}
