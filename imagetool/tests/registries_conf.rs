//! registries.conf v2 against real docker-registry instances: a mirror serving pulls and
//! the fall back to the primary when the mirror lacks the image, `mirror-by-digest-only`,
//! `insecure` (a TLS registry with an untrusted certificate), `blocked`, short names
//! through `unqualified-search-registries` (and docker.io when none are configured), and
//! `[aliases]`.

mod common;

use common::*;
use std::path::Path;

fn conf(t: &Tmp, name: &str, text: &str) -> [(&'static str, String); 1] {
    let p = t.join(name);
    std::fs::write(&p, text).unwrap();
    [("CONTAINERS_REGISTRIES_CONF", p.display().to_string())]
}

fn stored_digest(root: &Path, name: &str) -> String {
    json_digest(&ok(root, &["inspect", name]))
}

#[test]
fn mirrors_fall_back_and_search_registries_resolve_short_names() {
    let primary = Registry::start(RegistryConfig::default());
    let mirror = Registry::start(RegistryConfig::default());
    let t = Tmp::new("conf-mirrors");
    let src = t.join("src");
    // Two different images: which one a pull gets tells which registry served it.
    let on_primary = import_busybox_cmd(&src, t.path(), "p:1", "primary");
    let on_mirror = import_busybox_cmd(&src, t.path(), "m:1", "mirror");
    let (p, m) = (&primary.host, &mirror.host);
    ok(
        &src,
        &["push", "-q", "p:1", &format!("docker://{p}/team/bb:1")],
    );
    ok(
        &src,
        &[
            "push",
            "-q",
            "p:1",
            &format!("docker://{p}/team/bb:only-primary"),
        ],
    );
    ok(
        &src,
        &["push", "-q", "p:1", &format!("docker://{p}/library/bb:1")],
    );
    ok(
        &src,
        &["push", "-q", "m:1", &format!("docker://{m}/team/bb:1")],
    );
    let env = conf(
        &t,
        "mirror.conf",
        &format!("[[registry]]\nlocation = \"{p}\"\n[[registry.mirror]]\nlocation = \"{m}\"\n"),
    );
    let root = t.join("root");
    // The mirror has the tag: it serves the pull, stored under the asked name.
    ok_env(&root, &env, &["pull", "-q", &format!("{p}/team/bb:1")]);
    assert_eq!(stored_digest(&root, &format!("{p}/team/bb:1")), on_mirror);
    // The mirror lacks this tag: the primary serves it.
    ok_env(
        &root,
        &env,
        &["pull", "-q", &format!("{p}/team/bb:only-primary")],
    );
    assert_eq!(
        stored_digest(&root, &format!("{p}/team/bb:only-primary")),
        on_primary
    );
    // mirror-by-digest-only: tags go to the primary, digests may use the mirror.
    let env = conf(
        &t,
        "digest-only.conf",
        &format!(
            "[[registry]]\nlocation = \"{p}\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"{m}\"\n"
        ),
    );
    let root2 = t.join("root2");
    ok_env(&root2, &env, &["pull", "-q", &format!("{p}/team/bb:1")]);
    assert_eq!(stored_digest(&root2, &format!("{p}/team/bb:1")), on_primary);
    // Only the mirror holds this manifest: a pull by its digest succeeds through it.
    let by_digest = format!("{p}/team/bb@{on_mirror}");
    ok_env(&root2, &env, &["pull", "-q", &by_digest]);
    assert_eq!(stored_digest(&root2, &by_digest), on_mirror);

    // Short names: each search registry in order, the first that has the image wins.
    let env = conf(
        &t,
        "search.conf",
        &format!("unqualified-search-registries = [\"{m}\", \"{p}\"]\n[aliases]\n\"shortcut\" = \"{p}/team/bb\"\n"),
    );
    let root3 = t.join("root3");
    ok_env(&root3, &env, &["pull", "-q", "team/bb:1"]);
    assert_eq!(stored_digest(&root3, &format!("{m}/team/bb:1")), on_mirror);
    // The short name finds the stored image too (as podman resolves local names).
    let out = ok_env(&root3, &env, &["inspect", "team/bb:1"]);
    assert_eq!(json_digest(&out), on_mirror);
    // rmi by that short name removes that one name, not others of the same image.
    ok_env(&root3, &env, &["tag", &format!("{m}/team/bb:1"), "kept:1"]);
    ok_env(&root3, &env, &["rmi", "team/bb:1"]);
    assert_eq!(stored_digest(&root3, "kept:1"), on_mirror);
    fails_env(&root3, &env, &["inspect", &format!("{m}/team/bb:1")]);
    ok_env(&root3, &env, &["pull", "-q", "team/bb:only-primary"]);
    assert_eq!(
        stored_digest(&root3, &format!("{p}/team/bb:only-primary")),
        on_primary
    );
    ok_env(&root3, &env, &["pull", "-q", "shortcut:1"]);
    assert_eq!(stored_digest(&root3, &format!("{p}/team/bb:1")), on_primary);
    let err = fails_env(&root3, &env, &["pull", "-q", "team/absent:1"]);
    assert!(
        err.contains("no search registry serves it")
            && err.contains(&format!("{m}/team/absent:1"))
            && err.contains(&format!("{p}/team/absent:1")),
        "{err}"
    );
    // No search registries: a short name means docker.io, as docker has it (reached here
    // through a docker.io mirror on loopback).
    let env = conf(
        &t,
        "hub.conf",
        &format!(
            "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{p}\"\n"
        ),
    );
    let root4 = t.join("root4");
    let out = ok_env(&root4, &env, &["pull", "bb:1"]);
    assert!(out.contains("docker.io/library/bb:1"), "{out}");
    assert_eq!(stored_digest(&root4, "docker.io/library/bb:1"), on_primary);
    assert_eq!(stored_digest(&root4, "bb:1"), on_primary);
}

#[test]
fn insecure_and_blocked_registries() {
    let t = Tmp::new("conf-insecure");
    let pki = t.join("pki");
    test_pki(&pki);
    // The registry's certificate comes from a CA nobody trusts.
    let tls = Registry::start(RegistryConfig {
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        ..Default::default()
    });
    let plain = Registry::start(RegistryConfig::default());
    let src = t.join("src");
    let digest = import_busybox_cmd(&src, t.path(), "bb:1", "sh");
    let h = &tls.host;
    ok(
        &src,
        &[
            "push",
            "-q",
            "--tls-verify=false",
            "bb:1",
            &format!("docker://{h}/x/bb:1"),
        ],
    );
    ok(
        &src,
        &[
            "push",
            "-q",
            "bb:1",
            &format!("docker://{}/secret/bb:1", plain.host),
        ],
    );
    ok(
        &src,
        &[
            "push",
            "-q",
            "bb:1",
            &format!("docker://{}/open/bb:1", plain.host),
        ],
    );
    let root = t.join("root");
    let empty = conf(&t, "empty.conf", "");
    let err = fails_env(&root, &empty, &["pull", "-q", &format!("{h}/x/bb:1")]);
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let env = conf(
        &t,
        "insecure.conf",
        &format!(
            "[[registry]]\nlocation = \"{h}\"\ninsecure = true\n\n[[registry]]\nprefix = \"{b}/secret\"\nlocation = \"{b}/secret\"\nblocked = true\n",
            b = plain.host
        ),
    );
    ok_env(&root, &env, &["pull", "-q", &format!("{h}/x/bb:1")]);
    assert_eq!(stored_digest(&root, &format!("{h}/x/bb:1")), digest);
    let before = tree(&root.join("oci"));
    let err = fails_env(
        &root,
        &env,
        &["pull", "-q", &format!("{}/secret/bb:1", plain.host)],
    );
    assert!(err.contains("blocked by registries.conf"), "{err}");
    assert_eq!(
        tree(&root.join("oci")),
        before,
        "a blocked pull changed the store"
    );
    // Other repositories of the same registry stay reachable.
    ok_env(
        &root,
        &env,
        &["pull", "-q", &format!("{}/open/bb:1", plain.host)],
    );
}

#[test]
fn client_certificates_for_mutual_tls() {
    let t = Tmp::new("conf-mtls");
    let pki = t.join("pki");
    test_pki(&pki);
    let reg = Registry::start(RegistryConfig {
        tls: Some((pki.join("srv.crt"), pki.join("srv.key"))),
        client_cas: Some(pki.join("ca.crt")),
        ..Default::default()
    });
    let root = t.join("root");
    let digest = import_busybox_cmd(&root, t.path(), "bb:1", "sh");
    let dst = format!("docker://{}/mtls/bb:1", reg.host);
    // The CA alone: the server asks for a client certificate and gets none.
    let ca_only = t.join("ca-only");
    std::fs::create_dir_all(&ca_only).unwrap();
    std::fs::copy(pki.join("ca.crt"), ca_only.join("ca.crt")).unwrap();
    let err = fails(
        &root,
        &[
            "push",
            "-q",
            "bb:1",
            &dst,
            "--cert-dir",
            ca_only.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains(&reg.host) && err.contains("BadCertificate"),
        "{err}"
    );
    // docker's layout: ca.crt, client.cert, client.key.
    let full = t.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::copy(pki.join("ca.crt"), full.join("ca.crt")).unwrap();
    std::fs::copy(pki.join("client.crt"), full.join("client.cert")).unwrap();
    std::fs::copy(pki.join("client.key"), full.join("client.key")).unwrap();
    ok(
        &root,
        &[
            "push",
            "-q",
            "bb:1",
            &dst,
            "--cert-dir",
            full.to_str().unwrap(),
        ],
    );
    skopeo(&["inspect", "--cert-dir", full.to_str().unwrap(), &dst]);
    // certs.d/HOST:PORT/ picked by host, as containers and docker read it.
    let certs_d = t.join("certs.d");
    let host_dir = certs_d.join(&reg.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    for f in ["ca.crt", "client.cert", "client.key"] {
        std::fs::copy(full.join(f), host_dir.join(f)).unwrap();
    }
    let opts = skiff_image::registry::RegistryOptions {
        certs_dirs: vec![certs_d.clone()],
        ..Default::default()
    };
    let r: skiff_image::ImageRef = format!("{}/mtls/bb:1", reg.host).parse().unwrap();
    let src = skiff_image::registry::RegistrySource::new(&r, &opts).unwrap();
    let (bytes, _) = skiff_image::transport::ImageSource::manifest(&src, None).unwrap();
    assert_eq!(skiff_image::Digest::of(&bytes).to_string(), digest);
    assert_eq!(
        skiff_image::validate::validate_image(&src).unwrap().layers,
        1
    );
    // A certificate without its key is a configuration error, not an anonymous attempt.
    std::fs::remove_file(full.join("client.key")).unwrap();
    let err = fails(
        &root,
        &["inspect", &dst, "--cert-dir", full.to_str().unwrap()],
    );
    assert!(err.contains("missing key"), "{err}");
}
