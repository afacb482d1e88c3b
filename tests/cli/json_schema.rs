//! docs/json.md is the contract of `--json`: every command with `--json` is run on a fixture
//! root and its document is held against the example in docs/json.md — the same keys at
//! every level, the same JSON types, times and modes in the documented forms — so the
//! documentation cannot drift from the program. Hermetic: a fixture root, no peer tools.
//!
//! `QRESCUE_PRINT_JSON=1` prints the documents (to refresh the examples).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use crate::common::fixture::{Fixture, Layout};
use crate::common::{qrescue, run, run_with_stdin};
use serde_json::Value;

const DOC: &str = include_str!("../../docs/json.md");

/// The examples: every ```` ```json NAME ```` block of docs/json.md, by NAME.
fn examples() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut lines = DOC.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line.strip_prefix("```json ") else {
            continue;
        };
        let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let v: Value = serde_json::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("docs/json.md, example {name}: {e}"));
        assert!(
            out.insert(name.trim().to_string(), v).is_none(),
            "example {name} twice"
        );
    }
    out
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `2026-12-04T16:05:43.123Z`.
fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// The example's array elements as one: each key's first non-null value (elements of one
/// list share their keys; one example element may show a value another leaves null).
fn merged(elements: &[Value]) -> Option<Value> {
    let mut out = elements.first()?.clone();
    for e in &elements[1..] {
        if let (Value::Object(o), Value::Object(e)) = (&mut out, e) {
            for (k, v) in e {
                match o.get_mut(k) {
                    Some(slot) if slot.is_null() => *slot = v.clone(),
                    Some(_) => {}
                    None => {
                        o.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    Some(out)
}

/// `actual` has the shape of `example`: the same keys at every level, the same types (an
/// actual null stands for a value that is absent this time; a null in the example means the
/// value is always null there); every array element like the example's elements.
fn same_shape(at: &str, example: &Value, actual: &Value, problems: &mut Vec<String>) {
    match (example, actual) {
        (_, Value::Null) => {}
        (Value::Object(e), Value::Object(a)) => {
            let ek: Vec<&String> = e.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            if ek != ak {
                problems.push(format!("{at}: keys {ak:?}, documented {ek:?}"));
            }
            for (k, ev) in e {
                if let Some(av) = a.get(k) {
                    same_shape(&format!("{at}.{k}"), ev, av, problems);
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => match merged(e) {
            Some(first) => {
                for (i, av) in a.iter().enumerate() {
                    same_shape(&format!("{at}[{i}]"), &first, av, problems);
                }
            }
            None if a.is_empty() => {}
            None => problems.push(format!("{at}: documented as always empty: {actual}")),
        },
        (e, a) if type_of(e) != type_of(a) => problems.push(format!(
            "{at}: {} {a}, documented {} {e}",
            type_of(a),
            type_of(e)
        )),
        _ => {}
    }
}

/// The vocabulary's forms: `schema` 2 at the top; `X_unix_ms` an integer with `X` the same
/// instant as RFC 3339 UTC with milliseconds; `mode` four octal digits; `in_root` beside
/// every `path` (absolute), and the host path ending in it.
fn vocabulary(at: &str, v: &Value, problems: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if let Some(base) = k.strip_suffix("_unix_ms") {
                    let time = m.get(base).unwrap_or(&Value::Null);
                    match (time, val) {
                        (Value::Null, Value::Null) => {}
                        (Value::String(t), Value::Number(ms)) if is_time(t) => {
                            let ms = ms.as_u64().unwrap_or(0);
                            if !t.ends_with(&format!(".{:03}Z", ms % 1000)) {
                                problems.push(format!("{at}.{base}: {t} is not {ms} ms"));
                            }
                        }
                        _ => problems.push(format!("{at}.{k}: {val} beside {base} {time}")),
                    }
                }
                if k == "mode"
                    && !val.as_str().is_some_and(|s| {
                        s.len() == 4 && s.bytes().all(|b| (b'0'..=b'7').contains(&b))
                    })
                {
                    problems.push(format!("{at}.mode: {val} is not like \"0600\""));
                }
                if k == "path"
                    && let (Some(p), Some(inside)) =
                        (val.as_str(), m.get("in_root").and_then(Value::as_str))
                    && (!inside.starts_with('/') || !p.ends_with(inside))
                {
                    problems.push(format!("{at}: path {p} with in_root {inside}"));
                }
                if k == "path" && !val.is_null() && !m.contains_key("in_root") {
                    problems.push(format!("{at}: path without in_root"));
                }
                vocabulary(&format!("{at}.{k}"), val, problems);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                vocabulary(&format!("{at}[{i}]"), x, problems);
            }
        }
        _ => {}
    }
}

fn q(f: &Fixture, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).arg("--json").args(args);
    c
}

fn document(o: &Output, what: &str) -> Value {
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{what}: exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not one JSON document ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// Every command's document on one QTS 5 fixture, in an order that gives each something to
/// show (a backup to list, a journal to read, a change to restore).
fn documents(f: &Fixture) -> Vec<(&'static str, Value)> {
    let dir = f.path(f.state_dir());
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    f.put(
        &format!("{}/button.jsonl", f.state_dir()),
        b"{\"time\":\"2026-11-24T21:44:00.250Z\",\"unix_ms\":1795556640250,\"event\":\"hold\",\
          \"class\":\"basic-reset\",\"held_ms\":3512,\"start_known\":true,\"firmware\":\"x\",\
          \"source\":\"evdev\",\"device\":\"/dev/input/event0\",\"code\":408}\n",
        0o600,
    );
    let mut out = Vec::new();
    let mut doc = |name: &'static str, o: Output| out.push((name, document(&o, name)));
    doc("status", run(&mut q(f, &["status"])));
    doc(
        "verify",
        run_with_stdin(&mut q(f, &["verify", "--password-stdin"]), b"admin\n"),
    );
    doc(
        "passwd --dry-run",
        run_with_stdin(
            &mut q(f, &["passwd", "--password-stdin", "--dry-run"]),
            b"N3w-Pa55word\n",
        ),
    );
    doc(
        "passwd",
        run_with_stdin(
            &mut q(f, &["passwd", "--password-stdin"]),
            b"N3w-Pa55word\n",
        ),
    );
    doc("backup", run(&mut q(f, &["backup", "--reason", "test"])));
    doc("backups", run(&mut q(f, &["backups"])));
    // The set taken before passwd: restoring it changes the stores back.
    let first = out[5].1["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["manifest"]["reason"] == "before passwd admin")
        .expect("the backup passwd took")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut doc = |name: &'static str, o: Output| out.push((name, document(&o, name)));
    doc(
        "restore --dry-run",
        run(&mut q(f, &["restore", &first, "--dry-run"])),
    );
    doc("restore", run(&mut q(f, &["restore", &first])));
    doc(
        "backups --prune",
        run(&mut q(f, &["backups", "--prune", "--keep", "1"])),
    );
    doc("events", run(&mut q(f, &["events"])));
    doc("info", run(&mut q(f, &["info"])));
    doc("audit", run(&mut q(f, &["audit"])));
    doc("version", run(&mut q(f, &["version"])));
    out
}

#[test]
fn every_document_is_as_docs_json_md_shows_it() {
    let f = Fixture::new(Layout::Qts5);
    let examples = examples();
    let docs = documents(&f);
    let mut problems = Vec::new();
    for (name, actual) in &docs {
        if std::env::var_os("QRESCUE_PRINT_JSON").is_some() {
            println!(
                "```json {name}\n{}\n```",
                serde_json::to_string_pretty(actual).unwrap()
            );
        }
        assert_eq!(actual["schema"], 2, "{name}: {actual}");
        let Some(example) = examples.get(*name) else {
            problems.push(format!("{name}: no example in docs/json.md"));
            continue;
        };
        same_shape(name, example, actual, &mut problems);
        vocabulary(name, actual, &mut problems);
        // The example itself follows the vocabulary.
        vocabulary(&format!("docs/json.md {name}"), example, &mut problems);
    }
    // `disks` needs the PC's block devices (not hermetic): its example is checked for the
    // vocabulary only.
    for (name, example) in &examples {
        if !docs.iter().any(|(n, _)| n == name) {
            assert_eq!(*name, "disks", "an example of no command: {name}");
            vocabulary(name, example, &mut problems);
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_change_list_has_one_key_in_passwd_restore_and_their_dry_runs() {
    let f = Fixture::new(Layout::Qts4);
    let docs = documents(&f);
    for name in ["passwd", "passwd --dry-run", "restore", "restore --dry-run"] {
        let (_, v) = docs.iter().find(|(n, _)| *n == name).unwrap();
        let changes = v["changes"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {v}"));
        assert!(!changes.is_empty(), "{name}: {v}");
        assert_eq!(v["dry_run"], name.ends_with("--dry-run"), "{name}: {v}");
        for key in ["changed", "would_change"] {
            assert!(v.get(key).is_none(), "{name}: {key} in {v}");
        }
        assert!(
            v["samba"].is_object() || name.starts_with("restore"),
            "{name}"
        );
        // The host path is the fixture's, the in-root name the store's own.
        for c in changes {
            let (p, inside) = (c["path"].as_str().unwrap(), c["in_root"].as_str().unwrap());
            assert!(p.starts_with(f.root().to_str().unwrap()), "{name}: {c}");
            assert!(
                inside.starts_with("/etc/") || inside.starts_with("/mnt/"),
                "{name}: {c}"
            );
        }
    }
}
