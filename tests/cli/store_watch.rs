//! The credential-store watch (`qrescue watch`, on by default) against real writers on a
//! QTS-like root with no button device (the x86 case): shadow-utils `chpasswd -R`, busybox
//! `passwd` in a chroot (QNAP's own), `qrescue passwd` and `restore`, a firmware-style reset
//! (the factory `$1$$` hash of `admin` written to shadow and smbpasswd by rename, as QNAP's
//! busybox does), the runtime copy replaced by a plain file, the `/etc/config` symlink
//! swapped. Each must yield exactly the expected record, a non-administrator's change none,
//! and no journal or syslog line may hold a hash or a password.
//!
//! Needs: shadow-utils (passwd package), busybox-static, strace; runs as root.

use crate::common;

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::fixture::{ADMIN_MD5_EMPTY_SALT, ADMIN_NT, ADMIN_SHA512, Fixture, Layout};
use crate::common::{qrescue, run, run_with_stdin};

const CFG: &str = "/mnt/HDA_ROOT/.config";
const JOURNAL: &str = "/mnt/HDA_ROOT/.config/qrescue/credentials.jsonl";
/// NT hash of "password" (a non-default start).
const NT_PASSWORD: &str = "8846F7EAEE8FB117AD06BDD830B7586C";
const BOB_SHA512: &str = "$6$bobsalt$gsDYPSzijjpeyq447FRMNQRQJk8ORwtmVxYMV24tnGHuhhg27SktU4IDhopvaMqQnJiXDoY10TXhjjEuqAm6K.";

/// A clean QTS 5 root (the tools refuse the fixture's deliberately odd lines): admin and bob
/// are administrators, carol is not.
fn qts_root(admin_nt: &str) -> Fixture {
    qts_root_as(Layout::Qts5, admin_nt)
}

/// QTS 5 (runtime files are symlinks into /etc/config) or QTS 4 (separate runtime copies,
/// which shadow-utils can write: it refuses symlinks, O_NOFOLLOW).
fn qts_root_as(layout: Layout, admin_nt: &str) -> Fixture {
    let f = Fixture::new(layout);
    f.put(
        &format!("{CFG}/passwd"),
        b"root:x:0:0:root:/root:/bin/sh\n\
          admin:x:0:0:administrator:/share/homes/admin:/bin/sh\n\
          bob:x:1000:100:Bob:/share/homes/bob:/bin/sh\n\
          carol:x:1001:100:Carol:/share/homes/carol:/bin/sh\n",
        0o644,
    );
    f.put(
        &format!("{CFG}/shadow"),
        format!(
            "root:*:19000:0:99999:7:::\nadmin:{ADMIN_SHA512}:19000:0:99999:7:::\n\
             bob:{BOB_SHA512}:19000:0:99999:7:::\ncarol:*:19000:0:99999:7:::\n"
        )
        .as_bytes(),
        0o600,
    );
    f.put(
        &format!("{CFG}/group"),
        b"root:x:0:\nadministrators:x:0:admin,bob\neveryone:x:100:admin,bob,carol\n",
        0o644,
    );
    f.put(
        &format!("{CFG}/smbpasswd"),
        format!(
            "admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:{admin_nt}:[U          ]:LCT-5A8D1F2B:\n\
             bob:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:{NT_PASSWORD}:[U          ]:LCT-5A8D1F2B:\n"
        )
        .as_bytes(),
        0o600,
    );
    if layout == Layout::Qts4 {
        for name in ["passwd", "shadow", "group"] {
            let mode = if name == "shadow" { 0o600 } else { 0o644 };
            f.put(
                &format!("/etc/{name}"),
                &std::fs::read(f.path(&format!("{CFG}/{name}"))).unwrap(),
                mode,
            );
        }
    }
    f.add_adapter("eth0", "00:08:9B:F1:23:34");
    std::fs::create_dir_all(f.path("/bin")).unwrap();
    std::fs::copy(which("busybox"), f.path("/bin/busybox")).unwrap();
    f
}

fn which(tool: &str) -> PathBuf {
    let o = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{tool} is required (apt-get install passwd busybox-static strace)"
    );
    PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
}

