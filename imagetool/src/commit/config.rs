//! The committed image's config (OCI image spec, config.md): the base image's config
//! with a new `created`, the `--author`, the `--change` instructions applied, and for
//! the new layer a `rootfs.diff_ids` entry and a `history` entry as `docker commit`
//! writes it (created, author, created_by, comment; `empty_layer` when nothing changed).

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

use crate::digest::Digest;
use crate::import::apply_change;

/// What the user said about the commit.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The history entry's comment (`-m`).
    pub message: Option<String>,
    /// The image's and the history entry's author (`-a`).
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`-c`), as `import --change`.
    pub changes: Vec<String>,
}

/// The base config with `created`, `author` and the changes applied.
pub(crate) fn derive_config(base: &Value, opts: &CommitOptions, now: &str) -> Result<Value> {
    let mut config = base.clone();
    let Some(obj) = config.as_object_mut() else {
        bail!("read the image config: not a JSON object");
    };
    obj.insert("created".into(), json!(now));
    // docker: the new image's author is the one given, not the base's.
    match &opts.author {
        Some(a) => obj.insert("author".into(), json!(a)),
        None => obj.remove("author"),
    };
    if !obj.get("config").is_some_and(Value::is_object) {
        obj.insert("config".into(), Value::Object(Map::new()));
    }
    for c in &opts.changes {
        apply_change(&mut config, c).with_context(|| format!("apply change {c:?}"))?;
    }
    Ok(config)
}

/// Appends the commit's history entry and, when there is a layer, its diff ID.
pub(crate) fn record_commit(
    config: &mut Value,
    opts: &CommitOptions,
    created_by: &str,
    now: &str,
    layer: Option<&Digest>,
) -> Result<()> {
    let diff_ids = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let history = config
        .as_object_mut()
        .context("read the image config: not a JSON object")?
        .entry("history")
        .or_insert_with(|| json!([]));
    let Some(history) = history.as_array_mut() else {
        bail!("read the image config: \"history\" is not an array");
    };
    // History pairs its non-empty entries with the layers in order: a base image built
    // without (full) history gets blank entries, so the new one meets the new layer.
    let described = history
        .iter()
        .filter(|h| {
            !h.get("empty_layer")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .count();
    for _ in described..diff_ids {
        history.push(json!({}));
    }
    let mut entry = json!({"created": now, "created_by": created_by});
    if let Some(a) = &opts.author {
        entry["author"] = json!(a);
    }
    if let Some(m) = &opts.message {
        entry["comment"] = json!(m);
    }
    if layer.is_none() {
        entry["empty_layer"] = json!(true);
    }
    history.push(entry);
    if let Some(d) = layer {
        let rootfs = config
            .as_object_mut()
            .context("read the image config: not a JSON object")?
            .entry("rootfs")
            .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
        match rootfs.get_mut("diff_ids").and_then(Value::as_array_mut) {
            Some(ids) => ids.push(json!(d.to_string())),
            None => bail!("read the image config: no rootfs.diff_ids array"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_and_diff_ids_follow_docker_commit() {
        let base = json!({
            "architecture": "amd64", "os": "linux", "author": "base author",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:aa", "sha256:bb"]},
            "history": [{"created_by": "base layer"}],
        });
        let opts = CommitOptions {
            message: Some("added a file".into()),
            author: Some("me".into()),
            changes: vec!["ENV A=1".into(), r#"CMD ["/app"]"#.into()],
        };
        let mut c = derive_config(&base, &opts, "2024-01-01T00:00:00Z").unwrap();
        assert_eq!(c["config"]["Env"], json!(["A=1"]));
        assert_eq!(c["config"]["Cmd"], json!(["/app"]));
        assert_eq!(c["author"], "me");
        let layer = Digest::of(b"layer");
        record_commit(
            &mut c,
            &opts,
            "/bin/sh -c x",
            "2024-01-01T00:00:00Z",
            Some(&layer),
        )
        .unwrap();
        let h = c["history"].as_array().unwrap();
        // One blank entry pads the base's undescribed second layer.
        assert_eq!(h.len(), 3, "{h:?}");
        assert_eq!(h[1], json!({}));
        assert_eq!(h[2]["created_by"], "/bin/sh -c x");
        assert_eq!(h[2]["comment"], "added a file");
        assert_eq!(h[2]["author"], "me");
        assert!(h[2].get("empty_layer").is_none());
        assert_eq!(c["rootfs"]["diff_ids"][2], layer.to_string());
        // The base is untouched; nothing changed means no layer and an empty_layer entry.
        let plain = CommitOptions::default();
        let mut e = derive_config(&base, &plain, "t").unwrap();
        assert!(e.get("author").is_none());
        record_commit(&mut e, &plain, "sh", "t", None).unwrap();
        assert_eq!(e["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
        assert_eq!(
            e["history"].as_array().unwrap().last().unwrap()["empty_layer"],
            true
        );
        assert!(derive_config(
            &base,
            &CommitOptions {
                changes: vec!["RUN x".into()],
                ..plain
            },
            "t"
        )
        .is_err());
    }
}
