//! config "Console" (`process.terminal`, `consoleSize`) through runc's
//! `--console-socket` protocol, and the fds a runtime passes on:
//! `--preserve-fds N` and systemd socket activation (`LISTEN_FDS`).

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use spec_tests::console::{is_tty, read_until, ConsoleSocket};
use spec_tests::leaks::assert_clean;
use spec_tests::{Bundle, Runtime, TempDir};

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
