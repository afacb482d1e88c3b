//! `qrescue watch` and `qrescue events` end to end, without hardware: recorded captures and
//! a FIFO fed with real timing, in the binary's own `input_event` layout (asked from
//! `qrescue --json version`, so the same tests run under qemu for 32-bit ARM).

use crate::common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixture::{Fixture, Layout};
use crate::common::{qrescue, run};

const KEY_RESTART: u16 = 0x198;
/// Where `/etc/config/qrescue/button.jsonl` really is in the QTS fixture (the host must not
/// follow the fixture's absolute `/etc/config` symlink).
const JOURNAL: &str = "/mnt/HDA_ROOT/.config/qrescue/button.jsonl";
const EV_KEY: u16 = 1;
const EV_SYN: u16 = 0;

/// `sizeof(struct input_event)` of the binary under test.
fn event_bytes() -> usize {
    let o = run(qrescue().args(["--json", "version"]));
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["input_event_bytes"].as_u64().expect("input_event_bytes") as usize
}

/// One record in the layout of include/uapi/linux/input.h for a `bytes`-sized ABI.
fn rec(bytes: usize, ms: u64, kind: u16, code: u16, value: i32) -> Vec<u8> {
    let (sec, usec) = (ms / 1000, ms % 1000 * 1000);
    let mut v = Vec::new();
    if bytes == 24 {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&usec.to_le_bytes());
    } else {
        v.extend_from_slice(&(sec as u32).to_le_bytes());
        v.extend_from_slice(&(usec as u32).to_le_bytes());
    }
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(&value.to_le_bytes());
    v
}

/// A key edge followed by its SYN_REPORT, as the kernel sends them.
fn edge(b: usize, ms: u64, code: u16, value: i32) -> Vec<u8> {
    let mut v = rec(b, ms, EV_KEY, code, value);
    v.extend(rec(b, ms, EV_SYN, 0, 0));
    v
}

