//! A pass-through HTTP proxy in front of a registry that misbehaves on purpose, request by
//! request, following [`Rule`]s: statuses it answers itself (503, 429 with `Retry-After`,
//! 500 on an upload), canned bodies (a huge or malformed manifest), stalls, cut or
//! corrupted bodies, a `Content-Length` that lies, uploads cut midway, rewritten request
//! lines; or it only slows bodies down (both ways). It records every request line (with
//! its Range header) and when it came.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct FlakyProxy {
    pub port: u16,
    /// `"<request line> <Range header>"` of every request, in arrival order.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// When each request of [`Self::requests`] arrived.
    pub stamps: Arc<Mutex<Vec<Instant>>>,
}

/// What goes wrong for one kind of request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status with these headers (and an empty body) without forwarding.
    Status(u16, Vec<(String, String)>),
    /// Answer 200 with this body without forwarding; `length: false` sends no
    /// Content-Length (the body ends when the connection closes).
    Respond {
        content_type: String,
        body: Vec<u8>,
        length: bool,
    },
    /// Take the request, say nothing for this long, then close (a stalled server).
    Stall(Duration),
    /// Forward; cut the response body after this many bytes (the connection closes).
    Cut(usize),
    /// Forward; after this many body bytes keep the connection open and silent for 60 s.
    Hold(usize),
    /// Forward with a Content-Length this many bytes larger (the body ends early) or
    /// smaller (the body runs past it) than the body really is.
    LieLength(i64),
    /// Forward; flip every bit of the body byte at this offset (same length, wrong bytes).
    Corrupt(usize),
    /// Forward only this many bytes of the request body, then close both connections.
    CutUpload(usize),
    /// Replace the first `.0` in the request line by `.1`, then forward.
    Rewrite(String, String),
}

/// A fault for the requests whose method is `method` ("" for any) and whose request
/// line contains `path`, for the first `times` of them.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: String,
    pub path: String,
    pub times: usize,
    /// Only requests without a Range header (a resumed download is left alone).
    pub full_only: bool,
    pub fault: Fault,
}

impl Rule {
    /// The first matching request only.
    pub fn once(method: &str, path: &str, fault: Fault) -> Rule {
        Rule {
            method: method.into(),
            path: path.into(),
            times: 1,
            full_only: false,
            fault,
        }
    }

    /// Every matching request.
    pub fn always(method: &str, path: &str, fault: Fault) -> Rule {
        Rule {
            times: usize::MAX,
            ..Rule::once(method, path, fault)
        }
    }

    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }

    fn matches(&self, method: &str, line: &str, ranged: bool) -> bool {
        (self.method.is_empty() || self.method == method)
            && line.contains(&self.path)
            && !(self.full_only && ranged)
    }
}

/// An empty-bodied status answer.
pub fn status(code: u16) -> Fault {
    Fault::Status(code, Vec::new())
}

/// A status answer with a `Retry-After` header.
pub fn retry_after(code: u16, value: &str) -> Fault {
    Fault::Status(code, vec![("Retry-After".into(), value.into())])
}

/// What a [`FlakyProxy`] does wrong: the classic three (`fail_path`: the first request for
/// it gets `503 Retry-After: 0`; `cut_path`: its first full GET is cut after `cut_after`
/// bytes, or held open with `hold`), then any [`Rule`]s, first match wins.
#[derive(Clone, Default)]
pub struct Faults {
    pub fail_path: String,
    pub cut_path: String,
    pub cut_after: usize,
    pub hold: bool,
    /// Bytes per second for every body, both ways (a slow link); `None` for full speed.
    pub rate: Option<usize>,
    pub rules: Vec<Rule>,
}

