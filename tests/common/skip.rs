//! The one way an integration test may decline to run, so that no skip is silent.
//!
//! Under `CI=true` a missing tool, module or binary is a failure: [`skip`] panics. Outside
//! CI it prints a `SKIP` line and appends it to the skip log (`QRESCUE_SKIP_LOG`, default
//! `target/tmp/skips.log`), which `scripts/test.sh` counts and prints at the end. Tests that
//! need the native binary (strace injection) are not skips but "not run" under qemu:
//! `scripts/cross-test.sh` lists them by name (`--skip`) and prints them; if one slips
//! through, [`require_native`] fails it rather than report it passed.
//!
//! Plain `cargo test` never gets here for a missing tool: every test that needs one (or
//! root) is `#[ignore = "needs …"]`, and `scripts/test.sh` runs them with
//! `--include-ignored`; this is what happens then.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Where skips are recorded.
pub fn log_path() -> PathBuf {
    std::env::var_os("QRESCUE_SKIP_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skips.log"))
}

/// Whether this run is CI's (`CI=true`, as GitHub, GitLab and `.ci/run` set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Decline to run `test` because of `why`: a failure under CI, a recorded skip otherwise.
/// The caller returns right after.
pub fn skip(test: &str, why: &str) {
    assert!(
        !in_ci(),
        "{test}: cannot run ({why}), and CI=true makes that a failure, not a skip"
    );
    eprintln!("SKIP {test}: {why}");
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{test}: {why}");
    }
}

/// Fail `test` when the binary under test runs under an emulator: it needs the native one
/// (strace injection). `scripts/cross-test.sh` does not run such tests under qemu and lists
/// them as not run; reaching this there means its list is out of date.
pub fn require_native(test: &str) {
    assert!(
        super::native(),
        "{test} needs the native binary (strace cannot inject into a qemu-user guest): \
         add it to NATIVE_ONLY in scripts/cross-test.sh"
    );
}

/// Whether every `(tool, apt package)` is on PATH; otherwise one [`skip`] naming the
/// missing ones (a failure under CI) and `false`.
pub fn tools(test: &str, needed: &[(&str, &str)]) -> bool {
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let missing: Vec<String> = needed
        .iter()
        .filter(|(t, _)| !on_path(t))
        .map(|(t, pkg)| format!("{t} (apt-get install {pkg})"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(test, &format!("not found: {}", missing.join(", ")));
    false
}
