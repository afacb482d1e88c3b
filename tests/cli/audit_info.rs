//! `info` and `audit` through the real binary, on fixture roots shaped like QTS 5, QTS 4
//! and plain Linux, plus the machine's own `/`. Both commands are read-only: every run on a
//! fixture is checked to leave the root byte-identical (no state directory created), and
//! every audit output (stdout and stderr, human and JSON) is checked to contain no
//! candidate password and no hash.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::common::fixture::{ADMIN_NT, DES_SECRET, Fixture, Layout, assert_same};
use crate::common::{qrescue, run, run_with_stdin};
use serde_json::Value;

const NEW: &str = "N3w-Pa55!word";
const MAC: &str = "00:08:9b:f1:23:34";
const MAC_DEFAULT: &str = "00089BF12334";
const CLOUD_KEY_LABEL: &str = "q1234-5678";
const CLOUD_KEY: &str = "Q12345678";
/// Strings that must never appear in audit output.
const SECRETS: &[&str] = &[
    NEW,
    MAC_DEFAULT,
    CLOUD_KEY,
    CLOUD_KEY_LABEL,
    "secret",
    "$6$",
    "$1$",
    DES_SECRET,
    ADMIN_NT,
];

fn q(f: &Fixture, args: &[&str]) -> std::process::Command {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).args(args);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// No candidate, password or hash in the output: not the strings above, and no run of
/// 32 hex digits (an NT hash).
fn assert_no_secrets(out: &str) {
    for s in SECRETS {
        assert!(!out.contains(s), "output contains {s:?}:\n{out}");
    }
    let mut run = 0;
    for c in out.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 32, "output contains a 32-hex-digit string:\n{out}");
    }
}

/// Run `audit` (human and JSON) on the fixture with `stdin`; checks read-only-ness, the
/// exit code (0/1 matching `high`), the JSON schema and that nothing secret is printed.
fn audit(f: &Fixture, args: &[&str], stdin: &str) -> Value {
    let before = f.snapshot();
    let mut a = vec!["audit"];
    a.extend_from_slice(args);
    let human = run_with_stdin(&mut q(f, &a), stdin.as_bytes());
    let mut j = vec!["--json", "audit"];
    j.extend_from_slice(args);
    let json = run_with_stdin(&mut q(f, &j), stdin.as_bytes());
    assert_same(&before, &f.snapshot(), "audit must not change the root");
    assert_no_secrets(&text(&human));
    assert_no_secrets(&text(&json));
    let v: Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("audit --json: {e}\n{}", text(&json)));
    check_schema(&v);
    let high = v["high"].as_u64().unwrap();
    let expect = if high > 0 { 1 } else { 0 };
    assert_eq!(human.status.code(), Some(expect), "{}", text(&human));
    assert_eq!(json.status.code(), Some(expect), "{}", text(&json));
    let h = String::from_utf8_lossy(&human.stdout);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(
        h.lines().count(),
        findings.len() + 1,
        "one line per finding + summary:\n{h}"
    );
    for (line, f) in h.lines().zip(findings) {
        assert!(
            line.starts_with(&f["severity"].as_str().unwrap().to_uppercase())
                && line.contains(f["id"].as_str().unwrap())
                && line.contains(" — fix: "),
            "{line}"
        );
    }
    assert!(
        h.lines().last().unwrap().contains(&format!("{high} high")),
        "{h}"
    );
    v
}