impl Faults {
    fn into_rules(self) -> (Vec<Rule>, Option<usize>) {
        let mut rules = Vec::new();
        if !self.fail_path.is_empty() {
            rules.push(Rule::once("", &self.fail_path, retry_after(503, "0")));
        }
        if !self.cut_path.is_empty() {
            let fault = if self.hold {
                Fault::Hold(self.cut_after)
            } else {
                Fault::Cut(self.cut_after)
            };
            rules.push(Rule {
                full_only: true,
                ..Rule::once("GET", &self.cut_path, fault)
            });
        }
        rules.extend(self.rules);
        (rules, self.rate)
    }
}

struct Shared {
    upstream: u16,
    rate: Option<usize>,
    /// Each rule with how many more requests it applies to.
    rules: Mutex<Vec<Rule>>,
    requests: Arc<Mutex<Vec<String>>>,
    stamps: Arc<Mutex<Vec<Instant>>>,
}

impl FlakyProxy {
    /// A proxy that only slows every body down to `rate` bytes per second.
    pub fn throttled(upstream: u16, rate: usize) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
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

    /// A proxy applying `rules` only.
    pub fn rules(upstream: u16, rules: Vec<Rule>) -> FlakyProxy {
        FlakyProxy::with(
            upstream,
            Faults {
                rules,
                ..Default::default()
            },
        )
    }

    pub fn with(upstream: u16, faults: Faults) -> FlakyProxy {
        let (rules, rate) = faults.into_rules();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            upstream,
            rate,
            rules: Mutex::new(rules),
            requests: Arc::default(),
            stamps: Arc::default(),
        });
        let proxy = FlakyProxy {
            port,
            requests: shared.requests.clone(),
            stamps: shared.stamps.clone(),
        };
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { return };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, &shared);
                });
            }
        });
        proxy
    }

    /// Request lines seen so far that contain `needle`.
    pub fn seen(&self, needle: &str) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Arrival times of the requests whose line contains `needle`.
    pub fn stamps_of(&self, needle: &str) -> Vec<Instant> {
        let requests = self.requests.lock().unwrap();
        let stamps = self.stamps.lock().unwrap();
        requests
            .iter()
            .zip(stamps.iter())
            .filter(|(l, _)| l.contains(needle))
            .map(|(_, t)| *t)
            .collect()
    }
}

