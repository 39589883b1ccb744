//! Test images built from the host's busybox-static and from generated layers: one-layer
//! imports, a three-layer image and a two-platform index in an OCI layout.

use super::ok;
use flate2::write::GzEncoder;
use skiff_image::digest::Digest;
use skiff_image::manifest::{self, Descriptor, Index, Manifest, Platform};
use skiff_image::transport::layout::Layout;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A rootfs tar with the host's busybox-static as /bin/busybox and /bin/sh.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let tar_path = dir.join("rootfs.tar");
    let f = std::fs::File::create(&tar_path).unwrap();
    let mut b = tar::Builder::new(f);
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .expect("busybox-static at /bin/busybox");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap();
    tar_path
}

/// A gzip layer with the given files; returns (blob bytes, diff id).
pub fn layer(files: &[(&str, &[u8])]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff = Digest::of(&tar);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff)
}

fn put(layout: &Layout, bytes: &[u8]) -> Digest {
    let d = Digest::of(bytes);
    std::fs::write(layout.blob_path(&d), bytes).unwrap();
    d
}

/// Write an image (layers of files) into `layout`; returns its manifest descriptor.
pub fn write_image(
    layout: &Layout,
    arch: &str,
    layers: &[Vec<u8>],
    diff_ids: &[Digest],
) -> Descriptor {
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    });
    let config = serde_json::to_vec(&config).unwrap();
    put(layout, &config);
    let layer_descs = layers
        .iter()
        .map(|l| {
            put(layout, l);
            Descriptor::of_bytes(manifest::OCI_LAYER_GZIP, l)
        })
        .collect();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.into()),
        config: Descriptor::of_bytes(manifest::OCI_CONFIG, &config),
        layers: layer_descs,
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec(&m).unwrap();
    put(layout, &bytes);
    let mut d = Descriptor::of_bytes(manifest::OCI_MANIFEST, &bytes);
    d.platform = Some(Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    d
}

/// Name a manifest in the layout's index.json.
pub fn name_in_index(layout: &Layout, mut d: Descriptor, name: &str) {
    d.annotations.insert(manifest::REF_NAME.into(), name.into());
    d.platform = None;
    let mut idx = layout.read_index().unwrap();
    idx.manifests.push(d);
    layout.write_index(&idx).unwrap();
}

/// An OCI layout holding `multi` (3 layers, one of `big` bytes) and `multiarch` (an index of
/// an amd64 and an arm64 image).
pub fn build_layout(dir: &Path, big: usize) -> Layout {
    let layout = Layout::create(dir).unwrap();
    let noise = noise(big);
    let (l1, d1) = layer(&[("etc/hello", b"hello\n")]);
    let (l2, d2) = layer(&[("data/noise", &noise)]);
    let (l3, d3) = layer(&[("etc/hello", b"bye\n"), ("etc/other", b"x")]);
    let multi = write_image(
        &layout,
        host_arch(),
        &[l1.clone(), l2, l3],
        &[d1.clone(), d2, d3],
    );
    name_in_index(&layout, multi, "multi");
    let amd = write_image(
        &layout,
        "amd64",
        std::slice::from_ref(&l1),
        std::slice::from_ref(&d1),
    );
    let (la, da) = layer(&[("etc/arch", b"arm64\n")]);
    let arm = write_image(&layout, "arm64", &[l1, la], &[d1, da]);
    let idx = Index {
        manifests: vec![amd, arm],
        ..Index::empty()
    };
    let bytes = serde_json::to_vec(&idx).unwrap();
    put(&layout, &bytes);
    name_in_index(
        &layout,
        Descriptor::of_bytes(manifest::OCI_INDEX, &bytes),
        "multiarch",
    );
    layout
}

pub fn host_arch() -> &'static str {
    manifest::host_platform().1
}