fn check_schema(v: &Value) {
    assert!(v["root"].is_string());
    assert!(v["users"].as_array().unwrap().iter().all(Value::is_string));
    assert!(v["cloud_key_checked"].is_boolean());
    for k in ["high", "medium", "low", "info"] {
        assert!(v[k].is_u64(), "{k}");
    }
    let findings = v["findings"].as_array().unwrap();
    let total: u64 = ["high", "medium", "low", "info"]
        .iter()
        .map(|k| v[k].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, findings.len());
    for f in findings {
        assert!(
            ["high", "medium", "low", "info"].contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
        let id = f["id"].as_str().unwrap();
        assert!(
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{id}"
        );
        assert!(f["user"].is_string() || f["user"].is_null());
        assert!(f["path"].is_string() || f["path"].is_null());
        // `stores` lists every store with the problem, `path` being the first of them.
        let stores = f["stores"].as_array().unwrap();
        assert_eq!(
            stores.first(),
            f["path"].is_string().then_some(&f["path"]),
            "{f}"
        );
        // One finding per account and problem: no two share id, user, severity and message.
        let same = findings
            .iter()
            .filter(|g| {
                (&g["id"], &g["user"], &g["severity"], &g["message"])
                    == (&f["id"], &f["user"], &f["severity"], &f["message"])
            })
            .count();
        assert_eq!(same, 1, "a problem reported twice: {f}");
        assert!(!f["message"].as_str().unwrap().is_empty());
        assert!(!f["fix"].as_str().unwrap().is_empty());
    }
}

/// Findings with `id` as (severity, user, path), one tuple per store the finding lists.
fn with_id(v: &Value, id: &str) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .flat_map(|f| {
            let stores: Vec<String> = match f["stores"].as_array() {
                Some(s) if !s.is_empty() => {
                    s.iter().map(|p| p.as_str().unwrap().to_string()).collect()
                }
                _ => vec![String::new()],
            };
            stores.into_iter().map(move |p| {
                (
                    f["severity"].as_str().unwrap().to_string(),
                    f["user"].as_str().unwrap_or("").to_string(),
                    p,
                )
            })
        })
        .collect()
}

