//! Every field of an edited line, checked through the binary: a password change may touch
//! only the hash and last-change fields of the account's shadow line, and the LM/NT hashes,
//! the `N` flag and the `LCT-` time of its smbpasswd line; every other field (uid, ageing,
//! expiry, the other flags, the reserved field) and every other line stay byte-identical.
//! The fixtures use values that are not the defaults, so an edit that writes a default
//! (uid 0, an empty expiry) is caught. Oracles: Python's crypt (libxcrypt) for the hash,
//! OpenSSL's MD4 behind iconv for the NT hash, the clock around the run for the times.

use crate::common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::fixture::{ADMIN_NT, ADMIN_SHA512, Fixture, Layout};

/// Shadow lines whose every field differs from what a fresh account gets (no default
/// ageing, an account expiry, a non-empty reserved field on admin).
fn shadow_text() -> String {
    format!(
        "admin:{ADMIN_SHA512}:14233:2:120:9:45:30000:1\n\
         guest:$1$$ysap7EeB9ODCrO46Psdbq/:14233:0:99999:7:::\n\
         bob:$6$bobsalt$gsDYPSzijjpeyq447FRMNQRQJk8ORwtmVxYMV24tnGHuhhg27SktU4IDhopvaMqQnJiXDoY10TXhjjEuqAm6K.:19000:1:90:14:30:20500:\n\
         carol:!:19000:0:99999:7:::\n"
    )
}

/// smbpasswd lines with a non-zero uid, extra account flags (`X`: password never
/// expires, `D`: disabled) and an old LCT.
fn smbpasswd_text() -> String {
    format!(
        "admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:{ADMIN_NT}:[UX         ]:LCT-5A8D1F2B:\n\
         guest:65534:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NDU        ]:LCT-5A8D1F2B:\n\
         bob:1000:0182BD0BD4444BF836077A718CCDF409:8846F7EAEE8FB117AD06BDD830B7586C:[NUX        ]:LCT-12345678:\n"
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn line<'a>(text: &'a str, user: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.split(':').next() == Some(user))
        .unwrap_or_else(|| panic!("no line for {user}"))
        .split(':')
        .collect()
}

fn crypt_matches(hash: &str, password: &str) -> bool {
    Command::new("python3")
        .args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; h=sys.argv[1]; sys.exit(0 if crypt.crypt(sys.argv[2], h) == h else 1)",
            hash,
            password,
        ])
        .status()
        .expect("python3 (crypt) is required")
        .success()
}

fn nt_hash(pw: &str) -> String {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "iconv -f UTF-8 -t UTF-16LE | openssl dgst -md4 -provider legacy -provider default -r",
    ]);
    let o = common::run_with_stdin(&mut c, pw.as_bytes());
    let out = String::from_utf8_lossy(&o.stdout);
    let hex = out
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    assert_eq!(hex.len(), 32, "openssl dgst -md4: {out:?}");
    hex
}

/// The other lines of `after` are those of `before`, in order, byte for byte.
fn others_unchanged(before: &str, after: &str, user: &str, what: &str) {
    let keep = |t: &str| -> Vec<String> {
        t.split_inclusive('\n')
            .filter(|l| l.split(':').next() != Some(user))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        keep(before),
        keep(after),
        "{what}: a line other than {user}'s changed"
    );
}