/// A running watcher, its stderr collected, its syslog captured.
struct Watch {
    child: Child,
    err: Arc<Mutex<String>>,
    syslog: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(f: &Fixture) -> Watch {
        let sock_path = f.path("/syslog.sock");
        let _ = std::fs::remove_file(&sock_path);
        // Read continuously: a full datagram queue would block the watcher's logging.
        let sock = UnixDatagram::bind(&sock_path).unwrap();
        let syslog = Arc::new(Mutex::new(Vec::new()));
        let s2 = syslog.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = sock.recv(&mut buf) {
                s2.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        });
        let mut child = qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["watch", "--foreground"])
            .env("QRESCUE_SYSLOG_SOCKET", &sock_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let e2 = err.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut pipe, &mut buf) {
                if n == 0 {
                    break;
                }
                e2.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut w = Watch { child, err, syslog };
        w.wait_stderr("watching the credential stores");
        w
    }

    fn wait_stderr(&mut self, what: &str) {
        let start = Instant::now();
        while !self.err.lock().unwrap().contains(what) {
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "watch exited: {}",
                self.err.lock().unwrap()
            );
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {what:?} in: {}",
                self.err.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) -> Vec<String> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let st = self.child.wait().unwrap();
        assert_eq!(st.code(), Some(0), "{}", self.err.lock().unwrap());
        std::thread::sleep(Duration::from_millis(100));
        self.syslog.lock().unwrap().clone()
    }
}