/// Incompressible bytes (xorshift64), so gzip layers keep their size.
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Import the busybox rootfs as `name` into the store at `root` with `CMD [cmd]`; returns
/// the manifest digest. Different `cmd`s give different images over the same layer.
pub fn import_busybox_cmd(root: &Path, dir: &Path, name: &str, cmd: &str) -> String {
    let tar = busybox_rootfs(dir);
    ok(
        root,
        &[
            "import",
            tar.to_str().unwrap(),
            name,
            "--change",
            &format!(r#"CMD ["{cmd}"]"#),
        ],
    )
    .trim()
    .to_string()
}

/// A root-owned tar header of `kind` with `mode`, mtime 0.
fn root_header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// Import a busybox image with the given applets, `etc/passwd`, `etc/group`,
/// `data/old`, and two symlinks out of the rootfs: `pw -> /etc/passwd`, `escape -> /`.
pub fn import_busybox_tree(root: &Path, dir: &Path, name: &str, applets: &[&str]) {
    let tar_path = dir.join(format!("{}.tar", name.replace(['/', ':'], "_")));
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    let mut h = root_header(tar::EntryType::Directory, 0, 0o755);
    b.append_data(&mut h, "bin/", std::io::empty()).unwrap();
    b.append_path_with_name("/bin/busybox", "bin/busybox")
        .expect("busybox-static at /bin/busybox");
    for applet in applets {
        let mut h = root_header(tar::EntryType::Symlink, 0, 0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    for d in ["etc/", "data/"] {
        let mut h = root_header(tar::EntryType::Directory, 0, 0o755);
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    for (path, text) in [
        ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", "root:x:0:\n"),
        ("data/old", "old\n"),
    ] {
        let mut h = root_header(tar::EntryType::Regular, text.len() as u64, 0o644);
        b.append_data(&mut h, path, text.as_bytes()).unwrap();
    }
    for (link, target) in [("pw", "/etc/passwd"), ("escape", "/")] {
        let mut h = root_header(tar::EntryType::Symlink, 0, 0o777);
        b.append_link(&mut h, link, target).unwrap();
    }
    b.into_inner().unwrap();
    ok(
        root,
        &[
            "import",
            tar_path.to_str().unwrap(),
            name,
            "--change",
            r#"CMD ["/bin/sh"]"#,
        ],
    );
}

/// Paths under `dir` (relative, sorted), never following a symlink.
pub fn lstat_tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (path without a trailing `/`, entry type, link target) of each entry of a tar
/// (gzip or plain).
pub fn tar_entries(bytes: &[u8]) -> Vec<(String, tar::EntryType, Option<String>)> {
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut v).unwrap();
        v
    } else {
        bytes.to_vec()
    };
    let mut a = tar::Archive::new(&plain[..]);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = String::from_utf8_lossy(&e.path_bytes())
                .trim_end_matches('/')
                .to_string();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned());
            (p, e.header().entry_type(), link)
        })
        .collect()
}

/// The `multi` image of [`build_layout`] as pushed to a registry: where, and its digests.
pub struct Pushed {
    pub layout: Layout,
    /// `HOST/REPO:1` on the registry itself.
    pub name: String,
    pub manifest: Digest,
    pub config: Digest,
    /// The largest layer (`big` bytes of noise).
    pub big: Digest,
    pub big_size: u64,
}

/// Build the layout of [`build_layout`] under `dir` and copy its `multi` image to
/// `docker://HOST/REPO:1`.
pub fn push_multi(root: &Path, dir: &Path, host: &str, repo: &str, big: usize) -> Pushed {
    let layout = build_layout(dir, big);
    let name = format!("{host}/{repo}:1");
    ok(
        root,
        &[
            "copy",
            "-q",
            &format!("oci:{}:multi", layout.dir().display()),
            &format!("docker://{name}"),
        ],
    );
    let d = layout.find(Some("multi")).unwrap();
    let m: Manifest = serde_json::from_slice(&layout.read_blob(&d.digest).unwrap()).unwrap();
    let big = m.layers.iter().max_by_key(|l| l.size).unwrap().clone();
    Pushed {
        name,
        manifest: d.digest,
        config: m.config.digest,
        big: big.digest,
        big_size: big.size,
        layout,
    }
}

/// One tar entry of a hand-made layer.
pub enum Entry<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    /// A file with extended attributes (PAX `SCHILY.xattr.*` records).
    XattrFile(&'a str, &'a [u8], &'a [(&'a str, &'a [u8])]),
    Symlink(&'a str, &'a str),
    /// A hardlink: name, then the earlier entry of the same layer it links to.
    Hardlink(&'a str, &'a str),
}

/// A gzip layer of `entries` in order (owned by root, mtime 0); returns (blob, diff id).
pub fn raw_layer(entries: &[Entry]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        let (path, data): (&str, &[u8]) = match e {
            Entry::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                (p, b"")
            }
            Entry::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                (p, data)
            }
            Entry::XattrFile(p, data, xattrs) => {
                let records: Vec<(String, &[u8])> = xattrs
                    .iter()
                    .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                    .collect();
                b.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
                    .unwrap();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                (p, data)
            }
            Entry::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_link_name(target).unwrap();
                (p, b"")
            }
            Entry::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_link_name(target).unwrap();
                (p, b"")
            }
        };
        h.set_path(path).unwrap();
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let diff = Digest::of(&tar);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff)
}