fn events_json(f: &Fixture, extra: &[&str]) -> serde_json::Value {
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["--json", "events"])
        .args(extra));
    assert!(
        o.status.success(),
        "events: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn summary(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["class"].as_str().unwrap().to_string(),
                e["held_ms"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn s(a: &str, b: &str, ms: u64) -> (String, String, u64) {
    (a.into(), b.into(), ms)
}

/// 2023-11-14T22:13:20Z in ms: a capture's wall-clock stamps.
const T0: u64 = 1_700_000_000_000;

fn capture(b: usize) -> Vec<u8> {
    let mut v = Vec::new();
    // A short press, with KEY_POWER noise and autorepeat in between.
    v.extend(edge(b, T0, KEY_RESTART, 1));
    v.extend(edge(b, T0 + 100, 116, 1));
    v.extend(edge(b, T0 + 200, KEY_RESTART, 2));
    v.extend(edge(b, T0 + 300, 116, 0));
    v.extend(edge(b, T0 + 500, KEY_RESTART, 0));
    // A basic reset hold of 3.2 s with contact bounce at the press.
    let t = T0 + 60_000;
    v.extend(edge(b, t, KEY_RESTART, 1));
    v.extend(edge(b, t + 5, KEY_RESTART, 0));
    v.extend(edge(b, t + 12, KEY_RESTART, 1));
    v.extend(edge(b, t + 3200, KEY_RESTART, 0));
    // An advanced reset hold of 10.5 s.
    let t = T0 + 120_000;
    v.extend(edge(b, t, KEY_RESTART, 1));
    v.extend(edge(b, t + 10_500, KEY_RESTART, 0));
    // A bounce alone: dropped.
    let t = T0 + 180_000;
    v.extend(edge(b, t, KEY_RESTART, 1));
    v.extend(edge(b, t + 8, KEY_RESTART, 0));
    // Finally a press whose release never came (the capture ends).
    let t = T0 + 240_000;
    v.extend(edge(b, t, KEY_RESTART, 1));
    v.extend(rec(b, t + 4000, EV_SYN, 0, 0));
    v
}

#[test]
fn replay_classifies_holds_and_events_lists_them() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let cap = f.root().join("../capture.bin");
    let cap = cap.with_file_name(format!(
        "capture-{}.bin",
        f.root().file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&cap, capture(b)).unwrap();
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--journal"])
        .arg(box_journal(&f))
        .arg("--replay")
        .arg(&cap));
    let _ = std::fs::remove_file(&cap);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = events_json(&f, &[]);
    assert_eq!(
        summary(&v),
        vec![
            s("hold", "short", 500),
            s("threshold", "basic-reset", 3000),
            s("hold", "basic-reset", 3200),
            s("threshold", "basic-reset", 3000),
            s("threshold", "advanced-reset", 10_000),
            s("hold", "advanced-reset", 10_500),
            s("threshold", "basic-reset", 3000),
            s("unfinished", "basic-reset", 4000),
        ]
    );
    let ev = &v["events"][0];
    assert_eq!(ev["time"], "2023-11-14T22:13:20.000Z");
    assert_eq!(ev["source"], "replay");
    assert_eq!(ev["code"], KEY_RESTART);
    assert_eq!(v["events"][7]["reason"], "end-of-replay");
    assert!(
        v["events"][2]["firmware"]
            .as_str()
            .unwrap()
            .contains("admin password")
    );
    // The journal is QTS's persistent config dir, private.
    let journal = f.path(JOURNAL);
    assert!(
        v["journal"].as_str().unwrap().ends_with(JOURNAL),
        "the journal is in the real persistent directory: {}",
        v["journal"]
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // --since and --limit.
    // Every record of a press carries the press's time: the two presses from 22:15:20 on.
    let v = events_json(&f, &["--since", "2023-11-14T22:15:00Z"]);
    assert_eq!(summary(&v).len(), 5);
    let v = events_json(&f, &["--limit", "2"]);
    assert_eq!(
        summary(&v),
        vec![
            s("threshold", "basic-reset", 3000),
            s("unfinished", "basic-reset", 4000)
        ]
    );
    // Human output names the classes.
    let o = run(qrescue().arg("--root").arg(f.root()).arg("events"));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("advanced-reset") && text.contains("10.500 s"),
        "{text}"
    );
}

#[test]
fn torn_journal_line_is_reported_not_fatal() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let cap = f.path("/tmp-capture.bin");
    let mut bytes = edge(b, T0, KEY_RESTART, 1);
    bytes.extend(edge(b, T0 + 700, KEY_RESTART, 0));
    std::fs::write(&cap, &bytes).unwrap();
    let watch = |f: &Fixture| {
        run(qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["watch", "--journal"])
            .arg(box_journal(f))
            .arg("--replay")
            .arg(&cap))
    };
    assert!(watch(&f).status.success());
    // A power cut in the middle of a line.
    let journal = f.path(JOURNAL);
    let mut j = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    j.write_all(b"{\"time\":\"2023-11-14T22:1").unwrap();
    drop(j);
    let v = events_json(&f, &[]);
    assert_eq!(v["skipped_lines"], 1);
    assert_eq!(summary(&v), vec![s("hold", "short", 700)]);
    // The next watch closes the torn line and appends after it.
    let o = watch(&f);
    assert!(o.status.success());
    let v = events_json(&f, &[]);
    assert_eq!(v["skipped_lines"], 1);
    assert_eq!(
        summary(&v),
        vec![s("hold", "short", 700), s("hold", "short", 700)]
    );
    let o = run(qrescue().arg("--root").arg(f.root()).arg("events"));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 unreadable journal line"));
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The box's journal, named explicitly: a replay writes it only when told to (the
/// fixture's state directory is made first, as `watch` without `--replay` would).
fn box_journal(f: &Fixture) -> std::path::PathBuf {
    let p = f.path(JOURNAL);
    let dir = p.parent().unwrap();
    if !dir.exists() {
        std::fs::create_dir(dir).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    p
}

fn journal_text(f: &Fixture) -> String {
    std::fs::read_to_string(f.path(JOURNAL)).unwrap_or_default()
}

fn spawn_watch(f: &Fixture, args: &[&str], syslog: Option<&Path>) -> Child {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).arg("watch");
    if args.contains(&"--replay") {
        c.arg("--journal").arg(box_journal(f));
    }
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(s) = syslog {
        c.env("QRESCUE_SYSLOG_SOCKET", s);
    }
    c.spawn().unwrap()
}

