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
