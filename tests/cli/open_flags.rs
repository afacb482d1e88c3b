//! How qrescue opens what it opens, read from the real binary under strace, for every
//! command that touches the stores, the backups and its own records:
//! - every descriptor is close-on-exec (`O_CLOEXEC`), so no shadow file, lock, journal or
//!   backup is left open in a program qrescue starts (the watcher's `--on-hold` hook, `mdadm`
//!   for an offline disk);
//! - every open that names something inside a directory descriptor (`openat(dirfd, name)`)
//!   is `O_NOFOLLOW`: a symlink planted by another program is never followed out of the root;
//! - every directory is opened `O_DIRECTORY`, so a file put where a directory belongs is
//!   refused at the open, never read or listed as a directory.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use crate::common;
use crate::common::fixture::{Fixture, Layout};
use crate::common::skip::require_native;
use crate::common::trace::{Call, trace, trace_until};

const NEW: &str = "Open-Flags-42";

/// The flags argument of an `open`/`openat`/`openat2` line as strace prints it.
fn flags(c: &Call) -> &str {
    let args = c.line.split_once('(').map_or("", |(_, a)| a);
    let after_name = args.split('"').nth(2).unwrap_or("");
    after_name
        .trim_start_matches(',')
        .trim_start()
        .split([',', ')'])
        .next()
        .unwrap_or("")
}

/// The path of the descriptor an open returned (`= 3</a/b>`), if it succeeded.
fn opened(c: &Call) -> Option<&str> {
    let (_, result) = c.line.rsplit_once(" = ")?;
    let start = result.find('<')?;
    let end = result.rfind('>')?;
    Some(&result[start + 1..end])
}

/// Whether the open was relative to a directory descriptor (not `AT_FDCWD`, not `open`).
fn relative_to_a_dir(c: &Call) -> bool {
    c.name.starts_with("openat") && !c.line.starts_with(&format!("{}(AT_FDCWD", c.name))
}

fn args<'a>(f: &'a Fixture, cmd: &'a [&'a str]) -> Vec<&'a OsStr> {
    let mut v = vec![OsStr::new("--root"), f.root().as_os_str()];
    v.extend(cmd.iter().map(OsStr::new));
    v
}

const OPENS: &str = "open,openat,openat2";

/// Run `cmd` under strace and check every open it made; returns how many were checked.
fn check(f: &Fixture, cmd: &[&str], stdin: &[u8]) -> usize {
    let (o, calls) = trace(OPENS, &args(f, cmd), stdin);
    check_calls(f, cmd, &o, &calls)
}

/// Every open in `calls` (what `cmd` did) has the flags this module promises.
fn check_calls(f: &Fixture, cmd: &[&str], o: &Output, calls: &[Call]) -> usize {
    check_calls_exit(f, cmd, o, calls, 0)
}

/// [`check_calls`] for a command that ends with exit status `code`.
fn check_calls_exit(f: &Fixture, cmd: &[&str], o: &Output, calls: &[Call], code: i32) -> usize {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut checked = 0;
    for c in calls.iter().filter(|c| c.ok()) {
        let Some(path) = opened(c) else { continue };
        let fl = flags(c);
        checked += 1;
        assert!(
            fl.contains("O_CLOEXEC"),
            "{cmd:?}: {path} opened without O_CLOEXEC: {}",
            c.line
        );
        if !path.starts_with(f.root().to_str().unwrap()) {
            // The program's own files (/proc/self/…, /etc/localtime…): only close-on-exec.
            continue;
        }
        if relative_to_a_dir(c) {
            assert!(
                fl.contains("O_NOFOLLOW"),
                "{cmd:?}: {path} opened in a directory without O_NOFOLLOW: {}",
                c.line
            );
        }
        if Path::new(path).is_dir() {
            assert!(
                fl.contains("O_DIRECTORY"),
                "{cmd:?}: directory {path} opened without O_DIRECTORY: {}",
                c.line
            );
        }
    }
    checked
}

#[test]
#[ignore = "needs strace"]
fn every_open_is_close_on_exec_nofollow_in_a_directory_and_o_directory_for_a_directory() {
    require_native(
        "every_open_is_close_on_exec_nofollow_in_a_directory_and_o_directory_for_a_directory",
    );
    for layout in [Layout::Qts5, Layout::Plain] {
        let f = Fixture::new(layout);
        let pw = format!("{NEW}\n");
        let mut checked = 0;
        checked += check(&f, &["passwd", "admin", "--password-stdin"], pw.as_bytes());
        checked += check(&f, &["backup"], b"");
        let ids = common::backup_ids(f.root());
        assert_eq!(ids.len(), 2, "{ids:?}");
        checked += check(&f, &["backups"], b"");
        checked += check(&f, &["verify", "admin", "--password-stdin"], pw.as_bytes());
        checked += check(&f, &["status"], b"");
        checked += check(&f, &["info"], b"");
        checked += check(&f, &["audit"], b"");
        checked += check(&f, &["restore", &ids[0]], b"");
        // The watcher over a recorded button that is already over: it scans the stores,
        // keeps its state and journal, and ends at the end of the recording.
        let replay = f.path("/button.replay");
        std::fs::write(&replay, b"").unwrap();
        let replay = replay.to_str().unwrap().to_string();
        checked += check(&f, &["watch", "--replay", &replay, "--foreground"], b"");
        // A --device that is not an input device (a FIFO): opened, then refused (exit 2).
        let fifo = f.path("/not-a-device");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(st.success());
        let cmd = ["watch", "--device", fifo.to_str().unwrap()];
        let (o, calls) = trace(OPENS, &args(&f, &cmd), b"");
        checked += check_calls_exit(&f, &cmd, &o, &calls, 2);
        // The watcher of the credential stores, running (its state, key and journal), twice:
        // the second start reads what the first kept and appends what changed since.
        for run in 0..2 {
            if run == 1 {
                // A change while it is stopped: the next start records it (an append).
                let again = format!("{NEW}-again\n");
                checked += check(
                    &f,
                    &["passwd", "admin", "--password-stdin"],
                    again.as_bytes(),
                );
            }
            let cmd = ["watch", "--foreground"];
            let (o, calls) = trace_until(OPENS, &args(&f, &cmd), "watching the credential stores");
            checked += check_calls(&f, &cmd, &o, &calls);
        }
        checked += check(&f, &["events"], b"");
        // A run opens dozens of files and directories: the checks above saw them.
        assert!(checked > 100, "{layout:?}: only {checked} opens checked");
    }
}
