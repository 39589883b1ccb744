//! Registry credentials in the `auth.json` / `~/.docker/config.json` format
//! (`{"auths":{"HOST":{"auth":"base64(user:pass)"}}}`), read from the files podman and
//! docker use, written by `login` with mode 0600.

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const HUB_KEYS: &[&str] = &[
    "docker.io",
    "https://index.docker.io/v1/",
    "index.docker.io",
    "registry-1.docker.io",
];

/// Files searched for credentials, first hit wins: `--authfile`, `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.docker/config.json`.
pub fn search_files(authfile: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = authfile {
        return vec![p.to_path_buf()];
    }
    let mut v = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        v.push(PathBuf::from(p));
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        v.push(PathBuf::from(d).join("containers/auth.json"));
    }
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h).join(".docker/config.json"));
    }
    v
}

/// The file `login` writes to: the first of [`search_files`].
pub fn write_file(authfile: Option<&Path>) -> Result<PathBuf> {
    search_files(authfile)
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("find auth file: set --authfile, XDG_RUNTIME_DIR or HOME"))
}

fn keys_for(domain: &str) -> Vec<String> {
    if domain == crate::reference::DEFAULT_DOMAIN {
        HUB_KEYS.iter().map(|s| s.to_string()).collect()
    } else {
        vec![
            domain.to_string(),
            format!("https://{domain}"),
            format!("http://{domain}"),
        ]
    }
}

/// Credentials stored for `domain`, if any: per file, a `credHelpers` entry for the host
/// wins, then the `auths` entry, then the `credsStore` helper (docker's order).
pub fn lookup(domain: &str, authfile: Option<&Path>) -> Result<Option<(String, String)>> {
    for file in search_files(authfile) {
        let Ok(bytes) = fs::read(&file) else { continue };
        let v: Value =
            serde_json::from_slice(&bytes).with_context(|| format!("parse auth file {file:?}"))?;
        let keys = keys_for(domain);
        let helper = keys
            .iter()
            .find_map(|k| v.get("credHelpers")?.get(k)?.as_str());
        if let Some(h) = helper {
            return helper_get(h, domain);
        }
        for key in &keys {
            let Some(auth) = v.get("auths").and_then(|a| a.get(key)) else {
                continue;
            };
            if let Some(encoded) = auth.get("auth").and_then(Value::as_str) {
                return decode(encoded)
                    .map(Some)
                    .with_context(|| format!("read credentials for {domain:?} in {file:?}"));
            }
        }
        if let Some(h) = v.get("credsStore").and_then(Value::as_str) {
            return helper_get(h, domain);
        }
    }
    Ok(None)
}

/// Ask `docker-credential-HELPER get` (docker-credential-helpers protocol: server URL on
/// stdin, `{"Username","Secret"}` on stdout; "credentials not found" means none).
fn helper_get(helper: &str, domain: &str) -> Result<Option<(String, String)>> {
    use std::process::{Command, Stdio};
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run credential helper {program:?}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(domain.as_bytes())
            .with_context(|| format!("write to credential helper {program:?}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("run credential helper {program:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        anyhow::bail!(
            "credential helper {program:?} get {domain:?}: {}",
            stdout.trim()
        );
    }
    let v: Value = serde_json::from_str(&stdout)
        .with_context(|| format!("parse output of credential helper {program:?}"))?;
    let user = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
    Ok(Some((user.to_string(), secret.to_string())))
}

fn decode(encoded: &str) -> Result<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .context("decode base64")?;
    let s = String::from_utf8(raw).context("decode credentials as UTF-8")?;
    let (u, p) = s
        .split_once(':')
        .ok_or_else(|| anyhow!("expected USER:PASSWORD"))?;
    Ok((u.to_string(), p.to_string()))
}

/// Store credentials for `domain`, keeping the file's other content; mode 0600.
pub fn store(file: &Path, domain: &str, creds: Option<(&str, &str)>) -> Result<bool> {
    let mut v: Value = match fs::read(file) {
        Ok(b) if !b.is_empty() => {
            serde_json::from_slice(&b).with_context(|| format!("parse auth file {file:?}"))?
        }
        _ => json!({}),
    };
    if !v.is_object() {
        v = json!({});
    }
    let auths = v
        .as_object_mut()
        .map(|o| o.entry("auths").or_insert_with(|| json!({})));
    let Some(Value::Object(auths)) = auths else {
        return Err(anyhow!(
            "update auth file {file:?}: \"auths\" is not an object"
        ));
    };
    let key = keys_for(domain).remove(0);
    let changed = match creds {
        Some((u, p)) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            auths.insert(key, json!({ "auth": encoded }));
            true
        }
        None => {
            keys_for(domain)
                .iter()
                .filter(|k| auths.remove(k.as_str()).is_some())
                .count()
                > 0
        }
    };
    let bytes = serde_json::to_vec_pretty(&v).context("serialise auth file")?;
    write_private(file, &bytes)?;
    Ok(changed)
}

fn write_private(file: &Path, bytes: &[u8]) -> Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("create directory {dir:?}"))?;
    let tmp = dir.join(format!(".auth.json.tmp-{}", crate::fsutil::unique_name()));
    let res = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        fs::rename(&tmp, file)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.with_context(|| format!("write auth file {file:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_lookup_and_remove_round_trip() {
        let tmp = crate::fsutil::TempDir::new("auth-test-").unwrap();
        let f = tmp.path().join("auth.json");
        fs::write(&f, r#"{"auths":{},"credHelpers":{"x":"y"}}"#).unwrap();
        store(&f, "localhost:5000", Some(("u", "p:w"))).unwrap();
        assert_eq!(
            lookup("localhost:5000", Some(&f)).unwrap(),
            Some(("u".into(), "p:w".into()))
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let v: Value = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
        assert_eq!(v["credHelpers"]["x"], "y");
        assert!(store(&f, "localhost:5000", None).unwrap());
        assert_eq!(lookup("localhost:5000", Some(&f)).unwrap(), None);
    }

    #[test]
    fn missing_credential_helper_is_an_error_naming_it() {
        let tmp = crate::fsutil::TempDir::new("auth-helper-").unwrap();
        let f = tmp.path().join("auth.json");
        fs::write(&f, r#"{"credHelpers":{"reg.example":"skiff-none"}}"#).unwrap();
        let e = lookup("reg.example", Some(&f)).unwrap_err();
        assert!(
            format!("{e:#}").contains("docker-credential-skiff-none"),
            "{e:#}"
        );
        assert_eq!(lookup("other.example", Some(&f)).unwrap(), None);
    }
}
