//! Tests for `tty`: a forked child unshares a mount namespace, mounts a
//! private tmpfs on /dev with a fresh devpts instance (so the host's /dev is
//! never touched), and runs `setup_console` against a listener here.

use super::*;
use crate::sys::process::{pty_number, recv_fd, run_in_child, window_size};
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::stat;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let p = std::env::temp_dir().join(format!("skiff-tty-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}

/// Accepts one connection and returns the message data and passed fd, if
/// any arrived before the peer closed.
fn receive_one(listener: UnixListener) -> std::thread::JoinHandle<Option<(Vec<u8>, OwnedFd)>> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().ok()?;
        let mut buf = [0u8; 256];
        let (n, fd) = recv_fd(stream.as_fd(), &mut buf).ok()?;
        Some((buf[..n].to_vec(), fd?))
    })
}

/// The child's private /dev: tmpfs, a new devpts instance, /dev/ptmx link.
fn private_dev() {
    unshare(CloneFlags::CLONE_NEWNS).unwrap();
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .unwrap();
    mount(
        Some("tmpfs"),
        "/dev",
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=755"),
    )
    .unwrap();
    std::fs::create_dir("/dev/pts").unwrap();
    let opts = "newinstance,ptmxmode=0666,mode=0620";
    mount(
        Some("devpts"),
        "/dev/pts",
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(opts),
    )
    .unwrap();
    std::os::unix::fs::symlink("pts/ptmx", "/dev/ptmx").unwrap();
}

#[test]
fn console_socket_receives_a_pty_master_and_child_gets_the_slave() {
    let dir = temp_dir("ok");
    let sock = dir.0.join("console.sock");
    let rx = receive_one(UnixListener::bind(&sock).unwrap());
    let size = oci_spec::runtime::BoxBuilder::default()
        .height(24u64)
        .width(80u64)
        .build()
        .unwrap();
    let code = run_in_child(|| {
        private_dev();
        let socket = connect_console_socket(&sock).unwrap();
        setup_console(socket, Some(&size)).unwrap();
        let tty = fstat(std::io::stdin().as_fd()).unwrap();
        let console = stat(CONSOLE).unwrap();
        let proc_stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let after_comm = &proc_stat[proc_stat.rfind(')').unwrap() + 2..];
        let tty_nr: u64 = after_comm
            .split_whitespace()
            .nth(4)
            .unwrap()
            .parse()
            .unwrap();
        let (maj, min) = (major(tty.st_rdev), minor(tty.st_rdev));
        let expected_tty_nr = (min & 0xff) | (maj << 8) | ((min & !0xff) << 12);
        let checks = [
            SFlag::from_bits_truncate(tty.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR,
            console.st_rdev == tty.st_rdev,
            window_size(std::io::stdout().as_fd()).unwrap() == (24, 80),
            getsid(None).unwrap() == getpid(),
            tty_nr == expected_tty_nr,
            fstat(std::io::stderr().as_fd()).unwrap().st_rdev == tty.st_rdev,
        ];
        checks
            .iter()
            .position(|ok| !ok)
            .map_or(0, |i| 10 + i as i32)
    })
    .unwrap();
    assert_eq!(code, 0, "check #{} failed", code - 10);
    let (data, master) = rx.join().unwrap().expect("no fd received");
    assert_eq!(data, b"/dev/ptmx");
    // TIOCGPTN answers only on a pty master.
    pty_number(master.as_fd()).expect("received fd is not a pty master");
}

/// /dev/pts swapped after the master's devpts was mounted (as a racing
/// container would): the devpts instance moves to /dev/realpts, /dev/ptmx
/// follows it, and a tmpfs of regular files "0".."15" sits on /dev/pts.
/// The slave must still be the master's peer, on /dev/console and fd 0.
#[test]
fn decoy_dev_pts_does_not_become_the_console() {
    let dir = temp_dir("decoy");
    let sock = dir.0.join("console.sock");
    let rx = receive_one(UnixListener::bind(&sock).unwrap());
    let code = run_in_child(|| {
        private_dev();
        std::fs::create_dir("/dev/realpts").unwrap();
        let none = None::<&str>;
        mount(
            Some("/dev/pts"),
            "/dev/realpts",
            none,
            MsFlags::MS_MOVE,
            none,
        )
        .unwrap();
        mount(
            Some("tmpfs"),
            "/dev/pts",
            Some("tmpfs"),
            MsFlags::empty(),
            none,
        )
        .unwrap();
        for n in 0..16 {
            std::fs::write(format!("/dev/pts/{n}"), "decoy\n").unwrap();
        }
        std::fs::remove_file(PTMX).unwrap();
        std::os::unix::fs::symlink("realpts/ptmx", PTMX).unwrap();
        let socket = connect_console_socket(&sock).unwrap();
        if let Err(e) = setup_console(socket, None) {
            eprintln!("setup_console: {e:#}");
            return 1;
        }
        let tty = fstat(std::io::stdin().as_fd()).unwrap();
        let on_devpts = nix::sys::statfs::fstatfs(std::io::stdin().as_fd())
            .is_ok_and(|fs| fs.filesystem_type() == DEVPTS_SUPER_MAGIC);
        let checks = [
            SFlag::from_bits_truncate(tty.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR,
            on_devpts,
            (major(tty.st_rdev), minor(tty.st_rdev)) == (136, 0),
            stat(CONSOLE).unwrap().st_rdev == tty.st_rdev,
        ];
        checks
            .iter()
            .position(|ok| !ok)
            .map_or(0, |i| 10 + i as i32)
    })
    .unwrap();
    let what = match code {
        1 => "setup_console failed (its error is on stderr)".to_string(),
        c => format!("check #{} failed", c - 10),
    };
    assert_eq!(code, 0, "{what}");
    let (_, master) = rx.join().unwrap().expect("no fd received");
    assert_eq!(pty_number(master.as_fd()).unwrap(), 0);
}

#[test]
fn symlinked_dev_console_is_refused() {
    let dir = temp_dir("symlink");
    let sock = dir.0.join("console.sock");
    let rx = receive_one(UnixListener::bind(&sock).unwrap());
    let code = run_in_child(|| {
        private_dev();
        std::os::unix::fs::symlink("/etc/hostname", CONSOLE).unwrap();
        let socket = connect_console_socket(&sock).unwrap();
        match setup_console(socket, None) {
            Ok(()) => 1,
            Err(e) => {
                let msg = format!("{e:#}");
                let named =
                    msg.starts_with("prepare \"/dev/console\": ") && msg.contains("symlink");
                2 * i32::from(!named)
            }
        }
    })
    .unwrap();
    assert_eq!(code, 0);
    // Nothing is sent when the console cannot be set up.
    assert!(rx.join().unwrap().is_none());
}

#[test]
fn missing_console_socket_names_the_path() {
    let err = connect_console_socket(Path::new("/nonexistent/skiff.sock")).unwrap_err();
    assert!(
        format!("{err:#}").starts_with("connect to console socket \"/nonexistent/skiff.sock\": ")
    );
}
