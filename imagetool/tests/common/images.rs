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
