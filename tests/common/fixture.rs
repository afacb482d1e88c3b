//! Throwaway roots shaped like the systems qrescue meets: QTS 5 (runtime files are symlinks
//! into /etc/config, itself a symlink to /mnt/HDA_ROOT/.config), QTS 4 (runtime files are
//! separate copies), and a plain Linux root (only /etc/passwd and /etc/shadow).
//!
//! The QTS files take the shape of real captures (docs/fixtures.md says which details are
//! confirmed by one and which are assumed): shadow pseudo-entries `[sshd]`/`[appuser]` and
//! entries with no passwd line, `httpdusr` in gid 100, users from uid 500 with `Linux User,,,`,
//! smb.conf's `smb passwd file=/etc/config/smbpasswd ` (no spaces, a trailing blank),
//! a uLinux.conf with QNAP's internal model, `Number`, `[NetDevMonitor]` and key names
//! repeated in other sections, and the RAM root's `/etc/platform.conf`.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

pub const ADMIN_OLD: &str = "admin";
/// MD5-crypt with an empty salt, as QTS 4.3 firmware writes it (password "admin").
pub const ADMIN_MD5_EMPTY_SALT: &str = "$1$$CoERg7ynjYLsj2j4glJ34.";
/// SHA-512-crypt of "admin" with salt "qnapsalt" (from `openssl passwd -6 -salt qnapsalt admin`).
pub const ADMIN_SHA512: &str = "$6$qnapsalt$WkDga3ziBlGp0rWPPM4c1W1J7JPbiRhPvXFFlB/Btq/h9.3/27FegzCK1b9AyonSno/YPDIPMwrukoLRpuhc71";
/// NT hash of "admin".
pub const ADMIN_NT: &str = "209C6174DA490CAEB422F3FA5A7AE634";

pub const PASSWD: &str = "\
admin:x:0:0:administrator:/share/homes/admin:/bin/sh
guest:x:65534:65534:guest:/tmp:/bin/sh
# a comment the tools must keep
httpdusr:x:99:100:Apache httpd user:/tmp:/bin/sh

bob:x:500:100:Linux User,,,:/share/homes/bob:/bin/sh
broken line without colons
carol:x:501:100:Linux User,,,:/share/homes/carol:/bin/sh\r
dave:x:502:100:no final newline:/share/homes/dave:/bin/sh";

pub fn shadow(admin_hash: &str) -> String {
    format!(
        "admin:{admin_hash}:14233:0:99999:7:::
guest:$1$$ysap7EeB9ODCrO46Psdbq/:14233:0:99999:7:::
httpdusr:!:14233:0:99999:7:::
[sshd]:!:14233:0:99999:7:::
[appuser]:!:14233:0:99999:7:::
# comment in shadow

bob:$6$bobsalt$gsDYPSzijjpeyq447FRMNQRQJk8ORwtmVxYMV24tnGHuhhg27SktU4IDhopvaMqQnJiXDoY10TXhjjEuqAm6K.:19000:0:99999:7:::
odd:field:count
carol:!$6$c$lockedhash:19000:0:99999:7:::\r
dave:*:19000:0:99999:7:::
olduser:$1$$ysap7EeB9ODCrO46Psdbq/:19000:0:99999:7:::"
    )
}

pub const GROUP: &str = "\
administrators:x:0:admin,bob
everyone:x:100:admin,guest,bob,carol,dave
guest:x:65534:guest
";

pub fn smbpasswd(admin_nt: &str) -> String {
    format!(
        "admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:{admin_nt}:[U          ]:LCT-5A8D1F2B:
guest:65534:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NDU        ]:LCT-5A8D1F2B:
# comment in smbpasswd
bob:500:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-5A8D1F2B:
"
    )
}

/// QTS 4.x's form (confirmed): `passdb backend = smbpasswd`, and `smb passwd file=` with no
/// spaces around `=` and a trailing blank.
pub const SMB_CONF: &str = "[global]
   workgroup = NAS
   passdb backend = smbpasswd
