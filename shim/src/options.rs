//! How the shim calls skiff: the task's runtime options. containerd sends
//! `containerd.runc.v1.Options` (as its runc shim takes them) or
//! `runtimeoptions.v1.Options`, which names a TOML file and is what the CRI
//! plugin and `ctr --runtime-config-path` send to runtimes other than runc.
//! The result is saved in the bundle, so that the `delete` action can
//! clean up after a shim that died.

use std::path::{Path, PathBuf};

use containerd_shim::api::Options as RuncOptions;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ShimError};

const SAVED_OPTIONS: &str = "skiff-shim.json";
/// Where runc's shim keeps runc's state is /run/containerd/runc/<namespace>;
/// skiff's goes beside it.
const DEFAULT_STATE_ROOT: &str = "/run/containerd/skiff";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeOptions {
    /// The skiff binary.
    pub binary: PathBuf,
    /// skiff's `--root`, already per namespace.
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    pub no_pivot_root: bool,
    pub no_new_keyring: bool,
}

/// The TOML a `runtimeoptions` config path names, in the spelling of
/// containerd's runc options (the CRI config's `BinaryName`, `Root`, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(alias = "BinaryName", alias = "binary_name")]
    binary: Option<PathBuf>,
    #[serde(alias = "Root")]
    root: Option<PathBuf>,
    #[serde(default, alias = "SystemdCgroup")]
    systemd_cgroup: bool,
    #[serde(default, alias = "NoPivotRoot")]
    no_pivot_root: bool,
    #[serde(default, alias = "NoNewKeyring")]
    no_new_keyring: bool,
}

impl RuntimeOptions {
    /// The options of a new task in `namespace`.
    pub fn from_task(options: Option<&Any>, namespace: &str) -> Result<RuntimeOptions> {
        let file = match options {
            None => ConfigFile::default(),
            Some(any) => match any.type_url.rsplit('/').next().unwrap_or_default() {
                "" => ConfigFile::default(),
                "containerd.runc.v1.Options" => from_runc_options(any)?,
                "runtimeoptions.v1.Options" => match config_path_of(&any.value)? {
                    Some(path) => load_config_file(&path)?,
                    None => ConfigFile::default(),
                },
                other => {
                    return Err(ShimError::invalid(
                        "task options",
                        format!("unknown type {other:?}"),
                    ))
                }
            },
        };
        let root = file
            .root
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_ROOT))
            .join(namespace);
        Ok(RuntimeOptions {
            binary: match file.binary {
                Some(binary) => binary,
                None => default_binary(),
            },
            root,
            systemd_cgroup: file.systemd_cgroup,
            no_pivot_root: file.no_pivot_root,
            no_new_keyring: file.no_new_keyring,
        })
    }

    /// The options a shim that knows nothing of the task uses: the defaults.
    pub fn defaults(namespace: &str) -> RuntimeOptions {
        RuntimeOptions {
            binary: default_binary(),
            root: PathBuf::from(DEFAULT_STATE_ROOT).join(namespace),
            systemd_cgroup: false,
            no_pivot_root: false,
            no_new_keyring: false,
        }
    }

    pub fn save(&self, bundle: &Path) -> Result<()> {
        let path = bundle.join(SAVED_OPTIONS);
        let json = serde_json::to_vec(self).map_err(|e| ShimError::invalid("options", e))?;
        let tmp = bundle.join(format!(".{SAVED_OPTIONS}.tmp"));
        std::fs::write(&tmp, json).map_err(|e| ShimError::io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| ShimError::io("rename into place", &path, e))
    }

    /// The saved options of the task in `bundle`, if it got that far.
    pub fn load(bundle: &Path) -> Result<Option<RuntimeOptions>> {
        let path = bundle.join(SAVED_OPTIONS);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ShimError::invalid(path.display().to_string(), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ShimError::io("read", path, e)),
        }
    }
}

fn from_runc_options(any: &Any) -> Result<ConfigFile> {
    let opts = RuncOptions::parse_from_bytes(&any.value)
        .map_err(|e| ShimError::invalid("containerd.runc.v1.Options", e))?;
    let nonempty = |s: &str| (!s.is_empty()).then(|| PathBuf::from(s));
    Ok(ConfigFile {
        binary: nonempty(&opts.binary_name),
        root: nonempty(&opts.root),
        systemd_cgroup: opts.systemd_cgroup,
        no_pivot_root: opts.no_pivot_root,
        no_new_keyring: opts.no_new_keyring,
    })
}

