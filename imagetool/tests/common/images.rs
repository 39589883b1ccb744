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
