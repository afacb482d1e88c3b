//! Hostile and damaged roots through the real binary (issue 11, stores, cleanup, restore):
//! the owner's files beside the stores are never cleaned by name, a broken shadow never
//! sends the hash into passwd, Samba's password file is found where Samba finds it (QTS's
//! place when smb.conf is unusable, includes followed, checked against Samba's own
//! `testparm`), a second case spelling in smbpasswd is refused, a stored hash's cost is
//! bounded, store text is printed escaped, and `restore --user` puts back one account only
//! (checked with shadow-utils' `useradd -R`).

use std::fs;
use std::os::unix::fs::symlink;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::fixture::{Fixture, Layout, assert_same};
use crate::common::{backup_ids, passwd, qrescue, run};

const NEW: &str = "N3w-Pa55!word";

fn q(f: &Fixture, args: &[&str]) -> Command {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).args(args);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run with `stdin`, killing the process after `limit` (a hang is a failure, not a wait).
fn run_bounded(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn qrescue");
    {
        let mut si = child.stdin.take().expect("stdin");
        let _ = si.write_all(stdin);
    }
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!(
                "qrescue still running after {limit:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn passwd_bounded(f: &Fixture, user: &str, pw: &str) -> Output {
    run_bounded(
        &mut q(f, &["passwd", user, "--password-stdin"]),
        format!("{pw}\n").as_bytes(),
        Duration::from_secs(60),
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Field `idx` of `user`'s line.
fn field(bytes: &[u8], user: &str, idx: usize) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .find(|l| l.split(':').next() == Some(user))
        .and_then(|l| l.split(':').nth(idx).map(str::to_string))
}

/// Samba's NT hash of `pw`, computed by Python (MD4 over UTF-16LE) as an oracle.
fn nt_oracle(pw: &str) -> String {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys,hashlib; print(hashlib.new('md4', sys.argv[1].encode('utf-16le')).hexdigest().upper())",
            pw,
        ])
        .output()
        .unwrap();
    if o.status.success() {
        return String::from_utf8_lossy(&o.stdout).trim().to_string();
    }
    // OpenSSL 3 hides MD4 in the legacy provider.
    let o = Command::new("sh")
        .args([
            "-c",
            "printf %s \"$1\" | iconv -f utf-8 -t utf-16le | openssl dgst -md4 -provider legacy -provider default -r",
            "sh",
            pw,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "no MD4 oracle: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_ascii_uppercase()
}

fn python_crypt_ok(pw: &str, hash: &str) -> bool {
    let o = Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], sys.argv[2]) == sys.argv[2])",
            pw,
            hash,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).trim() == "True"
}

/// A pid no process has: one that just exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

fn age(f: &Fixture, inside: &str) {
    let o = Command::new("touch")
        .args(["-h", "-d", "2020-01-01"])
        .arg(f.path(inside))
        .output()
        .unwrap();
    assert!(o.status.success());
}

// ---- 2. status deletes only what shadow-utils or qrescue could have written ----

