//! runc's global `--log`, `--log-format` and `--debug` flags. containerd and
//! conmon read the log file as logrus writes it, so the line shapes are
//! logrus's, byte for byte:
//! json: `{"level":"error","msg":"...","time":"2026-11-23T19:00:00Z"}`,
//! text: `time="2026-11-23T19:00:00Z" level=error msg="..."`.
//! Every line is formatted into one buffer and written with one write(2), so
//! lines from the runtime and its children do not interleave.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: RwLock<Logger> = RwLock::new(Logger {
    file: None,
    format: LogFormat::Text,
    debug: false,
});

/// Sets where and how messages go. With no path they go to stderr (as runc
/// does without `--log`). The file is opened for append, created 0644.
pub fn init_logging(path: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<()> {
    let file = match path {
        Some(p) => Some(
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)
                .with_context(|| format!("open log file {:?}", p.display().to_string()))?,
        ),
        None => None,
    };
    let mut logger = LOGGER.write().unwrap_or_else(|e| e.into_inner());
    *logger = Logger {
        file,
        format,
        debug,
    };
    Ok(())
}

pub fn log_error(msg: &str) {
    log("error", msg);
}

/// logrus names this level "warning", and so does containerd's reader.
pub fn log_warn(msg: &str) {
    log("warning", msg);
}

/// Written only with `--debug`.
pub fn log_debug(msg: &str) {
    log("debug", msg);
}

fn log(level: &str, msg: &str) {
    let logger = LOGGER.read().unwrap_or_else(|e| e.into_inner());
    if level == "debug" && !logger.debug {
        return;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let line = format_line(logger.format, level, msg, secs);
    // A failing log write has nowhere better to be reported; drop it.
    let _ = match &logger.file {
        Some(f) => (&*f).write_all(line.as_bytes()),
        None => std::io::stderr().lock().write_all(line.as_bytes()),
    };
}

/// One complete log line, newline included.
fn format_line(format: LogFormat, level: &str, msg: &str, unix_secs: u64) -> String {
    let mut out = String::with_capacity(msg.len() + 64);
    let time = rfc3339_utc(unix_secs);
    match format {
        LogFormat::Json => {
            // logrus's JSONFormatter sorts keys: level, msg, time.
            out.push_str("{\"level\":\"");
            out.push_str(level);
            out.push_str("\",\"msg\":\"");
            push_json_escaped(&mut out, msg);
            out.push_str("\",\"time\":\"");
            out.push_str(&time);
            out.push_str("\"}\n");
        }
        LogFormat::Text => {
            out.push_str("time=\"");
            out.push_str(&time);
            out.push_str("\" level=");
            out.push_str(level);
            out.push_str(" msg=");
            push_text_value(&mut out, msg);
            out.push('\n');
        }
    }
    out
}

/// Control characters of user input (a `\n` inside a JSON string, say) as
/// escapes, so that an error that quotes the input stays one line.
pub fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Go's encoding/json string escaping (HTML-safe, as logrus leaves it on).
fn push_json_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// logrus's TextFormatter: bare when every byte is in [A-Za-z0-9-._/@^+],
/// otherwise Go-quoted (strconv.Quote for the characters that occur).
fn push_text_value(out: &mut String, s: &str) {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/@^+".contains(&b));
    if bare {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 in UTC, seconds precision (Go's time.RFC3339 on a UTC clock).
fn rfc3339_utc(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T19:00:00Z
    const T: u64 = 1_795_460_400;

    #[test]
    fn time_is_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(T), "2026-11-23T19:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn json_line_is_logrus_shape() {
        let line = format_line(LogFormat::Json, "error", "open \"/x\": <gone>\n", T);
        assert_eq!(
            line,
            "{\"level\":\"error\",\"msg\":\"open \\\"/x\\\": \\u003cgone\\u003e\\n\",\"time\":\"2026-11-23T19:00:00Z\"}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["msg"], "open \"/x\": <gone>\n");
        assert_eq!(v["level"], "error");
    }

    #[test]
    fn text_line_is_logrus_shape() {
        assert_eq!(
            format_line(LogFormat::Text, "warning", "container not running", T),
            "time=\"2026-11-23T19:00:00Z\" level=warning msg=\"container not running\"\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, "debug", "child-ready", T),
            "time=\"2026-11-23T19:00:00Z\" level=debug msg=child-ready\n"
        );
        assert_eq!(
            format_line(LogFormat::Text, "error", "a\"b\\\x01", T),
            "time=\"2026-11-23T19:00:00Z\" level=error msg=\"a\\\"b\\\\\\x01\"\n"
        );
    }

    #[test]
    fn file_sink_honours_debug_flag() {
        let dir = std::env::temp_dir().join(format!("skiff-log-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.json");
        init_logging(Some(&path), LogFormat::Json, false).unwrap();
        log_debug("hidden");
        log_warn("shown");
        init_logging(Some(&path), LogFormat::Json, true).unwrap();
        log_debug("now shown");
        init_logging(None, LogFormat::Text, false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["level"], "warning");
        assert_eq!(lines[0]["msg"], "shown");
        assert_eq!(lines[1]["level"], "debug");
        assert_eq!(lines[1]["msg"], "now shown");
    }
}