#[test]
fn fifo_live_threshold_is_durable_before_release_and_syslogged() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let fifo = f.path("/button.fifo");
    mkfifo(&fifo);
    let sock_path = f.path("/syslog.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let hook_out = f.path("/hook.out");
    let hook_fds = f.path("/hook.fds");
    // The hook also lists what its shell holds open: only what any program starts with.
    let hook = format!(
        "echo \"$QRESCUE_EVENT $QRESCUE_CLASS $QRESCUE_HELD_MS\" >> {}; \
         for fd in /proc/$$/fd/*; do readlink \"$fd\"; done > {}",
        hook_out.display(),
        hook_fds.display()
    );
    let fifo_s = fifo.to_str().unwrap().to_string();
    let mut child = spawn_watch(
        &f,
        &[
            "--replay",
            &fifo_s,
            "--foreground",
            "--basic-ms",
            "400",
            "--advanced-ms",
            "800",
            "--on-hold",
            &hook,
        ],
        Some(&sock_path),
    );
    let mut w = common::wait::open_fifo_writer(&fifo, &mut child, Duration::from_secs(20));
    let start = Instant::now();
    let now_ms = || 5_000 + start.elapsed().as_millis() as u64;
    w.write_all(&edge(b, now_ms(), KEY_RESTART, 1)).unwrap();
    // The button is still down: both thresholds must reach the journal on their own.
    wait_for(
        "threshold records while held",
        Duration::from_secs(20),
        || journal_text(&f).matches("\"threshold\"").count() == 2,
    );
    assert!(!journal_text(&f).contains("\"hold\""));
    std::thread::sleep(Duration::from_millis(100));
    w.write_all(&edge(b, now_ms(), KEY_RESTART, 0)).unwrap();
    // The release starts the hook; its end (SIGCHLD, reaped) does not end the watcher.
    wait_for("the --on-hold hook", Duration::from_secs(10), || {
        std::fs::read_to_string(&hook_fds).is_ok_and(|t| !t.is_empty())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the watcher ended when its hook did"
    );
    drop(w); // EOF: the watcher ends
    let o = common::wait::output_within(child, Duration::from_secs(20), "watch at EOF");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = events_json(&f, &[]);
    let got = summary(&v);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], s("threshold", "basic-reset", 400));
    assert_eq!(got[1], s("threshold", "advanced-reset", 800));
    assert_eq!(got[2].0, "hold");
    assert_eq!(got[2].1, "advanced-reset");
    assert!(got[2].2 >= 800, "{got:?}");
    // syslog: the threshold announcements and one record for the press.
    let mut logs = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        logs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let joined = logs.join("\n");
    assert!(
        joined.contains("held 0 s: basic reset will happen on release")
            || joined.contains("basic reset will happen on release"),
        "{joined}"
    );
    assert_eq!(
        logs.iter().filter(|l| l.contains("released after")).count(),
        1,
        "{joined}"
    );
    // daemon facility (3) at warning (4): <28>
    assert!(
        logs.iter()
            .any(|l| l.starts_with("<28>") && l.contains("advanced-reset")),
        "{joined}"
    );
    // The hook ran once, with the class and duration.
    wait_for("the --on-hold hook", Duration::from_secs(10), || {
        std::fs::read_to_string(&hook_out).is_ok_and(|t| t.lines().count() == 1)
    });
    let hook_line = std::fs::read_to_string(&hook_out).unwrap();
    assert!(
        hook_line.starts_with(&format!("hold advanced-reset {}", got[2].2)),
        "{hook_line}"
    );
    // Nothing of the watcher's leaks into the hook: not the button, the journal, the state
    // directory, the syslog socket, the signalfd, timerfd or inotify descriptor. It holds
    // stdin (/dev/null), the inherited stdout and stderr, and its own redirection.
    let fds = std::fs::read_to_string(&hook_fds).unwrap();
    assert!(fds.lines().count() >= 3, "{fds}");
    for target in fds.lines() {
        assert!(
            target == "/dev/null" || target.starts_with("pipe:") || Path::new(target) == hook_fds,
            "the --on-hold hook inherited {target:?} from the watcher:\n{fds}"
        );
    }
}

#[test]
fn sigterm_while_held_records_unfinished_and_exits_0() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let fifo = f.path("/button.fifo");
    mkfifo(&fifo);
    let fifo_s = fifo.to_str().unwrap().to_string();
    let mut child = spawn_watch(&f, &["--replay", &fifo_s, "--foreground"], None);
    let mut w = common::wait::open_fifo_writer(&fifo, &mut child, Duration::from_secs(20));
    w.write_all(&edge(b, 1000, KEY_RESTART, 1)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let pid = child.id();
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let o = common::wait::output_within(child, Duration::from_secs(20), "watch after SIGTERM");
    drop(w);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = events_json(&f, &[]);
    let got = summary(&v);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "unfinished");
    assert!(got[0].2 >= 500, "{got:?}");
    assert_eq!(v["events"][0]["reason"], "watcher-stopped");
}