fn load_config_file(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| ShimError::io("read", path, e))?;
    toml::from_str(&text).map_err(|e| ShimError::invalid(path.display().to_string(), e.message()))
}

/// `config_path` (field 2) of a `runtimeoptions.v1.Options` message; the
/// protos crate does not carry that CRI type, and two string fields do not
/// need it.
fn config_path_of(message: &[u8]) -> Result<Option<PathBuf>> {
    let bad = |why: &str| ShimError::invalid("runtimeoptions.v1.Options", why);
    let mut rest = message;
    let mut config_path = None;
    while !rest.is_empty() {
        let (tag, after) = read_varint(rest).ok_or_else(|| bad("truncated tag"))?;
        if tag & 7 != 2 {
            return Err(bad("a field that is not a string"));
        }
        let (len, after) = read_varint(after).ok_or_else(|| bad("truncated length"))?;
        let len = usize::try_from(len).map_err(|_| bad("field too long"))?;
        if after.len() < len {
            return Err(bad("truncated field"));
        }
        let (value, after) = after.split_at(len);
        if tag >> 3 == 2 && !value.is_empty() {
            let path = std::str::from_utf8(value).map_err(|_| bad("config_path is not UTF-8"))?;
            config_path = Some(PathBuf::from(path));
        }
        rest = after;
    }
    Ok(config_path)
}

fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
}

/// `skiff` beside the shim (how the two are installed together), else the
/// one on PATH.
fn default_binary() -> PathBuf {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("skiff")));
    if let Some(path) = beside.filter(|p| p.is_file()) {
        return path;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("skiff"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("skiff"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(type_url: &str, value: Vec<u8>) -> Any {
        Any {
            type_url: type_url.into(),
            value,
            ..Default::default()
        }
    }

    #[test]
    fn runc_options_name_the_binary_and_root() {
        let opts = RuncOptions {
            binary_name: "/opt/skiff".into(),
            root: "/run/x".into(),
            no_pivot_root: true,
            ..Default::default()
        };
        let any = any("containerd.runc.v1.Options", opts.write_to_bytes().unwrap());
        let got = RuntimeOptions::from_task(Some(&any), "k8s.io").unwrap();
        assert_eq!(got.binary, PathBuf::from("/opt/skiff"));
        assert_eq!(got.root, PathBuf::from("/run/x/k8s.io"));
        assert!(got.no_pivot_root && !got.systemd_cgroup);
    }

    #[test]
    fn runtimeoptions_config_path_is_read_as_toml() {
        let dir = std::env::temp_dir().join(format!("skiff-shim-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("skiff.toml");
        std::fs::write(
            &file,
            "BinaryName = \"/usr/local/bin/skiff\"\nNoNewKeyring = true\n",
        )
        .unwrap();
        let path = file.to_str().unwrap().as_bytes();
        // field 1 (type_url) then field 2 (config_path), as CRI writes them.
        let mut msg = vec![0x0a, 3, b'a', b'b', b'c', 0x12, path.len() as u8];
        msg.extend_from_slice(path);
        let got =
            RuntimeOptions::from_task(Some(&any("runtimeoptions.v1.Options", msg)), "default")
                .unwrap();
        assert_eq!(got.binary, PathBuf::from("/usr/local/bin/skiff"));
        assert!(got.no_new_keyring);
        assert_eq!(got.root, PathBuf::from("/run/containerd/skiff/default"));
        std::fs::write(&file, "Binary_Nmae = \"x\"\n").unwrap();
        let mut msg = vec![0x12, path.len() as u8];
        msg.extend_from_slice(path);
        let err = RuntimeOptions::from_task(Some(&any("runtimeoptions.v1.Options", msg)), "d")
            .unwrap_err();
        assert!(err.to_string().contains("skiff.toml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_and_unknown_options_are_refused() {
        let err = RuntimeOptions::from_task(
            Some(&any("runtimeoptions.v1.Options", vec![0x12, 9, b'x'])),
            "d",
        )
        .unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = RuntimeOptions::from_task(Some(&any("example.Other", vec![])), "d").unwrap_err();
        assert!(err.to_string().contains("example.Other"), "{err}");
    }

    #[test]
    fn saved_options_round_trip() {
        let dir = std::env::temp_dir().join(format!("skiff-shim-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(RuntimeOptions::load(&dir).unwrap(), None);
        let opts = RuntimeOptions::defaults("ns");
        opts.save(&dir).unwrap();
        assert_eq!(RuntimeOptions::load(&dir).unwrap(), Some(opts));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
