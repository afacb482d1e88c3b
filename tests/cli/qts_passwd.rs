//! `passwd` does what QTS does and refuses what QTS refuses (issue 13, items 1 to 5), through
//! the binary on fixture roots: the firmware's empty-salt MD5-crypt checked against
//! `openssl passwd -1 -salt ''`; each factory default refused with exit 2 and the stores
//! byte-identical; the lock state kept (or lifted with `--unlock`) as pam_unix and smbd see
//! it; the password read and checked in `--dry-run`; one stdin line; the terminal restored
//! when the prompt is interrupted under busybox ash; every printed hint run as printed.
//!
//! Needs (.ci/run installs them): openssl, pamtester, samba, smbclient, busybox-static,
//! python3; runs as root (mount namespaces for pam_unix and smbd).

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::fixture::{Fixture, Layout, assert_same};
use crate::common::{qrescue, run, run_with_stdin};

const NEW: &str = "Qts-Like-Pass-42";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn passwd_with(root: &Path, args: &[&str], stdin: &str) -> Output {
    let mut c = qrescue();
    c.arg("--root").arg(root).arg("passwd").args(args);
    run_with_stdin(&mut c, stdin.as_bytes())
}

/// The account's field `idx` in a colon file of the fixture.
fn field(f: &Fixture, inside: &str, user: &str, idx: usize) -> String {
    let t = text(&f.read(inside));
    t.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|x| x[0] == user)
        .map(|x| x[idx].to_string())
        .unwrap_or_else(|| panic!("no {user} in {inside}"))
}

fn openssl_md5_empty_salt(password: &str) -> String {
    let mut c = Command::new("openssl");
    c.args(["passwd", "-1", "-salt", "", "-stdin"]);
    let o = run_with_stdin(&mut c, password.as_bytes());
    assert!(o.status.success(), "openssl: {}", text(&o.stderr));
    text(&o.stdout).trim().to_string()
}

#[test]
#[ignore = "needs openssl"]
fn empty_salt_md5_is_kept_exactly_as_the_firmware_writes_it() {
    if !common::skip::tools(
        "empty_salt_md5_is_kept_exactly_as_the_firmware_writes_it",
        &[("openssl", "openssl")],
    ) {
        return;
    }
    // QTS 4-like fixture: admin holds `$1$$…` in both shadow copies.
    let f = Fixture::new(Layout::Qts4);
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let want = openssl_md5_empty_salt(NEW);
    assert!(want.starts_with("$1$$"), "{want}");
    for s in f.shadow_files() {
        assert_eq!(field(&f, s, "admin", 1), want, "{s}");
    }
    assert!(
        text(&o.stdout).contains("empty salt"),
        "{}",
        text(&o.stdout)
    );
    // Asked for, the salted form is still there; status keeps flagging the empty salt.
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["status", "admin"]));
    assert!(
        text(&o.stdout).contains("md5-empty-salt"),
        "{}",
        text(&o.stdout)
    );
    let o = passwd_with(
        f.root(),
        &["admin", "--password-stdin", "--scheme", "md5"],
        &format!("{NEW}\n"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let h = field(&f, f.shadow_path(), "admin", 1);
    assert!(
        h.starts_with("$1$") && !h.starts_with("$1$$") && h.len() == 34,
        "{h}"
    );
}

#[test]
fn factory_defaults_are_refused_with_exit_2_and_nothing_changed() {
    let f = Fixture::new(Layout::Qts5);
    f.add_adapter("eth0", "00:08:9b:f1:23:34");
    f.add_adapter("eth1", "24:5e:be:00:aa:01");
    let before = f.snapshot();
    for (pw, what) in [
        ("admin", "before QTS 4.4.2"),
        ("00089BF12334", "MAC address of eth0"),
        ("245EBE00AA01", "MAC address of eth1"),
        ("", "empty"),
    ] {
        for dry in [false, true] {
            let mut args = vec!["admin", "--password-stdin"];
            if dry {
                args.push("--dry-run");
            }
            let o = passwd_with(f.root(), &args, &format!("{pw}\n"));
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{pw:?} dry={dry}: {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(what), "{pw:?}: {err}");
            assert!(
                pw.is_empty() || !err.contains(pw),
                "the value is never shown: {err}"
            );
            assert_same(&before, &f.snapshot(), pw);
        }
    }
    // The MAC in another form is not the default; --allow-default sets the default anyway.
    let o = passwd_with(
        f.root(),
        &["admin", "--password-stdin", "--allow-default"],
        "00089BF12334\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run_with_stdin(
        qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["verify", "admin", "--password-stdin"]),
        b"00089BF12334\n",
    );
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
}

