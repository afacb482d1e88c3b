//! `watch --gpio sysfs:N --poll-ms MS`: a line only the firmware reads, polled read-only.
//! A stand-in sysfs directory (`QRESCUE_SYSFS_GPIO`) whose `value` file the test flips with
//! real timing; the watcher must classify the holds and never write anything there.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixture::{Fixture, Layout};
use crate::common::qrescue;

const JOURNAL: &str = "/mnt/HDA_ROOT/.config/qrescue/button.jsonl";

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push((
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn polled_sysfs_line_is_classified_and_never_written() {
    let f = Fixture::new(Layout::Qts5);
    let sys = tempfile::tempdir().unwrap();
    let value = sys.path().join("gpio17/value");
    std::fs::create_dir_all(value.parent().unwrap()).unwrap();
    // Active low, as QNAP wires it: 1 = released.
    std::fs::write(&value, "1\n").unwrap();
    let mut child = qrescue()
        .arg("--root")
        .arg(f.root())
        .args([
            "watch",
            "--foreground",
            "--no-stores",
            "--gpio",
            "sysfs:17:active-low",
            "--poll-ms",
            "20",
            "--debounce-ms",
            "10",
            "--basic-ms",
            "300",
            "--advanced-ms",
            "900",
        ])
        .env("QRESCUE_SYSFS_GPIO", sys.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The status file says what is watched once the source is open.
    let status = f.path("/mnt/HDA_ROOT/.config/qrescue/watch.status");
    let start = Instant::now();
    while !std::fs::read_to_string(&status).is_ok_and(|s| s.contains("sysfs-poll")) {
        assert!(start.elapsed() < Duration::from_secs(20), "no watch.status");
        assert!(child.try_wait().unwrap().is_none(), "watch exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = listing(sys.path());
    for hold in [500u64, 1200] {
        std::fs::write(&value, "0\n").unwrap();
        std::thread::sleep(Duration::from_millis(hold));
        std::fs::write(&value, "1\n").unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(before, listing(sys.path()), "nothing written under sysfs");
    let recs: Vec<serde_json::Value> = std::fs::read_to_string(f.path(JOURNAL))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let holds: Vec<(&str, u64)> = recs
        .iter()
        .filter(|r| r["event"] == "hold")
        .map(|r| (r["class"].as_str().unwrap(), r["held_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(holds.len(), 2, "{recs:?}");
    assert_eq!(holds[0].0, "basic-reset");
    assert_eq!(holds[1].0, "advanced-reset");
    // Within one polling period (plus scheduling) of the real hold.
    for ((_, got), want) in holds.iter().zip([500u64, 1200]) {
        assert!(
            *got + 40 >= want && *got <= want + 200,
            "{got} vs {want}: {recs:?}"
        );
    }
    assert!(recs.iter().all(|r| r["source"] == "sysfs-poll"), "{recs:?}");
}

#[test]
fn poll_ms_needs_a_sysfs_line() {
    let f = Fixture::new(Layout::Qts5);
    for args in [
        vec!["watch", "--poll-ms", "100"],
        vec!["watch", "--gpio", "gpiochip0:17", "--poll-ms", "100"],
        vec!["watch", "--gpio", "sysfs:17", "--poll-ms", "1"],
    ] {
        let o = common::run(qrescue().arg("--root").arg(f.root()).args(&args));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// CPU time (user + system, in clock ticks: 1/100 s on Linux) that `pid` has used.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which ends at the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Between polls, and after a change in a watched directory, the watcher sleeps in poll():
/// its timer's expirations and the inotify events are consumed, so nothing stays readable
/// and spins the loop. A NAS daemon that spins burns a core for as long as the box runs.
#[test]
fn an_idle_watcher_sleeps() {
    let f = Fixture::new(Layout::Qts5);
    let sys = tempfile::tempdir().unwrap();
    let value = sys.path().join("gpio17/value");
    std::fs::create_dir_all(value.parent().unwrap()).unwrap();
    std::fs::write(&value, "1\n").unwrap();
    let mut child = qrescue()
        .arg("--root")
        .arg(f.root())
        .args([
            "watch",
            "--foreground",
            "--gpio",
            "sysfs:17:active-low",
            "--poll-ms",
            "50",
        ])
        .env("QRESCUE_SYSFS_GPIO", sys.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = f.path("/mnt/HDA_ROOT/.config/qrescue/watch.status");
    let start = Instant::now();
    while !std::fs::read_to_string(&status).is_ok_and(|s| s.contains("sysfs-poll")) {
        assert!(start.elapsed() < Duration::from_secs(20), "no watch.status");
        assert!(child.try_wait().unwrap().is_none(), "watch exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Something appears in the watched stores' directory (an inotify event).
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(f.path("/mnt/HDA_ROOT/.config/unrelated.conf"), "x\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(2000));
    let used = cpu_ticks(pid) - before;
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // 40 polls in 2 s take well under 0.1 s; a spinning loop takes most of the 2 s.
    assert!(
        used < 50,
        "the idle watcher used {used}/100 s of CPU in 2 s: it spins"
    );
}