/// A parsed request or response head.
struct Head {
    line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn read(r: &mut impl BufRead) -> io::Result<Head> {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        Ok(Head {
            line: line.trim_end().to_string(),
            headers,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }

    fn bytes(&self) -> Vec<u8> {
        let mut s = format!("{}\r\n", self.line);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut b = [0u8; 1];
    // A TLS ClientHello on this plain port: answer 400 as Go's server does.
    if client.peek(&mut b)? == 1 && b[0] == 0x16 {
        return (&client).write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    }
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut req = Head::read(&mut from_client)?;
    let range = req.get("range").map(|r| format!("Range: {r}"));
    shared.requests.lock().unwrap().push(format!(
        "{} {}",
        req.line,
        range.clone().unwrap_or_default()
    ));
    shared.stamps.lock().unwrap().push(Instant::now());
    let method = req.line.split(' ').next().unwrap_or("").to_string();
    let fault = {
        let mut rules = shared.rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|r| r.times > 0 && r.matches(&method, &req.line, range.is_some()))
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            })
    };
    let mut client_w = client;
    match &fault {
        Some(Fault::Status(code, headers)) => {
            copy_body(&mut from_client, &req, &mut io::sink(), None, usize::MAX)?;
            let mut s = format!("HTTP/1.1 {code} Injected\r\n");
            for (k, v) in headers {
                s.push_str(&format!("{k}: {v}\r\n"));
            }
            s.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
            return client_w.write_all(s.as_bytes());
        }
        Some(Fault::Respond {
            content_type,
            body,
            length,
        }) => {
            copy_body(&mut from_client, &req, &mut io::sink(), None, usize::MAX)?;
            let mut s = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n");
            if *length {
                s.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            s.push_str("Connection: close\r\n\r\n");
            client_w.write_all(s.as_bytes())?;
            if method != "HEAD" {
                client_w.write_all(body)?;
            }
            return client_w.shutdown(std::net::Shutdown::Both);
        }
        Some(Fault::Stall(d)) => {
            std::thread::sleep(*d);
            return Ok(());
        }
        Some(Fault::Rewrite(from, to)) => req.line = req.line.replacen(from.as_str(), to, 1),
        _ => {}
    }
    let mut up = TcpStream::connect(("127.0.0.1", shared.upstream))?;
    req.set("Connection", "close".into());
    up.write_all(&req.bytes())?;
    let upload_limit = match fault {
        Some(Fault::CutUpload(n)) => n,
        _ => usize::MAX,
    };
    let sent = copy_body(&mut from_client, &req, &mut up, shared.rate, upload_limit);
    if upload_limit != usize::MAX && sent.as_ref().is_ok_and(|n| *n >= upload_limit) {
        let _ = up.shutdown(std::net::Shutdown::Both);
        return client_w.shutdown(std::net::Shutdown::Both);
    }
    let mut from_up = BufReader::new(up.try_clone()?);
    let mut resp = Head::read(&mut from_up)?;
    if let Some(Fault::LieLength(delta)) = fault {
        if let Some(n) = resp
            .get("content-length")
            .and_then(|v| v.parse::<i64>().ok())
        {
            resp.set("Content-Length", (n + delta).max(0).to_string());
        }
    }
    resp.set("Connection", "close".into());
    client_w.write_all(&resp.bytes())?;
    let (limit, hold) = match fault {
        Some(Fault::Cut(n)) => (n, false),
        Some(Fault::Hold(n)) => (n, true),
        _ => (usize::MAX, false),
    };
    let corrupt = match fault {
        Some(Fault::Corrupt(at)) => Some(at),
        _ => None,
    };
    pace(&mut from_up, &mut client_w, shared.rate, limit, corrupt)?;
    if hold {
        std::thread::sleep(Duration::from_secs(60));
    }
    let _ = client_w.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// Copy the request body that follows `head` (Content-Length or chunked framing, sent as
/// it came) to `to`, at most `limit` bytes; returns how many were copied.
fn copy_body(
    from: &mut BufReader<TcpStream>,
    head: &Head,
    to: &mut dyn Write,
    rate: Option<usize>,
    limit: usize,
) -> io::Result<usize> {
    if let Some(n) = head
        .get("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        return pace(&mut from.take(n), to, rate, limit, None);
    }
    if !head
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        return Ok(0);
    }
    // Chunked: forward each size line, chunk and CRLF until the empty last chunk.
    let mut total = 0usize;
    loop {
        let mut size_line = String::new();
        from.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| io::Error::other(format!("bad chunk size {size_line:?}")))?;
        to.write_all(size_line.as_bytes())?;
        let n = pace(
            &mut from.take(size as u64 + 2),
            to,
            rate,
            limit - total,
            None,
        )?;
        total += n;
        if total >= limit || size == 0 {
            return Ok(total);
        }
    }
}

/// Copy `from` to `to` until EOF or `limit` bytes, never faster than `rate` bytes per
/// second, flipping the byte at offset `corrupt`; returns the bytes copied.
fn pace(
    from: &mut dyn Read,
    to: &mut dyn Write,
    rate: Option<usize>,
    limit: usize,
    corrupt: Option<usize>,
) -> io::Result<usize> {
    let mut buf = vec![0u8; rate.map_or(64 * 1024, |r| (r / 20).clamp(1, 64 * 1024))];
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < limit {
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(sent as f64 / r as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n.min(limit - sent),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(at) = corrupt {
            if (sent..sent + n).contains(&at) {
                buf[at - sent] ^= 0xff;
            }
        }
        to.write_all(&buf[..n])?;
        sent += n;
    }
    Ok(sent)
}
