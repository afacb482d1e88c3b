//! The credential engine through the real binary: status, passwd, verify, backup(s),
//! restore on QTS 5, QTS 4 and plain Linux roots, checked with real oracles
//! (openssl, Python's crypt) and byte-for-byte comparisons.

use crate::common;

use std::process::Output;

use crate::common::fixture::{ADMIN_NT, ADMIN_OLD, Fixture, Layout, assert_same};
use crate::common::{qrescue, run, run_with_stdin};

const NEW: &str = "N3w-Pa55!word with spaces";

fn q(f: &Fixture, args: &[&str]) -> std::process::Command {
    let mut c = qrescue();
    c.arg("--root").arg(f.root()).args(args);
    c
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn passwd(f: &Fixture, user: &str, pw: &str) -> Output {
    common::passwd(f.root(), user, pw)
}

fn verify(f: &Fixture, user: &str, pw: &str) -> i32 {
    run_with_stdin(
        &mut q(f, &["verify", user, "--password-stdin"]),
        format!("{pw}\n").as_bytes(),
    )
    .status
    .code()
    .unwrap()
}

fn field(bytes: &[u8], user: &str, idx: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(user))
        .unwrap_or_else(|| panic!("no {user}"));
    line.split(':').nth(idx).unwrap().to_string()
}

/// Python's crypt module (glibc crypt) as the oracle; the password goes on stdin.
fn python_crypt_ok(pw: &str, hash: &str) -> bool {
    let o = run_with_stdin(
        std::process::Command::new("python3").args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; pw=sys.stdin.readline().rstrip('\\n'); h=sys.argv[1]; sys.exit(0 if crypt.crypt(pw,h)==h else 1)",
            hash,
        ]),
        format!("{pw}\n").as_bytes(),
    );
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "python3 crypt oracle failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.success()
}

/// openssl passwd as the oracle: recompute the hash with the stored salt.
fn openssl_ok(pw: &str, hash: &str) -> bool {
    let parts: Vec<&str> = hash.split('$').collect();
    let (flag, salt) = match parts[1] {
        "1" => ("-1", parts[2].to_string()),
        "5" | "6" if parts[2].starts_with("rounds=") => return python_crypt_ok(pw, hash),
        "5" => ("-5", parts[2].to_string()),
        "6" => ("-6", parts[2].to_string()),
        other => panic!("unexpected scheme {other}"),
    };
    let o = run_with_stdin(
        std::process::Command::new("openssl").args(["passwd", flag, "-salt", &salt, "-stdin"]),
        format!("{pw}\n").as_bytes(),
    );
    assert!(
        o.status.success(),
        "openssl oracle failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim() == hash
}

fn lines_except(bytes: &[u8], user: &str) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| l.split(|&b| b == b':').next() != Some(user.as_bytes()))
        .map(<[u8]>::to_vec)
        .collect()
}

fn persistent_shadow(f: &Fixture) -> Vec<u8> {
    f.read(f.shadow_path())
}

#[test]
#[ignore = "needs python3's crypt"]
fn passwd_changes_every_store_and_oracles_agree() {
    for layout in [Layout::Qts5, Layout::Qts4, Layout::Plain] {
        let f = Fixture::new(layout);
        let before = f.credentials();
        let out = ok(&passwd(&f, "admin", NEW));
        assert!(out.contains("Backup: "), "{out}");
        assert!(!out.contains(NEW));
        let shadow = persistent_shadow(&f);
        let hash = field(&shadow, "admin", 1);
        // Family kept: QTS 4's empty-salt MD5 stays exactly that form (the firmware's own),
        // SHA-512 stays SHA-512.
        let expect = if layout == Layout::Qts4 {
            "$1$$"
        } else {
            "$6$"
        };
        assert!(hash.starts_with(expect), "{layout:?}: {hash}");
        assert!(
            python_crypt_ok(NEW, &hash),
            "{layout:?}: python crypt rejects {hash}"
        );
        assert!(
            openssl_ok(NEW, &hash),
            "{layout:?}: openssl disagrees on {hash}"
        );
        assert!(!python_crypt_ok(ADMIN_OLD, &hash));
        // Last change is today.
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 86400;
        assert_eq!(field(&shadow, "admin", 2), today.to_string());
        // Every other byte of every credential file is as it was.
        for (path, old, mode) in &before {
            let new = std::fs::read(path).unwrap();
            assert_eq!(
                lines_except(&new, "admin"),
                lines_except(old, "admin"),
                "{}",
                path.display()
            );
            let new_mode = std::fs::metadata(path).unwrap().permissions();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&new_mode),
                *mode,
                "{} mode",
                path.display()
            );
        }
        assert_eq!(verify(&f, "admin", NEW), 0, "{layout:?}");
        assert_eq!(verify(&f, "admin", ADMIN_OLD), 1, "{layout:?}");
        if layout != Layout::Plain {
            let smb = f.read("/mnt/HDA_ROOT/.config/smbpasswd");
            let nt = field(&smb, "admin", 3);
            assert_ne!(nt, ADMIN_NT);
            assert_eq!(field(&smb, "admin", 2), "X".repeat(32));
            assert!(field(&smb, "admin", 5).starts_with("LCT-"));
        }
    }
}