#[test]
fn no_source_found_says_so_and_waits_until_stopped() {
    let f = Fixture::new(Layout::Qts5);
    // An empty device directory (hidden option), so the host's own /dev/input is irrelevant.
    let input = f.path("/no-input-devices");
    std::fs::create_dir(&input).unwrap();
    let input_s = input.to_str().unwrap().to_string();
    let mut child = spawn_watch(&f, &["--foreground", "--input-dir", &input_s], None);
    let mut err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        let _ = tx.send(s);
    });
    // It must keep running (waiting for a device), not exit.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "watch exited");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let st =
        common::wait::output_within(child, Duration::from_secs(20), "watch after SIGTERM").status;
    assert_eq!(st.code(), Some(0));
    let text = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(text.contains("no reset-button source found"), "{text}");
    assert!(
        text.contains("--device") && text.contains("--gpio"),
        "{text}"
    );
}

#[test]
fn bad_options_are_one_line_exit_2_and_change_nothing() {
    let f = Fixture::new(Layout::Qts5);
    for args in [
        vec!["watch", "--key", "KEY_NOPE", "--replay", "/dev/null"],
        vec!["watch", "--gpio", "nonsense"],
        vec!["watch", "--device", "/nonexistent/event9"],
        vec!["watch", "--replay", "/nonexistent/capture"],
        vec![
            "watch",
            "--basic-ms",
            "5000",
            "--advanced-ms",
            "4000",
            "--replay",
            "/dev/null",
        ],
        vec!["events", "--since", "yesterday"],
    ] {
        let o = run(qrescue().arg("--root").arg(f.root()).args(&args));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!f.path(JOURNAL).exists(), "{args:?} created the journal");
    }
}

#[test]
#[ignore = "needs strace"]
fn sigkill_at_any_journal_write_or_fdatasync_leaves_a_readable_journal() {
    common::skip::require_native(
        "sigkill_at_any_journal_write_or_fdatasync_leaves_a_readable_journal",
    );
    let b = event_bytes();
    let mut bytes = Vec::new();
    for i in 0..4 {
        let t = T0 + i * 10_000;
        bytes.extend(edge(b, t, KEY_RESTART, 1));
        bytes.extend(edge(b, t + 500 + i * 1000, KEY_RESTART, 0));
    }
    // What one complete replay of this capture records (4 holds, 1 threshold).
    let per_run = {
        let f = Fixture::new(Layout::Qts5);
        let cap = f.path("/capture.bin");
        std::fs::write(&cap, &bytes).unwrap();
        assert!(
            run(qrescue()
                .arg("--root")
                .arg(f.root())
                .args(["watch", "--journal"])
                .arg(box_journal(&f))
                .arg("--replay")
                .arg(&cap))
            .status
            .success()
        );
        summary(&events_json(&f, &[])).len()
    };
    assert_eq!(per_run, 5);
    let mut points = 0;
    // The journal syncs with fdatasync (the appended size is metadata it flushes too).
    for (call, when) in (1..=5).flat_map(|w| [("write", w), ("fdatasync", w)]) {
        let f = Fixture::new(Layout::Qts5);
        let cap = f.path("/capture.bin");
        std::fs::write(&cap, &bytes).unwrap();
        let o = run(Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e"])
            .arg(format!("trace={call}"))
            .arg("-e")
            .arg(format!("inject={call}:signal=KILL:when={when}"))
            .arg(common::bin())
            .arg("--root")
            .arg(f.root())
            .args(["watch", "--journal"])
            .arg(box_journal(&f))
            .arg("--replay")
            .arg(&cap));
        if o.status.success() {
            continue; // fewer calls than `when`: nothing was killed
        }
        points += 1;
        // Whatever was on disk stays readable; a torn line at most is skipped and counted.
        let v = events_json(&f, &[]);
        let before = summary(&v).len();
        assert!(
            v["skipped_lines"].as_u64().unwrap() <= 1,
            "{call}#{when}: {v}"
        );
        // A new watch appends after it (closing a torn line first).
        let o = run(qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["watch", "--journal"])
            .arg(box_journal(&f))
            .arg("--replay")
            .arg(&cap));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v = events_json(&f, &[]);
        assert_eq!(summary(&v).len(), before + per_run, "{call}#{when}: {v}");
        assert!(v["skipped_lines"].as_u64().unwrap() <= 1);
    }
    assert_eq!(
        points, 10,
        "one kill point per record's write and fdatasync"
    );
}