#[test]
fn status_keeps_the_owners_dated_copies_and_foreign_files() {
    let f = Fixture::new(Layout::Qts5);
    let cfg = "/mnt/HDA_ROOT/.config";
    let shadow = f.read(&format!("{cfg}/shadow"));
    let smb = f.read(&format!("{cfg}/smbpasswd"));
    let dead = dead_pid();
    // The owner's copies: named like commonio's NAME.PID, holding whole files.
    f.put(&format!("{cfg}/shadow.20240101"), &shadow, 0o600);
    f.put(&format!("{cfg}/smbpasswd.2023"), &smb, 0o600);
    f.put(&format!("{cfg}/passwd.{dead}"), b"my notes\n", 0o600);
    // A pid-sized name whose content is another pid: not commonio's.
    f.put(&format!("{cfg}/group.{dead}"), b"1", 0o600);
    // An old NAME+ that differs from NAME: possibly the only copy of someone's edit.
    f.put(&format!("{cfg}/shadow+"), b"admin:edited:1::::::\n", 0o600);
    age(&f, &format!("{cfg}/shadow+"));
    // What commonio leaves when killed: NAME.PID and NAME.lock holding the dead pid.
    f.put(
        &format!("{cfg}/shadow.{dead}"),
        dead.to_string().as_bytes(),
        0o600,
    );
    f.put(
        &format!("{cfg}/shadow.lock"),
        dead.to_string().as_bytes(),
        0o600,
    );
    // An old NAME+ identical to NAME: removing it loses nothing.
    f.put(
        &format!("{cfg}/group+"),
        &f.read(&format!("{cfg}/group")),
        0o644,
    );
    age(&f, &format!("{cfg}/group+"));

    let o = run(&mut q(&f, &["status"]));
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    for (name, bytes) in [
        ("shadow.20240101".to_string(), shadow.clone()),
        ("smbpasswd.2023".to_string(), smb.clone()),
        (format!("passwd.{dead}"), b"my notes\n".to_vec()),
        (format!("group.{dead}"), b"1".to_vec()),
        ("shadow+".to_string(), b"admin:edited:1::::::\n".to_vec()),
    ] {
        let p = f.path(&format!("{cfg}/{name}"));
        assert!(p.exists(), "status removed the owner's {name}:\n{out}");
        assert_eq!(fs::read(&p).unwrap(), bytes, "{name} changed");
    }
    for name in [
        format!("shadow.{dead}"),
        "shadow.lock".into(),
        "group+".into(),
    ] {
        assert!(
            !f.path(&format!("{cfg}/{name}")).exists(),
            "stale {name} kept:\n{out}"
        );
    }
    // A differing temp file blocks writers: it is reported with what to do.
    assert!(out.contains("shadow+") && out.contains("by hand"), "{out}");
}

// ---- 3. a shadow name that does not resolve to a shadow file ----

#[test]
fn dangling_or_misdirected_shadow_is_refused_not_bypassed() {
    // QTS 5: /etc/shadow -> /etc/config/shadow, which is gone.
    let f = Fixture::new(Layout::Qts5);
    fs::remove_file(f.path("/mnt/HDA_ROOT/.config/shadow")).unwrap();
    let before = f.snapshot();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert!(text(&o).contains("shadow"), "{}", text(&o));
    assert_same(&f.snapshot(), &before, "dangling shadow");

    // Plain root: /etc/shadow points at passwd.
    let f = Fixture::new(Layout::Plain);
    fs::remove_file(f.path("/etc/shadow")).unwrap();
    symlink("passwd", f.path("/etc/shadow")).unwrap();
    let before = f.snapshot();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert_same(&f.snapshot(), &before, "shadow -> passwd");

    // Plain root: /etc/shadow dangling.
    let f = Fixture::new(Layout::Plain);
    fs::remove_file(f.path("/etc/shadow")).unwrap();
    symlink("/nonexistent/shadow", f.path("/etc/shadow")).unwrap();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert_eq!(field(&f.read("/etc/passwd"), "admin", 1).unwrap(), "x");
}

#[test]
fn a_dangling_runtime_smbpasswd_twin_is_noted_and_one_to_shadow_refused() {
    let f = Fixture::new(Layout::Qts5);
    symlink("/nowhere/smbpasswd", f.path("/etc/smbpasswd")).unwrap();
    let o = passwd_bounded(&f, "admin", NEW);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("dangling"),
        "{}",
        text(&o)
    );
    // The twin pointing at shadow: the NT line would be written into shadow.
    let f = Fixture::new(Layout::Qts5);
    symlink("/etc/config/shadow", f.path("/etc/smbpasswd")).unwrap();
    let before = f.snapshot();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert_same(&f.snapshot(), &before, "smbpasswd twin -> shadow");
}

#[test]
fn audit_flags_crypt_hashes_in_a_world_readable_file() {
    let f = Fixture::new(Layout::Plain);
    fs::remove_file(f.path("/etc/shadow")).unwrap();
    f.set_field(
        "/etc/passwd",
        "bob",
        1,
        "$6$bobsalt$gsDYPSzijjpeyq447FRMNQRQJk8ORwtmVxYMV24tnGHuhhg27SktU4IDhopvaMqQnJiXDoY10TXhjjEuqAm6K.",
    );
    let o = run(&mut q(&f, &["--json", "audit"]));
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hit = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "hash-exposed")
        .unwrap_or_else(|| panic!("no hash-exposed finding: {v}"));
    assert_eq!(hit["severity"], "high");
    assert!(hit["message"].as_str().unwrap().contains("bob"), "{hit}");
}