#[test]
#[ignore = "needs python3's crypt"]
fn qts5_symlinks_stay_symlinks_and_qts4_runtime_copy_is_rewritten() {
    let f = Fixture::new(Layout::Qts5);
    ok(&passwd(&f, "admin", NEW));
    for p in ["etc/shadow", "etc/passwd", "etc/config", "etc/smb.conf"] {
        assert!(
            std::fs::symlink_metadata(f.root().join(p))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{p} replaced"
        );
    }
    let f = Fixture::new(Layout::Qts4);
    ok(&passwd(&f, "admin", NEW));
    let runtime = field(&f.read("/etc/shadow"), "admin", 1);
    let persistent = field(&f.read("/mnt/HDA_ROOT/.config/shadow"), "admin", 1);
    assert_eq!(
        runtime, persistent,
        "runtime and persistent copies carry the same new hash"
    );
    assert!(python_crypt_ok(NEW, &runtime));
}

#[test]
fn status_reports_each_store() {
    let f = Fixture::new(Layout::Qts4);
    let o = run(&mut q(&f, &["--json", "status"]));
    let v: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(v["qts"], true);
    let stores = v["account"]["stores"].as_array().unwrap();
    let shadow: Vec<_> = stores.iter().filter(|s| s["kind"] == "shadow").collect();
    assert_eq!(shadow.len(), 2, "runtime and persistent shadow: {v}");
    assert!(
        shadow.iter().any(|s| s["persistent"] == true)
            && shadow.iter().any(|s| s["persistent"] == false)
    );
    assert!(
        shadow.iter().all(|s| s["scheme"] == "md5-empty-salt"),
        "{v}"
    );
    assert_eq!(v["account"]["agree"], true);
    assert_eq!(v["account"]["administrator"], true);
    assert_eq!(v["samba"]["type"], "smbpasswd");
    let text = ok(&run(&mut q(&f, &["status"])));
    assert!(text.contains("copies agree: yes"), "{text}");
    // No hash is ever printed.
    assert!(!text.contains("CoERg7") && !o.stdout.windows(6).any(|w| w == b"CoERg7"));
    // Copies that disagree are reported.
    let other = std::fs::read_to_string(f.path("/etc/shadow"))
        .unwrap()
        .replace("$1$$CoERg7ynjYLsj2j4glJ34.", "$1$$ysap7EeB9ODCrO46Psdbq/");
    std::fs::write(f.path("/etc/shadow"), other).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&ok(&run(&mut q(&f, &["--json", "status"])))).unwrap();
    assert_eq!(v["account"]["agree"], false);
}