smb passwd file=/etc/config/smbpasswd \n   username map = /etc/config/smbusers
[Public]
   path = /share/Public
";

/// QTS 3.x's form (confirmed): no `passdb backend` line at all.
pub const SMB_CONF_QTS3: &str = "[global]
   workgroup = NAS
smb passwd file=/etc/config/smbpasswd \n   username map = /etc/config/smbusers
[Public]
   path = /share/Public
";

/// The internal model is QNAP's family name (as `TS-X85` is in the captured file); the name on
/// the box is in platform.conf. `[Samba] Version` and `[NetDevMonitor]` as captured.
pub const ULINUX_CONF: &str = "\
[System]
Model = TS-X53D
Internal Model = TS-X53D
Version = 5.1.4
Number = 2596
Build Number = 20231128
Server Name = NAS-TEST
[Samba]
Version = 4
[NetDevMonitor]
eth0_mac = 00:08:9b:f1:23:40
";

/// The RAM root's hardware description: the name on the box.
pub const PLATFORM_CONF: &str = "\
[MISC]
DISPLAY_NAME = TS-453D
";

#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub layout: Layout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// QTS 5: /etc/{passwd,shadow,group,smb.conf} are symlinks into /etc/config.
    Qts5,
    /// QTS 4: /etc/{passwd,shadow,group} are separate copies of /etc/config's.
    Qts4,
    /// Plain Linux: /etc/passwd and /etc/shadow.
    Plain,
}

fn write(path: &Path, content: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

impl Fixture {
    pub fn new(layout: Layout) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("qrescue-root-")
            .tempdir()
            .unwrap();
        let r = dir.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        match layout {
            Layout::Qts5 | Layout::Qts4 => {
                let cfg = r.join("mnt/HDA_ROOT/.config");
                let admin = if layout == Layout::Qts5 {
                    ADMIN_SHA512
                } else {
                    ADMIN_MD5_EMPTY_SALT
                };
                write(&cfg.join("passwd"), PASSWD, 0o644);
                write(&cfg.join("shadow"), &shadow(admin), 0o600);
                write(&cfg.join("group"), GROUP, 0o644);
                write(&cfg.join("smbpasswd"), &smbpasswd(ADMIN_NT), 0o600);
                write(&cfg.join("smb.conf"), SMB_CONF, 0o644);
                write(&cfg.join("uLinux.conf"), ULINUX_CONF, 0o644);
                write(&r.join("etc/platform.conf"), PLATFORM_CONF, 0o644);
                // Absolute symlink: must be resolved inside the root, never on the host.
                symlink("/mnt/HDA_ROOT/.config", r.join("etc/config")).unwrap();
                for f in ["passwd", "shadow", "group"] {
                    if layout == Layout::Qts5 {
                        symlink(format!("/etc/config/{f}"), r.join("etc").join(f)).unwrap();
                    } else {
                        let mode = if f == "shadow" { 0o600 } else { 0o644 };
                        write(
                            &r.join("etc").join(f),
                            &fs::read_to_string(cfg.join(f)).unwrap(),
                            mode,
                        );
                    }
                }
                symlink("config/smb.conf", r.join("etc/smb.conf")).unwrap();
            }
            Layout::Plain => {
                let plain_passwd = "root:x:0:0:root:/root:/bin/bash\n".to_string() + PASSWD + "\n";
                write(&r.join("etc/passwd"), &plain_passwd, 0o644);
                write(&r.join("etc/shadow"), &shadow(ADMIN_SHA512), 0o640);
                write(&r.join("etc/group"), GROUP, 0o644);
            }
        }
        Fixture { dir, layout }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, inside: &str) -> PathBuf {
        self.root().join(inside.trim_start_matches('/'))
    }

    pub fn read(&self, inside: &str) -> Vec<u8> {
        fs::read(self.path(inside)).unwrap()
    }

    /// Every regular file under the root with its bytes and mode (for "nothing changed"
    /// checks), except the empty `/etc/.pwd.lock` that locking creates, as lckpwdf does.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>, u32)> {
        let mut out = Vec::new();
        walk(self.root(), &mut out);
        out.retain(|(p, b, _)| !(p.ends_with("etc/.pwd.lock") && b.is_empty()));
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The credential files only: not qrescue's own state, not the `NAME-` previous versions.
    pub fn credentials(&self) -> Vec<(PathBuf, Vec<u8>, u32)> {
        self.snapshot()
            .into_iter()
            .filter(|(p, _, _)| {
                !p.to_string_lossy().contains("qrescue/") && !p.to_string_lossy().ends_with('-')
            })
            .collect()
    }

    /// The persistent shadow file's path inside the root for this layout.
    pub fn shadow_path(&self) -> &'static str {
        match self.layout {
            Layout::Plain => "/etc/shadow",
            _ => "/mnt/HDA_ROOT/.config/shadow",
        }
    }
}

