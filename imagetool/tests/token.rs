//! Bearer token auth (distribution `docs/spec/auth/token.md`) against a real docker-registry
//! configured with `auth: token`, and a token server in this test that signs JWTs with a
//! private CA through the openssl CLI: anonymous requests get a token with no access,
//! requests with the right basic credentials get pull/push on every repository asked for.

mod common;

use base64::Engine as _;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

const SERVICE: &str = "skiff-registry";
const ISSUER: &str = "skiff-test-issuer";

fn openssl(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A signed RS256 JWT granting `actions` on every repository in `repos`.
fn jwt(dir: &Path, repos: &[&str], actions: &[&str]) -> String {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let der = openssl(&["x509", "-in", "ca.crt", "-outform", "DER"], dir, None);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [base64::engine::general_purpose::STANDARD.encode(der)]});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let access: Vec<_> = repos
        .iter()
        .map(|r| serde_json::json!({"type": "repository", "name": r, "actions": actions}))
        .collect();
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "tester", "aud": SERVICE, "exp": now + 3600, "nbf": now - 60, "iat": now - 60,
        "jti": format!("{now}-{}", repos.len()), "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let sig = openssl(
        &["dgst", "-sha256", "-sign", "ca.key"],
        dir,
        Some(signing_input.as_bytes()),
    );
    format!("{signing_input}.{}", url.encode(sig))
}

/// Serve `/token`: the full token when the request carries `basic`, else the empty one.
fn token_server(
    full: String,
    empty: String,
    basic: String,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let text = String::from_utf8_lossy(&head).to_string();
            log.lock()
                .unwrap()
                .push(text.lines().next().unwrap_or("").to_string());
            let authed = text.lines().any(|l| {
                l.to_ascii_lowercase().starts_with("authorization:") && l.ends_with(&basic)
            });
            let body =
                serde_json::json!({"token": if authed { &full } else { &empty }}).to_string();
            let _ = write!(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    (port, seen)
}

#[test]
fn bearer_tokens_with_scopes_and_mounts() {
    let t = Tmp::new("token");
    let d = t.path();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=skiff token CA",
        ],
        d,
        None,
    );
    let full = jwt(d, &["tok/bb", "tok/other"], &["pull", "push"]);
    let empty = jwt(d, &[], &[]);
    let basic = base64::engine::general_purpose::STANDARD.encode("tester:pw");
    let (port, seen) = token_server(full, empty, basic);
    let realm = format!("http://127.0.0.1:{port}/token");
    let reg = Registry::start(RegistryConfig {
        token: Some((realm, SERVICE.into(), ISSUER.into(), d.join("ca.crt"))),
        ..Default::default()
    });
    let root = t.join("root");
    let tar = busybox_rootfs(d);
    ok(&root, &["import", tar.to_str().unwrap(), "bb:1"]);
    let h = &reg.host;
    let authfile = t.join("auth.json");
    let af = authfile.to_str().unwrap();
    // Anonymous: the token grants nothing, the registry refuses.
    let err = fails(
        &root,
        &[
            "push",
            "bb:1",
            &format!("docker://{h}/tok/bb:1"),
            "--authfile",
            af,
        ],
    );
    assert!(err.contains("401"), "{err}");
    ok(
        &root,
        &[
            "push",
            "bb:1",
            &format!("docker://{h}/tok/bb:1"),
            "--creds",
            "tester:pw",
            "--authfile",
            af,
        ],
    );
    let scopes = seen.lock().unwrap().clone();
    assert!(
        scopes.iter().any(|l| l.contains("service=skiff-registry")
            && l.contains("scope=repository:tok/bb:pull,push")),
        "{scopes:?}"
    );
    // Mount across repositories: the token is re-requested with both scopes.
    ok(
        &root,
        &["login", h, "-u", "tester", "-p", "pw", "--authfile", af],
    );
    let out = ok(
        &root,
        &[
            "copy",
            "--authfile",
            af,
            &format!("docker://{h}/tok/bb:1"),
            &format!("docker://{h}/tok/other:1"),
        ],
    );
    assert!(out.contains("mounted 2"), "{out}");
    let scopes = seen.lock().unwrap().clone();
    assert!(
        scopes
            .iter()
            .any(|l| l.contains("scope=repository:tok/other:pull,push")
                && l.contains("scope=repository:tok/bb:pull")),
        "{scopes:?}"
    );
    let root2 = t.join("root2");
    ok(
        &root2,
        &["pull", &format!("{h}/tok/other:1"), "--authfile", af],
    );
}
