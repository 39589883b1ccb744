//! `-info`: containerd 2's runtime introspection. The shim prints a
//! `containerd.types.RuntimeInfo` protobuf whose features are skiff's own
//! `skiff features` JSON (the OCI runtime features document, as runc's
//! shim passes on runc's), so containerd can check specs against what the
//! runtime supports.

use std::io::Write;
use std::process::Command;

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{Message, MessageField};
use containerd_shim::protos::types::introspection::{RuntimeInfo, RuntimeVersion};

use crate::options::RuntimeOptions;

const FEATURES_TYPE: &str = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";

/// Prints the info on stdout; the exit code for `main`.
pub fn print_runtime_info() -> i32 {
    match runtime_info().and_then(|info| {
        let bytes = info
            .write_to_bytes()
            .map_err(|e| format!("encode the runtime info: {e}"))?;
        std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| format!("write the runtime info: {e}"))
    }) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}: -info: {e}", crate::RUNTIME_ID);
            1
        }
    }
}

fn runtime_info() -> Result<RuntimeInfo, String> {
    let binary = RuntimeOptions::defaults("default").binary;
    let out = Command::new(&binary)
        .arg("features")
        .output()
        .map_err(|e| format!("run {binary:?} features: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{binary:?} features: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map_err(|e| format!("{binary:?} features printed no JSON: {e}"))?;
    Ok(RuntimeInfo {
        name: crate::RUNTIME_ID.into(),
        version: MessageField::some(RuntimeVersion {
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        }),
        features: MessageField::some(Any {
            type_url: FEATURES_TYPE.into(),
            value: out.stdout,
            ..Default::default()
        }),
        ..Default::default()
    })
}