/// Compare two snapshots, naming the files that differ (not dumping their bytes).
pub fn assert_same(a: &[(PathBuf, Vec<u8>, u32)], b: &[(PathBuf, Vec<u8>, u32)], what: &str) {
    let names = |s: &[(PathBuf, Vec<u8>, u32)]| s.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: the set of files differs");
    for (x, y) in a.iter().zip(b) {
        assert!(x.1 == y.1, "{what}: {} content differs", x.0.display());
        assert_eq!(x.2, y.2, "{what}: {} mode differs", x.0.display());
    }
}

/// DES crypt of "secret" with salt "ab" (`python3 -c 'import crypt; print(crypt.crypt("secret","ab"))'`).
pub const DES_SECRET: &str = "abNANd1rDfiNc";

/// Helpers for roots the `info` and `audit` tests shape.
impl Fixture {
    /// Write (creating directories) a file inside the root with `mode`.
    pub fn put(&self, inside: &str, content: &[u8], mode: u32) {
        let p = self.path(inside);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, content).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Replace field `idx` of `user`'s line in a colon file (a real file, not a symlink),
    /// keeping every other byte and the mode.
    pub fn set_field(&self, inside: &str, user: &str, idx: usize, value: &str) {
        let p = self.path(inside);
        let text = fs::read_to_string(&p).unwrap();
        let mut found = false;
        let out: Vec<String> = text
            .split('\n')
            .map(|l| {
                let mut f: Vec<&str> = l.split(':').collect();
                if f.first() == Some(&user) && f.len() > idx {
                    found = true;
                    f[idx] = value;
                    f.join(":")
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(found, "no {user} in {inside}");
        fs::write(&p, out.join("\n")).unwrap();
    }

    /// The shadow files holding the account (both copies on QTS 4).
    pub fn shadow_files(&self) -> Vec<&'static str> {
        match self.layout {
            Layout::Qts4 => vec!["/mnt/HDA_ROOT/.config/shadow", "/etc/shadow"],
            Layout::Qts5 => vec!["/mnt/HDA_ROOT/.config/shadow"],
            Layout::Plain => vec!["/etc/shadow"],
        }
    }

    /// qrescue's state directory (real path inside the root).
    pub fn state_dir(&self) -> &'static str {
        match self.layout {
            Layout::Plain => "/var/lib/qrescue",
            _ => "/mnt/HDA_ROOT/.config/qrescue",
        }
    }

    /// A network adapter as the kernel shows it: `/sys/class/net/NAME/address`.
    pub fn add_adapter(&self, name: &str, mac: &str) {
        self.put(
            &format!("/sys/class/net/{name}/address"),
            format!("{mac}\n").as_bytes(),
            0o444,
        );
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>, u32)>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            walk(&e.path(), out);
        } else if ft.is_file() {
            let mode = e.metadata().unwrap().permissions().mode();
            out.push((e.path(), fs::read(e.path()).unwrap(), mode));
        }
    }
}