#[test]
fn bad_input_changes_nothing_and_exits_with_documented_codes() {
    let f = Fixture::new(Layout::Qts5);
    let before = f.snapshot();
    let cases: Vec<(Vec<&str>, Vec<u8>, i32)> = vec![
        (
            vec!["passwd", "admin", "--password-stdin"],
            vec![b'x'; 65].into_iter().chain(*b"\n").collect(),
            2,
        ),
        (
            vec!["passwd", "admin", "--password-stdin"],
            "caf\u{e9}\n".as_bytes().to_vec(),
            2,
        ),
        (
            vec!["passwd", "admin", "--password-stdin"],
            b"\n".to_vec(),
            2,
        ),
        (vec!["passwd", "admin", "--password-stdin"], b"".to_vec(), 2),
        (
            vec!["passwd", "nosuchuser", "--password-stdin"],
            b"pw\n".to_vec(),
            67,
        ),
        (
            vec!["passwd", "bad:name", "--password-stdin"],
            b"pw\n".to_vec(),
            2,
        ),
        (
            vec![
                "passwd",
                "admin",
                "--password-stdin",
                "--scheme",
                "md5",
                "--rounds",
                "5000",
            ],
            b"pw\n".to_vec(),
            2,
        ),
        (vec!["passwd", "--bogus"], b"".to_vec(), 2),
        (vec!["restore", "no-such-id"], b"".to_vec(), 2),
        (vec!["restore", "../../etc"], b"".to_vec(), 2),
        (
            vec!["verify", "nosuchuser", "--password-stdin"],
            b"pw\n".to_vec(),
            67,
        ),
    ];
    for (args, stdin, code) in cases {
        let o = run_with_stdin(&mut q(&f, &args), &stdin);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.trim().is_empty());
        if code != 2 || !args.contains(&"--bogus") {
            assert_eq!(
                err.trim().lines().count(),
                1,
                "one-line error for {args:?}: {err}"
            );
        }
        assert_same(&f.snapshot(), &before, &format!("{args:?}"));
    }
}

#[test]
fn help_and_readme_list_the_same_exit_codes() {
    // Exit codes are decided in one place (error.rs, tested there against the README);
    // `--help` must list the same ones.
    let o = qrescue().arg("--help").output().unwrap();
    let help = ok(&o);
    let section = &help[help.find("Exit codes:").expect("--help lists exit codes")..];
    let from_help: Vec<i32> = section
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("  ")?.split(' ').next()?.parse().ok())
        .collect();
    let readme = include_str!("../../README.md").to_string();
    let table = &readme[readme.find("### Exit codes").unwrap()..];
    let from_readme: Vec<i32> = table
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(from_help, vec![0, 1, 2, 65, 66, 67, 69, 74, 75, 77]);
    assert_eq!(from_help, from_readme);
}

#[test]
fn malformed_target_line_is_refused() {
    let f = Fixture::new(Layout::Qts5);
    let p = f.path("/mnt/HDA_ROOT/.config/shadow");
    let s = std::fs::read_to_string(&p).unwrap().replacen(
        ":14233:0:99999:7:::",
        ":14233:0:99999:7::",
        1,
    );
    std::fs::write(&p, s).unwrap();
    let before = f.snapshot();
    let o = passwd(&f, "admin", NEW);
    assert_eq!(
        o.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_same(&f.snapshot(), &before, "malformed");
    // Other users' malformed lines do not matter.
    let f = Fixture::new(Layout::Qts5);
    ok(&passwd(&f, "bob", NEW));
    assert_eq!(verify(&f, "bob", NEW), 0);
}

#[test]
#[ignore = "needs python3's crypt"]
fn case_insensitive_names_and_users_without_samba_entry() {
    let f = Fixture::new(Layout::Qts5);
    let out = ok(&passwd(&f, "Carol", NEW));
    assert!(out.contains("no Samba entry"), "{out}");
    let h = field(&persistent_shadow(&f), "carol", 1);
    // carol was locked ("!$6$…"): the lock is kept (--unlock lifts it), the hash is new.
    let h = h
        .strip_prefix('!')
        .unwrap_or_else(|| panic!("carol stays locked: {h}"));
    assert!(python_crypt_ok(NEW, h), "{h}");
    // carol's line ended with \r: it still does.
    let s = String::from_utf8_lossy(&persistent_shadow(&f)).into_owned();
    let carol = s.split('\n').find(|l| l.starts_with("carol:")).unwrap();
    assert!(carol.ends_with('\r'), "{carol:?}");
}

#[test]
fn backup_list_restore_round_trip_exact_bytes() {
    let f = Fixture::new(Layout::Qts4);
    let original = f.credentials();
    let id = ok(&run(&mut q(&f, &["backup", "--reason", "test"])))
        .trim()
        .to_string();
    ok(&passwd(&f, "admin", NEW));
    ok(&passwd(&f, "bob", "another"));
    let list: serde_json::Value =
        serde_json::from_str(&ok(&run(&mut q(&f, &["--json", "backups"])))).unwrap();
    let sets = list["backups"].as_array().unwrap();
    assert_eq!(sets.len(), 3);
    assert!(sets.iter().all(|s| s["intact"] == true));
    assert_eq!(sets[0]["id"], id.as_str());
    assert_eq!(sets[0]["manifest"]["reason"], "test");
    // Backups are private.
    let bdir = f.path("/mnt/HDA_ROOT/.config/qrescue/backups");
    let m = std::fs::metadata(&bdir).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
        0o700
    );
    for e in std::fs::read_dir(bdir.join(&id)).unwrap() {
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&e.unwrap().metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }
    let dry = ok(&run(&mut q(&f, &["restore", &id, "--dry-run"])));
    assert!(dry.contains("Nothing was changed"), "{dry}");
    let out = ok(&run(&mut q(&f, &["restore", &id])));
    assert!(out.contains("Restored backup"), "{out}");
    assert_same(&f.credentials(), &original, "after restore");
    assert_eq!(verify(&f, "admin", ADMIN_OLD), 0);
    // The restore itself made a backup of the state it replaced.
    let list: serde_json::Value =
        serde_json::from_str(&ok(&run(&mut q(&f, &["--json", "backups"])))).unwrap();
    assert_eq!(list["backups"].as_array().unwrap().len(), 4);
}