/// The six layers of the issue's test image, bottom first: a base with setuid and
/// setgid files, a hardlink, relative and absolute symlinks and an xattr'd file; then a
/// whiteout of a file and of a directory; an opaque directory; three hardlinks of one
/// file; a symlink whiteout and a new symlink; a last layer with a setuid file and
/// xattrs on a file holding both `user.` and `trusted.` names.
pub fn rich_layers() -> Vec<(Vec<u8>, Digest)> {
    use Entry::*;
    vec![
        raw_layer(&[
            Dir("etc/", 0o755),
            File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
            Dir("bin/", 0o755),
            File("bin/su", b"#!su\n", 0o4755),
            File("bin/sg", b"#!sg\n", 0o2755),
            Dir("data/", 0o755),
            File("data/keep", b"keep\n", 0o644),
            File("data/gone", b"gone\n", 0o644),
            File("data/linked", b"shared\n", 0o644),
            Hardlink("data/hard", "data/linked"),
            Dir("gone_dir/", 0o755),
            File("gone_dir/f", b"f\n", 0o644),
            Dir("opq/", 0o755),
            File("opq/old1", b"1\n", 0o644),
            File("opq/old2", b"2\n", 0o644),
            Dir("lnk/", 0o755),
            Symlink("lnk/rel", "../data/keep"),
            Symlink("lnk/abs", "/etc/passwd"),
        ]),
        raw_layer(&[
            Dir("data/", 0o755),
            File("data/.wh.gone", b"", 0o644),
            File(".wh.gone_dir", b"", 0o644),
            XattrFile("data/xattr", b"x\n", &[("user.skiff", b"v1")]),
        ]),
        raw_layer(&[
            Dir("opq/", 0o755),
            File("opq/.wh..wh..opq", b"", 0o644),
            File("opq/new", b"new\n", 0o644),
        ]),
        raw_layer(&[
            Dir("hl/", 0o755),
            File("hl/a", b"hardlinked\n", 0o644),
            Hardlink("hl/b", "hl/a"),
            Hardlink("hl/c", "hl/a"),
        ]),
        raw_layer(&[
            Dir("lnk/", 0o755),
            File("lnk/.wh.abs", b"", 0o644),
            Symlink("lnk/dir", "../hl"),
        ]),
        raw_layer(&[
            Dir("app/", 0o1777),
            File("app/run", b"#!run\n", 0o4711),
            XattrFile(
                "app/tagged",
                b"t\n",
                &[("user.skiff.app", b"a1"), ("trusted.skiff", b"t1")],
            ),
            File(
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\napp:x:1:1::/app:/bin/sh\n",
                0o644,
            ),
        ]),
    ]
}

/// Write the six-layer image into `layout` as `name`; returns its manifest descriptor and
/// the layers' diff IDs.
pub fn write_rich_image(layout: &Layout, name: &str) -> (Descriptor, Vec<Digest>) {
    let (blobs, diff_ids): (Vec<Vec<u8>>, Vec<Digest>) = rich_layers().into_iter().unzip();
    let d = write_image(layout, host_arch(), &blobs, &diff_ids);
    name_in_index(layout, d.clone(), name);
    (d, diff_ids)
}

/// A Docker v2 schema 2 image (Docker media types throughout) for `arch` in `layout`.
pub fn write_docker_image(layout: &Layout, arch: &str, files: &[(&str, &[u8])]) -> Descriptor {
    let (l, diff) = layer(files);
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin", format!("ARCH={arch}")]},
        "rootfs": {"type": "layers", "diff_ids": [diff.to_string()]},
        "history": [{"created_by": "skiff test", "created": "2024-01-01T00:00:00Z"}],
    });
    let config = serde_json::to_vec(&config).unwrap();
    put(layout, &config);
    put(layout, &l);
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::DOCKER_MANIFEST.into()),
        config: Descriptor::of_bytes(manifest::DOCKER_CONFIG, &config),
        layers: vec![Descriptor::of_bytes(manifest::DOCKER_LAYER_GZIP, &l)],
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec_pretty(&m).unwrap();
    put(layout, &bytes);
    let mut d = Descriptor::of_bytes(manifest::DOCKER_MANIFEST, &bytes);
    d.platform = Some(Platform {
        architecture: arch.into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    });
    d
}

/// A Docker manifest list of an amd64 and an arm64 image, named `name` in `layout`;
/// returns the list's descriptor and its children.
pub fn write_docker_list(layout: &Layout, name: &str) -> (Descriptor, Vec<Descriptor>) {
    let children = vec![
        write_docker_image(layout, "amd64", &[("etc/arch", b"amd64\n")]),
        write_docker_image(layout, "arm64", &[("etc/arch", b"arm64\n")]),
    ];
    let list = Index {
        schema_version: 2,
        media_type: Some(manifest::DOCKER_LIST.into()),
        manifests: children.clone(),
        annotations: BTreeMap::new(),
    };
    let bytes = serde_json::to_vec_pretty(&list).unwrap();
    put(layout, &bytes);
    let d = Descriptor::of_bytes(manifest::DOCKER_LIST, &bytes);
    name_in_index(layout, d.clone(), name);
    (d, children)
}
