//! Fidelity to real QTS files (issue 13, part B), through the binary on fixtures shaped like
//! the captured files: `info` from platform.conf and uLinux.conf, the MAC default offline,
//! the Samba backend without a `passdb backend` line, one audit finding per account and
//! problem, fixes that act on the root they were printed for, and `backups --prune`.

use crate::common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::fixture::{ADMIN_MD5_EMPTY_SALT, Fixture, Layout, SMB_CONF_QTS3};
use crate::common::{qrescue, run, run_with_stdin};
use serde_json::Value;

const NEW: &str = "N3w-Pa55!word";
/// The MAC QTS recorded in the fixture's uLinux.conf `[NetDevMonitor] eth0_mac`, in QTS's
/// default-password form.
const CONF_MAC_DEFAULT: &str = "00089BF12340";

fn q(root: &Path, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(root).args(args);
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// The firmware's own empty-salt MD5-crypt of [`CONF_MAC_DEFAULT`], fixed once by
/// `printf '00089BF12340\n' | openssl passwd -1 -salt '' -stdin` (OpenSSL 3.0; Python's
/// `crypt.crypt('00089BF12340', '$1$$')` gives the same), so the test needs no openssl.
const CONF_MAC_DEFAULT_MD5_EMPTY_SALT: &str = "$1$$.6LkHz4x1x7VZUd4r6dQO0";

#[test]
fn info_takes_model_version_and_macs_from_the_real_files() {
    let f = Fixture::new(Layout::Qts4);
    let v = json(&run(&mut q(f.root(), &["--json", "info"])));
    assert_eq!(v["model"]["value"], "TS-453D", "{v}");
    assert!(
        v["model"]["source"]
            .as_str()
            .unwrap()
            .ends_with("/etc/platform.conf [MISC] DISPLAY_NAME"),
        "{v}"
    );
    assert_eq!(v["internal_model"]["value"], "TS-X53D", "{v}");
    // Version.Number, from [System] only: [Samba] Version = 4 is another section's key.
    assert_eq!(v["firmware"]["version"]["value"], "5.1.4.2596", "{v}");
    assert_eq!(v["firmware"]["build"]["value"], "20231128", "{v}");
    // Offline, /proc/filesystems is the host's: QTS or QuTS hero is not guessed.
    assert!(v["firmware"]["name"]["value"].is_null(), "{v}");
    assert!(
        v["firmware"]["name"]["source"]
            .as_str()
            .unwrap()
            .contains("zfs"),
        "{v}"
    );
    // No /sys/class/net in the root: the adapter QTS recorded in uLinux.conf.
    let ads = v["adapters"].as_array().unwrap();
    assert_eq!(ads.len(), 1, "{v}");
    assert_eq!(ads[0]["name"], "eth0");
    assert_eq!(ads[0]["mac"], "00:08:9B:F1:23:40");
    assert!(
        ads[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("[NetDevMonitor] eth0_mac"),
        "{v}"
    );
    let h = String::from_utf8_lossy(&run(&mut q(f.root(), &["info"])).stdout).into_owned();
    assert!(
        h.contains("version:        5.1.4.2596 build 20231128  ("),
        "{h}"
    );
    assert!(h.contains("internal model: TS-X53D  ("), "{h}");

    // QNAP's own fallback: the firmware image's copy, when the persistent one has no version.
    f.put(
        "/mnt/HDA_ROOT/.config/uLinux.conf",
        b"[System]\nServer Name = NAS-TEST\n",
        0o644,
    );
    f.put(
        "/etc/default_config/uLinux.conf",
        b"[System]\nModel = TS-X53D\nVersion = 5.1.3\nNumber = 2500\nBuild Number = 20230901\n",
        0o644,
    );
    let v = json(&run(&mut q(f.root(), &["--json", "info"])));
    assert_eq!(v["firmware"]["version"]["value"], "5.1.3.2500", "{v}");
    assert!(
        v["firmware"]["version"]["source"]
            .as_str()
            .unwrap()
            .contains("/etc/default_config/uLinux.conf"),
        "{v}"
    );
    assert_eq!(v["firmware"]["build"]["value"], "20230901", "{v}");
}

/// The MAC default is tested offline from uLinux.conf (before: only /sys/class/net, which a
/// mounted copy does not have, so the default went untested).
#[test]
fn audit_checks_the_mac_default_offline() {
    let f = Fixture::new(Layout::Qts4);
    for s in f.shadow_files() {
        f.set_field(s, "admin", 1, CONF_MAC_DEFAULT_MD5_EMPTY_SALT);
    }
    let o = run(&mut q(f.root(), &["--json", "audit"]));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v = json(&o);
    let d: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["id"] == "default-password"
                && x["user"] == "admin"
                && x["message"].as_str().unwrap().contains("MAC address")
        })
        .collect();
    assert_eq!(d.len(), 1, "{v}");
    assert_eq!(d[0]["severity"], "high");
    assert!(
        d[0]["message"]
            .as_str()
            .unwrap()
            .contains("MAC address of eth0"),
        "{v}"
    );
    assert_eq!(d[0]["stores"].as_array().unwrap().len(), 2, "{v}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(CONF_MAC_DEFAULT));
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "no-mac-address"),
        "{v}"
    );
}