#[test]
fn backup_with_a_reason_this_version_does_not_write_still_lists_and_restores() {
    // Manifests on disk keep whatever reason text the version that wrote them used: one this
    // version does not know (older, newer, or the operator's words) is listed as it is and
    // does not stop a restore.
    let f = Fixture::new(Layout::Qts5);
    let original = f.credentials();
    let id = ok(&run(&mut q(&f, &["backup"]))).trim().to_string();
    let manifest = f.path(&format!(
        "/mnt/HDA_ROOT/.config/qrescue/backups/{id}/manifest.json"
    ));
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["reason"], "manual");
    let old = "before reset-button cleanup (qrescue 0.0.1)";
    m["reason"] = old.into();
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    ok(&passwd(&f, "admin", NEW));
    let list: serde_json::Value =
        serde_json::from_str(&ok(&run(&mut q(&f, &["--json", "backups"])))).unwrap();
    let sets = list["backups"].as_array().unwrap();
    assert_eq!(sets[0]["id"], id.as_str());
    assert_eq!(sets[0]["manifest"]["reason"], old);
    assert_eq!(sets[0]["intact"], true);
    assert_eq!(sets[1]["manifest"]["reason"], "before passwd admin");
    let text = ok(&run(&mut q(&f, &["backups"])));
    assert!(text.contains(old), "{text}");
    let out = ok(&run(&mut q(&f, &["restore", &id])));
    assert!(out.contains("Restored backup"), "{out}");
    assert_same(&f.credentials(), &original, "after restore");
    let list: serde_json::Value =
        serde_json::from_str(&ok(&run(&mut q(&f, &["--json", "backups"])))).unwrap();
    let sets = list["backups"].as_array().unwrap();
    assert_eq!(
        sets[2]["manifest"]["reason"],
        format!("before restore {id}")
    );
}

#[test]
fn whole_restore_lists_groups_but_warns_only_about_accounts() {
    // Entries a restore changes are accounts or groups (shown `group NAME`); the warning
    // about reverting other accounts' later changes names accounts only.
    let f = Fixture::new(Layout::Plain);
    let id = ok(&run(&mut q(&f, &["backup"]))).trim().to_string();
    let group = String::from_utf8(f.read("/etc/group")).unwrap();
    let edited = group.replace(
        "everyone:x:100:admin,guest,bob,carol,dave",
        "everyone:x:100:guest,bob,carol,dave",
    );
    assert_ne!(group, edited);
    f.put("/etc/group", edited.as_bytes(), 0o644);
    ok(&passwd(&f, "bob", "B0b-later!"));
    let dry: serde_json::Value = serde_json::from_str(&ok(&run(&mut q(
        &f,
        &["--json", "restore", &id, "--dry-run"],
    ))))
    .unwrap();
    assert_eq!(
        dry["accounts"],
        serde_json::json!(["bob", "group everyone"])
    );
    let o = run(&mut q(&f, &["restore", &id]));
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("reverts later changes of bob "), "{err}");
    assert!(!err.contains("everyone"), "{err}");
    assert_eq!(String::from_utf8(f.read("/etc/group")).unwrap(), group);
}

