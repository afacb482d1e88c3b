//! The binary under strace, for tests about the order of its system calls and for forcing
//! an interleaving: `trace` records every call (with `-y`, so each fd shows its path);
//! `run_stopped_at` stops the process with SIGSTOP on the Nth call of a syscall (strace's
//! `inject=SYSCALL:signal=SIGSTOP:when=N`), runs a closure while it is provably stopped, then
//! lets it go on. Native binary only.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// One traced system call: `name(args) = result`, as strace printed it.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub line: String,
}

impl Call {
    /// The paths strace shows for the fds of this call (`3</a/b>` gives `/a/b`).
    pub fn fd_paths(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut rest = self.line.as_str();
        while let Some(i) = rest.find('<') {
            let before = &rest[..i];
            let after = &rest[i + 1..];
            let Some(j) = after.find('>') else { break };
            if before.ends_with(|c: char| c.is_ascii_digit()) {
                out.push(&after[..j]);
            }
            rest = &after[j + 1..];
        }
        out
    }

    /// The first quoted string argument.
    pub fn first_string(&self) -> Option<&str> {
        self.line.split('"').nth(1)
    }

    pub fn ok(&self) -> bool {
        !self.line.contains(") = -1 ")
    }
}

fn strace_available() {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "strace is required (apt-get install strace)");
}

fn spawn(strace_args: &[String], args: &[&std::ffi::OsStr], stdin: &[u8]) -> std::process::Child {
    strace_available();
    let mut c = Command::new("strace");
    c.args(strace_args)
        .arg(super::bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn strace");
    let mut si = child.stdin.take().expect("stdin");
    si.write_all(stdin).expect("stdin");
    drop(si);
    child
}

/// Run the binary with `args` under strace, recording the calls in `syscalls`
/// (comma-separated); returns its output and the calls in order.
pub fn trace(syscalls: &str, args: &[&std::ffi::OsStr], stdin: &[u8]) -> (Output, Vec<Call>) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = spawn(
        &[
            "-f".into(),
            "-qq".into(),
            "-y".into(),
            "-s".into(),
            "64".into(),
            "-e".into(),
            format!("trace={syscalls}"),
            "-o".into(),
            log.path().to_string_lossy().into_owned(),
        ],
        args,
        stdin,
    );
    let o = super::wait::output_within(child, Duration::from_secs(120), "strace run");
    let text = std::fs::read_to_string(log.path()).unwrap();
    (o, parse(&text))
}

fn parse(text: &str) -> Vec<Call> {
    text.lines()
        .filter_map(|l| {
            // "PID name(args) = result"
            let l = l.split_once(' ').map_or(l, |(_, r)| r).trim_start();
            let name = l.split('(').next()?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            Some(Call {
                name: name.to_string(),
                line: l.to_string(),
            })
        })
        .collect()
}

/// Run the binary with `args`, stopped with SIGSTOP on its `when`th call of `syscall`
/// (after the call itself, before the next); `during` runs while it is stopped, then it
/// continues. Fails the test if it never stops (ends first) or hangs.
pub fn run_stopped_at(
    syscall: &str,
    when: usize,
    args: &[&std::ffi::OsStr],
    stdin: &[u8],
    during: impl FnOnce(),
) -> Output {
    run_stopped_at_pid(syscall, when, args, stdin, |_| during())
}

/// [`run_stopped_at`], with the stopped process's pid given to `during` (to signal it).
pub fn run_stopped_at_pid(
    syscall: &str,
    when: usize,
    args: &[&std::ffi::OsStr],
    stdin: &[u8],
    during: impl FnOnce(&str),
) -> Output {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = spawn(
        &[
            "-f".into(),
            "-qq".into(),
            "-e".into(),
            format!("trace={syscall}"),
            "-e".into(),
            format!("inject={syscall}:signal=SIGSTOP:when={when}"),
            "-o".into(),
            log.path().to_string_lossy().into_owned(),
        ],
        args,
        stdin,
    );
    let start = Instant::now();
    let pid = loop {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        if let Some(l) = text
            .lines()
            .find(|l| l.contains("--- stopped by SIGSTOP ---"))
        {
            break l.split_whitespace().next().unwrap().to_string();
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("ended ({st}) before its {syscall} #{when}: {text}");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("not stopped at {syscall} #{when} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    during(&pid);
    let st = Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert!(st.success(), "kill -CONT {pid}");
    super::wait::output_within(child, Duration::from_secs(120), "the stopped run")
}

/// 1-based position of `calls[i]` among the calls named like it (what `when=` counts).
pub fn nth_of_its_kind(calls: &[Call], i: usize) -> usize {
    calls[..=i]
        .iter()
        .filter(|c| c.name == calls[i].name)
        .count()
}

/// Run the binary with `args` under strace (as [`trace`]) until it prints `marker` on
/// stderr, then stop it with SIGTERM; returns its output and the calls it made. For a
/// command that runs until stopped (`watch`).
pub fn trace_until(syscalls: &str, args: &[&std::ffi::OsStr], marker: &str) -> (Output, Vec<Call>) {
    trace_until_then(syscalls, args, marker, || {})
}

/// [`trace_until`], running `then` after the marker and before the SIGTERM (to change
/// something the running program must react to).
pub fn trace_until_then(
    syscalls: &str,
    args: &[&std::ffi::OsStr],
    marker: &str,
    then: impl FnOnce(),
) -> (Output, Vec<Call>) {
    use std::io::Read;
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = spawn(
        &[
            "-f".into(),
            "-qq".into(),
            "-y".into(),
            "-s".into(),
            "64".into(),
            "-e".into(),
            format!("trace={syscalls}"),
            "-o".into(),
            log.path().to_string_lossy().into_owned(),
        ],
        args,
        b"",
    );
    let mut err = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&text).into_owned());
        }
    });
    let start = Instant::now();
    let mut seen = String::new();
    while !seen.contains(marker) {
        if let Ok(t) = rx.recv_timeout(Duration::from_millis(100)) {
            seen = t;
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("ended ({st}) before printing {marker:?}: {seen}");
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("no {marker:?} within 60 s: {seen}");
        }
    }
    then();
    // The traced program is the first pid in strace's log.
    let text = std::fs::read_to_string(log.path()).unwrap();
    let pid = text
        .split_whitespace()
        .next()
        .expect("a traced call")
        .to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(st.success(), "kill -TERM {pid}");
    let mut o = super::wait::output_within(child, Duration::from_secs(60), "the stopped run");
    o.stderr = seen.into_bytes();
    let text = std::fs::read_to_string(log.path()).unwrap();
    (o, parse(&text))
}