/// The replay's JSON lines on stdout.
fn stdout_records(o: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn replay_never_touches_the_box_journal_and_audit_ignores_replays() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let cap = f.path("/capture.bin");
    std::fs::write(&cap, capture(b)).unwrap();
    let before = f.snapshot();
    // Without --journal: JSON lines on stdout, nothing written under the root.
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--replay"])
        .arg(&cap));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs = stdout_records(&o);
    assert_eq!(recs.len(), 8, "{recs:?}");
    assert!(recs.iter().all(|r| r["source"] == "replay"), "{recs:?}");
    assert_eq!(recs[2]["event"], "hold");
    assert_eq!(recs[2]["class"], "basic-reset");
    assert!(!f.path(JOURNAL).exists(), "the box's journal was written");
    common::fixture::assert_same(&before, &f.snapshot(), "replay to stdout");
    // With --journal FILE: that file only.
    let out = f.path("/replay.jsonl");
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--journal"])
        .arg(&out)
        .arg("--replay")
        .arg(&cap));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 8);
    assert!(!f.path(JOURNAL).exists(), "the box's journal was written");
    // Even written into the box's journal on purpose, replayed resets are not findings.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut live = Vec::new();
    live.extend(edge(b, now_ms, KEY_RESTART, 1));
    live.extend(edge(b, now_ms + 10_500, KEY_RESTART, 0));
    std::fs::write(&cap, live).unwrap();
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--journal"])
        .arg(box_journal(&f))
        .arg("--replay")
        .arg(&cap));
    assert!(o.status.success());
    assert_eq!(summary(&events_json(&f, &[])).len(), 3);
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["--json", "audit"]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("reset-since-change"), "{text}");
}

#[test]
fn monotonic_capture_gives_one_time_per_press_in_press_order() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    // Timestamps since boot (a capture of a device on CLOCK_MONOTONIC): 1000 s after boot.
    let m0 = 1_000_000;
    let mut cap = Vec::new();
    for (i, hold) in [(0u64, 10_500u64), (1, 500), (2, 3_500), (3, 10_500)] {
        let t = m0 + i * 60_000;
        cap.extend(edge(b, t, KEY_RESTART, 1));
        cap.extend(edge(b, t + hold, KEY_RESTART, 0));
    }
    let p = f.path("/mono.bin");
    std::fs::write(&p, cap).unwrap();
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--replay"])
        .arg(&p));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs = stdout_records(&o);
    // Group by press: a press ends with its hold.
    let mut presses: Vec<Vec<u64>> = vec![Vec::new()];
    for r in &recs {
        presses
            .last_mut()
            .unwrap()
            .push(r["unix_ms"].as_u64().unwrap());
        if r["event"] == "hold" {
            presses.push(Vec::new());
        }
    }
    presses.pop();
    assert_eq!(presses.len(), 4, "{recs:?}");
    for p in &presses {
        assert!(p.iter().all(|t| *t == p[0]), "one time per press: {recs:?}");
    }
    for w in presses.windows(2) {
        assert_eq!(
            w[1][0] - w[0][0],
            60_000,
            "press order and spacing: {recs:?}"
        );
    }
}

