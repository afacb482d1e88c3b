//! Shared by the integration tests: how to run the binary under test.
//!
//! `QRESCUE_BIN` names the binary (default: the one cargo just built), `QRESCUE_RUNNER` an
//! optional emulator prefix (`qemu-arm -cpu cortex-a15`), so the same suite runs natively and
//! under qemu against each cross-built static binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub mod fixture;
pub mod skip;
pub mod smbd;
pub mod trace;
pub mod wait;

/// The binary under test.
pub fn bin() -> PathBuf {
    std::env::var_os("QRESCUE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_qrescue")))
}

/// The emulator prefix from `QRESCUE_RUNNER`, if one is set.
pub fn runner() -> Option<String> {
    std::env::var("QRESCUE_RUNNER")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// A `Command` running the binary under test (through `QRESCUE_RUNNER` if set).
pub fn qrescue() -> Command {
    match runner() {
        Some(runner) => {
            let mut parts = runner.split_whitespace();
            let mut cmd = Command::new(parts.next().expect("runner"));
            cmd.args(parts).arg(bin());
            cmd
        }
        None => Command::new(bin()),
    }
}

/// How long one run may take before the test fails instead of hanging (generous: runs
/// under qemu-user and strace are slow; a healthy run takes seconds).
pub const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Run with `stdin` fed to the process; returns its output. A run that does not end
/// within [`RUN_LIMIT`] is killed and fails the test.
pub fn run_with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn qrescue");
    {
        let mut si = child.stdin.take().expect("stdin");
        let _ = si.write_all(stdin);
    }
    let what = format!("{:?}", cmd.get_program());
    wait::output_within(child, RUN_LIMIT, &what)
}

/// `qrescue --root ROOT passwd USER --password-stdin` with `password` as its one line.
pub fn passwd(root: &std::path::Path, user: &str, password: &str) -> Output {
    let mut c = qrescue();
    c.arg("--root")
        .arg(root)
        .args(["passwd", user, "--password-stdin"]);
    run_with_stdin(&mut c, format!("{password}\n").as_bytes())
}

/// The ids of the backup sets under `root`, as `qrescue --json backups` lists them
/// (oldest first).
pub fn backup_ids(root: &std::path::Path) -> Vec<String> {
    let o = run(qrescue()
        .arg("--root")
        .arg(root)
        .args(["--json", "backups"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("backups JSON");
    v["backups"]
        .as_array()
        .expect("backups array")
        .iter()
        .map(|b| b["id"].as_str().expect("id").to_string())
        .collect()
}

/// Run with empty stdin.
pub fn run(cmd: &mut Command) -> Output {
    run_with_stdin(cmd, b"")
}

/// Whether the binary under test runs natively (no emulator): some tests (strace fault
/// injection) need that.
pub fn native() -> bool {
    runner().is_none()
}