// ---- 4. Samba's password file when smb.conf is unusable (QTS) ----

#[test]
#[ignore = "needs python3 or openssl (MD4)"]
fn unusable_smb_conf_on_qts_still_changes_samba_password_file() {
    let cfg = "/mnt/HDA_ROOT/.config";
    for variant in ["missing", "dangling", "directory", "fifo"] {
        let f = Fixture::new(Layout::Qts5);
        let conf = f.path(&format!("{cfg}/smb.conf"));
        fs::remove_file(&conf).unwrap();
        match variant {
            "missing" => fs::remove_file(f.path("/etc/smb.conf")).unwrap(),
            "dangling" => {}
            "directory" => fs::create_dir(&conf).unwrap(),
            "fifo" => {
                nix::unistd::mkfifo(&conf, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap()
            }
            _ => unreachable!(),
        }
        let o = passwd_bounded(&f, "admin", NEW);
        assert!(o.status.success(), "{variant}: {}", text(&o));
        let nt = field(&f.read(&format!("{cfg}/smbpasswd")), "admin", 3).unwrap();
        assert_eq!(nt, nt_oracle(NEW), "{variant}: smbpasswd not changed");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("smbpasswd") && err.lines().count() == 1,
            "{variant}: say why, on one line: {err}"
        );
        let o = run_bounded(
            &mut q(&f, &["verify", "admin", "--password-stdin"]),
            format!("{NEW}\n").as_bytes(),
            Duration::from_secs(60),
        );
        assert_eq!(code(&o), 0, "{variant}: {}", text(&o));
    }
}