/// A failing test must not leave its watcher running.
impl Drop for Watch {
    fn drop(&mut self) {
        if self.child.try_wait().is_ok_and(|s| s.is_none()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn records(f: &Fixture) -> Vec<serde_json::Value> {
    std::fs::read_to_string(f.path(JOURNAL))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Wait until the journal has `n` records, then a little longer to see there are no more.
fn expect_records(f: &Fixture, n: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    while records(f).len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "waiting for {n} records: {:?}",
            records(f)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1200));
    let r = records(f);
    assert_eq!(r.len(), n, "exactly {n} records: {r:#?}");
    r
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Replace a file the way QNAP's busybox and qrescue do: write `NAME+`, rename over.
fn replace(f: &Fixture, inside: &str, content: &str) {
    let p = f.path(inside);
    let tmp = p.with_file_name(format!("{}+", p.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, content).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
}

fn set_entry(f: &Fixture, inside: &str, user: &str, idx: usize, value: &str) -> String {
    let text = std::fs::read_to_string(f.path(inside)).unwrap();
    text.lines()
        .map(|l| {
            let mut v: Vec<&str> = l.split(':').collect();
            if v[0] == user {
                v[idx] = value;
            }
            v.join(":") + "\n"
        })
        .collect()
}

/// The firmware's reset: the factory `$1$$` hash of `admin` in shadow, NT("admin") in
/// smbpasswd, each written by rename.
fn firmware_reset(f: &Fixture) {
    let s = set_entry(
        f,
        &format!("{CFG}/shadow"),
        "admin",
        1,
        ADMIN_MD5_EMPTY_SALT,
    );
    replace(f, &format!("{CFG}/shadow"), &s);
    let s = set_entry(f, &format!("{CFG}/smbpasswd"), "admin", 3, ADMIN_NT);
    replace(f, &format!("{CFG}/smbpasswd"), &s);
}

/// No line holds a hash or a password (the fixture's and every one the tests set).
fn assert_no_secrets(lines: &[String], passwords: &[&str]) {
    for l in lines {
        for bad in [
            "$1$",
            "$5$",
            "$6$",
            "$y$",
            ADMIN_NT,
            NT_PASSWORD,
            "XXXXXXXX",
        ]
        .iter()
        .chain(passwords)
        {
            assert!(!l.contains(bad), "{bad:?} in {l}");
        }
    }
}

fn journal_lines(f: &Fixture) -> Vec<String> {
    std::fs::read_to_string(f.path(JOURNAL))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
#[ignore = "needs busybox"]
fn firmware_reset_is_factory_default_and_non_admin_change_is_silent() {
    let f = qts_root(NT_PASSWORD);
    let w = Watch::start(&f);
    // A non-administrator (carol), written as busybox does: no record.
    let s = set_entry(&f, &format!("{CFG}/shadow"), "carol", 1, BOB_SHA512);
    replace(&f, &format!("{CFG}/shadow"), &s);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(records(&f).is_empty(), "{:?}", records(&f));
    firmware_reset(&f);
    let r = expect_records(&f, 1);
    assert_eq!(r[0]["event"], "credential-change");
    assert_eq!(r[0]["user"], "admin");
    assert_eq!(
        strs(&r[0]["stores"]),
        vec!["/etc/config/shadow", "/etc/config/smbpasswd"]
    );
    assert_eq!(r[0]["class"], "factory-default", "{}", r[0]);
    assert_eq!(r[0]["agree"], true);
    assert_eq!(r[0]["seen"], "live");
    let syslog = w.stop();
    assert!(
        syslog
            .iter()
            .any(|l| l.contains("\"event\":\"credential-change\"")
                && l.contains("factory-default")),
        "{syslog:?}"
    );
    assert_no_secrets(&syslog, &[]);
    assert_no_secrets(&journal_lines(&f), &[]);
    // The private state: 0600, and no hash in it.
    for name in ["store-watch.key", "store-watch.state", "credentials.jsonl"] {
        let p = f.path(&format!("{CFG}/qrescue/{name}"));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let st = std::fs::read_to_string(f.path(&format!("{CFG}/qrescue/store-watch.state"))).unwrap();
    assert_no_secrets(&[st], &[]);
}

#[test]
#[ignore = "needs busybox"]
fn qrescue_passwd_and_restore_are_class_qrescue_with_their_backup() {
    let f = qts_root(NT_PASSWORD);
    let w = Watch::start(&f);
    let o = common::passwd(f.root(), "admin", "Zq7-new-admin-pw");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = expect_records(&f, 1);
    let ids = common::backup_ids(f.root());
    assert_eq!(ids.len(), 1);
    assert_eq!(r[0]["class"], "qrescue", "{}", r[0]);
    assert_eq!(r[0]["backup"], ids[0].as_str());
    assert_eq!(
        strs(&r[0]["stores"]),
        vec!["/etc/config/shadow", "/etc/config/smbpasswd"]
    );
    assert_eq!(r[0]["agree"], true);
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["restore", &ids[0]]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = expect_records(&f, 2);
    let ids = common::backup_ids(f.root());
    assert_eq!(ids.len(), 2);
    assert_eq!(r[1]["class"], "qrescue", "{}", r[1]);
    assert_eq!(
        r[1]["backup"],
        ids[1].as_str(),
        "the backup taken before restore"
    );
    // A web-UI-style change after them: other.
    let s = set_entry(&f, &format!("{CFG}/shadow"), "admin", 1, BOB_SHA512);
    replace(&f, &format!("{CFG}/shadow"), &s);
    let r = expect_records(&f, 3);
    assert_eq!(r[2]["class"], "other", "{}", r[2]);
    assert_eq!(r[2]["agree"], false, "smbpasswd was not changed with it");
    let syslog = w.stop();
    assert_no_secrets(&syslog, &["Zq7-new-admin-pw"]);
    assert_no_secrets(&journal_lines(&f), &["Zq7-new-admin-pw"]);
}

#[test]
#[ignore = "needs root, busybox and shadow-utils"]
fn shadow_utils_and_busybox_passwd_are_class_other() {
    // QTS 4's separate runtime copies: the root shadow-utils can write.
    let f = qts_root_as(Layout::Qts4, NT_PASSWORD);
    let w = Watch::start(&f);
    let chpasswd = |line: &[u8]| {
        let o = run_with_stdin(
            Command::new("chpasswd")
                .arg("-R")
                .arg(f.root())
                .args(["-c", "SHA512"]),
            line,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // A non-administrator: no record.
    chpasswd(b"carol:Zq7-carol-pw-x\n");
    std::thread::sleep(Duration::from_millis(1200));
    assert!(records(&f).is_empty(), "{:?}", records(&f));
    chpasswd(b"admin:Zq7-chpasswd-pw\n");
    let r = expect_records(&f, 1);
    assert_eq!(r[0]["user"], "admin");
    assert_eq!(r[0]["class"], "other", "{}", r[0]);
    assert_eq!(strs(&r[0]["stores"]), vec!["/etc/shadow"]);
    assert_eq!(r[0]["agree"], false);
    // busybox passwd, in a chroot, for bob (an administrator by group).
    let mut c = Command::new("chroot");
    c.arg(f.root()).args(["/bin/busybox", "passwd", "bob"]);
    let o = run_with_stdin(&mut c, b"Zq7-busybox-pw\nZq7-busybox-pw\n");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = expect_records(&f, 2);
    assert_eq!(r[1]["user"], "bob");
    assert_eq!(r[1]["class"], "other", "{}", r[1]);
    assert_eq!(strs(&r[1]["stores"]), vec!["/etc/shadow"]);
    let syslog = w.stop();
    let pws = ["Zq7-chpasswd-pw", "Zq7-busybox-pw", "Zq7-carol-pw-x"];
    assert_no_secrets(&syslog, &pws);
    assert_no_secrets(&journal_lines(&f), &pws);
}

#[test]
#[ignore = "needs busybox"]
fn runtime_copy_replaced_and_config_symlink_swapped_are_followed() {
    let f = qts_root(NT_PASSWORD);
    let w = Watch::start(&f);
    // The runtime /etc/shadow (a symlink into /etc/config) replaced by a plain file that
    // holds the factory hash: a second copy that disagrees.
    let s = set_entry(
        &f,
        &format!("{CFG}/shadow"),
        "admin",
        1,
        ADMIN_MD5_EMPTY_SALT,
    );
    let tmp = f.path("/etc/shadow+");
    std::fs::write(&tmp, &s).unwrap();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&tmp, f.path("/etc/shadow")).unwrap();
    let r = expect_records(&f, 1);
    assert_eq!(strs(&r[0]["stores"]), vec!["/etc/shadow"], "{}", r[0]);
    assert_eq!(r[0]["class"], "factory-default");
    assert_eq!(r[0]["agree"], false);
    // /etc/config swapped to another directory (ln -sfn: a new link renamed over).
    let cfg2 = f.path("/mnt/HDA_ROOT/.config2");
    std::fs::create_dir(&cfg2).unwrap();
    for name in ["passwd", "group", "smbpasswd", "smb.conf", "uLinux.conf"] {
        std::fs::copy(f.path(&format!("{CFG}/{name}")), cfg2.join(name)).unwrap();
    }
    let s = set_entry(&f, &format!("{CFG}/shadow"), "admin", 1, BOB_SHA512);
    std::fs::write(cfg2.join("shadow"), s).unwrap();
    symlink("/mnt/HDA_ROOT/.config2", f.path("/etc/config.new")).unwrap();
    std::fs::rename(f.path("/etc/config.new"), f.path("/etc/config")).unwrap();
    let r = expect_records(&f, 2);
    assert_eq!(r[1]["user"], "admin");
    assert_eq!(
        strs(&r[1]["stores"]),
        vec!["/etc/config/shadow"],
        "{}",
        r[1]
    );
    assert_eq!(r[1]["class"], "other");
    w.stop();
}

#[test]
#[ignore = "needs busybox"]
fn changes_while_stopped_are_recorded_once_at_start() {
    let f = qts_root(NT_PASSWORD);
    Watch::start(&f).stop();
    assert!(records(&f).is_empty());
    firmware_reset(&f);
    let w = Watch::start(&f);
    let r = records(&f);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["seen"], "at-start");
    assert_eq!(r[0]["class"], "factory-default");
    w.stop();
    Watch::start(&f).stop();
    assert_eq!(records(&f).len(), 1, "recorded once");
}

#[test]
#[ignore = "needs strace and busybox"]
fn sigkill_between_a_change_and_its_record_neither_loses_nor_duplicates() {
    common::skip::require_native(
        "sigkill_between_a_change_and_its_record_neither_loses_nor_duplicates",
    );
    which("strace");
    // The at-start commit: rename #1 makes `next`, then the record's write and fdatasync,
    // then rename #2 commits. A kill at each.
    for (call, when) in [("rename", 1), ("write", 1), ("fdatasync", 1), ("rename", 2)] {
        let f = qts_root(NT_PASSWORD);
        Watch::start(&f).stop();
        // Further renames of the start-up (none before the commit when the key exists).
        firmware_reset(&f);
        let filter = match call {
            "rename" => "trace=rename,renameat,renameat2".to_string(),
            c => format!("trace={c}"),
        };
        let inject = match call {
            "rename" => format!("inject=rename,renameat,renameat2:signal=KILL:when={when}"),
            "write" => format!("inject=write:signal=KILL:when={when}"),
            c => format!("inject={c}:signal=KILL:when={when}"),
        };
        let o = run(Command::new("strace")
            .args(["-f", "-qq", "-o", "/dev/null", "-e", &filter, "-e", &inject])
            .arg(common::bin())
            .arg("--root")
            .arg(f.root())
            .args(["watch", "--foreground"]));
        assert!(!o.status.success(), "{call}#{when} was not killed");
        let before = records(&f).len();
        assert!(before <= 1, "{call}#{when}: {:?}", records(&f));
        Watch::start(&f).stop();
        let r = records(&f);
        assert_eq!(r.len(), 1, "{call}#{when}: exactly one record: {r:?}");
        assert_eq!(r[0]["class"], "factory-default");
    }
}

#[test]
#[ignore = "needs busybox"]
fn no_stores_turns_it_off() {
    let f = qts_root(NT_PASSWORD);
    let mut c = qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["watch", "--foreground", "--no-stores"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    firmware_reset(&f);
    std::thread::sleep(Duration::from_millis(800));
    Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(0));
    assert!(!f.path(JOURNAL).exists());
}

#[test]
#[ignore = "needs busybox"]
fn audit_names_a_factory_default_change_after_the_last_qrescue_change() {
    let f = qts_root(NT_PASSWORD);
    let audit = |f: &Fixture| -> Vec<serde_json::Value> {
        let o = run(qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["--json", "audit"]));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["id"] == "reset-since-change")
            .cloned()
            .collect()
    };
    let w = Watch::start(&f);
    let o = common::passwd(f.root(), "admin", "Zq7-new-admin-pw");
    assert!(o.status.success());
    expect_records(&f, 1);
    assert!(audit(&f).is_empty(), "{:?}", audit(&f));
    firmware_reset(&f);
    expect_records(&f, 2);
    w.stop();
    let r = audit(&f);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["severity"], "high");
    assert_eq!(r[0]["user"], "admin");
    let msg = r[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("factory default") && msg.contains("strongest"),
        "{msg}"
    );
    // A qrescue change afterwards settles it.
    let o = common::passwd(f.root(), "admin", "Zq7-newer-admin-pw");
    assert!(o.status.success());
    assert!(audit(&f).is_empty(), "{:?}", audit(&f));
}

/// Python drives a pty: the watcher runs without `--foreground` with its stderr on the
/// terminal, as an owner starting it by hand would; the status line must be there, then
/// SIGTERM ends it. Prints the exit status and what the terminal showed.
const PTY_WATCH: &str = r#"
import os, pty, select, signal, sys, time
q, root, empty = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(q, [q, "--root", root, "watch", "--input-dir", empty])
buf = b""
deadline = time.time() + 20
while b"button: " not in buf and time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print("rc=%d" % os.waitstatus_to_exitcode(status))
print(buf.decode(errors="replace").replace("\r", ""))
"#;

#[test]
#[ignore = "needs busybox"]
fn started_on_a_terminal_without_foreground_it_says_what_it_watches() {
    common::skip::require_native(
        "started_on_a_terminal_without_foreground_it_says_what_it_watches",
    );
    let f = qts_root(NT_PASSWORD);
    let empty = tempfile::tempdir().unwrap();
    let o = run(Command::new("python3")
        .args(["-c", PTY_WATCH])
        .arg(common::bin())
        .arg(f.root())
        .arg(empty.path()));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.starts_with("rc=0\n"), "{out}");
    // The same line the QPKG service shows: what is watched, and that no button is readable.
    let line = out
        .lines()
        .find(|l| l.starts_with("qrescue: stores: "))
        .unwrap_or_else(|| panic!("no status line on the terminal: {out}"));
    assert!(
        line.contains("/etc/config")
            && line.ends_with("; button: none on this model (read by the firmware)"),
        "{line}"
    );
}

/// What the watcher must see besides a file renamed into place: a store rewritten in place
/// (written and closed), the persistent directory itself moved away and replaced by a new
/// one (the watch on the old directory must not keep it blind to the new one), and a store
/// deleted or renamed away.
#[test]
#[ignore = "needs busybox"]
fn a_store_rewritten_in_place_its_directory_replaced_or_a_store_deleted_is_seen() {
    let f = qts_root(NT_PASSWORD);
    let mut w = Watch::start(&f);
    // In place, as an editor that truncates and writes would.
    let shadow = f.path(&format!("{CFG}/shadow"));
    let s = set_entry(&f, &format!("{CFG}/shadow"), "admin", 1, BOB_SHA512);
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&shadow)
        .unwrap()
        .write_all(s.as_bytes())
        .unwrap();
    let r = expect_records(&f, 1);
    assert_eq!(r[0]["user"], "admin", "{}", r[0]);
    assert_eq!(r[0]["class"], "other", "{}", r[0]);
    // The whole directory moved aside, a new one (the factory admin hash) put in its place.
    let cfg = f.path(CFG);
    let old = f.path(&format!("{CFG}.old"));
    let new = f.path(&format!("{CFG}.new"));
    std::fs::create_dir(&new).unwrap();
    for name in ["passwd", "group", "smbpasswd", "smb.conf", "uLinux.conf"] {
        std::fs::copy(cfg.join(name), new.join(name)).unwrap();
    }
    // qrescue's own directory goes along (its journal is where the records are).
    std::fs::create_dir(new.join("qrescue")).unwrap();
    for e in std::fs::read_dir(cfg.join("qrescue")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), new.join("qrescue").join(e.file_name())).unwrap();
    }
    let s = set_entry(
        &f,
        &format!("{CFG}/shadow"),
        "admin",
        1,
        ADMIN_MD5_EMPTY_SALT,
    );
    std::fs::write(new.join("shadow"), s).unwrap();
    std::fs::set_permissions(new.join("shadow"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&cfg, &old).unwrap();
    std::fs::rename(&new, &cfg).unwrap();
    // Seen: the watcher logs the record (it keeps its journal open in the directory it
    // started with, which moved aside with it).
    w.wait_stderr("\"class\":\"factory-default\"");
    // A store deleted: every account it held has changed (its Samba password is gone).
    std::fs::remove_file(cfg.join("smbpasswd")).unwrap();
    w.wait_stderr("\"user\":\"admin\",\"stores\":[\"/etc/config/smbpasswd\"]");
    // The shadow file renamed away (only the directory's "moved from" event says so): the
    // watcher looks again and says the runtime link now leads nowhere.
    std::fs::rename(cfg.join("shadow"), cfg.join("shadow.away")).unwrap();
    w.wait_stderr("/etc/shadow: exists but does not resolve to a shadow file");
    w.stop();
}

