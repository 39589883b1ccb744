//! Fault injection between skiff-image and a real docker-registry, through the rule-driven
//! proxy of `common/proxy.rs`: 429 with a Retry-After in seconds and as an HTTP-date, 500s
//! on manifest and blob GETs, 5xx on upload PATCH/PUT and on the manifest PUT, stalls
//! against the read timeout, a registry that always fails, `--retry-times`, a
//! Content-Length that lies both ways and blob bytes that do not match their digest.
//! Each copy either succeeds with the right digests or fails with one line, leaving the
//! store (and an `oci:` destination) untouched.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `oci:DIR:m` under `t`.
fn oci_dest(t: &Tmp, dir: &str) -> String {
    format!("oci:{}:m", t.join(dir).display())
}

/// The digest `inspect` reports for a location.
fn digest_of(root: &Path, location: &str) -> String {
    json_digest(&ok(root, &["inspect", location]))
}

/// Seconds between the first two requests whose line contains `needle`.
fn gap(proxy: &FlakyProxy, needle: &str) -> Duration {
    let s = proxy.stamps_of(needle);
    assert!(s.len() >= 2, "not retried: {:?}", proxy.seen(needle));
    s[1] - s[0]
}

fn http_date(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{secs}"),
            "+%a, %d %b %Y %H:%M:%S GMT",
        ])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn rate_limit_429_retry_after_seconds_is_waited_out() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("f429");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 64 << 10);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![
            Rule::once("GET", "/manifests/1", retry_after(429, "2")),
            Rule::once("GET", &p.big.to_string(), retry_after(429, "1")),
        ],
    );
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    let dst = oci_dest(&t, "out");
    ok(&root, &["copy", "-q", &via, &dst]);
    assert_eq!(digest_of(&root, &dst), p.manifest.to_string());
    let waited = gap(&proxy, "/manifests/1");
    assert!(
        waited >= Duration::from_millis(1900),
        "manifest retried after {waited:?}, not the 2 s asked for"
    );
    let waited = gap(&proxy, &p.big.to_string());
    assert!(
        waited >= Duration::from_millis(900),
        "blob retried after {waited:?}, not the 1 s asked for"
    );
}

#[test]
fn rate_limit_429_retry_after_http_date_is_waited_out() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("f429date");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 64 << 10);
    // Three seconds ahead: a whole-second date still means at least two seconds' wait.
    let date = http_date(SystemTime::now() + Duration::from_secs(3));
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::once("GET", "/manifests/1", retry_after(429, &date))],
    );
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    let dst = oci_dest(&t, "out");
    ok(&root, &["copy", "-q", &via, &dst]);
    assert_eq!(digest_of(&root, &dst), p.manifest.to_string());
    let waited = gap(&proxy, "/manifests/1");
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?} despite Retry-After: {date}"
    );
}

#[test]
fn server_errors_on_manifest_and_blob_gets_are_retried() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("f500get");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 256 << 10);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![
            Rule::once("GET", "/manifests/1", status(500)),
            Rule::once("GET", &p.big.to_string(), status(500)).times(2),
            Rule::once("GET", &p.config.to_string(), status(502)),
        ],
    );
    let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
    ok(&root, &["pull", "-q", &name]);
    assert_eq!(digest_of(&root, &name), p.manifest.to_string());
    assert_eq!(proxy.seen("/manifests/1").len(), 2);
    assert_eq!(proxy.seen(&p.big.to_string()).len(), 3);
    assert_eq!(proxy.seen(&p.config.to_string()).len(), 2);
    let s = skiff_image::Store::open(&root).unwrap();
    skiff_image::validate::validate_image(&s.source(&name).unwrap()).unwrap();
}

/// The first request to a registry (the `/v2/` ping that picks https or http) is retried
/// like every other: a reset there used to fail the whole pull at once.
#[test]
fn resets_on_the_first_ping_are_retried() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("fping");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 64 << 10);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::once("GET", "/v2/ HTTP", Fault::Stall(Duration::ZERO)).times(2)],
    );
    let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
    ok(&root, &["pull", "-q", &name]);
    assert_eq!(digest_of(&root, &name), p.manifest.to_string());
    assert!(
        proxy.seen("/v2/ HTTP").len() >= 3,
        "{:?}",
        proxy.seen("/v2/ HTTP")
    );
}