#[test]
fn audit_checks_every_smbpasswd_it_can_find() {
    let cfg = "/mnt/HDA_ROOT/.config";
    let f = Fixture::new(Layout::Qts5);
    // smb.conf names another file; QTS's own smbpasswd keeps the factory NT hash.
    f.put(
        &format!("{cfg}/smb.conf"),
        b"[global]\npassdb backend = smbpasswd\nsmb passwd file = /etc/config/samba.pw\n",
        0o644,
    );
    f.put(
        &format!("{cfg}/samba.pw"),
        &f.read(&format!("{cfg}/smbpasswd")),
        0o600,
    );
    let o = passwd_bounded(&f, "admin", NEW);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&mut q(&f, &["--json", "audit", "admin"]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let defaults: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["id"] == "default-password")
        .map(|x| x["path"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        defaults.iter().any(|p| p.ends_with(".config/smbpasswd")),
        "QTS's smbpasswd with the factory hash not flagged: {v}"
    );
    assert_eq!(code(&o), 1);
}

// ---- 5. smb.conf includes, against Samba's testparm ----

/// What Samba's own parser says `smb passwd file` is for the fixture's smb.conf. The root is
/// made visible at its host path inside itself (`ROOT/<root path>` -> `/`), so absolute
/// include paths mean the same file to testparm on the host and to qrescue in the root.
fn testparm_smb_passwd_file(f: &Fixture) -> Option<String> {
    let o = Command::new("testparm")
        .args(["-s", "--parameter-name=smb passwd file"])
        .arg(f.path("/mnt/HDA_ROOT/.config/smb.conf"))
        .output()
        .ok()?;
    o.status.success().then(|| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

#[test]
#[ignore = "needs testparm (Samba)"]
fn smb_conf_includes_are_followed_as_samba_does() {
    let cfg = "/mnt/HDA_ROOT/.config";
    let f = Fixture::new(Layout::Qts5);
    let host = f.root().to_str().unwrap().to_string();
    // ROOT/<host path of ROOT> -> / : the same absolute path works in both views.
    let mirror = f.path(&host);
    fs::create_dir_all(mirror.parent().unwrap()).unwrap();
    symlink("/", &mirror).unwrap();
    // Paths without the root's absolute /etc/config link, so the host resolves them too.
    let inc = format!("{host}{cfg}/smb.d/passdb.conf");
    let real_pw = format!("{host}{cfg}/samba/smbpasswd");
    f.put(
        &format!("{cfg}/smb.conf"),
        format!(
            "[global]\n   workgroup = NAS\n   smb passwd file = /etc/config/smbpasswd\n   include = {inc}\n   include = {host}{cfg}/smb.d/missing.conf\n[Public]\n   path = /share/Public\n"
        )
        .as_bytes(),
        0o644,
    );
    f.put(
        &format!("{cfg}/smb.d/passdb.conf"),
        format!("passdb backend = smbpasswd\nsmb passwd file = {real_pw}\n").as_bytes(),
        0o644,
    );
    let original = f.read(&format!("{cfg}/smbpasswd"));
    f.put(&format!("{cfg}/samba/smbpasswd"), &original, 0o600);
    let samba_says = testparm_smb_passwd_file(&f).expect("testparm (samba-common-bin) runs");
    assert_eq!(samba_says, real_pw, "the fixture's premise, per Samba");
    let o = passwd_bounded(&f, "admin", NEW);
    assert!(o.status.success(), "{}", text(&o));
    let nt = field(&f.read(&format!("{cfg}/samba/smbpasswd")), "admin", 3).unwrap();
    assert_eq!(nt, nt_oracle(NEW), "the included smbpasswd was not changed");
    assert_eq!(
        f.read(&format!("{cfg}/smbpasswd")),
        original,
        "the file Samba does not read was changed"
    );

    // A % substitution in an include: which file Samba reads depends on the client.
    let f = Fixture::new(Layout::Qts5);
    f.put(
        &format!("{cfg}/smb.conf"),
        b"[global]\ninclude = /etc/config/smb.conf.%m\n",
        0o644,
    );
    let before = f.snapshot();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert!(text(&o).contains('%'), "{}", text(&o));
    assert_same(&f.snapshot(), &before, "% include");

    // An include loop ends with a clear error, never a hang.
    let f = Fixture::new(Layout::Qts5);
    f.put(
        &format!("{cfg}/smb.conf"),
        b"[global]\ninclude = /etc/config/smb.conf\n",
        0o644,
    );
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
}

// ---- 6. case variants in smbpasswd ----

#[test]
fn another_case_spelling_in_smbpasswd_is_refused() {
    let cfg = "/mnt/HDA_ROOT/.config";
    let f = Fixture::new(Layout::Qts5);
    let smb = String::from_utf8(f.read(&format!("{cfg}/smbpasswd"))).unwrap();
    let admin = smb.lines().next().unwrap().to_string();
    // Samba matches names case-insensitively and takes the first: ADMIN's hash is used.
    f.put(
        &format!("{cfg}/smbpasswd"),
        format!("{}\n{smb}", admin.replacen("admin", "ADMIN", 1)).as_bytes(),
        0o600,
    );
    let before = f.snapshot();
    let o = passwd_bounded(&f, "admin", NEW);
    assert_eq!(code(&o), 65, "{}", text(&o));
    assert!(text(&o).contains("case"), "{}", text(&o));
    assert_same(&f.snapshot(), &before, "case variants");
}

// ---- Also: the cost of a stored hash ----

#[test]
#[ignore = "needs python3's crypt"]
fn a_stored_hash_with_huge_rounds_is_bounded_and_not_kept() {
    let f = Fixture::new(Layout::Qts5);
    let shadow = "/mnt/HDA_ROOT/.config/shadow";
    f.set_field(
        shadow,
        "admin",
        1,
        "$6$rounds=999999999$qnapsalt$WkDga3ziBlGp0rWPPM4c1W1J7JPbiRhPvXFFlB/Btq/h9.3/27FegzCK1b9AyonSno/YPDIPMwrukoLRpuhc71",
    );
    // Computing 999999999 rounds takes minutes: a bound that is not respected shows as a
    // timeout here.
    let o = run_bounded(
        &mut q(&f, &["verify", "admin", "--password-stdin"]),
        b"admin\n",
        Duration::from_secs(60),
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("ceiling"), "{}", text(&o));
    let o = run_bounded(
        &mut q(&f, &["--json", "audit", "admin"]),
        b"",
        Duration::from_secs(60),
    );
    assert!(text(&o).contains("excessive-rounds"), "{}", text(&o));
    let o = passwd_bounded(&f, "admin", NEW);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ceiling"), "{}", text(&o));
    let h = field(&f.read(shadow), "admin", 1).unwrap();
    assert!(!h.contains("rounds="), "{h}");
    assert!(python_crypt_ok(NEW, &h), "{h}");
}

// ---- Also: store text printed raw ----

#[test]
fn control_characters_from_the_stores_are_printed_escaped() {
    let f = Fixture::new(Layout::Qts5);
    let cfg = "/mnt/HDA_ROOT/.config";
    let evil = "ev\u{1b}[2K\ril";
    let mut pw = f.read(&format!("{cfg}/passwd"));
    pw.extend_from_slice(format!("\n{evil}:x:0:0::/:/bin/sh\n").as_bytes());
    f.put(&format!("{cfg}/passwd"), &pw, 0o644);
    let mut sh = f.read(&format!("{cfg}/shadow"));
    sh.extend_from_slice(format!("\n{evil}:!:19000:0:99999:7:::\n").as_bytes());
    f.put(&format!("{cfg}/shadow"), &sh, 0o600);
    let o = run(&mut q(&f, &["audit"]));
    let out = text(&o);
    assert!(out.contains("ev\\x1b[2K\\ril"), "{out:?}");
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
}

// ---- Also: restore one account only ----

/// Add a user the way an administrator would: shadow-utils' `useradd -R` (a chroot).
fn useradd(f: &Fixture, name: &str) {
    let o = Command::new("useradd")
        .arg("-R")
        .arg(f.root())
        .args(["-M", "-N", "-g", "100", "-s", "/bin/sh", "-p"])
        .arg(ZED_HASH)
        .args(["-G", "administrators"])
        .arg(name)
        .output()
        .unwrap();
    assert!(o.status.success(), "useradd: {}", text(&o));
}

/// SHA-512-crypt of "zed" (`openssl passwd -6 -salt zed zed`).
const ZED_HASH: &str =
    "$6$zed$m/t5uNKqWuBFMb9QzelELxmiU37f50E6ko9TqmUwK1UUVWkMoQpNups8m4UX.A6hWqTtjAkQhKQ/TKLxxAXB//";

/// `bytes` with `user`'s line replaced by `line`.
fn with_line(bytes: &[u8], user: &str, line: &str) -> Vec<u8> {
    let s = String::from_utf8_lossy(bytes);
    s.split('\n')
        .map(|l| {
            if l.split(':').next() == Some(user) {
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        .into_bytes()
}

fn line_of(bytes: &[u8], user: &str) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .find(|l| l.split(':').next() == Some(user))
        .map(str::to_string)
}

#[test]
#[ignore = "needs root, shadow-utils and python3's crypt"]
fn restore_user_puts_back_one_account_and_keeps_a_useradd_user() {
    let f = Fixture::new(Layout::Plain);
    let o = run(&mut q(&f, &["backup", "--reason", "before changes"]));
    assert!(o.status.success(), "{}", text(&o));
    let id = backup_ids(f.root()).pop().unwrap();
    let shadow_then = f.read("/etc/shadow");
    let admin_then = line_of(&shadow_then, "admin").unwrap();
    // After the backup: a new user by shadow-utils, admin leaves a group, a new password.
    useradd(&f, "zed");
    let group = String::from_utf8(f.read("/etc/group"))
        .unwrap()
        .replace("everyone:x:100:admin,", "everyone:x:100:");
    f.put("/etc/group", group.as_bytes(), 0o644);
    assert!(passwd(f.root(), "admin", NEW).status.success());
    let (pw_now, sh_now, gr_now) = (
        f.read("/etc/passwd"),
        f.read("/etc/shadow"),
        f.read("/etc/group"),
    );
    assert!(line_of(&sh_now, "zed").is_some() && line_of(&pw_now, "zed").is_some());

    // The whole-file dry run names every account that would change, and warns.
    let o = run(&mut q(&f, &["restore", &id, "--dry-run"]));
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("zed") && out.contains("admin") && out.contains("warning"),
        "{out}"
    );
    // Per user: only admin.
    let o = run(&mut q(
        &f,
        &["restore", &id, "--user", "admin", "--dry-run"],
    ));
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(!out.contains("zed") && !out.contains("warning"), "{out}");
    assert!(out.contains("admin"), "{out}");

    let o = run(&mut q(&f, &["restore", &id, "--user", "admin"]));
    assert!(o.status.success(), "{}", text(&o));
    // Exactly admin's shadow line changed back; zed kept everything useradd wrote.
    assert_eq!(
        f.read("/etc/shadow"),
        with_line(&sh_now, "admin", &admin_then)
    );
    assert_eq!(f.read("/etc/passwd"), pw_now);
    assert_eq!(
        String::from_utf8(f.read("/etc/group")).unwrap(),
        String::from_utf8(gr_now.clone()).unwrap().replace(
            "everyone:x:100:guest,bob,carol,dave",
            "everyone:x:100:guest,bob,carol,dave,admin"
        )
    );
    let h = field(&f.read("/etc/shadow"), "admin", 1).unwrap();
    assert!(python_crypt_ok("admin", &h) && !python_crypt_ok(NEW, &h));
    assert!(python_crypt_ok(
        "zed",
        &field(&f.read("/etc/shadow"), "zed", 1).unwrap()
    ));
    // shadow-utils still reads the result: pwck -r finds every line well-formed.
    let o = Command::new("pwck")
        .args(["-r", "-q", "-R"])
        .arg(f.root())
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("zed"),
        "{}",
        text(&o)
    );

    // Restoring the same account again changes nothing; zed is not in the backup at all.
    let o = run(&mut q(&f, &["restore", &id, "--user", "zed"]));
    assert_eq!(code(&o), 67, "{}", text(&o));
    let o = run(&mut q(&f, &["restore", &id, "--user", "admin"]));
    assert!(text(&o).contains("already matches"), "{}", text(&o));

    // A whole-file restore warns that it reverts zed: zed loses its shadow line.
    let o = run(&mut q(&f, &["restore", &id]));
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning") && err.contains("zed"), "{err}");
    assert!(line_of(&f.read("/etc/shadow"), "zed").is_none());
    assert!(shadow_then == f.read("/etc/shadow"));
}

#[test]
#[ignore = "needs python3 or openssl (MD4)"]
fn restore_user_on_qts_restores_shadow_and_samba_of_that_account_only() {
    let f = Fixture::new(Layout::Qts4);
    let cfg = "/mnt/HDA_ROOT/.config";
    let o = run(&mut q(&f, &["backup"]));
    assert!(o.status.success(), "{}", text(&o));
    let id = backup_ids(f.root()).pop().unwrap();
    let then: Vec<(String, Vec<u8>)> = [
        format!("{cfg}/shadow"),
        "/etc/shadow".into(),
        format!("{cfg}/smbpasswd"),
    ]
    .into_iter()
    .map(|p| {
        let b = f.read(&p);
        (p, b)
    })
    .collect();
    assert!(passwd(f.root(), "admin", NEW).status.success());
    assert!(passwd(f.root(), "bob", "B0b-later!").status.success());
    let now: Vec<Vec<u8>> = then.iter().map(|(p, _)| f.read(p)).collect();
    let o = run(&mut q(&f, &["restore", &id, "--user", "admin"]));
    assert!(o.status.success(), "{}", text(&o));
    for ((p, old), cur) in then.iter().zip(&now) {
        let admin_then = line_of(old, "admin").unwrap();
        assert_eq!(f.read(p), with_line(cur, "admin", &admin_then), "{p}");
    }
    // bob keeps the password set after the backup, in shadow and in Samba.
    let o = run_bounded(
        &mut q(&f, &["verify", "bob", "--password-stdin"]),
        b"B0b-later!\n",
        Duration::from_secs(60),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run_bounded(
        &mut q(&f, &["verify", "admin", "--password-stdin"]),
        b"admin\n",
        Duration::from_secs(60),
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        field(&f.read(&format!("{cfg}/smbpasswd")), "bob", 3).unwrap(),
        nt_oracle("B0b-later!")
    );
}
