//! Builds OCI image layouts (image-layout.md) under `<store>/oci` for the tests.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::unpack::hex;

/// A layer tar under construction.
pub(crate) struct Tar {
    b: tar::Builder<Vec<u8>>,
}

impl Tar {
    pub fn new() -> Self {
        Self {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(
        path: &str,
        kind: tar::EntryType,
        mode: u32,
        uid: u64,
        gid: u64,
        size: u64,
    ) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h
    }

    fn add(&mut self, mut h: tar::Header, data: &[u8]) {
        h.set_cksum();
        self.b.append(&h, data).unwrap();
    }

    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) {
        let h = Self::header(
            &format!("{path}/"),
            tar::EntryType::Directory,
            mode,
            uid,
            gid,
            0,
        );
        self.add(h, b"");
    }

    pub fn file(&mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) {
        let h = Self::header(
            path,
            tar::EntryType::Regular,
            mode,
            uid,
            gid,
            data.len() as u64,
        );
        self.add(h, data);
    }

    pub fn file_xattr(&mut self, path: &str, data: &[u8], key: &str, value: &[u8]) {
        self.b
            .append_pax_extensions([(format!("SCHILY.xattr.{key}").as_str(), value)])
            .unwrap();
        self.file(path, data, 0o644, 0, 0);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        let mut h = Self::header(path, tar::EntryType::Symlink, 0o777, 0, 0, 0);
        h.set_link_name(target).unwrap();
        self.add(h, b"");
    }

    pub fn hardlink(&mut self, path: &str, target: &str) {
        let mut h = Self::header(path, tar::EntryType::Link, 0o644, 0, 0, 0);
        h.set_link_name(target).unwrap();
        self.add(h, b"");
    }

    pub fn node(&mut self, path: &str, kind: tar::EntryType, major: u32, minor: u32) {
        let mut h = Self::header(path, kind, 0o666, 0, 0, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.add(h, b"");
    }
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn put_blob(store: &Path, bytes: &[u8]) -> (String, usize) {
    let d = sha(bytes);
    let dir = store.join("oci/blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&d[7..]), bytes).unwrap();
    (d, bytes.len())
}

/// Writes the layers (gzip) and an image config with `config` as its `config` into
/// `<store>/oci`, tagged `tag` in index.json; returns the manifest digest.
pub(crate) fn build_image(store: &Path, layers: &[Tar], config: Value, tag: &str) -> String {
    build_image_owned(
        store,
        layers.iter().map(|t| t.b.get_ref().clone()).collect(),
        config,
        tag,
    )
}

pub(crate) fn build_image_owned(
    store: &Path,
    tars: Vec<Vec<u8>>,
    config: Value,
    tag: &str,
) -> String {
    let mut diff_ids = Vec::new();
    let mut descs = Vec::new();
    for mut t in tars {
        // Two zero blocks end the archive (Builder::into_inner would add them).
        t.extend_from_slice(&[0u8; 1024]);
        diff_ids.push(sha(&t));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).unwrap();
        let (d, size) = put_blob(store, &gz.finish().unwrap());
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}));
    }
    let cfg = json!({
        "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (cd, cs) = put_blob(store, &serde_json::to_vec(&cfg).unwrap());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": descs,
    });
    let (md, ms) = put_blob(store, &serde_json::to_vec(&manifest).unwrap());
    let index_path = store.join("oci/index.json");
    let mut index: Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }));
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(
        store.join("oci/oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    md
}
