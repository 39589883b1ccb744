//! `import FILE IMAGE`: a root filesystem tar becomes a one-layer image in the local store
//! (like `docker import`): the layer is gzip-compressed while both digests are computed
//! in one pass (diff ID over the tar, blob digest over the gzip stream), and `--change`
//! lines (Dockerfile syntax: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME)
//! shape the image config.

use crate::copy::CopyReport;
use crate::digest::{Algorithm, Digest, Hasher, HashingWriter};
use crate::fsutil::TempDir;
use crate::manifest::{self, Descriptor, Manifest};
use crate::reference::ImageRef;
use crate::transport::{store::Store, ImageDestination};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// Import `tar` (plain or gzip; `-` for stdin) as `name` into the store at `store_root`.
pub fn import_rootfs(
    store_root: &Path,
    tar: &Path,
    name: &ImageRef,
    changes: &[String],
) -> Result<CopyReport> {
    let mut config = base_config();
    for c in changes {
        apply_change(&mut config, c).with_context(|| format!("apply change {c:?}"))?;
    }
    let store = Store::open(store_root)?;
    let work = TempDir::new_in(&store_root.join("tmp"), "import-")?;
    let layer_path = work.path().join("layer.tar.gz");
    let (diff_id, layer_digest, layer_size) = compress_layer(tar, &layer_path)?;
    config["rootfs"] = json!({"type": "layers", "diff_ids": [diff_id.to_string()]});
    let config_bytes = serde_json::to_vec(&config).context("serialise image config")?;
    let config_desc = Descriptor::of_bytes(manifest::OCI_CONFIG, &config_bytes);
    let layer_desc = Descriptor::new(manifest::OCI_LAYER_GZIP, layer_digest, layer_size);
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.to_string()),
        config: config_desc.clone(),
        layers: vec![layer_desc.clone()],
        annotations: BTreeMap::new(),
    };
    let manifest_bytes = serde_json::to_vec(&m).context("serialise manifest")?;
    let dest = store.destination(name)?;
    let mut layer = File::open(&layer_path).with_context(|| format!("open {layer_path:?}"))?;
    dest.put_blob(&layer_desc, &mut layer)?;
    dest.put_blob(&config_desc, &mut &config_bytes[..])?;
    dest.put_manifest(&manifest_bytes, manifest::OCI_MANIFEST, false)?;
    dest.commit()?;
    Ok(CopyReport {
        manifest_digest: Some(Digest::of(&manifest_bytes)),
        copied: 2,
        ..Default::default()
    })
}

fn base_config() -> Value {
    let (os, arch) = manifest::host_platform();
    let now = rfc3339_now();
    json!({
        "created": now,
        "architecture": arch,
        "os": os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created": now, "created_by": "skiff-image import", "comment": "imported from tarball"}],
    })
}

/// Returns (diff ID, compressed digest, compressed size).
fn compress_layer(tar: &Path, out: &Path) -> Result<(Digest, Digest, u64)> {
    // `-` reads the tar from standard input, as `docker import -` does.
    let file: Box<dyn Read> = if tar == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(tar).with_context(|| format!("open {tar:?}"))?)
    };
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let gz_in = input
        .fill_buf_peek_gzip()
        .with_context(|| format!("read {tar:?}"))?;
    let reader: Box<dyn Read> = if gz_in {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let out_file = File::create(out).with_context(|| format!("create {out:?}"))?;
    let sink = HashingWriter::new(io::BufWriter::new(out_file));
    let gz = flate2::write::GzEncoder::new(sink, flate2::Compression::fast());
    let mut tee = TeeReader {
        inner: reader,
        diff: Hasher::new(Algorithm::Sha256),
        gz,
        total: 0,
    };
    // Walk the tar headers as the bytes flow to the layer, so a file that is not a tar is
    // refused (as `docker import` does) without a second pass.
    {
        let mut archive = tar::Archive::new(&mut tee);
        let not_tar = |e: io::Error| {
            let first = e.to_string().lines().next().unwrap_or_default().to_string();
            anyhow::anyhow!("read tar {tar:?}: not a tar archive ({first})")
        };
        for entry in archive.entries().map_err(not_tar)? {
            entry.map_err(not_tar)?;
        }
    }
    // Bytes after the end-of-archive marker belong to the layer too.
    io::copy(&mut tee, &mut io::sink()).with_context(|| format!("read {tar:?}"))?;
    if tee.total == 0 {
        bail!("import {tar:?}: empty file");
    }
    let sink = tee.gz.finish().with_context(|| format!("write {out:?}"))?;
    let (mut file, digest, size) = sink.finish();
    file.flush().with_context(|| format!("write {out:?}"))?;
    Ok((tee.diff.finish(), digest, size))
}