/// `date`'s local time of a Unix time in the zone `tz`, as `events --localtime` prints it.
fn date_local(tz: &str, unix_ms: u64) -> String {
    let o = Command::new("date")
        .env("TZ", tz)
        .arg("-d")
        .arg(format!("@{}", unix_ms / 1000))
        .arg(format!("+%Y-%m-%dT%H:%M:%S.{:03}%:z", unix_ms % 1000))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "date: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn events_localtime_agrees_with_date_in_zones_east_west_and_off_the_hour() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let cap = f.path("/capture.bin");
    std::fs::write(&cap, capture(b)).unwrap();
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--journal"])
        .arg(box_journal(&f))
        .arg("--replay")
        .arg(&cap));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The presses of the capture, at T0 and two minutes apart.
    let presses = [T0, T0 + 60_000, T0 + 120_000, T0 + 240_000];
    // A 32-bit build prints UTC: its C library's time_t may not be the one the libc crate
    // binds (32-bit musl moved to 64 bits), so it does not ask for the local zone.
    let v: serde_json::Value =
        serde_json::from_slice(&run(qrescue().args(["--json", "version"])).stdout).unwrap();
    let target = v["target"].as_str().expect("target").to_string();
    let wide = !(target.starts_with("arm") || target.starts_with("i686"));
    // POSIX TZ strings (no tzdata needed): UTC, Tokyo, New York and St. John's with their
    // daylight-saving rules (the presses are in November: standard time), Kathmandu.
    for tz in [
        "UTC0",
        "JST-9",
        "EST5EDT,M3.2.0,M11.1.0",
        "NST3:30NDT,M3.2.0,M11.1.0",
        "<+0545>-5:45",
    ] {
        let o = run(qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["events", "--localtime"])
            .env("TZ", tz));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout);
        for ms in presses {
            let want = if wide {
                date_local(tz, ms)
            } else {
                date_local("UTC0", ms).replace("+00:00", "Z")
            };
            assert!(text.contains(&want), "TZ={tz}: no {want} in:\n{text}");
        }
    }
}

/// `--journal` in a "directory" that is a FIFO: refused at once (the directory is opened
/// `O_DIRECTORY`), never a watcher blocked opening the FIFO for a writer that never comes.
#[test]
fn a_journal_whose_directory_is_a_fifo_is_refused_at_once() {
    let f = Fixture::new(Layout::Qts5);
    let fifo = f.path("/not-a-dir");
    mkfifo(&fifo);
    let replay = f.path("/empty.replay");
    std::fs::write(&replay, b"").unwrap();
    let child = qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--journal"])
        .arg(fifo.join("button.jsonl"))
        .arg("--replay")
        .arg(&replay)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = common::wait::output_within(child, Duration::from_secs(20), "watch --journal FIFO/x");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(74), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("not-a-dir/button.jsonl: Not a directory"),
        "{err}"
    );
}

/// `--device` naming a FIFO: opened without blocking (`O_NONBLOCK`), found not to be an
/// input device, refused with one line (exit 2) at once; never a watcher waiting for a
/// writer in open().
#[test]
fn a_device_that_is_a_fifo_is_refused_at_once() {
    let f = Fixture::new(Layout::Qts5);
    let fifo = f.path("/not-a-device");
    mkfifo(&fifo);
    let child = qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--device"])
        .arg(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = common::wait::output_within(child, Duration::from_secs(20), "watch --device FIFO");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not-a-device"), "{err}");
}

/// With no reset-button source yet, the watcher sleeps on inotify over the device
/// directory: a node that appears there is tried at once (seen here as its open, under
/// strace), not at some later poll or never.
#[test]
#[ignore = "needs strace"]
fn a_device_node_that_appears_is_tried_at_once() {
    common::skip::require_native("a_device_node_that_appears_is_tried_at_once");
    let f = Fixture::new(Layout::Qts5);
    let input = f.path("/input");
    std::fs::create_dir(&input).unwrap();
    let args = [
        std::ffi::OsStr::new("--root"),
        f.root().as_os_str(),
        std::ffi::OsStr::new("watch"),
        std::ffi::OsStr::new("--foreground"),
        std::ffi::OsStr::new("--no-stores"),
        std::ffi::OsStr::new("--input-dir"),
        input.as_os_str(),
    ];
    let node = input.join("event7");
    let (o, calls) = common::trace::trace_until_then(
        "open,openat",
        &args,
        "Waiting for an input device to appear",
        || {
            std::thread::sleep(Duration::from_millis(300));
            std::fs::write(&node, b"").unwrap();
            // inotify wakes it, it lets the node settle (0.2 s), then opens it.
            std::thread::sleep(Duration::from_millis(1500));
        },
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        calls.iter().any(|c| c.line.contains("event7")),
        "the new node was never opened: {:#?}",
        calls.iter().map(|c| &c.line).collect::<Vec<_>>()
    );
}

/// Field `n` (1-based, as in proc(5)) of /proc/PID/stat.
fn proc_stat_field(pid: u32, n: usize) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    rest.split(' ').nth(n - 3).unwrap().parse().unwrap()
}