#[test]
fn short_and_unchanged_passwords_warn_but_are_set() {
    let f = Fixture::new(Layout::Qts5);
    let o = common::passwd(f.root(), "admin", "abc");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("has 3 characters; 8 or more"),
        "{}",
        text(&o.stderr)
    );
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success());
    assert!(
        text(&o.stderr).contains("the same as the current one"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn dry_run_reads_and_checks_the_password_as_the_real_run_does() {
    let f = Fixture::new(Layout::Qts5);
    let before = f.snapshot();
    let long = "x".repeat(65);
    for pw in [long.as_str(), "admin", "tab\there"] {
        let real = passwd_with(f.root(), &["admin", "--password-stdin"], &format!("{pw}\n"));
        let dry = passwd_with(
            f.root(),
            &["admin", "--password-stdin", "--dry-run"],
            &format!("{pw}\n"),
        );
        assert_eq!(real.status.code(), Some(2), "{}", text(&real.stderr));
        assert_eq!(
            dry.status.code(),
            real.status.code(),
            "{}",
            text(&dry.stderr)
        );
        assert_eq!(text(&dry.stderr), text(&real.stderr));
        assert_same(&before, &f.snapshot(), "refused");
    }
    // Nothing on standard input: the dry run fails as the real one does.
    let dry = passwd_with(f.root(), &["admin", "--password-stdin", "--dry-run"], "");
    assert_eq!(dry.status.code(), Some(2), "{}", text(&dry.stderr));
    let dry = passwd_with(
        f.root(),
        &["admin", "--password-stdin", "--dry-run"],
        &format!("{NEW}\n"),
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("Nothing was changed"));
    assert_same(&before, &f.snapshot(), "dry run");
}

#[test]
fn password_stdin_takes_exactly_one_line_and_warns_on_user_prefix() {
    let f = Fixture::new(Layout::Qts5);
    let before = f.snapshot();
    for input in [
        format!("{NEW}\nsecond\n"),
        format!("{NEW}\n\n"),
        format!("{NEW}\r\nx"),
    ] {
        let o = passwd_with(f.root(), &["admin", "--password-stdin"], &input);
        assert_eq!(o.status.code(), Some(2), "{input:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains("exactly one line"),
            "{}",
            text(&o.stderr)
        );
        assert_same(&before, &f.snapshot(), "two lines");
    }
    // Without a final newline it is still one line.
    let o = passwd_with(f.root(), &["admin", "--password-stdin"], NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // chpasswd's habit: warned, and the literal line is the password.
    let o = passwd_with(
        f.root(),
        &["admin", "--password-stdin"],
        "admin:Chpasswd-Habit-1\n",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("starts with \"admin:\""),
        "{}",
        text(&o.stderr)
    );
    let o = run_with_stdin(
        qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["verify", "admin", "--password-stdin"]),
        b"admin:Chpasswd-Habit-1\n",
    );
    assert!(o.status.success(), "{}", text(&o.stdout));
    // Another user's prefix is not the chpasswd form for this target.
    let o = passwd_with(
        f.root(),
        &["admin", "--password-stdin"],
        "bob:Not-A-Prefix-1\n",
    );
    assert!(
        !text(&o.stderr).contains("starts with"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn rounds_above_a_million_warn_with_an_estimated_login_time() {
    let f = Fixture::new(Layout::Qts5);
    let o = passwd_with(
        f.root(),
        &[
            "admin",
            "--password-stdin",
            "--dry-run",
            "--rounds",
            "20000000",
        ],
        &format!("{NEW}\n"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("--rounds 20000000: every login"), "{err}");
    assert!(
        err.contains("estimated from qrescue's own timed hash"),
        "{err}"
    );
    let secs: f64 = err
        .split("take about ")
        .nth(1)
        .and_then(|r| r.split(" s ").next())
        .and_then(|n| n.parse().ok())
        .expect("a number of seconds");
    assert!(secs > 0.5, "{err}");
    let o = passwd_with(
        f.root(),
        &[
            "admin",
            "--password-stdin",
            "--dry-run",
            "--rounds",
            "1000000",
        ],
        &format!("{NEW}\n"),
    );
    assert!(
        !text(&o.stderr).contains("every login"),
        "{}",
        text(&o.stderr)
    );
}

/// A directory holding `qrescue` (a link to the binary under test) for PATH, so a printed
/// command runs exactly as printed.
fn path_with_qrescue() -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(common::bin(), d.path().join("qrescue")).unwrap();
    let path = format!(
        "{}:{}",
        d.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (d, path)
}

fn sh(cmdline: &str, path: &str) -> Output {
    let mut c = Command::new("sh");
    c.args(["-c", cmdline]).env("PATH", path);
    run(&mut c)
}

/// The text between the first pair of backticks or parentheses after `marker`.
fn hint_after<'a>(out: &'a str, marker: &str, close: char) -> &'a str {
    let rest = &out[out
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {out}"))
        + marker.len()..];
    &rest[..rest.find(close).unwrap()]
}

#[test]
fn printed_hints_act_on_the_fixture_root_as_printed() {
    let f = Fixture::new(Layout::Qts5);
    let host_shadow = std::fs::read("/etc/shadow").ok();
    let before = f.credentials();
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let undo = hint_after(&out, "(undo with: ", ')');
    assert!(undo.starts_with("qrescue --root "), "{undo}");
    let (_d, path) = path_with_qrescue();
    let r = sh(undo, &path);
    assert!(r.status.success(), "{undo}: {}", text(&r.stderr));
    assert_same(&before, &f.credentials(), "after the printed undo");
    assert_eq!(
        std::fs::read("/etc/shadow").ok(),
        host_shadow,
        "the host's shadow is untouched"
    );

    // restore's own undo hint puts the changed password back, in the fixture root.
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let changed = f.credentials();
    let id = common::backup_ids(f.root()).pop().unwrap();
    let o = run(qrescue().arg("--root").arg(f.root()).args(["restore", &id]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_same(&before, &f.credentials(), "restored");
    let undo = hint_after(&text(&o.stdout), "(undo with: ", ')').to_string();
    assert!(undo.starts_with("qrescue --root "), "{undo}");
    let r = sh(&undo, &path);
    assert!(r.status.success(), "{undo}: {}", text(&r.stderr));
    assert_same(&changed, &f.credentials(), "after restore's printed undo");

    // verify's hint after a mismatch sets the password in the fixture root.
    let o = run_with_stdin(
        qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["verify", "admin", "--password-stdin"]),
        b"Not-The-Password-1\n",
    );
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    let hint = hint_after(&out, "To set a new password in every store: ", '\n');
    let r = run_with_stdin(
        Command::new("sh")
            .args(["-c", &format!("{hint} --password-stdin")])
            .env("PATH", &path),
        b"Not-The-Password-1\n",
    );
    assert!(r.status.success(), "{hint}: {}", text(&r.stderr));
    let o = run_with_stdin(
        qrescue()
            .arg("--root")
            .arg(f.root())
            .args(["verify", "admin", "--password-stdin"]),
        b"Not-The-Password-1\n",
    );
    assert!(o.status.success(), "{}", text(&o.stdout));

    // The lock-state hint: --unlock, complete with --root.
    let locked = format!("!{}", field(&f, f.shadow_path(), "admin", 1));
    f.set_field(f.shadow_path(), "admin", 1, &locked);
    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("admin stays locked in shadow: add --unlock"),
        "{out}"
    );
    let hint = hint_after(&out, "add --unlock to enable it (", ')');
    let r = run_with_stdin(
        Command::new("sh")
            .args(["-c", &format!("{hint} --password-stdin")])
            .env("PATH", &path),
        format!("{NEW}\n").as_bytes(),
    );
    assert!(r.status.success(), "{hint}: {}", text(&r.stderr));
    assert!(!field(&f, f.shadow_path(), "admin", 1).starts_with('!'));
    // status names the same complete command while the account is locked.
    let hash = field(&f, f.shadow_path(), "admin", 1);
    f.set_field(f.shadow_path(), "admin", 1, &format!("!{hash}"));
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["status", "admin"]));
    let out = text(&o.stdout);
    let hint = hint_after(&out, "to enable the account with a new password: ", '\n');
    let r = run_with_stdin(
        Command::new("sh")
            .args(["-c", &format!("{hint} --password-stdin")])
            .env("PATH", &path),
        format!("{NEW}\n").as_bytes(),
    );
    assert!(r.status.success(), "{hint}: {}", text(&r.stderr));
    assert!(!field(&f, f.shadow_path(), "admin", 1).starts_with('!'));
    assert_eq!(
        std::fs::read("/etc/shadow").ok(),
        host_shadow,
        "the host's shadow is untouched"
    );
}

#[test]
fn samba_note_for_another_backend_is_complete_and_right() {
    let f = Fixture::new(Layout::Qts5);
    let conf = text(&f.read("/mnt/HDA_ROOT/.config/smb.conf"))
        .replace("passdb backend = smbpasswd", "passdb backend = tdbsam");
    f.put("/mnt/HDA_ROOT/.config/smb.conf", conf.as_bytes(), 0o644);
    let o = common::passwd(f.root(), "bob", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(!out.contains("smbpasswd -a"), "{out}");
    assert!(
        out.contains("`smbpasswd -c /etc/config/smb.conf bob`"),
        "{out}"
    );
    assert!(out.contains("on the box itself"), "{out}");
}

#[test]
#[ignore = "needs python3"]
fn lock_wait_names_the_holder_after_a_second() {
    if !common::skip::tools(
        "lock_wait_names_the_holder_after_a_second",
        &[("python3", "python3")],
    ) {
        return;
    }
    let f = Fixture::new(Layout::Qts5);
    let lock = f.path("/etc/.pwd.lock");
    // python3 holds lckpwdf's fcntl lock for 2.5 s, as passwd would.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(2.5)",
        ])
        .arg(&lock)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    let o = common::passwd(f.root(), "admin", NEW);
    let _ = holder.wait();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("held by process {} (python3)", holder.id())),
        "{err}"
    );
}

