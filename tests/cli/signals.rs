//! What signals do to qrescue, on the real binary:
//! - a change (`passwd`) ignores SIGHUP: an SSH session dropped half-way through does not
//!   stop it between two stores; it completes and reports;
//! - a reading command whose reader went away (`qrescue status | head -0`) ends quietly of
//!   SIGPIPE, as Unix tools do, instead of reporting a write error.
//!
//! The password prompt's SIGINT/SIGTERM/SIGHUP (terminal put back, then dying of the signal)
//! are in `qts_passwd`.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use crate::common;
use crate::common::fixture::{Fixture, Layout};
use crate::common::skip::require_native;
use crate::common::trace::run_stopped_at_pid;

const NEW: &str = "Hang-Up-Proof-7";

fn verify(f: &Fixture, pw: &str) -> i32 {
    let mut c = common::qrescue();
    c.arg("--root")
        .arg(f.root())
        .args(["verify", "admin", "--password-stdin"]);
    common::run_with_stdin(&mut c, format!("{pw}\n").as_bytes())
        .status
        .code()
        .unwrap()
}

#[test]
#[ignore = "needs strace"]
fn a_hangup_in_the_middle_of_a_change_does_not_stop_it() {
    require_native("a_hangup_in_the_middle_of_a_change_does_not_stop_it");
    let f = Fixture::new(Layout::Qts4);
    let args = [
        OsStr::new("--root"),
        f.root().as_os_str(),
        OsStr::new("passwd"),
        OsStr::new("admin"),
        OsStr::new("--password-stdin"),
    ];
    // Stopped right after its first store is renamed into place, others still old: the
    // terminal hangs up (SIGHUP queued), then the change goes on.
    let o = run_stopped_at_pid(
        "rename,renameat,renameat2",
        1,
        &args,
        format!("{NEW}\n").as_bytes(),
        |pid| {
            let st = Command::new("kill").args(["-HUP", pid]).status().unwrap();
            assert!(st.success(), "kill -HUP {pid}");
        },
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "SIGHUP must not stop a change ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(verify(&f, NEW), 0, "every store has the new password");
}

#[test]
fn a_reading_command_whose_reader_is_gone_ends_quietly_of_sigpipe() {
    let f = Fixture::new(Layout::Qts5);
    for cmd in [
        &["status"][..],
        &["info"],
        &["backups"],
        &["--json", "status"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = common::qrescue()
            .arg("--root")
            .arg(f.root())
            .args(cmd)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            o.status.signal(),
            Some(13),
            "{cmd:?}: not ended by SIGPIPE ({:?}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stderr.is_empty(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
