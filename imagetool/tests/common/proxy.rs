//! A pass-through HTTP proxy in front of a registry that misbehaves on purpose (503s, cut
//! or stalled bodies, uploads cut midway) or only slows responses down.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A pass-through HTTP proxy in front of a registry that misbehaves on purpose: the first
/// request for a path containing `fail_path` gets `503 Retry-After: 0`, and the first full
/// (non-Range) GET of a path containing `cut_path` is cut after `cut_after` bytes. It records
/// every request line plus its Range header.
pub struct FlakyProxy {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// What a [`FlakyProxy`] does wrong.
#[derive(Clone, Default)]
pub struct Faults {
    pub fail_path: String,
    pub cut_path: String,
    pub cut_after: usize,
    pub hold: bool,
    /// Bytes per second for every response body (a slow link), `None` for full speed.
    pub rate: Option<usize>,
    /// The first request whose line contains `.0` has its body cut after `.1` bytes: both
    /// connections close, as when the network drops mid-upload.
    pub cut_upload: Option<(String, usize)>,
}

impl FlakyProxy {
    /// A proxy that only slows every response down to `rate` bytes per second.
    pub fn throttled(upstream: u16, rate: usize) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
                fail_path: "/never-fails/".into(),
                cut_path: "/never-cut/".into(),
                cut_after: usize::MAX,
                rate: Some(rate),
                ..Default::default()
            },
        )
    }

    /// With `hold`, a cut connection stays open and silent instead of closing (a stalled
    /// server), so a test can interrupt the client mid-blob.
    pub fn start(
        upstream: u16,
        fail_path: &str,
        cut_path: &str,
        cut_after: usize,
        hold: bool,
    ) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
                fail_path: fail_path.into(),
                cut_path: cut_path.into(),
                cut_after,
                hold,
                ..Default::default()
            },
        )
    }

    pub fn with(upstream: u16, faults: Faults) -> FlakyProxy {
        use std::io::{Read, Write};
        let Faults {
            fail_path,
            cut_path,
            cut_after,
            hold,
            rate,
            cut_upload,
        } = faults;
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            let failed = Arc::new(Mutex::new(false));
            let cut = Arc::new(Mutex::new(false));
            let upload_cut = Arc::new(Mutex::new(false));
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { return };
                let (log, failed, cut, fail_path, cut_path, upload_cut, cut_upload) = (
                    log.clone(),
                    failed.clone(),
                    cut.clone(),
                    fail_path.clone(),
                    cut_path.clone(),
                    upload_cut.clone(),
                    cut_upload.clone(),
                );
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    // A TLS ClientHello on this plain port: answer 400 as Go's server does.
                    if client.peek(&mut b).unwrap_or(0) == 1 && b[0] == 0x16 {
                        let _ = client.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
                        return;
                    }
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut b).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let line = text.lines().next().unwrap_or("").to_string();
                    let range = text
                        .lines()
                        .find(|l| l.to_ascii_lowercase().starts_with("range:"))
                        .map(|l| l.to_string());
                    log.lock()
                        .unwrap()
                        .push(format!("{line} {}", range.clone().unwrap_or_default()));
                    if line.contains(&fail_path)
                        && !std::mem::replace(&mut *failed.lock().unwrap(), true)
                    {
                        let _ = client.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    let mut up = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    let mut fixed: String = text
                        .lines()
                        .filter(|l| {
                            !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:")
                        })
                        .map(|l| format!("{l}\r\n"))
                        .collect();
                    fixed.push_str("Connection: close\r\n\r\n");
                    up.write_all(fixed.as_bytes()).unwrap();
                    let body_limit = match &cut_upload {
                        Some((path, after))
                            if line.contains(path.as_str())
                                && !std::mem::replace(&mut *upload_cut.lock().unwrap(), true) =>
                        {
                            *after
                        }
                        _ => usize::MAX,
                    };
                    forward_body(&client, &up, body_limit);
                    let limit = if line.starts_with("GET")
                        && line.contains(&cut_path)
                        && range.is_none()
                        && !std::mem::replace(&mut *cut.lock().unwrap(), true)
                    {
                        cut_after
                    } else {
                        usize::MAX
                    };
                    let mut sent = 0usize;
                    let mut buf =
                        vec![0u8; rate.map_or(64 * 1024, |r| (r / 20).clamp(1, 64 * 1024))];
                    let started = Instant::now();
                    loop {
                        if let Some(r) = rate {
                            // Pace the body: never ahead of `rate` bytes per second.
                            let due = Duration::from_secs_f64(sent as f64 / r as f64);
                            if let Some(wait) = due.checked_sub(started.elapsed()) {
                                std::thread::sleep(wait);
                            }
                        }
                        let n = match up.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let n = n.min(limit - sent);
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n;
                        if sent >= limit {
                            if hold {
                                std::thread::sleep(Duration::from_secs(60));
                            }
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        FlakyProxy { port, requests }
    }
}

/// Copy the request body (whatever follows the head) upstream on its own thread; after
/// `limit` bytes both connections are shut down.
fn forward_body(client: &TcpStream, up: &TcpStream, limit: usize) {
    use std::io::{Read, Write};
    let (mut from, mut to) = (client.try_clone().unwrap(), up.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n.min(limit - sent),
            };
            if to.write_all(&buf[..n]).is_err() {
                return;
            }
            sent += n;
            if sent >= limit {
                let _ = from.shutdown(std::net::Shutdown::Both);
                let _ = to.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    });
}