/// The kernel's inotify queue overflows (more events than `max_queued_events` while the
/// watcher is stopped): the events after the overflow are gone, so the watcher must take the
/// overflow itself as "something changed" and look again. A change of the admin's hash made
/// after the overflow is recorded.
#[test]
#[ignore = "needs busybox"]
fn a_change_lost_in_an_inotify_queue_overflow_is_still_recorded() {
    let max: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let f = qts_root(NT_PASSWORD);
    let mut w = Watch::start(&f);
    let pid = w.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Each new file is two events (created, closed after writing).
    let cfg = f.path(CFG);
    for i in 0..max / 2 + 100 {
        std::fs::write(cfg.join(format!("junk-{i}")), b"").unwrap();
    }
    let s = set_entry(&f, &format!("{CFG}/shadow"), "admin", 1, BOB_SHA512);
    replace(&f, &format!("{CFG}/shadow"), &s);
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    w.wait_stderr("\"user\":\"admin\",\"stores\":[\"/etc/config/shadow\"]");
    w.stop();
}

/// The watcher's secret key and state are private (0600) even when a scratch file of the
/// same name was left behind readable by all (a crash, a copy of the directory): it is
/// truncated and rewritten, and its mode set, not kept.
#[test]
#[ignore = "needs busybox"]
fn the_watchers_key_and_state_are_private_even_over_a_leftover_scratch_file() {
    let f = qts_root(NT_PASSWORD);
    let state = f.path(&format!("{CFG}/qrescue"));
    std::fs::create_dir_all(&state).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    for name in [
        "store-watch.key.tmp",
        "store-watch.state.tmp",
        "watch.status.tmp",
    ] {
        std::fs::write(state.join(name), b"left behind\n").unwrap();
        std::fs::set_permissions(state.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let w = Watch::start(&f);
    w.stop();
    for name in ["store-watch.key", "store-watch.state", "watch.status"] {
        let mode = std::fs::metadata(state.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
}