/// Feeds every byte read into the diff-ID hash and the gzip encoder.
struct TeeReader<R, W: Write> {
    inner: R,
    diff: Hasher,
    gz: flate2::write::GzEncoder<W>,
    total: u64,
}

impl<R: Read, W: Write> Read for TeeReader<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.diff.update(&buf[..n]);
        self.gz.write_all(&buf[..n])?;
        self.total += n as u64;
        Ok(n)
    }
}

trait PeekGzip {
    fn fill_buf_peek_gzip(&mut self) -> io::Result<bool>;
}

impl<R: Read> PeekGzip for BufReader<R> {
    fn fill_buf_peek_gzip(&mut self) -> io::Result<bool> {
        use std::io::BufRead;
        let b = self.fill_buf()?;
        Ok(b.len() >= 2 && b[0] == 0x1f && b[1] == 0x8b)
    }
}

/// Apply one Dockerfile-style instruction to the image config.
pub fn apply_change(config: &mut Value, change: &str) -> Result<()> {
    let (instr, arg) = change
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((change.trim(), ""));
    let arg = arg.trim();
    let Some(cfg) = config.get_mut("config").and_then(Value::as_object_mut) else {
        bail!("image config has no \"config\" object")
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            cfg.insert("Cmd".into(), command_form(arg)?);
        }
        "ENTRYPOINT" => {
            cfg.insert("Entrypoint".into(), command_form(arg)?);
        }
        "ENV" => {
            let (k, v) = arg.split_once('=').or_else(|| arg.split_once(' ')).unwrap_or((arg, ""));
            if k.is_empty() {
                bail!("ENV needs NAME=VALUE");
            }
            let env = cfg.entry("Env").or_insert_with(|| json!([]));
            if let Some(a) = env.as_array_mut() {
                a.retain(|e| e.as_str().is_none_or(|s| s.split_once('=').map(|p| p.0) != Some(k)));
                a.push(json!(format!("{k}={}", v.trim())));
            }
        }
        "WORKDIR" => {
            cfg.insert("WorkingDir".into(), json!(arg));
        }
        "USER" => {
            cfg.insert("User".into(), json!(arg));
        }
        "LABEL" => {
            let (k, v) = arg.split_once('=').unwrap_or((arg, ""));
            let labels = cfg.entry("Labels").or_insert_with(|| json!({}));
            labels[k.trim()] = json!(v.trim().trim_matches('"'));
        }
        "EXPOSE" => {
            let port = if arg.contains('/') { arg.to_string() } else { format!("{arg}/tcp") };
            let ports = cfg.entry("ExposedPorts").or_insert_with(|| json!({}));
            ports[port] = json!({});
        }
        "VOLUME" => {
            let vols = cfg.entry("Volumes").or_insert_with(|| json!({}));
            let list: Vec<String> = if arg.starts_with('[') {
                serde_json::from_str(arg).context("parse JSON array")?
            } else {
                arg.split_whitespace().map(str::to_string).collect()
            };
            for v in list {
                vols[v] = json!({});
            }
        }
        other => bail!("unsupported instruction {other:?} (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME)"),
    }
    Ok(())
}

/// `["a","b"]` (exec form) or `a b` (shell form, run by `/bin/sh -c` as docker does).
fn command_form(arg: &str) -> Result<Value> {
    if arg.starts_with('[') {
        let v: Vec<String> = serde_json::from_str(arg).context("parse JSON array")?;
        return Ok(json!(v));
    }
    if arg.is_empty() {
        bail!("missing command");
    }
    Ok(json!(["/bin/sh", "-c", arg]))
}

/// Current UTC time as RFC 3339 (`2006-01-02T15:04:05Z`), the image config's `created`.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn applies_changes() {
        let mut c = base_config();
        apply_change(&mut c, r#"CMD ["sh"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply_change(&mut c, "ENV A=1").unwrap();
        apply_change(&mut c, "ENV A=2").unwrap();
        apply_change(&mut c, "WORKDIR /w").unwrap();
        apply_change(&mut c, "EXPOSE 80").unwrap();
        assert_eq!(c["config"]["Cmd"], json!(["sh"]));
        assert_eq!(
            c["config"]["Entrypoint"],
            json!(["/bin/sh", "-c", "echo hi"])
        );
        assert_eq!(c["config"]["Env"], json!(["A=2"]));
        assert_eq!(c["config"]["WorkingDir"], "/w");
        assert!(c["config"]["ExposedPorts"]["80/tcp"].is_object());
        assert!(apply_change(&mut c, "RUN x")
            .unwrap_err()
            .to_string()
            .contains("unsupported instruction"));
        assert!(apply_change(&mut c, "CMD [broken").is_err());
    }
}
