//! JSON input whose errors name the failing field (`linux.namespaces[2].type`),
//! for config.json, `exec --process`, `update --resources` and seccomp
//! profiles.
//!
//! A document is parsed once with plain serde_json; only one that fails is
//! parsed again through serde_path_to_error for the path. Why not track the
//! path always: serde_path_to_error is a second copy of every Deserialize
//! impl it wraps (about 0.5 MB of code for oci-spec's types at opt-level 3),
//! and with it on the success path `create` ran both copies (state.json is
//! read with plain serde_json), which put both in its resident set. It also
//! allocates a String per map key it passes. Now the copy that runs on every
//! start is the one state.json reads share.

use serde::de::DeserializeOwned;

/// Why a document did not parse: the dotted path of the field (`.` for the
/// document itself) and serde's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub path: String,
    pub message: String,
}

/// `serde_json::from_slice` (trailing characters are an error too), with
/// the failing field's path on error.
pub fn from_slice_with_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    serde_json::from_slice(bytes).map_err(|plain| locate_error::<T>(bytes, plain))
}

/// The slow second parse of a document known to be bad.
#[cold]
#[inline(never)]
fn locate_error<T: DeserializeOwned>(bytes: &[u8], plain: serde_json::Error) -> JsonError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) => JsonError {
            path: err.path().to_string(),
            message: err.into_inner().to_string(),
        },
        // Only trailing characters are left to fail on.
        Ok(_) => JsonError {
            path: ".".into(),
            message: de.end().err().unwrap_or(plain).to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Item {
        #[allow(dead_code)]
        n: u32,
    }

    #[test]
    fn valid_documents_parse() {
        let doc: Doc = from_slice_with_path(br#"{"items": [{"n": 1}]}"#).unwrap();
        assert_eq!(doc.items.len(), 1);
    }

    #[test]
    fn errors_name_the_field() {
        let err = from_slice_with_path::<Doc>(br#"{"items": [{"n": 1}, {"n": -1}]}"#).unwrap_err();
        assert_eq!(err.path, "items[1].n");
        assert!(err.message.contains("-1"), "{err:?}");
    }

    #[test]
    fn trailing_characters_are_a_document_error() {
        let err = from_slice_with_path::<Doc>(br#"{"items": []} x"#).unwrap_err();
        assert_eq!(err.path, ".");
        assert!(err.message.contains("trailing"), "{err:?}");
    }

    #[test]
    fn syntax_errors_keep_serdes_message() {
        let err = from_slice_with_path::<Doc>(br#"{"items": [{"n": 1}"#).unwrap_err();
        assert!(err.message.contains("EOF"), "{err:?}");
    }
}
