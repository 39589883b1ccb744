//! A forward HTTP proxy as corporate networks have them: `CONNECT` tunnels for https and
//! absolute-form requests for plain http, with optional Basic `Proxy-Authorization`. It
//! resolves every host name to 127.0.0.1, so a name that exists nowhere else (such as
//! `registry.skiff.test`) reaches a loopback registry only through it. It records the
//! request line of every connection it served or refused.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A loopback listener that serves each connection on a thread of its own, and the log of
/// requests its connections record.
struct Served {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Served {
    fn start(serve: impl Fn(TcpStream, &Mutex<Vec<String>>) + Send + Sync + 'static) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let serve = Arc::new(serve);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (log, serve) = (log.clone(), serve.clone());
                std::thread::spawn(move || serve(client, &log));
            }
        });
        Served { port, requests }
    }

    /// The requests so far, once none has come for 300 ms: a client that exits on its
    /// first error may leave a connection the proxy has not yet read.
    fn seen(&self) -> Vec<String> {
        let mut last = usize::MAX;
        loop {
            let now = self.requests.lock().unwrap().len();
            if now == last {
                return self.requests.lock().unwrap().clone();
            }
            last = now;
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

pub struct ForwardProxy {
    pub port: u16,
    served: Served,
}

impl ForwardProxy {
    /// `auth`: the `Proxy-Authorization` value required (`Basic …`), if any.
    pub fn start(auth: Option<String>) -> ForwardProxy {
        let served = Served::start(move |client, log| serve(client, log, auth.as_deref()));
        ForwardProxy {
            port: served.port,
            served,
        }
    }

    pub fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}127.0.0.1:{}", self.port)
    }

    /// The first request line of each connection, in arrival order.
    pub fn seen(&self) -> Vec<String> {
        self.served.seen()
    }
}