#[test]
fn verify_of_a_locked_account_suggests_unlock() {
    let f = Fixture::new(Layout::Plain);
    let hint = |user: &str| {
        let o = run_with_stdin(
            &mut q(&f, &["verify", user, "--password-stdin"]),
            b"not-the-password\n",
        );
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines()
            .find(|l| l.starts_with("To set a new password"))
            .unwrap_or_else(|| panic!("{out}"))
            .to_string()
    };
    assert!(!hint("admin").contains("--unlock"), "{}", hint("admin"));
    // A locked hash with a wrong password is a mismatch: nothing says it is locked.
    let h = field(&f.read("/etc/shadow"), "admin", 1);
    f.set_field("/etc/shadow", "admin", 1, &format!("!{h}"));
    assert!(!hint("admin").contains("--unlock"), "{}", hint("admin"));
    // No hash at all, only the lock: `locked (no hash)`.
    f.set_field("/etc/shadow", "admin", 1, "!");
    assert!(
        hint("admin").ends_with("passwd admin --unlock"),
        "{}",
        hint("admin")
    );
}

#[test]
fn tampered_backup_is_flagged_and_not_restored() {
    let f = Fixture::new(Layout::Qts5);
    let id = ok(&run(&mut q(&f, &["backup"]))).trim().to_string();
    let dir = f.path(&format!("/mnt/HDA_ROOT/.config/qrescue/backups/{id}"));
    let victim = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("shadow"))
        .unwrap();
    let mut b = std::fs::read(&victim).unwrap();
    b[0] ^= 1;
    std::fs::write(&victim, b).unwrap();
    let text = ok(&run(&mut q(&f, &["backups"])));
    assert!(text.contains("NO") && text.contains("differs"), "{text}");
    let before = f.credentials();
    let o = run(&mut q(&f, &["restore", &id]));
    assert_eq!(
        o.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_same(&f.credentials(), &before, "tampered restore");
}

#[test]
#[ignore = "needs python3's crypt"]
fn random_password_is_printed_once_and_works() {
    let f = Fixture::new(Layout::Qts5);
    let out = ok(&run(&mut q(
        &f,
        &[
            "passwd", "--random", "--scheme", "sha256", "--rounds", "6000",
        ],
    )));
    let pw = out
        .lines()
        .find_map(|l| l.strip_prefix("New password: "))
        .unwrap()
        .to_string();
    assert_eq!(pw.len(), 20);
    assert_eq!(out.matches(&pw).count(), 1);
    let hash = field(&persistent_shadow(&f), "admin", 1);
    assert!(hash.starts_with("$5$rounds=6000$"), "{hash}");
    assert!(python_crypt_ok(&pw, &hash));
    assert_eq!(verify(&f, "admin", &pw), 0);
}

#[test]
fn dry_run_redacts_and_changes_nothing() {
    let f = Fixture::new(Layout::Qts4);
    let before = f.snapshot();
    // The dry run reads the password as the real run does.
    let out = ok(&run_with_stdin(
        &mut q(&f, &["passwd", "--dry-run", "--password-stdin"]),
        b"Dry-Run-Pass-1\n",
    ));
    assert!(
        out.contains("<new hash>") && out.contains("<old hash>"),
        "{out}"
    );
    assert!(!out.contains("CoERg7") && !out.contains(ADMIN_NT), "{out}");
    assert_same(&f.snapshot(), &before, "dry run");
}

#[test]
#[ignore = "needs python3's crypt"]
fn plain_root_without_shadow_keeps_hash_in_passwd() {
    let f = Fixture::new(Layout::Plain);
    std::fs::remove_file(f.path("/etc/shadow")).unwrap();
    let p = f.path("/etc/passwd");
    let s = std::fs::read_to_string(&p)
        .unwrap()
        .replace("admin:x:", "admin:$1$$CoERg7ynjYLsj2j4glJ34.:");
    std::fs::write(&p, s).unwrap();
    ok(&passwd(&f, "admin", NEW));
    let h = field(&f.read("/etc/passwd"), "admin", 1);
    assert!(h.starts_with("$1$") && python_crypt_ok(NEW, &h), "{h}");
}
