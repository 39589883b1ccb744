//! HTTPS_PROXY / HTTP_PROXY / NO_PROXY as skopeo and docker honour them, through an HTTP
//! forward proxy or a SOCKS5 proxy that alone knows where `registry.skiff.test` is, to
//! real registries; skopeo goes through the same proxy and reads what skiff-image pushed.

mod common;
use base64::Engine as _;
use common::*;

const NAME: &str = "registry.skiff.test";

fn basic(user: &str, pass: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {b}")
}

/// The proxy variables alone, so the host's own settings play no part.
fn proxy_env(
    https: Option<String>,
    http: Option<String>,
    no_proxy: &str,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("https_proxy", String::new()),
        ("http_proxy", String::new()),
        ("no_proxy", String::new()),
        ("NO_PROXY", no_proxy.to_string()),
    ];
    env.push(("HTTPS_PROXY", https.unwrap_or_default()));
    env.push(("HTTP_PROXY", http.unwrap_or_default()));
    env
}

/// A registry serving TLS from a test PKI under `t` (valid for registry.skiff.test).
fn tls_registry(t: &Tmp) -> (std::path::PathBuf, Registry) {
    let pki = t.join("pki");
    test_pki(&pki);
    let reg = Registry::start(RegistryConfig {
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    (pki, reg)
}

#[test]
fn plain_registries_are_reached_through_http_proxy_with_its_credentials() {
    let t = Tmp::new("proxy-plain");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let reg = Registry::start(RegistryConfig::default());
    let proxy = ForwardProxy::start(Some(basic("pu", "p@ss")));
    let url = proxy.url("pu:p%40ss@");
    let env = proxy_env(Some(url.clone()), Some(url), "");
    let image = format!("docker://{NAME}:{}/p/bb:1", reg.port);

    ok_env(&root, &env, &["push", "--tls-verify=false", "bb:1", &image]);
    let ours = json_digest(&ok_env(
        &root,
        &env,
        &["inspect", "--tls-verify=false", &image],
    ));
    let seen = proxy.seen();
    // --tls-verify=false tries https first (a tunnel, whose TLS the plain registry
    // refuses), then plain http in absolute form.
    let connect = format!("CONNECT {NAME}:{} HTTP/1.1", reg.port);
    assert!(seen.contains(&connect), "{seen:?}");
    let forwarded = format!("GET http://{NAME}:{}/v2/", reg.port);
    assert!(seen.iter().any(|l| l.starts_with(&forwarded)), "{seen:?}");

    let theirs = json_digest(&skopeo_env(
        &env,
        &["inspect", "--tls-verify=false", &image],
    ));
    assert_eq!(ours, theirs);
}

#[test]
fn tls_registries_are_reached_through_a_connect_tunnel_and_verified_by_name() {
    let t = Tmp::new("proxy-tls");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let (pki, reg) = tls_registry(&t);
    let cas = ca_dir(&pki);
    let cas = cas.to_str().unwrap();
    let proxy = ForwardProxy::start(None);
    // HTTPS_PROXY only: nothing may go to the registry in plain http.
    let env = proxy_env(Some(proxy.url("")), None, "");
    let image = format!("docker://{NAME}:{}/p/bb:1", reg.port);

    ok_env(
        &root,
        &env,
        &["copy", "-q", "--dest-cert-dir", cas, "skiff:bb:1", &image],
    );
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "{seen:?}");
    let connect = format!("CONNECT {NAME}:{} HTTP/1.1", reg.port);
    assert!(seen.iter().all(|l| *l == connect), "{seen:?}");

    let ours = json_digest(&ok_env(
        &root,
        &env,
        &["inspect", "--cert-dir", cas, &image],
    ));
    let theirs = json_digest(&skopeo_env(&env, &["inspect", "--cert-dir", cas, &image]));
    assert_eq!(ours, theirs);
}

#[test]
fn refusals_no_proxy_loopback_and_bad_settings_behave_as_skopeos() {
    let t = Tmp::new("proxy-refuse");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let reg = Registry::start(RegistryConfig::default());
    let proxy = ForwardProxy::start(Some(basic("pu", "right")));
    let image = format!("docker://{NAME}:{}/p/bb:1", reg.port);

    // Wrong proxy credentials: one line naming the proxy, its variable and its answer,
    // and no retries of an answer that will not change.
    let env = proxy_env(Some(proxy.url("pu:wrong@")), None, "");
    let err = fails_env(&root, &env, &["push", "bb:1", &image]);
    assert!(
        err.contains(&format!("proxy 127.0.0.1:{} (HTTPS_PROXY)", proxy.port))
            && err.contains(&format!(
                "answered \"407 Proxy Authentication Required\" to CONNECT {NAME}:{}",
                reg.port
            )),
        "{err}"
    );
    // Each of the two blob workers (config and layer) asks once; retrying would make it
    // 2 x (1 + 3).
    let refused = proxy.seen().len();
    assert!((1..=2).contains(&refused), "{:?}", proxy.seen());

    // NO_PROXY names the domain: the name is looked up directly (and exists nowhere).
    let env = proxy_env(Some(proxy.url("pu:right@")), None, ".skiff.test");
    let err = fails_env(&root, &env, &["push", "bb:1", &image]);
    assert!(
        err.contains(&format!("resolve {NAME}:{}", reg.port)),
        "{err}"
    );
    assert_eq!(proxy.seen().len(), refused, "{:?}", proxy.seen());

    // Loopback registries are never proxied, even by a proxy that does not exist.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let env = proxy_env(Some(dead.clone()), Some(dead), "");
    ok_env(
        &root,
        &env,
        &["push", "bb:1", &format!("docker://{}/p/bb:1", reg.host)],
    );

    // A proxy skiff-image cannot speak to is refused by name, not bypassed.
    let env = proxy_env(Some("socks4://127.0.0.1:1080".into()), None, "");
    let err = fails_env(&root, &env, &["push", "bb:1", &image]);
    assert!(
        err.contains("HTTPS_PROXY=\"socks4://127.0.0.1:1080\": socks4 proxies are not supported"),
        "{err}"
    );
}

#[test]
fn socks5_proxies_carry_both_schemes_to_the_registrys_name() {
    let t = Tmp::new("proxy-socks");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let reg = Registry::start(RegistryConfig::default());
    let socks = Socks5Proxy::start(Some(("su".into(), "s3cret".into())));
    let url = socks.url("su:s3cret@");
    let env = proxy_env(Some(url.clone()), Some(url), "");
    let image = format!("docker://{NAME}:{}/p/bb:1", reg.port);

    ok_env(&root, &env, &["push", "--tls-verify=false", "bb:1", &image]);
    let ours = json_digest(&ok_env(
        &root,
        &env,
        &["inspect", "--tls-verify=false", &image],
    ));
    let target = format!("{NAME}:{}", reg.port);
    let seen = socks.seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|l| *l == target),
        "{seen:?}"
    );
    let theirs = json_digest(&skopeo_env(
        &env,
        &["inspect", "--tls-verify=false", &image],
    ));
    assert_eq!(ours, theirs);

    // A wrong password: one line saying so, and no retries.
    let before = socks.seen().len();
    let env = proxy_env(Some(socks.url("su:wrong@")), None, "");
    let err = fails_env(&root, &env, &["push", "bb:1", &image]);
    assert!(
        err.contains(&format!(
            "SOCKS5 proxy 127.0.0.1:{} (HTTPS_PROXY) for {target}",
            socks.port
        )) && err.contains("the proxy refused the user and password"),
        "{err}"
    );
    let refused = socks.seen().len() - before;
    assert!((1..=2).contains(&refused), "{:?}", socks.seen());
}