/// Started as a service starts it (no `--foreground`), the watcher leaves the session of
/// whatever started it (`setsid`): a hang-up of that terminal or session is not its end.
/// With `--foreground` it stays where it was started.
#[test]
fn without_foreground_the_watcher_is_in_a_session_of_its_own() {
    for foreground in [false, true] {
        let f = Fixture::new(Layout::Qts5);
        let input = f.path("/input");
        std::fs::create_dir(&input).unwrap();
        let mut args = vec!["--no-stores", "--input-dir", input.to_str().unwrap()];
        if foreground {
            args.push("--foreground");
        }
        let child = spawn_watch(&f, &args, None);
        let pid = child.id();
        let status = f.path("/mnt/HDA_ROOT/.config/qrescue/watch.status");
        wait_for("watch.status", Duration::from_secs(20), || status.exists());
        // proc(5): field 6 is the session id.
        let session = proc_stat_field(pid, 6);
        let ours = proc_stat_field(std::process::id(), 6);
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let st = common::wait::output_within(child, Duration::from_secs(20), "watch").status;
        assert_eq!(st.code(), Some(0));
        if foreground {
            assert_eq!(session, ours, "--foreground stays in the starter's session");
        } else {
            assert_eq!(
                session, pid as i64,
                "not the leader of a session of its own"
            );
        }
    }
}

/// A device node where the button journal belongs (`mknod`: opening a device can have
/// effects of its own, a tape rewinds, a watchdog arms) is refused from its status alone,
/// never opened.
#[test]
#[ignore = "needs root (mknod) and strace"]
fn a_device_node_in_place_of_the_journal_is_refused_unopened() {
    common::skip::require_native("a_device_node_in_place_of_the_journal_is_refused_unopened");
    let f = Fixture::new(Layout::Qts5);
    let journal = box_journal(&f);
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let st = Command::new("mknod")
        .arg(&journal)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod (root only)");
    let args = [
        std::ffi::OsStr::new("--root"),
        f.root().as_os_str(),
        std::ffi::OsStr::new("events"),
    ];
    let (o, calls) = common::trace::trace("open,openat", &args, b"");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(77), "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let name = journal.file_name().unwrap().to_str().unwrap();
    assert!(
        !calls
            .iter()
            .any(|c| c.line.contains(&format!("\"{name}\""))),
        "the device node was opened: {:#?}",
        calls.iter().map(|c| &c.line).collect::<Vec<_>>()
    );
}

/// The children of `pid` that have ended and not been reaped (zombies).
fn zombie_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        if f.len() > 1 && f[0] == "Z" && f[1] == pid.to_string() {
            out.push(child);
        }
    }
    out
}

/// Two `--on-hold` hooks that end while the watcher is not running (stopped: their two
/// SIGCHLDs arrive as one) are both reaped when it goes on: no zombie is left behind.
#[test]
fn hooks_that_end_together_are_all_reaped() {
    let b = event_bytes();
    let f = Fixture::new(Layout::Qts5);
    let fifo = f.path("/button.fifo");
    mkfifo(&fifo);
    let gate = f.path("/gate");
    let started = f.path("/started");
    let hook = format!(
        "echo >> {}; while [ ! -e {} ]; do sleep 0.05; done",
        started.display(),
        gate.display()
    );
    let fifo_s = fifo.to_str().unwrap().to_string();
    let mut child = spawn_watch(
        &f,
        &["--replay", &fifo_s, "--foreground", "--on-hold", &hook],
        None,
    );
    let pid = child.id();
    let mut w = common::wait::open_fifo_writer(&fifo, &mut child, Duration::from_secs(20));
    for t in [1_000, 5_000] {
        w.write_all(&edge(b, t, KEY_RESTART, 1)).unwrap();
        w.write_all(&edge(b, t + 500, KEY_RESTART, 0)).unwrap();
    }
    wait_for("both hooks running", Duration::from_secs(20), || {
        std::fs::read_to_string(&started).is_ok_and(|t| t.lines().count() == 2)
    });
    let signal = |sig: &str| {
        let st = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(st.success(), "kill {sig} {pid}");
    };
    signal("-STOP");
    std::fs::write(&gate, b"").unwrap();
    wait_for("both hooks ended", Duration::from_secs(20), || {
        zombie_children(pid).len() == 2
    });
    signal("-CONT");
    wait_for("both hooks reaped", Duration::from_secs(10), || {
        zombie_children(pid).is_empty()
    });
    drop(w);
    let o = common::wait::output_within(child, Duration::from_secs(20), "watch at EOF");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