fn serve(client: TcpStream, log: &Mutex<Vec<String>>, auth: Option<&str>) {
    let mut r = BufReader::new(client.try_clone().unwrap());
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let request_line = head[0].trim_end().to_string();
    log.lock().unwrap().push(request_line.clone());
    let given = head.iter().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case("proxy-authorization")
            .then(|| v.trim().to_string())
    });
    let mut w = client;
    if auth.is_some() && given.as_deref() != auth {
        let _ = w.write_all(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method == "CONNECT" {
        let Some(up) = upstream(target) else {
            let _ = w.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        let _ = w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        // Nothing the client sent after the CONNECT head may be lost.
        let pending = r.buffer().to_vec();
        pipe(r.into_inner(), w, up, &pending);
        return;
    }
    // Absolute form: `GET http://host:port/path HTTP/1.1`, passed on in origin form.
    let Some(rest) = target.strip_prefix("http://") else {
        let _ = w.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(up) = upstream(authority) else {
        let _ = w.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let mut first = format!(
        "{method} {} HTTP/1.1\r\n",
        if path.is_empty() { "/" } else { path }
    );
    for h in &head[1..] {
        if !h.to_ascii_lowercase().starts_with("proxy-authorization:") {
            first.push_str(h);
        }
    }
    let mut pending = first.into_bytes();
    pending.extend_from_slice(r.buffer());
    // Later requests on this connection stay in absolute form, which servers accept.
    pipe(r.into_inner(), w, up, &pending);
}

/// `host:port` with any host name taken to mean 127.0.0.1.
fn upstream(authority: &str) -> Option<TcpStream> {
    let port: u16 = authority.rsplit_once(':')?.1.parse().ok()?;
    TcpStream::connect(("127.0.0.1", port)).ok()
}

fn pipe(client_r: TcpStream, mut client_w: TcpStream, up: TcpStream, pending: &[u8]) {
    let mut up_w = up.try_clone().unwrap();
    if up_w.write_all(pending).is_err() {
        return;
    }
    let mut up_r = up;
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut client_w);
        let _ = client_w.shutdown(Shutdown::Both);
    });
    let mut client_r = client_r;
    let _ = std::io::copy(&mut client_r, &mut up_w);
    let _ = up_w.shutdown(Shutdown::Both);
    let _ = back.join();
}

/// A SOCKS5 proxy (RFC 1928, user/password per RFC 1929 when `credentials` is set) that
/// takes every name to mean 127.0.0.1 and records `host:port` of each CONNECT.
pub struct Socks5Proxy {
    pub port: u16,
    served: Served,
}

impl Socks5Proxy {
    pub fn start(credentials: Option<(String, String)>) -> Socks5Proxy {
        let served = Served::start(move |client, log| {
            let _ = socks5_serve(client, log, credentials.as_ref());
        });
        Socks5Proxy {
            port: served.port,
            served,
        }
    }

    pub fn url(&self, userinfo: &str) -> String {
        format!("socks5://{userinfo}127.0.0.1:{}", self.port)
    }

    /// `host:port` of each CONNECT (or "refused credentials"), in arrival order.
    pub fn seen(&self) -> Vec<String> {
        self.served.seen()
    }
}

fn socks5_serve(
    mut c: TcpStream,
    log: &Mutex<Vec<String>>,
    creds: Option<&(String, String)>,
) -> std::io::Result<()> {
    use std::io::Read;
    let mut hello = [0u8; 2];
    c.read_exact(&mut hello)?;
    let mut methods = vec![0u8; usize::from(hello[1])];
    c.read_exact(&mut methods)?;
    let want = if creds.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        return c.write_all(&[5, 0xff]);
    }
    c.write_all(&[5, want])?;
    if let Some((user, pass)) = creds {
        let mut v = [0u8; 2];
        c.read_exact(&mut v)?;
        let mut u = vec![0u8; usize::from(v[1])];
        c.read_exact(&mut u)?;
        let mut plen = [0u8; 1];
        c.read_exact(&mut plen)?;
        let mut p = vec![0u8; usize::from(plen[0])];
        c.read_exact(&mut p)?;
        let good = u == user.as_bytes() && p == pass.as_bytes();
        c.write_all(&[1, if good { 0 } else { 1 }])?;
        if !good {
            log.lock().unwrap().push("refused credentials".into());
            return Ok(());
        }
    }
    let mut head = [0u8; 4];
    c.read_exact(&mut head)?;
    let host = match head[3] {
        1 => {
            let mut a = [0u8; 4];
            c.read_exact(&mut a)?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            c.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            c.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).to_string()
        }
        _ => return c.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    let mut port = [0u8; 2];
    c.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    log.lock().unwrap().push(format!("{host}:{port}"));
    let Ok(up) = TcpStream::connect(("127.0.0.1", port)) else {
        return c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
    };
    c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    let r = c.try_clone()?;
    pipe(r, c, up, &[]);
    Ok(())
}

/// TLS in front of a loopback port, with `srv.crt`/`srv.key` of a [`super::test_pki`]
/// directory (valid for 127.0.0.1): an https:// proxy when the port is a
/// [`ForwardProxy`]'s. Returns the port it listens on.
pub fn tls_front(pki: &std::path::Path, backend: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(pki.join("srv.crt"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.join("srv.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let front = Served::start(move |client, _| {
        let Ok(up) = TcpStream::connect(("127.0.0.1", backend)) else {
            return;
        };
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        relay(rustls::StreamOwned::new(conn, client), up);
    });
    front.port
}

/// Both directions on one thread, taking turns with short read timeouts (a TLS stream
/// cannot be read and written from two threads).
fn relay(mut tls: rustls::StreamOwned<rustls::ServerConnection, TcpStream>, mut up: TcpStream) {
    use std::io::{ErrorKind, Read};
    let tick = Some(std::time::Duration::from_millis(2));
    if tls.sock.set_read_timeout(tick).is_err() || up.set_read_timeout(tick).is_err() {
        return;
    }
    let idle = |e: &std::io::Error| matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if up.write_all(&buf[..n]).is_err() => break,
            Ok(_) => {}
            Err(e) if idle(&e) => {}
            Err(_) => break,
        }
        match up.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() => break,
            Ok(_) => {}
            Err(e) if idle(&e) => {}
            Err(_) => break,
        }
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    let _ = up.shutdown(Shutdown::Both);
}