// ---- lock state as pam_unix and smbd see it ----

/// Whether pam_unix accepts `password` for admin with these passwd/shadow files (as in
/// tests/peers/peer_pam.rs).
fn pam_ok(passwd: &Path, shadow: &Path, password: &str) -> bool {
    let pamd = tempfile::tempdir().unwrap();
    std::fs::write(
        pamd.path().join("qrescue-test"),
        "auth required pam_unix.so\naccount required pam_unix.so\n",
    )
    .unwrap();
    let script = format!(
        "mount --bind {p} /etc/passwd && mount --bind {s} /etc/shadow && mount --bind {d} /etc/pam.d && exec pamtester qrescue-test admin authenticate",
        p = passwd.display(),
        s = shadow.display(),
        d = pamd.path().display()
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c", &script]);
    let o = run_with_stdin(&mut c, format!("{password}\n").as_bytes());
    let err = text(&o.stderr);
    assert!(
        !err.contains("not found") && !err.contains("mount:"),
        "{err}"
    );
    if o.status.success() {
        true
    } else {
        assert!(err.contains("Authentication failure"), "{err}");
        false
    }
}

#[test]
#[ignore = "needs root (a mount namespace), pamtester, smbd and smbclient"]
fn lock_state_is_kept_in_every_store_unless_unlock() {
    if !common::skip::tools(
        "lock_state_is_kept_in_every_store_unless_unlock",
        &[
            ("pamtester", "pamtester"),
            ("unshare", "util-linux"),
            ("smbd", "samba"),
            ("smbclient", "smbclient"),
        ],
    ) {
        return;
    }
    let f = Fixture::new(Layout::Qts5);
    let (passwd, shadow, smb) = (
        f.path("/mnt/HDA_ROOT/.config/passwd"),
        f.path("/mnt/HDA_ROOT/.config/shadow"),
        f.path("/mnt/HDA_ROOT/.config/smbpasswd"),
    );
    // admin disabled as QNAP recommends: `!` in shadow, `D` in Samba.
    let hash = field(&f, f.shadow_path(), "admin", 1);
    f.set_field(f.shadow_path(), "admin", 1, &format!("!{hash}"));
    f.set_field(
        "/mnt/HDA_ROOT/.config/smbpasswd",
        "admin",
        4,
        "[DU         ]",
    );
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["status", "admin"]));
    let st = text(&o.stdout);
    assert!(st.contains("locked") && st.contains("disabled"), "{st}");

    let o = common::passwd(f.root(), "admin", NEW);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("admin stays locked in shadow, disabled in Samba: add --unlock to enable it"),
        "{out}"
    );
    assert!(field(&f, f.shadow_path(), "admin", 1).starts_with("!$6$"));
    assert!(
        !pam_ok(&passwd, &shadow, NEW),
        "pam_unix must still refuse a locked admin"
    );
    {
        let smbd = common::smbd::start(&smb);
        assert_eq!(smbd.verdict(NEW), "NT_STATUS_ACCOUNT_DISABLED");
    }
    // The same password with --unlock: enabled everywhere, in one transaction (one backup).
    let backups = common::backup_ids(f.root()).len();
    let o = passwd_with(
        f.root(),
        &["admin", "--password-stdin", "--unlock"],
        &format!("{NEW}\n"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(common::backup_ids(f.root()).len(), backups + 1);
    assert!(
        pam_ok(&passwd, &shadow, NEW),
        "pam_unix accepts after --unlock"
    );
    let smbd = common::smbd::start(&smb);
    assert_eq!(smbd.verdict(NEW), "ok");
    assert_eq!(
        field(&f, "/mnt/HDA_ROOT/.config/smbpasswd", "admin", 4),
        "[U          ]"
    );
    let o = run(qrescue()
        .arg("--root")
        .arg(f.root())
        .args(["status", "admin"]));
    let st = text(&o.stdout);
    assert!(!st.contains("locked") && !st.contains("disabled"), "{st}");
}

/// Python drives a pty: busybox ash runs qrescue at the prompt, the test checks the echo is
/// off, interrupts it (^C as the terminal sends it, or SIGTERM to qrescue), and reads the
/// terminal's flags after qrescue is gone.
const PTY_DRIVER: &str = r#"
import os, pty, sys, termios, time, signal
bb, q, root, how = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(bb, [bb, "ash", "-c", q + " --root " + root + " passwd admin; echo rc=$?; sleep 5"])
buf = b""
deadline = time.time() + 30
while b"New password" not in buf and time.time() < deadline:
    buf += os.read(fd, 1024)
time.sleep(0.3)
echo_during = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
if how == "int":
    os.write(fd, b"\x03")
else:
    kids = [p for p in os.listdir("/proc") if p.isdigit()]
    for k in kids:
        try:
            st = open("/proc/%s/stat" % k).read()
        except OSError:
            continue
        if int(st.rsplit(")", 1)[1].split()[1]) == pid and "qrescue" in st:
            os.kill(int(k), signal.SIGTERM)
deadline = time.time() + 10
while b"rc=" not in buf and time.time() < deadline:
    try:
        buf += os.read(fd, 1024)
    except OSError:
        break
echo_after = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print("during=%s after=%s" % (echo_during, echo_after))
print(buf.decode(errors="replace").replace("\r", ""))
"#;

#[test]
#[ignore = "needs busybox and python3"]
fn interrupted_prompt_restores_the_terminal_under_busybox_ash() {
    let bb = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(bb) = bb else {
        common::skip::skip(
            "interrupted_prompt_restores_the_terminal_under_busybox_ash",
            "no busybox (busybox-static)",
        );
        return;
    };
    common::skip::require_native("interrupted_prompt_restores_the_terminal_under_busybox_ash");
    for how in ["int", "term"] {
        let f = Fixture::new(Layout::Qts5);
        let before = f.snapshot();
        let o = run(Command::new("python3")
            .args(["-c", PTY_DRIVER, bb])
            .arg(common::bin())
            .arg(f.root())
            .arg(how));
        let out = text(&o.stdout);
        assert!(o.status.success(), "{out}{}", text(&o.stderr));
        assert!(out.contains("during=False after=True"), "{how}: {out}");
        let want_rc = if how == "int" { "rc=130" } else { "rc=143" };
        // ash may die of ^C with its child; when it lives on, it reports the signal.
        if how == "term" {
            assert!(out.contains(want_rc), "{how}: {out}");
        }
        assert_same(&before, &f.snapshot(), how);
    }
}

/// Python drives a pty: the password is typed twice, then the Cloud Key from the label (in
/// the label's form, `q1234-5678`); prints the exit status and what was shown.
const PTY_CLOUD_KEY: &str = r#"
import os, pty, select, sys, time
q, root, pw, key = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(q, [q, "--root", root, "passwd", "admin", "--cloud-key"])
buf = b""
def wait_for(text):
    global buf
    deadline = time.time() + 20
    while text not in buf and time.time() < deadline:
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
for prompt, answer in ((b"New password", pw), (b"Retype", pw), (b"Cloud Key", key)):
    wait_for(prompt)
    buf = buf.replace(prompt, b"")
    # The prompt is shown before the echo is turned off with TCSAFLUSH: let that happen.
    time.sleep(0.3)
    os.write(fd, answer.encode() + b"\n")
wait_for(b"\x00never")
try:
    os.kill(pid, 9)  # only if it is still there after the deadline (a zombie keeps its status)
except OSError:
    pass
_, status = os.waitpid(pid, 0)
print("rc=%d" % os.waitstatus_to_exitcode(status))
print(buf.decode(errors="replace").replace("\r", ""))
"#;

#[test]
#[ignore = "needs python3"]
fn the_cloud_key_is_refused_with_cloud_key() {
    common::skip::require_native("the_cloud_key_is_refused_with_cloud_key");
    let f = Fixture::new(Layout::Qts5);
    let before = f.snapshot();
    let drive = |pw: &str| {
        let o = run(Command::new("python3")
            .args(["-c", PTY_CLOUD_KEY])
            .arg(common::bin())
            .arg(f.root())
            .args([pw, "q1234-5678"]));
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let out = drive("Q12345678");
    assert!(out.starts_with("rc=2\n"), "{out}");
    assert!(
        out.contains("the Cloud Key from the label: refused"),
        "{out}"
    );
    assert!(!out.contains("Q12345678"), "the key is never shown: {out}");
    assert_same(&before, &f.snapshot(), "cloud key refused");
    let out = drive(NEW);
    assert!(out.starts_with("rc=0\n"), "{out}");
}