/// QTS 4 holds admin's factory hash in two shadow copies and smbpasswd: one finding lists
/// the three stores (before: three HIGH lines for one problem).
#[test]
fn audit_reports_one_finding_per_account_and_problem() {
    let f = Fixture::new(Layout::Qts4);
    let o = run(&mut q(f.root(), &["--json", "audit"]));
    let v = json(&o);
    let d: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] == "default-password" && x["user"] == "admin")
        .collect();
    assert_eq!(d.len(), 1, "{v}");
    let stores: Vec<&str> = d[0]["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(stores.len(), 3, "{stores:?}");
    assert!(stores.iter().any(|s| s.ends_with("/.config/shadow")));
    assert!(stores.iter().any(|s| s.ends_with("/etc/shadow")));
    assert!(stores.iter().any(|s| s.ends_with("/.config/smbpasswd")));
    let human = String::from_utf8_lossy(&run(&mut q(f.root(), &["audit"])).stdout).into_owned();
    let lines: Vec<&str> = human
        .lines()
        .filter(|l| l.contains("default-password  admin ("))
        .collect();
    assert_eq!(lines.len(), 1, "{human}");
}

/// A system account that cannot log in (QTS's `httpdusr`, locked in shadow) whose locked
/// hash is a factory default is reported, but not told to set a password (that would let it
/// log in); an account that can log in still is.
#[test]
fn accounts_that_cannot_log_in_are_not_told_to_set_a_password() {
    let f = Fixture::new(Layout::Qts5);
    let locked_default = format!("!{ADMIN_MD5_EMPTY_SALT}");
    f.set_field(
        "/mnt/HDA_ROOT/.config/shadow",
        "httpdusr",
        1,
        &locked_default,
    );
    let v = json(&run(&mut q(
        f.root(),
        &["--json", "audit", "httpdusr", "admin"],
    )));
    let of = |user: &str| -> Vec<Value> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["id"] == "default-password" && x["user"] == user)
            .cloned()
            .collect()
    };
    let h = of("httpdusr");
    assert_eq!(h.len(), 1, "{v}");
    let fix = h[0]["fix"].as_str().unwrap();
    assert!(!fix.contains("passwd"), "{fix}");
    assert!(fix.contains("cannot log in"), "{fix}");
    let a = of("admin");
    assert!(!a.is_empty(), "{v}");
    assert!(
        a.iter()
            .all(|x| x["fix"].as_str().unwrap().contains(" passwd admin")),
        "{v}"
    );
    // admin locked and no other administrator able to log in: it is the one account that
    // must be told to set a password, locked or not.
    let f = Fixture::new(Layout::Plain);
    let hash = String::from_utf8(f.read("/etc/shadow")).unwrap();
    let field = |user: &str| {
        hash.lines()
            .find(|l| l.starts_with(&format!("{user}:")))
            .unwrap()
            .split(':')
            .nth(1)
            .unwrap()
            .to_string()
    };
    for user in ["admin", "bob"] {
        let locked = format!("!{}", field(user));
        f.set_field("/etc/shadow", user, 1, &locked);
    }
    let o = run(&mut q(f.root(), &["--json", "audit"]));
    let v = json(&o);
    let locked = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "locked-admin")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(locked["severity"], "high", "{v}");
    assert!(
        locked["fix"].as_str().unwrap().contains(" passwd admin"),
        "{locked}"
    );
}

