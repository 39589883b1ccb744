//! `inspect --format`: the small part of Go's `text/template` that `docker inspect -f`
//! scripts use, over a JSON document. Supported actions:
//!
//! - `{{.}}` and `{{.Field.Sub}}`: a value; a missing key is an error, as docker's
//!   `missingkey=error` makes it;
//! - `{{json .Field}}`: the value as compact JSON.
//!
//! Values print as Go's `fmt` prints the decoded JSON: strings bare, lists as `[a b]`,
//! objects as `map[k:v]` (keys sorted), null as `<no value>`. Text outside actions is
//! copied; `{{-` and `-}}` trim the whitespace beside them. Anything else (pipes,
//! functions besides `json`, `if`/`range`) is refused when the template is parsed.

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("parse template {template:?}: {reason}")]
    Parse { template: String, reason: String },
    #[error("execute template: map has no entry for key {key:?} (in {path})")]
    NoKey { key: String, path: String },
}

#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    /// A field path (empty: the document itself), as JSON or as a Go value.
    Value {
        path: Vec<String>,
        json: bool,
    },
}

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(template: &str) -> Result<Template, TemplateError> {
        let bad = |reason: &str| TemplateError::Parse {
            template: template.to_string(),
            reason: reason.to_string(),
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            let mut text = rest[..open].to_string();
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| bad("unclosed action"))?;
            let mut action = &after[..close];
            if let Some(a) = action.strip_prefix('-') {
                text = text.trim_end().to_string();
                action = a;
            }
            rest = &after[close + 2..];
            if let Some(a) = action.strip_suffix('-') {
                rest = rest.trim_start();
                action = a;
            }
            if !text.is_empty() {
                parts.push(Part::Text(text));
            }
            parts.push(parse_action(action.trim()).map_err(|r| bad(&r))?);
        }
        if rest.contains("}}") {
            return Err(bad("unexpected \"}}\""));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    pub fn render(&self, doc: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Value { path, json } => {
                    let v = lookup(doc, path)?;
                    if *json {
                        out.push_str(&v.to_string());
                    } else {
                        out.push_str(&go_format(v));
                    }
                }
            }
        }
        Ok(out)
    }
}

fn parse_action(action: &str) -> Result<Part, String> {
    let (json, arg) = match action.split_once(char::is_whitespace) {
        Some(("json", arg)) => (true, arg.trim()),
        Some((f, _)) => return Err(format!("unsupported function {f:?} (only json)")),
        None => (false, action),
    };
    if arg == "." {
        return Ok(Part::Value {
            path: Vec::new(),
            json,
        });
    }
    let Some(fields) = arg.strip_prefix('.') else {
        return Err(format!(
            "unsupported action {action:?} (expected .Field or json .Field)"
        ));
    };
    let path: Vec<String> = fields.split('.').map(str::to_string).collect();
    let ident = |f: &String| {
        !f.is_empty()
            && f.chars().all(|c| c.is_alphanumeric() || c == '_')
            && !f.starts_with(|c: char| c.is_ascii_digit())
    };
    if !path.iter().all(ident) {
        return Err(format!("bad field path {arg:?}"));
    }
    Ok(Part::Value { path, json })
}

fn lookup<'a>(doc: &'a Value, path: &[String]) -> Result<&'a Value, TemplateError> {
    let mut v = doc;
    for (i, key) in path.iter().enumerate() {
        v = v.get(key).ok_or_else(|| TemplateError::NoKey {
            key: key.clone(),
            path: format!(".{}", path[..=i].join(".")),
        })?;
    }
    Ok(v)
}

/// A decoded JSON value as Go's `fmt.Sprint` prints it.
fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_format_inner).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_format_inner(&o[k.as_str()])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Inside a list or map Go prints a nil interface as `<nil>`.
fn go_format_inner(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        other => go_format(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, doc: &Value) -> Result<String, TemplateError> {
        Template::parse(t)?.render(doc)
    }

    #[test]
    fn fields_json_and_go_formatting() {
        let doc = json!({
            "Id": "sha256:abc",
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": null}, "User": ""},
            "Size": 1234,
            "Nothing": null,
        });
        assert_eq!(render("{{.Id}}", &doc).unwrap(), "sha256:abc");
        assert_eq!(render("id={{ .Id }}!", &doc).unwrap(), "id=sha256:abc!");
        assert_eq!(render("{{.Config.Env}}", &doc).unwrap(), "[A=1 B=2]");
        assert_eq!(
            render("{{.Config.Labels}}", &doc).unwrap(),
            "map[a:<nil> z:1]"
        );
        assert_eq!(
            render("{{.Size}} {{.Nothing}}", &doc).unwrap(),
            "1234 <no value>"
        );
        assert_eq!(
            render("{{json .Config.Env}}", &doc).unwrap(),
            r#"["A=1","B=2"]"#
        );
        assert_eq!(
            render("{{json .}}", &json!({"a": 1})).unwrap(),
            r#"{"a":1}"#
        );
        assert_eq!(render("a {{- .Id -}} b", &doc).unwrap(), "asha256:abcb");
        assert_eq!(render("plain", &doc).unwrap(), "plain");
    }

    #[test]
    fn missing_keys_and_unsupported_actions_are_errors() {
        let doc = json!({"Config": {}});
        assert_eq!(
            render("{{.Config.Env}}", &doc).unwrap_err().to_string(),
            "execute template: map has no entry for key \"Env\" (in .Config.Env)"
        );
        for bad in [
            "{{.Id",
            "{{range .X}}",
            "{{index .X 1}}",
            "{{.Id | printf}}",
            "{{Id}}",
            "{{.a..b}}",
            "x}}",
        ] {
            assert!(
                matches!(Template::parse(bad), Err(TemplateError::Parse { .. })),
                "{bad}"
            );
        }
    }
}