#[test]
fn server_errors_on_uploads_and_the_manifest_put_are_retried() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("f500put");
    let root = t.join("root");
    // Over one 8 MiB upload chunk, so the big layer goes up in PATCHes.
    let src = build_layout(&t.join("src"), 9 << 20);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![
            Rule::once("PATCH", "/blobs/uploads/", status(502)),
            Rule::once("PUT", "/blobs/uploads/", status(503)),
            Rule::once("PUT", "/manifests/1", status(500)),
        ],
    );
    let dst = format!("docker://127.0.0.1:{}/up/multi:1", proxy.port);
    ok(
        &root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", src.dir().display()),
            &dst,
        ],
    );
    for (method, path) in [
        ("PATCH", "/blobs/uploads/"),
        ("PUT", "/blobs/uploads/"),
        ("PUT", "/manifests/1"),
    ] {
        let n = proxy
            .seen(path)
            .iter()
            .filter(|l| l.starts_with(method))
            .count();
        assert!(
            n >= 2,
            "{method} {path} was not retried: {:?}",
            proxy.seen("")
        );
    }
    let want = src.find(Some("multi")).unwrap().digest.to_string();
    let direct = format!("docker://{}/up/multi:1", reg.host);
    assert_eq!(
        json_digest(&skopeo(&["inspect", "--tls-verify=false", &direct])),
        want
    );
    let r: skiff_image::ImageRef = format!("{}/up/multi:1", reg.host).parse().unwrap();
    let rs = skiff_image::registry::RegistrySource::new(&r, &Default::default()).unwrap();
    assert_eq!(
        skiff_image::validate::validate_image(&rs).unwrap().layers,
        3
    );
}

#[test]
fn a_stalled_registry_hits_the_read_timeout() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("fstall");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 256 << 10);
    let env = [("SKIFF_REGISTRY_TIMEOUT", "1".to_string())];
    // One stalled answer: the retry after the timeout completes the copy.
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::once(
            "GET",
            &p.big.to_string(),
            Fault::Stall(Duration::from_secs(30)),
        )],
    );
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    let dst = oci_dest(&t, "out");
    let started = Instant::now();
    ok_env(&root, &env, &["copy", "-q", &via, &dst]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited for the stall"
    );
    assert_eq!(digest_of(&root, &dst), p.manifest.to_string());
    // Always stalled: one line naming the timeout, in about (retries + 1) timeouts.
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always(
            "GET",
            "/manifests/1",
            Fault::Stall(Duration::from_secs(30)),
        )],
    );
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    let started = Instant::now();
    let err = fails_env(
        &root,
        &env,
        &["copy", "--retry-times", "1", &via, &oci_dest(&t, "out2")],
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "waited for the stall"
    );
    assert!(err.to_lowercase().contains("timed out"), "{err}");
    let out2 = skiff_image::transport::layout::Layout::open(&t.join("out2")).unwrap();
    assert!(out2.read_index().unwrap().manifests.is_empty());
    assert!(tree(&t.join("out2/blobs/sha256")).is_empty());
    let err = fails_env(
        &root,
        &[("SKIFF_REGISTRY_TIMEOUT", "soon".to_string())],
        &["copy", &via, &oci_dest(&t, "out3")],
    );
    assert!(err.contains("SKIFF_REGISTRY_TIMEOUT"), "{err}");
}

#[test]
fn an_always_failing_registry_gives_one_line_and_an_untouched_store() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("falways");
    let root = t.join("root");
    push_multi(&root, &t.join("src"), &reg.host, "f/multi", 64 << 10);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let before = store_snapshot(&root);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always("", "/v2/f/", retry_after(503, "0"))],
    );
    let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
    let err = fails(&root, &["pull", &name]);
    assert!(err.contains("503") && err.contains("f/multi"), "{err}");
    assert_eq!(
        store_snapshot(&root),
        before,
        "a failed pull changed the store"
    );
    let err = fails(
        &root,
        &["copy", &format!("docker://{name}"), &oci_dest(&t, "out")],
    );
    assert!(err.contains("503"), "{err}");
    let out = skiff_image::transport::layout::Layout::open(&t.join("out"));
    assert!(
        out.is_err() || out.unwrap().read_index().unwrap().manifests.is_empty(),
        "a failed copy named an image"
    );
}