#[test]
#[ignore = "needs python3's crypt"]
fn a_password_change_touches_only_the_fields_it_must() {
    for (user, pw) in [("admin", "Every-Field-1"), ("bob", "Every-Field-2")] {
        let f = Fixture::new(Layout::Qts5);
        let shadow_path = f.path("/mnt/HDA_ROOT/.config/shadow");
        let smb_path = f.path("/mnt/HDA_ROOT/.config/smbpasswd");
        std::fs::write(&shadow_path, shadow_text()).unwrap();
        std::fs::write(&smb_path, smbpasswd_text()).unwrap();
        let passwd_before = f.read("/mnt/HDA_ROOT/.config/passwd");

        let t0 = now();
        let o = common::passwd(f.root(), user, pw);
        let t1 = now();
        assert!(
            o.status.success(),
            "{user}: {}",
            String::from_utf8_lossy(&o.stderr)
        );

        // shadow: name, hash, last change (today), then the 6 remaining fields as they were.
        let (sb, sa) = (
            shadow_text(),
            std::fs::read_to_string(&shadow_path).unwrap(),
        );
        let (old, new) = (line(&sb, user), line(&sa, user));
        assert_eq!(new.len(), old.len(), "{user}: shadow field count");
        assert_eq!(new[0], old[0]);
        assert!(crypt_matches(new[1], pw), "{user}: shadow hash {}", new[1]);
        let day: u64 = new[2].parse().expect("last-change day");
        assert!(
            (t0 / 86_400..=t1 / 86_400).contains(&day),
            "{user}: shadow last change {day} is not today"
        );
        assert_eq!(
            new[3..],
            old[3..],
            "{user}: shadow min/max/warn/inactive/expiry/reserved must stay"
        );
        others_unchanged(&sb, &sa, user, "shadow");

        // smbpasswd: name and uid, LM cleared, NT of the new password, flags without N,
        // LCT of now, the trailing empty field.
        let (mb, ma) = (
            smbpasswd_text(),
            std::fs::read_to_string(&smb_path).unwrap(),
        );
        let (old, new) = (line(&mb, user), line(&ma, user));
        assert_eq!(new.len(), old.len(), "{user}: smbpasswd field count");
        assert_eq!(
            new[..2],
            old[..2],
            "{user}: smbpasswd name and uid must stay"
        );
        assert_eq!(new[2], "X".repeat(32), "{user}: LM hash cleared");
        assert_eq!(new[3], nt_hash(pw), "{user}: NT hash");
        let flags = |s: &str| -> String {
            assert!(
                s.starts_with('[') && s.ends_with(']') && s.len() == 13,
                "{s:?}"
            );
            s.chars()
                .filter(|c| c.is_ascii_alphabetic() && *c != 'N')
                .collect()
        };
        assert_eq!(flags(new[4]), flags(old[4]), "{user}: account flags");
        assert!(
            !new[4].contains('N'),
            "{user}: the no-password flag stays set"
        );
        let lct = new[5]
            .strip_prefix("LCT-")
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .unwrap_or_else(|| panic!("{user}: {:?} is not LCT-XXXXXXXX", new[5]));
        assert!(
            (t0..=t1).contains(&lct),
            "{user}: LCT {lct:#X} is not the time of the change ({t0:#X}..{t1:#X})"
        );
        assert_eq!(new[6..], old[6..], "{user}: smbpasswd trailing fields");
        others_unchanged(&mb, &ma, user, "smbpasswd");

        // passwd holds no hash when shadow exists: untouched.
        assert!(
            f.read("/mnt/HDA_ROOT/.config/passwd") == passwd_before,
            "{user}: passwd changed"
        );
    }
}

#[test]
#[ignore = "needs python3's crypt"]
fn a_password_kept_in_passwd_changes_only_that_field() {
    // No shadow file: the hash lives in passwd's second field (old embedded systems).
    let dir = tempfile::Builder::new()
        .prefix("qrescue-pwonly-")
        .tempdir()
        .unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    let before = "root:x:0:0:root:/root:/bin/sh\n\
                  bob:$1$$ysap7EeB9ODCrO46Psdbq/:1000:100:Bob,Room 1,555:/home/bob:/bin/ash\n\
                  # kept\n";
    let path = dir.path().join("etc/passwd");
    std::fs::write(&path, before).unwrap();
    let pw = "Passwd-Field-3";
    let o = common::passwd(dir.path(), "bob", pw);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = std::fs::read_to_string(&path).unwrap();
    let (old, new) = (line(before, "bob"), line(&after, "bob"));
    assert_eq!(new.len(), old.len(), "passwd field count");
    assert_eq!(new[0], old[0]);
    assert!(crypt_matches(new[1], pw), "passwd hash {}", new[1]);
    assert_eq!(
        new[2..],
        old[2..],
        "uid, gid, GECOS, home and shell must stay"
    );
    others_unchanged(before, &after, "bob", "passwd");
}