#[test]
fn samba_without_a_passdb_line_decides_from_what_exists() {
    let f = Fixture::new(Layout::Qts4);
    f.put(
        "/mnt/HDA_ROOT/.config/smb.conf",
        SMB_CONF_QTS3.as_bytes(),
        0o644,
    );
    let v = json(&run(&mut q(f.root(), &["--json", "status", "admin"])));
    assert_eq!(v["samba"]["type"], "smbpasswd", "{v}");
    let basis = v["samba_basis"].as_str().unwrap();
    assert!(
        basis.starts_with("smbpasswd, assumed: no passdb backend line, ")
            && basis.ends_with("/etc/config/smbpasswd exists"),
        "{basis}"
    );
    let h =
        String::from_utf8_lossy(&run(&mut q(f.root(), &["status", "admin"])).stdout).into_owned();
    assert!(
        h.contains("samba basis: smbpasswd, assumed: no passdb backend line"),
        "{h}"
    );
    // No smbpasswd file, but a passdb.tdb: Samba's own default backend, tdbsam.
    std::fs::remove_file(f.path("/mnt/HDA_ROOT/.config/smbpasswd")).unwrap();
    f.put("/var/lib/samba/private/passdb.tdb", b"TDB file\0", 0o600);
    let v = json(&run(&mut q(f.root(), &["--json", "status", "admin"])));
    assert_eq!(v["samba"]["type"], "other", "{v}");
    assert_eq!(v["samba"]["backend"], "tdbsam", "{v}");
    assert!(
        v["samba_basis"]
            .as_str()
            .unwrap()
            .contains("passdb.tdb exists"),
        "{v}"
    );
    // With the line, there is nothing to assume.
    let f = Fixture::new(Layout::Qts4);
    let v = json(&run(&mut q(f.root(), &["--json", "status", "admin"])));
    assert!(v["samba_basis"].is_null(), "{v}");
}

/// A directory whose `qrescue` is the binary under test, for running printed commands as
/// printed through `sh`.
fn path_with_qrescue() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    symlink(common::bin(), d.path().join("qrescue")).unwrap();
    d
}

