//! `--log FILE --log-format text|json`: the log containerd-shim-runc-v2
//! reads back when a runtime command fails (`{"level","msg","time"}` lines).

use serde_json::{json, Value};
use spec_tests::{Bundle, Runtime, TempDir};

fn failing_bundle() -> Bundle {
    let mut b = Bundle::new(&["sh"]);
    b.set("/process/args", json!(["nonexistent-binary-skt"]));
    b
}

#[test]
fn json_log_gets_an_error_line() {
    let b = failing_bundle();
    let rt = Runtime::new();
    let id = rt.id("logjson");
    let dir = TempDir::new("skt-log");
    let log = dir.path().join("log.json");
    b.save();
    let out = rt.exec(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ]);
    out.expect_fail();
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("read {}: {e}\n{out}", log.display()));
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect();
    assert!(!lines.is_empty(), "empty log; {out}");
    for l in &lines {
        for k in ["level", "msg", "time"] {
            assert!(l[k].is_string(), "log line lacks {k}: {l}");
        }
        let t = l["time"].as_str().unwrap_or("");
        assert!(
            t.len() >= 20 && t.as_bytes()[10] == b'T',
            "time is RFC 3339: {t}"
        );
    }
    let err = lines
        .iter()
        .find(|l| l["level"] == "error")
        .unwrap_or_else(|| panic!("no error line: {text}"));
    assert!(
        err["msg"]
            .as_str()
            .unwrap_or("")
            .contains("nonexistent-binary-skt"),
        "error names the program: {err}"
    );
}

#[test]
fn text_log_gets_an_error_line() {
    let b = failing_bundle();
    let rt = Runtime::new();
    let id = rt.id("logtext");
    let dir = TempDir::new("skt-log");
    let log = dir.path().join("log.txt");
    b.save();
    let out = rt.exec(&[
        "--log",
        &log.to_string_lossy(),
        "run",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ]);
    out.expect_fail();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let err = text
        .lines()
        .find(|l| l.contains("level=error"))
        .unwrap_or_else(|| panic!("no level=error line: {text:?}\n{out}"));
    assert!(err.contains("time=") && err.contains("msg="), "{err}");
    assert!(err.contains("nonexistent-binary-skt"), "{err}");
}

#[test]
fn log_file_is_appended_not_truncated() {
    let b = failing_bundle();
    let rt = Runtime::new();
    let dir = TempDir::new("skt-log");
    let log = dir.path().join("log.json");
    std::fs::write(
        &log,
        "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"2020-01-01T00:00:00Z\"}\n",
    )
    .expect("write");
    b.save();
    let id = rt.id("logappend");
    rt.exec(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        &b.path().to_string_lossy(),
        &id,
    ])
    .expect_fail();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.starts_with("{\"level\":\"info\",\"msg\":\"earlier\""),
        "{text}"
    );
    assert!(text.lines().count() >= 2, "{text}");
}

#[test]
fn debug_adds_debug_lines_and_success_logs_no_error() {
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let dir = TempDir::new("skt-log");
    b.save();
    let bundle = b.path().to_string_lossy().into_owned();
    let quiet = dir.path().join("quiet.json");
    let id = rt.id("logquiet");
    rt.exec(&[
        "--log",
        &quiet.to_string_lossy(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        &bundle,
        &id,
    ])
    .expect_ok();
    let text = std::fs::read_to_string(&quiet).unwrap_or_default();
    assert!(
        !text.contains("\"level\":\"error\""),
        "a successful run logs no error: {text}"
    );
    assert!(
        !text.contains("\"level\":\"debug\""),
        "no debug lines without --debug: {text}"
    );

    let debug = dir.path().join("debug.json");
    let id = rt.id("logdebug");
    rt.exec(&[
        "--debug",
        "--log",
        &debug.to_string_lossy(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        &bundle,
        &id,
    ])
    .expect_ok();
    let text = std::fs::read_to_string(&debug).unwrap_or_default();
    let levels: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["level"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        levels.iter().any(|l| l == "debug"),
        "--debug writes debug lines: {text}"
    );
}