#[test]
fn https_proxies_are_spoken_to_over_verified_tls() {
    let t = Tmp::new("proxy-https");
    let root = t.join("root");
    import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let (pki, reg) = tls_registry(&t);
    let cas = ca_dir(&pki);
    let cas = cas.to_str().unwrap();
    let proxy = ForwardProxy::start(Some(basic("pu", "pp")));
    let front = tls_front(&pki, proxy.port);
    let env = proxy_env(Some(format!("https://pu:pp@127.0.0.1:{front}")), None, "");
    let image = format!("docker://{NAME}:{}/p/bb:1", reg.port);

    // The test CA verifies the proxy (127.0.0.1) and, inside the tunnel, the registry.
    ok_env(
        &root,
        &env,
        &["copy", "-q", "--dest-cert-dir", cas, "skiff:bb:1", &image],
    );
    let connect = format!("CONNECT {NAME}:{} HTTP/1.1", reg.port);
    let seen = proxy.seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|l| *l == connect),
        "{seen:?}"
    );
    let ours = json_digest(&ok_env(
        &root,
        &env,
        &["inspect", "--cert-dir", cas, &image],
    ));
    let theirs = json_digest(&skopeo_env(&env, &["inspect", "--cert-dir", cas, &image]));
    assert_eq!(ours, theirs);

    // Without the CA, the proxy's own certificate is refused, in one line.
    let err = fails_env(&root, &env, &["inspect", &image]);
    assert!(
        err.contains(&format!("127.0.0.1:{front}")) && err.contains("certificate"),
        "{err}"
    );
}