fn message_of(v: &Value, id: &str) -> String {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Set `pw` (a factory default too: `--allow-default`, as the fixtures need).
fn passwd(f: &Fixture, user: &str, pw: &str) {
    let o = run_with_stdin(
        common::qrescue().arg("--root").arg(f.root()).args([
            "passwd",
            user,
            "--password-stdin",
            "--allow-default",
        ]),
        format!("{pw}\n").as_bytes(),
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// SHA-512-crypt of "other" with salt `saltsalt`: another valid hash than admin's, fixed once
/// by `printf 'other\n' | openssl passwd -6 -salt saltsalt -stdin` (OpenSSL 3.0; Python's
/// `crypt.crypt('other', '$6$saltsalt')` gives the same), so the test needs no openssl.
const OTHER_SHA512: &str = "$6$saltsalt$r4j7z8gOqxO9zYH/VSQ4MPgAu/GTg0.tIK5o0K3dXowoILt/JRmXmiqFa26mKioMH3Fwhg6qaU0XTibPpoJ8z.";

/// A QTS 5 box whose administrators all have non-default passwords.
fn clean_qts5() -> Fixture {
    let f = Fixture::new(Layout::Qts5);
    f.add_adapter("eth0", MAC);
    passwd(&f, "admin", NEW);
    f
}

#[test]
fn factory_admin_is_high_and_passwd_makes_it_clean() {
    for layout in [Layout::Qts4, Layout::Qts5, Layout::Plain] {
        let f = Fixture::new(layout);
        let v = audit(&f, &[], "");
        // admin, then every gid-0 account (root on plain Linux; httpdusr is in gid 100, as
        // captured) and every listed member of administrators (bob), in passwd order.
        let users = if layout == Layout::Plain {
            serde_json::json!(["admin", "root", "bob"])
        } else {
            serde_json::json!(["admin", "bob"])
        };
        assert_eq!(v["users"], users, "{layout:?}");
        let defaults = with_id(&v, "default-password");
        for s in f.shadow_files() {
            assert!(
                defaults
                    .iter()
                    .any(|d| d.0 == "high" && d.1 == "admin" && d.2.ends_with(s)),
                "{layout:?}: {s} not flagged: {defaults:?}"
            );
        }
        if layout != Layout::Plain {
            assert!(
                defaults.iter().any(|d| d.2.ends_with("smbpasswd")),
                "{layout:?}: NT hash of the default not flagged: {defaults:?}"
            );
        }
        assert!(message_of(&v, "default-password").contains("before QTS 4.4.2"));
        passwd(&f, "admin", NEW);
        let v = audit(&f, &[], "");
        assert_eq!(v["high"], 0, "{layout:?}: {v}");
        assert!(with_id(&v, "default-password").is_empty());
    }
}

#[test]
fn clean_box_has_no_high_or_medium_finding() {
    let f = clean_qts5();
    let v = audit(&f, &[], "");
    assert_eq!(
        (v["high"].as_u64(), v["medium"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
}

#[test]
fn mac_address_default_in_shadow_and_samba() {
    let f = Fixture::new(Layout::Qts5);
    f.add_adapter("eth1", "00:08:9B:F1:23:35");
    f.add_adapter("eth0", MAC);
    f.add_adapter("lo", "00:00:00:00:00:00");
    passwd(&f, "admin", MAC_DEFAULT);
    let v = audit(&f, &[], "");
    let d = with_id(&v, "default-password");
    assert_eq!(d.len(), 2, "shadow and smbpasswd: {d:?}");
    assert!(d.iter().all(|d| d.0 == "high" && d.1 == "admin"));
    assert!(message_of(&v, "default-password").contains("MAC address of eth0"));
}

#[test]
fn cloud_key_from_stdin() {
    let f = Fixture::new(Layout::Qts5);
    passwd(&f, "admin", CLOUD_KEY);
    // Without the key: the Cloud Key default cannot be seen.
    let v = audit(&f, &[], "");
    assert!(with_id(&v, "default-password").is_empty(), "{v}");
    assert_eq!(v["cloud_key_checked"], false);
    // With it, as printed on the label (lower case, dash): normalised, then found.
    let v = audit(&f, &["--cloud-key"], &format!("{CLOUD_KEY_LABEL}\n"));
    assert_eq!(v["cloud_key_checked"], true);
    let d = with_id(&v, "default-password");
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(message_of(&v, "default-password").contains("Cloud Key"));
    // Never from argv.
    let o = run(&mut q(&f, &["audit", "--cloud-key", CLOUD_KEY]));
    assert_eq!(o.status.code(), Some(67), "{}", text(&o)); // taken as a user name
    let o = run(&mut q(&f, &["audit", "--cloud-key=x"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn guest_default_when_named() {
    let f = clean_qts5();
    let v = audit(&f, &["guest"], "");
    assert_eq!(v["users"], serde_json::json!(["guest"]));
    let d = with_id(&v, "default-password");
    assert!(
        d.iter().any(|d| d.1 == "guest" && d.2.ends_with("shadow")),
        "{d:?}"
    );
    assert!(
        d.iter().all(|d| d.0 != "high"),
        "guest is no administrator: {d:?}"
    );
    let o = run(&mut q(&f, &["audit", "nosuchuser"]));
    assert_eq!(o.status.code(), Some(67));
    let o = run(&mut q(&f, &["audit", "bad:name"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn empty_password_is_high() {
    let f = clean_qts5();
    f.set_field("/mnt/HDA_ROOT/.config/shadow", "bob", 1, "");
    let v = audit(&f, &[], "");
    assert!(
        with_id(&v, "empty-password").contains(&(
            "high".into(),
            "bob".into(),
            f.path("/mnt/HDA_ROOT/.config/shadow").display().to_string()
        )),
        "{v}"
    );
}

#[test]
fn stores_disagree() {
    // QTS 4: the runtime copy of shadow holds another hash than the persistent one.
    let f = Fixture::new(Layout::Qts4);
    passwd(&f, "admin", NEW);
    f.set_field("/etc/shadow", "admin", 1, OTHER_SHA512);
    let v = audit(&f, &[], "");
    let d = with_id(&v, "stores-disagree");
    assert!(d.iter().any(|d| d.0 == "high" && d.1 == "admin"), "{d:?}");
    // Samba without an NT hash while shadow has a password.
    let f = clean_qts5();
    f.set_field(
        "/mnt/HDA_ROOT/.config/smbpasswd",
        "admin",
        3,
        "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    );
    let v = audit(&f, &[], "");
    let d = with_id(&v, "stores-disagree");
    assert!(
        d.iter()
            .any(|d| d.0 == "medium" && d.2.ends_with("smbpasswd")),
        "{d:?}"
    );
    // Disabled in Samba only.
    let f = clean_qts5();
    f.set_field(
        "/mnt/HDA_ROOT/.config/smbpasswd",
        "admin",
        4,
        "[DU         ]",
    );
    let v = audit(&f, &[], "");
    assert!(
        message_of(&v, "stores-disagree").contains("disabled or locked in Samba"),
        "{v}"
    );
}

#[test]
fn weak_schemes_are_medium() {
    // QTS 4's empty-salt MD5 after a reset-free change stays MD5 (family kept): medium.
    let f = Fixture::new(Layout::Qts4);
    passwd(&f, "admin", NEW);
    let v = audit(&f, &[], "");
    let w = with_id(&v, "weak-scheme");
    assert_eq!(w.len(), 2, "both shadow copies: {w:?}");
    assert_eq!(
        message_of(&v, "weak-scheme").lines().count(),
        1,
        "one finding listing both copies"
    );
    assert!(w.iter().all(|w| w.0 == "medium"));
    let fix = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "weak-scheme")
        .unwrap()["fix"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        fix.contains("--scheme sha512") && fix.contains("firmware"),
        "{fix}"
    );
    // DES, and MD5 with an empty salt (named as such).
    let f = clean_qts5();
    f.set_field("/mnt/HDA_ROOT/.config/shadow", "bob", 1, DES_SECRET);
    f.set_field(
        "/mnt/HDA_ROOT/.config/shadow",
        "httpdusr",
        1,
        "$1$$ysap7EeB9ODCrO46Psdbq/",
    );
    let v = audit(&f, &["bob", "httpdusr"], "");
    let m = message_of(&v, "weak-scheme");
    assert!(m.contains("DES") && m.contains("empty salt"), "{m}");
}

#[test]
fn locked_admin() {
    let f = clean_qts5();
    let shadow = "/mnt/HDA_ROOT/.config/shadow";
    let hash = String::from_utf8_lossy(&f.read(shadow))
        .lines()
        .find(|l| l.starts_with("admin:"))
        .unwrap()
        .split(':')
        .nth(1)
        .unwrap()
        .to_string();
    f.set_field(shadow, "admin", 1, &format!("!{hash}"));
    // bob (an administrator) can still log in: as QNAP recommends, info only.
    let v = audit(&f, &[], "");
    assert_eq!(with_id(&v, "locked-admin")[0].0, "info", "{v}");
    // Nobody left: high.
    f.set_field(shadow, "bob", 1, "!");
    let v = audit(&f, &[], "");
    assert_eq!(with_id(&v, "locked-admin")[0].0, "high", "{v}");
}

fn journal_line(class: &str, unix_ms: u64) -> String {
    format!(
        "{{\"time\":\"2026-11-24T21:44:00.250Z\",\"unix_ms\":{unix_ms},\"event\":\"hold\",\"class\":\"{class}\",\"held_ms\":10512,\"start_known\":true,\"firmware\":\"x\",\"source\":\"evdev\",\"device\":\"/dev/input/event0\",\"code\":408}}\n"
    )
}

fn write_journal(f: &Fixture, lines: &str) {
    let dir = f.path(f.state_dir());
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    f.put(
        &format!("{}/button.jsonl", f.state_dir()),
        lines.as_bytes(),
        0o600,
    );
}

#[test]
fn reset_since_change() {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    // A reset long ago, then a change (passwd): nothing to report.
    let f = clean_qts5();
    write_journal(&f, &journal_line("advanced-reset", 1_000_000_000_000));
    let v = audit(&f, &[], "");
    assert!(with_id(&v, "reset-since-change").is_empty(), "{v}");
    // Advanced reset after the change: high for every account.
    write_journal(
        &f,
        &(journal_line("advanced-reset", 1_000_000_000_000)
            + &journal_line("short", now_ms + 60_000)
            + &journal_line("advanced-reset", now_ms + 60_000)),
    );
    let v = audit(&f, &[], "");
    let r = with_id(&v, "reset-since-change");
    assert!(r.iter().any(|r| r.0 == "high" && r.1 == "admin"), "{r:?}");
    assert!(r.iter().any(|r| r.1 == "bob"), "{r:?}");
    // Basic reset after the last change (fixture: changed in 2008, LCT 2018): admin only, medium.
    let f = Fixture::new(Layout::Qts5);
    write_journal(&f, &journal_line("basic-reset", now_ms));
    let v = audit(&f, &[], "");
    assert_eq!(
        with_id(&v, "reset-since-change"),
        vec![("medium".into(), "admin".into(), String::new())]
    );
}

#[test]
fn unsafe_permissions_and_leftovers_are_reported_not_touched() {
    let f = clean_qts5();
    let state = f.state_dir().to_string();
    let backups = f.path(&format!("{state}/backups"));
    let set = fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let copy = fs::read_dir(&set)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.ends_with("manifest.json"))
        .unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&backups, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(backups.join("20261124T000000Z-1")).unwrap(); // no manifest: incomplete
    fs::set_permissions(
        backups.join("20261124T000000Z-1"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    f.put(&format!("{state}/txn.json"), b"{}", 0o600);
    // A lock of a process that has exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    f.put(
        "/mnt/HDA_ROOT/.config/shadow.lock",
        format!("{pid}").as_bytes(),
        0o600,
    );
    f.put(
        "/mnt/HDA_ROOT/.config/smbpasswd",
        &f.read("/mnt/HDA_ROOT/.config/smbpasswd"),
        0o644,
    );
    let v = audit(&f, &[], "");
    let u = with_id(&v, "unsafe-permissions");
    assert!(
        u.iter()
            .any(|u| u.0 == "high" && u.2 == copy.display().to_string()),
        "{u:?}"
    );
    assert!(
        u.iter()
            .any(|u| u.0 == "medium" && u.2 == backups.display().to_string()),
        "{u:?}"
    );
    assert!(
        u.iter()
            .any(|u| u.0 == "high" && u.2.ends_with(".config/smbpasswd")),
        "{u:?}"
    );
    let s = with_id(&v, "stale-lock");
    assert!(s.iter().any(|s| s.2.ends_with("shadow.lock")), "{s:?}");
    assert!(
        s.iter().any(|s| s.2.ends_with("20261124T000000Z-1")),
        "{s:?}"
    );
    assert_eq!(with_id(&v, "interrupted-change").len(), 1);
    // A state directory writable by others: refused, so the journal is not read either.
    fs::set_permissions(f.path(&state), fs::Permissions::from_mode(0o777)).unwrap();
    let v2 = audit(&f, &[], "");
    assert!(
        with_id(&v2, "unsafe-permissions")
            .iter()
            .any(|u| u.0 == "high" && u.2 == f.path(&state).display().to_string()),
        "{v2}"
    );
    assert_eq!(with_id(&v2, "journal-unreadable").len(), 1, "{v2}");
    fs::set_permissions(f.path(&state), fs::Permissions::from_mode(0o700)).unwrap();
    // Still there: audit cleans nothing (the snapshot comparison in audit() checks bytes).
    assert!(f.path("/mnt/HDA_ROOT/.config/shadow.lock").exists());
    assert!(backups.join("20261124T000000Z-1").exists());
}

#[test]
fn audit_and_info_create_no_state_dir() {
    let f = Fixture::new(Layout::Qts5);
    audit(&f, &[], "");
    let o = run(&mut q(&f, &["info"]));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!f.path(f.state_dir()).exists());
    assert!(!f.path("/etc/.pwd.lock").exists());
}

fn fake_elf_aarch64() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[18] = 183; // EM_AARCH64
    h
}

#[test]
fn info_on_qts_roots() {
    let f = Fixture::new(Layout::Qts5);
    f.add_adapter("eth0", MAC);
    f.add_adapter("lo", "00:00:00:00:00:00");
    f.put("/proc/device-tree/serial-number", b"Q21AB01234\0", 0o444);
    f.put("/bin/busybox", &fake_elf_aarch64(), 0o755);
    let before = f.snapshot();
    let o = run(&mut q(&f, &["--json", "info"]));
    assert!(o.status.success(), "{}", text(&o));
    assert_same(&before, &f.snapshot(), "info must not change the root");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let fact = |v: &Value, value: Option<&str>, source: &str| {
        assert!(v["source"].is_string(), "{v}");
        assert_eq!(v["value"].as_str(), value, "{v}");
        assert!(v["source"].as_str().unwrap().contains(source), "{v}");
    };
    fact(
        &v["model"],
        Some("TS-453D"),
        "platform.conf [MISC] DISPLAY_NAME",
    );
    fact(
        &v["internal_model"],
        Some("TS-X53D"),
        "uLinux.conf [System] Model",
    );
    fact(&v["server_name"], Some("NAS-TEST"), "Server Name");
    // Offline, /proc/filesystems is the host's: QTS or QuTS hero is not guessed.
    fact(&v["firmware"]["name"], None, "offline");
    fact(
        &v["firmware"]["version"],
        Some("5.1.4.2596"),
        "[System] Version, Number",
    );
    fact(&v["firmware"]["build"], Some("20231128"), "Build Number");
    fact(&v["arch"], Some("aarch64"), "ELF header of");
    fact(&v["qpkg_arch"], Some("arm_64"), "aarch64");
    fact(&v["kernel"], None, "offline");
    fact(&v["serial"], Some("Q21AB01234"), "serial-number");
    assert_eq!(v["qts"], true);
    let ads = v["adapters"].as_array().unwrap();
    assert_eq!(ads.len(), 1, "lo is left out: {ads:?}");
    assert_eq!(ads[0]["name"], "eth0");
    assert_eq!(ads[0]["mac"], "00:08:9B:F1:23:34");
    assert!(ads[0]["virtual"].is_boolean() && ads[0]["source"].is_string());
    let stores = v["stores"].as_array().unwrap();
    let shadow = stores.iter().find(|s| s["kind"] == "shadow").unwrap();
    assert_eq!(shadow["layout"], "symlinked");
    assert_eq!(shadow["copy"], "persistent");
    assert_eq!(
        shadow["names"],
        serde_json::json!(["/etc/shadow", "/etc/config/shadow"])
    );
    assert_eq!(v["samba"]["type"], "smbpasswd");
    // Human: aligned key: value lines with their sources.
    let o = run(&mut q(&f, &["info"]));
    let h = String::from_utf8_lossy(&o.stdout);
    assert!(h.contains("model:          TS-453D  ("), "{h}");
    assert!(
        h.contains("version:        5.1.4.2596 build 20231128  ("),
        "{h}"
    );
    assert!(h.contains("kernel:         unknown  (offline"), "{h}");
    assert!(h.contains("adapter:        eth0 00:08:9B:F1:23:34"), "{h}");

    // QTS 4: separate runtime copies; no QuTS hero guess from an `h` prefix; no adapters.
    let f = Fixture::new(Layout::Qts4);
    f.put(
        "/mnt/HDA_ROOT/.config/uLinux.conf",
        b"[System]\nModel = TS-h973AX\nVersion = h5.1.2\n",
        0o644,
    );
    let o = run(&mut q(&f, &["--json", "info"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    fact(&v["firmware"]["name"], None, "offline");
    fact(&v["firmware"]["version"], Some("h5.1.2"), "(no Number)");
    fact(&v["model"], Some("TS-453D"), "DISPLAY_NAME");
    fact(&v["internal_model"], Some("TS-h973AX"), "[System] Model");
    fact(&v["firmware"]["build"], None, "Build Number");
    fact(&v["arch"], None, "offline root");
    assert_eq!(v["adapters"], serde_json::json!([]));
    let shadows: Vec<&Value> = v["stores"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "shadow")
        .collect();
    assert_eq!(shadows.len(), 2);
    assert!(shadows.iter().all(|s| s["layout"] == "copied"));
    assert!(shadows.iter().any(|s| s["copy"] == "runtime"));

    // Plain Linux: no QTS config, model unknown.
    let f = Fixture::new(Layout::Plain);
    let o = run(&mut q(&f, &["--json", "info"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["qts"], false);
    assert!(v["model"]["value"].is_null());

    // No credential files at all (a config partition): the rest is still shown.
    let empty = tempfile::tempdir().unwrap();
    fs::create_dir_all(empty.path().join("etc/config")).unwrap();
    fs::write(
        empty.path().join("etc/config/uLinux.conf"),
        "[System]\nModel = TS-431P\n",
    )
    .unwrap();
    let o = run(qrescue()
        .arg("--root")
        .arg(empty.path())
        .args(["--json", "info"]));
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["model"]["value"].is_null(), "no platform.conf: {v}");
    assert_eq!(v["internal_model"]["value"], "TS-431P");
    assert_eq!(v["stores"], serde_json::json!([]));
    assert!(v["stores_note"].as_str().unwrap().contains("passwd"), "{v}");
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn info_and_audit_on_this_machine() {
    let o = run(qrescue().args(["--json", "info"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["root"], "/");
    assert!(v["arch"]["source"].is_string());
    let o = run(qrescue().arg("info"));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(qrescue().args(["--json", "audit"]));
    if is_root() {
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        check_schema(&v);
        assert_no_secrets(&text(&o));
    } else {
        // Like every credential command on a live system: root only, one line.
        assert_eq!(o.status.code(), Some(77), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    }
}

#[test]
fn help_has_examples() {
    for cmd in [
        "status", "passwd", "verify", "backup", "backups", "restore", "watch", "events", "info",
        "audit", "version",
    ] {
        let o = run(qrescue().args([cmd, "--help"]));
        assert!(o.status.success());
        let h = String::from_utf8_lossy(&o.stdout);
        assert!(h.contains("Example"), "{cmd} --help has no example:\n{h}");
        assert!(
            h.contains(&format!("qrescue {cmd}")) || h.contains(&format!(" {cmd}")),
            "{cmd}"
        );
    }
}