/// Run `cmd` with `sh -c` on a pseudo-terminal (python3's pty), answering each prompt
/// ending in `: ` with `answer`; returns the exit code and what the terminal showed.
fn in_pty(cmd: &str, path: &Path, answer: &str) -> (i32, String) {
    const DRIVER: &str = r#"
import os, pty, select, sys, termios, time
cmd, answer = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", cmd])
seen, sent = b"", 0
while True:
    r, _, _ = select.select([fd], [], [], 60)
    if not r:
        os.kill(pid, 9)
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    seen += data
    if sent < 2 and seen.rstrip(b" ").endswith(b":"):
        # Answer once echo is off: qrescue turns it off (flushing pending input) before
        # reading, so an answer typed earlier would be thrown away.
        for _ in range(1000):
            if not termios.tcgetattr(fd)[3] & termios.ECHO:
                break
            time.sleep(0.01)
        os.write(fd, answer.encode() + b"\n")
        sent += 1
        seen += b"<answered>"
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let old_path = std::env::var("PATH").unwrap_or_default();
    let o = Command::new("python3")
        .args(["-c", DRIVER, cmd, answer])
        .env("PATH", format!("{}:{old_path}", path.display()))
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// A host file's bytes (compared, never printed: it may hold hashes).
fn host_bytes(p: &str) -> Option<Vec<u8>> {
    std::fs::read(p).ok()
}

/// Every fix `audit` prints names the root it looked at (quoted for the shell) and the real
/// user; the printed `passwd` fix, run as printed, changes the fixture and not `/`.
#[test]
#[ignore = "needs python3 (pty driver)"]
fn audit_fixes_run_as_printed_act_on_the_root() {
    common::skip::require_native("audit_fixes_run_as_printed_act_on_the_root");
    let f = Fixture::new(Layout::Qts5);
    // A root path the shell would split and unquote.
    let holder = tempfile::tempdir().unwrap();
    let root = holder.path().join("my root's");
    symlink(f.root(), &root).unwrap();
    let v = json(&run(&mut q(&root, &["--json", "audit"])));
    let quoted = format!("'{}'", root.display().to_string().replace('\'', "'\\''"));
    let prefix = format!("qrescue --root {quoted} ");
    let fixes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["fix"].as_str().unwrap())
        .collect();
    for fix in &fixes {
        if let Some(i) = fix.find("qrescue ") {
            assert!(fix[i..].starts_with(&prefix), "not pasteable: {fix}");
        }
    }
    let fix = fixes
        .iter()
        .find(|x| x.contains("passwd admin"))
        .expect("a passwd fix for admin");
    let cmd = &fix[fix.find("qrescue ").unwrap()..];
    let cmd = cmd.split(" (").next().unwrap();
    let host_shadow = host_bytes("/etc/shadow");
    let bin_dir = path_with_qrescue();
    let (code, shown) = in_pty(cmd, bin_dir.path(), NEW);
    assert_eq!(code, 0, "{cmd}\n{shown}");
    assert!(
        host_bytes("/etc/shadow") == host_shadow,
        "the host was changed"
    );
    let mut c = q(f.root(), &["verify", "admin", "--password-stdin"]);
    let o = run_with_stdin(&mut c, format!("{NEW}\n").as_bytes());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn backup_sets(root: &Path) -> Vec<(String, String)> {
    let v = json(&run(&mut q(root, &["--json", "backups"])));
    let mut sets: Vec<(String, String)> = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["manifest"]["created"].as_str().unwrap().to_string(),
                s["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    sets.sort();
    sets
}

/// More than 50 sets: `audit` points to `backups --prune --keep N`; run as printed it keeps
/// the N newest and the set an unfinished transaction names.
#[test]
fn prune_keeps_the_newest_and_the_unfinished_transactions_set() {
    let f = Fixture::new(Layout::Qts5);
    for i in 0..52 {
        let o = run(&mut q(f.root(), &["backup", "--reason", &format!("n{i}")]));
        assert!(o.status.success(), "{}", text(&o));
    }
    let before = backup_sets(f.root());
    assert_eq!(before.len(), 52);
    let v = json(&run(&mut q(f.root(), &["--json", "audit"])));
    let many = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "many-backups")
        .unwrap_or_else(|| panic!("no many-backups finding: {v}"));
    assert_eq!(many["severity"], "info");
    let fix = many["fix"].as_str().unwrap();
    let cmd = &fix[fix.find("qrescue ").unwrap()..];
    assert!(cmd.ends_with("backups --prune --keep 20"), "{cmd}");
    // An unfinished transaction whose backup is the oldest set (its clock was behind).
    let oldest = before[0].1.clone();
    let intent = serde_json::json!({
        "pid": 1, "started": "2026-01-01T00:00:00Z", "backup_id": oldest,
        "files": [], "written": [], "scratch": []
    });
    f.put(
        &format!("{}/txn.json", f.state_dir()),
        intent.to_string().as_bytes(),
        0o600,
    );
    let bin_dir = path_with_qrescue();
    let old_path = std::env::var("PATH").unwrap_or_default();
    let o = if common::native() {
        Command::new("sh")
            .args(["-c", cmd])
            .env("PATH", format!("{}:{old_path}", bin_dir.path().display()))
            .output()
            .unwrap()
    } else {
        run(&mut q(f.root(), &["backups", "--prune", "--keep", "20"]))
    };
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("kept {oldest}")), "{out}");
    let after = backup_sets(f.root());
    let mut expect: Vec<(String, String)> = before[before.len() - 20..].to_vec();
    expect.insert(0, before[0].clone());
    assert_eq!(after, expect);
    // Nothing of a removed set is left behind.
    for (_, id) in &before[1..before.len() - 20] {
        assert!(!f.path(&format!("{}/backups/{id}", f.state_dir())).exists());
    }
    // --keep is required, and at least 1.
    let o = run(&mut q(f.root(), &["backups", "--prune"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = run(&mut q(f.root(), &["backups", "--prune", "--keep", "0"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(backup_sets(f.root()), after);
}

/// What Samba's own parser (testparm) makes of a QTS smb.conf: `param` in `[global]`.
fn testparm(f: &Fixture, param: &str) -> String {
    let o = Command::new("testparm")
        .args(["-s", &format!("--parameter-name={param}")])
        .arg(f.path("/mnt/HDA_ROOT/.config/smb.conf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The fixtures' captured smb.conf forms, read by Samba itself: `smb passwd file=PATH ` (no
/// spaces, a trailing blank) is that path, and without a `passdb backend` line Samba's own
/// default is tdbsam — which is why qrescue decides from what exists and says it assumed.
#[test]
#[ignore = "needs testparm (Samba)"]
fn samba_reads_the_captured_forms_as_qrescue_does() {
    if !common::skip::tools(
        "samba_reads_the_captured_forms_as_qrescue_does",
        &[("testparm", "samba-common-bin")],
    ) {
        return;
    }
    let f = Fixture::new(Layout::Qts4);
    assert_eq!(testparm(&f, "passdb backend"), "smbpasswd");
    assert_eq!(testparm(&f, "smb passwd file"), "/etc/config/smbpasswd");
    let v = json(&run(&mut q(f.root(), &["--json", "status", "admin"])));
    assert_eq!(v["samba"]["in_root"], "/etc/config/smbpasswd", "{v}");
    assert_eq!(
        v["samba"]["path"].as_str(),
        f.root().join("etc/config/smbpasswd").to_str(),
        "{v}"
    );
    f.put(
        "/mnt/HDA_ROOT/.config/smb.conf",
        SMB_CONF_QTS3.as_bytes(),
        0o644,
    );
    assert_eq!(testparm(&f, "passdb backend"), "tdbsam");
    assert_eq!(testparm(&f, "smb passwd file"), "/etc/config/smbpasswd");
    let v = json(&run(&mut q(f.root(), &["--json", "status", "admin"])));
    assert_eq!(v["samba"]["in_root"], "/etc/config/smbpasswd", "{v}");
    assert_eq!(
        v["samba"]["path"].as_str(),
        f.root().join("etc/config/smbpasswd").to_str(),
        "{v}"
    );
    assert!(
        v["samba_basis"].as_str().unwrap().contains("assumed"),
        "{v}"
    );
}

/// `backups --prune` takes the locks a change takes: while another program holds
/// `/etc/.pwd.lock` (lckpwdf, as shadow-utils does) it removes nothing; once released it
/// prunes.
#[test]
#[ignore = "needs python3"]
fn prune_waits_for_the_locks_a_change_takes() {
    let f = Fixture::new(Layout::Qts5);
    for i in 0..3 {
        let o = run(&mut q(f.root(), &["backup", "--reason", &format!("n{i}")]));
        assert!(o.status.success(), "{}", text(&o));
    }
    let before = backup_sets(f.root());
    // A holder of the lckpwdf lock until its stdin closes.
    let lock = f.path("/etc/.pwd.lock");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\nsys.stdin.read()\n",
        ])
        .arg(&lock)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    let mut c = q(f.root(), &["backups", "--prune", "--keep", "1"]);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(backup_sets(f.root()), before, "pruned without the lock");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let o = common::wait::output_within(child, common::RUN_LIMIT, "prune");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(backup_sets(f.root()), before[2..].to_vec());
}