#[test]
fn retry_times_sets_how_often_a_request_is_tried() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("fretry");
    let root = t.join("root");
    push_multi(&root, &t.join("src"), &reg.host, "f/multi", 64 << 10);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always("GET", "/manifests/", retry_after(503, "0"))],
    );
    let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
    // skopeo's meaning: N retries after the first try, so N + 1 requests.
    for n in [0usize, 1, 4] {
        let before = proxy.seen("/manifests/").len();
        let err = fails(
            &root,
            &[
                "copy",
                "--retry-times",
                &n.to_string(),
                &via,
                &oci_dest(&t, "out"),
            ],
        );
        assert!(err.contains("503"), "{err}");
        assert_eq!(
            proxy.seen("/manifests/").len() - before,
            n + 1,
            "--retry-times {n}"
        );
    }
    let before = proxy.seen("/manifests/").len();
    fails(
        &root,
        &["pull", "--retry-times", "2", &via["docker://".len()..]],
    );
    assert_eq!(
        proxy.seen("/manifests/").len() - before,
        3,
        "pull --retry-times 2"
    );
}

#[test]
fn a_content_length_that_lies_is_caught_by_size_and_digest() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("flength");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 1 << 20);
    let big = p.big.to_string();
    let copy_through = |rules: Vec<Rule>, dir: &str| {
        let proxy = FlakyProxy::rules(reg.port, rules);
        let via = format!("docker://127.0.0.1:{}/f/multi:1", proxy.port);
        let out = skiff(&root, &["copy", "-q", &via, &oci_dest(&t, dir)]);
        (proxy, out)
    };
    // Longer than the body, on every answer: the body ends early, but every byte the
    // manifest promised is there and matches the digest.
    let (_, out) = copy_through(
        vec![Rule::always("GET", &big, Fault::LieLength(1000))],
        "longer",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        digest_of(&root, &oci_dest(&t, "longer")),
        p.manifest.to_string()
    );
    // Shorter, once: the rest is fetched with Range.
    let (proxy, out) = copy_through(
        vec![Rule::once("GET", &big, Fault::LieLength(-1000))],
        "shorter",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        digest_of(&root, &oci_dest(&t, "shorter")),
        p.manifest.to_string()
    );
    let ranged = proxy.seen(&big);
    assert!(
        ranged
            .iter()
            .any(|l| l.contains(&format!("bytes={}-", p.big_size - 1000))),
        "{ranged:?}"
    );
    // Shorter on every answer: one line, nothing stored.
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let before = store_snapshot(&root);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always("GET", &big, Fault::LieLength(-1000))],
    );
    let err = fails(
        &root,
        &["pull", &format!("127.0.0.1:{}/f/multi:1", proxy.port)],
    );
    assert!(err.contains(&big) || err.contains("body ended"), "{err}");
    assert_eq!(store_snapshot(&root), before);
    // A manifest whose Content-Length is too large: one line, nothing stored.
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always("GET", "/manifests/1", Fault::LieLength(50))],
    );
    let err = fails(
        &root,
        &["pull", &format!("127.0.0.1:{}/f/multi:1", proxy.port)],
    );
    assert!(err.contains("manifest"), "{err}");
    assert_eq!(store_snapshot(&root), before);
}

#[test]
fn blob_bytes_that_do_not_match_the_digest_are_rejected_with_nothing_stored() {
    let reg = Registry::start(RegistryConfig::default());
    let t = Tmp::new("fcorrupt");
    let root = t.join("root");
    let p = push_multi(&root, &t.join("src"), &reg.host, "f/multi", 1 << 20);
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let before = store_snapshot(&root);
    let proxy = FlakyProxy::rules(
        reg.port,
        vec![Rule::always(
            "GET",
            &p.big.to_string(),
            Fault::Corrupt(4321),
        )],
    );
    let name = format!("127.0.0.1:{}/f/multi:1", proxy.port);
    let err = fails(&root, &["pull", &name]);
    assert!(err.contains(&p.big.to_string()), "{err}");
    assert!(err.contains("digest"), "{err}");
    assert_eq!(
        store_snapshot(&root),
        before,
        "a corrupt blob changed the store"
    );
    assert!(!root.join("oci/blobs/sha256").join(p.big.hex()).exists());
    let dst = oci_dest(&t, "out");
    let err = fails(&root, &["copy", &format!("docker://{name}"), &dst]);
    assert!(err.contains("digest"), "{err}");
    assert!(!t.join("out/blobs/sha256").join(p.big.hex()).exists());
    let out = skiff_image::transport::layout::Layout::open(&t.join("out")).unwrap();
    assert!(out.read_index().unwrap().manifests.is_empty());
}
