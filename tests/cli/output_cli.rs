//! Human output through the binary: `qrescue help CMD`, one `Examples:` heading, tables
//! that stay aligned under a long `--root`, values that cannot start a line of their own.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::fixture::{Fixture, Layout};
use crate::common::{qrescue, run, run_with_stdin};

const COMMANDS: &[&str] = &[
    "status", "passwd", "verify", "backup", "backups", "restore", "watch", "events", "info",
    "audit", "disks", "version",
];

fn stdout(c: &mut Command) -> String {
    let o = run(c);
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn help_cmd_is_cmd_dash_dash_help() {
    for cmd in COMMANDS {
        let help = stdout(qrescue().args(["help", cmd]));
        assert_eq!(help, stdout(qrescue().args([cmd, "--help"])), "{cmd}");
        assert!(
            help.contains(&format!("Usage: qrescue {cmd}")),
            "{cmd}: {help}"
        );
    }
    assert_eq!(
        stdout(qrescue().arg("help")),
        stdout(qrescue().arg("--help"))
    );
}

#[test]
fn one_examples_heading_everywhere() {
    for cmd in COMMANDS {
        let help = stdout(qrescue().args([cmd, "--help"]));
        assert!(help.contains("\nExamples:\n"), "{cmd}: {help}");
        assert!(!help.contains("Example:"), "{cmd}: {help}");
    }
}

/// A copy of the fixture's root under a directory whose path is 200 characters long.
fn long_root(f: &Fixture) -> (tempfile::TempDir, PathBuf) {
    let base = tempfile::tempdir().unwrap();
    let used = base.path().as_os_str().len() + 1;
    let root = base.path().join("r".repeat(200 - used));
    assert_eq!(root.as_os_str().len(), 200);
    let o = Command::new("cp")
        .arg("-a")
        .arg(f.root())
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (base, root)
}

fn q(root: &Path, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(root).args(args);
    c
}

/// Where the second column starts in a row whose first cell is a path under `root`.
fn second_column(line: &str, root: &Path) -> usize {
    let start = line.find(root.to_str().unwrap()).unwrap();
    let after = start + line[start..].find(' ').unwrap();
    after + line[after..].find(|c| c != ' ').unwrap()
}

#[test]
fn tables_fit_a_200_character_root() {
    let f = Fixture::new(Layout::Qts5);
    let (_keep, root) = long_root(&f);
    let root_str = root.to_str().unwrap();
    // status: each store row has its kind where the header has "kind".
    let status = stdout(&mut q(&root, &["status"]));
    let header = status.lines().find(|l| l.starts_with("  store")).unwrap();
    let kind = header.find("kind").unwrap();
    let rows: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with(&format!("  {root_str}")))
        .collect();
    assert_eq!(rows.len(), 3, "{status}");
    for row in &rows {
        assert_eq!(second_column(row, &root), kind, "{status}");
    }
    // verify: the kinds line up with each other.
    let o = run_with_stdin(&mut q(&root, &["verify", "--password-stdin"]), b"admin\n");
    let verify = String::from_utf8(o.stdout).unwrap();
    let cols: Vec<usize> = verify
        .lines()
        .filter(|l| l.starts_with(root_str))
        .map(|l| second_column(l, &root))
        .collect();
    assert!(cols.len() == 2 && cols[0] == cols[1], "{verify}");
}

#[test]
fn a_line_break_in_a_value_stays_in_its_line() {
    let f = Fixture::new(Layout::Qts5);
    stdout(&mut q(f.root(), &["backup", "--reason", "first\nsecond"]));
    let list = stdout(&mut q(f.root(), &["backups"]));
    assert!(list.contains("first\\nsecond"), "{list}");
    assert!(!list.lines().any(|l| l.starts_with("second")), "{list}");
}

/// The fix of each finding about `user` with `id`, from `audit --json`.
fn audit_fixes(f: &Fixture, id: &str) -> Vec<String> {
    let o = run(&mut q(f.root(), &["--json", "audit"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] == id && x["user"] == "admin")
        .map(|x| x["fix"].as_str().unwrap().to_string())
        .collect()
}

/// An account that cannot log in is not told to set a password (it would let it log in),
/// except the last administrator, locked, who must get one.
#[test]
fn audit_tells_no_locked_account_to_set_a_password() {
    let f = Fixture::new(Layout::Qts5);
    let shadow = "/mnt/HDA_ROOT/.config/shadow";
    let hash = String::from_utf8_lossy(&f.read(shadow))
        .lines()
        .find_map(|l| l.strip_prefix("admin:"))
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    f.set_field(shadow, "admin", 1, &format!("!{hash}"));
    f.set_field(
        "/mnt/HDA_ROOT/.config/smbpasswd",
        "admin",
        4,
        "[DU         ]",
    );
    let fixes = audit_fixes(&f, "default-password");
    assert!(!fixes.is_empty(), "the factory default is still found");
    for fix in &fixes {
        assert!(fix.starts_with("none needed: admin cannot log in"), "{fix}");
    }
    // Nobody else can log in: admin is the last administrator and is told to set one.
    f.set_field(shadow, "bob", 1, "!");
    let fixes = audit_fixes(&f, "locked-admin");
    assert_eq!(fixes.len(), 1, "{fixes:?}");
    assert!(
        fixes[0].contains("passwd admin sets a usable password"),
        "{fixes:?}"
    );
}

/// `events --kind`: `button` keeps the button journal only, `credential` the store
/// journal only; any other word is a usage error naming both.
#[test]
fn events_kind_selects_one_journal() {
    let f = Fixture::new(Layout::Qts5);
    let dir = f.state_dir();
    std::fs::create_dir_all(f.path(dir)).unwrap();
    std::fs::set_permissions(
        f.path(dir),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    f.put(
        &format!("{dir}/button.jsonl"),
        b"{\"time\":\"2026-11-24T21:44:00.250Z\",\"unix_ms\":1795643040250,\"event\":\"hold\",\"class\":\"short\",\"held_ms\":512,\"start_known\":true,\"firmware\":\"x\",\"source\":\"evdev\",\"device\":\"/dev/input/event0\",\"code\":408}\n",
        0o600,
    );
    let events = |kind: &str| -> usize {
        let out = stdout(&mut q(f.root(), &["--json", "events", "--kind", kind]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["events"].as_array().unwrap().len()
    };
    assert_eq!(events("button"), 1);
    assert_eq!(events("credential"), 0);
    let o = run(&mut q(f.root(), &["events", "--kind", "buttons"]));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("[possible values: button, credential]"),
        "{err}"
    );
}

/// Log records echoed on stderr (`watch --foreground`) go through the one escaped writer:
/// an escape sequence in a name the watcher logs cannot rewrite the owner's terminal.
#[test]
fn watch_log_lines_on_stderr_are_escaped() {
    let f = Fixture::new(Layout::Qts5);
    let replay = f.path("/a\u{1b}[2Kb.bin");
    std::fs::write(&replay, b"").unwrap();
    let o = run(q(f.root(), &["watch", "--foreground", "--journal"])
        .arg(f.path("/replay.jsonl"))
        .arg("--replay")
        .arg(&replay)
        .stdin(std::process::Stdio::null()));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(
        err.contains("qrescue: watching ") && err.contains("/a\\x1b[2Kb.bin (replay)"),
        "{err}"
    );
}
