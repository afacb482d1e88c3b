//! Samba itself as the oracle: a real `smbd` (Debian's), on loopback only, uses the fixture
//! root's smbpasswd as its passdb. After `qrescue passwd` the new password opens a share and
//! the old one is refused; after `qrescue restore` the reverse holds.
//!
//! smbd needs the account as a Unix user: it runs in a mount namespace where a small
//! /etc/passwd with `admin` (uid 0, as on QTS) is bind-mounted over the host's.
//! Needs: apt-get install samba smbclient (.ci/run installs them); runs as root.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fixture::{ADMIN_OLD, Fixture, Layout};
use common::{qrescue, run};

const NEW: &str = "Samba-Sees-This-1";

fn need(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{tool} is required (apt-get install samba smbclient)");
}

struct Smbd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Smbd {
    fn drop(&mut self) {
        // smbd runs in a process group of its own (it signals its whole group when it
        // stops): end the group, connection children included.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_smbd(smbpasswd: &Path) -> Smbd {
    need("smbd");
    need("smbclient");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["priv", "lock", "state", "cache", "pid", "log", "share"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("share/hello.txt"), "hello\n").unwrap();
    let port = free_port();
    let conf = format!(
        "[global]
  server role = standalone server
  passdb backend = smbpasswd:{pw}
  interfaces = lo
  bind interfaces only = yes
  smb ports = {port}
  private dir = {d}/priv
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  log file = {d}/log/%m.log
  disable netbios = yes
  server min protocol = SMB2
  map to guest = never
  load printers = no
[share]
  path = {d}/share
  read only = yes
",
        pw = smbpasswd.display(),
        d = d.display()
    );
    std::fs::write(d.join("smb.conf"), conf).unwrap();
    std::fs::write(
        d.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nadmin:x:0:0:administrator:/share/homes/admin:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    let script = format!(
        "mount --bind {d}/passwd /etc/passwd && exec smbd -F --no-process-group -s {d}/smb.conf",
        d = d.display()
    );
    use std::os::unix::process::CommandExt;
    let child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "smbd did not listen on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Smbd { child, port, dir }
}

impl Smbd {
    /// Whether `admin` with `password` can list the share (smbclient reads the password from
    /// a 0600 authentication file, not from its command line).
    fn login(&self, password: &str) -> bool {
        let auth: PathBuf = self.dir.path().join("auth");
        std::fs::write(&auth, format!("username = admin\npassword = {password}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
        let o = Command::new("smbclient")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("//127.0.0.1/share")
            .arg("-A")
            .arg(&auth)
            .args(["-c", "ls"])
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&auth);
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            assert!(out.contains("hello.txt"), "{out}{err}");
            true
        } else {
            assert!(
                format!("{out}{err}").contains("NT_STATUS_LOGON_FAILURE"),
                "unexpected smbclient failure: {out}{err}"
            );
            false
        }
    }
}

#[test]
fn smbd_accepts_the_new_password_and_after_restore_the_old_one() {
    if !common::skip::tools(
        "smbd_accepts_the_new_password_and_after_restore_the_old_one",
        &[("smbd", "samba"), ("smbclient", "smbclient")],
    ) {
        return;
    }
    for layout in [Layout::Qts5, Layout::Qts4] {
        let f = Fixture::new(layout);
        let smbd = start_smbd(&f.path("/mnt/HDA_ROOT/.config/smbpasswd"));
        assert!(smbd.login(ADMIN_OLD), "the fixture's password works first");
        assert!(!smbd.login(NEW));

        let o = common::passwd(f.root(), "admin", NEW);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(smbd.login(NEW), "{layout:?}: smbd refuses the new password");
        assert!(
            !smbd.login(ADMIN_OLD),
            "{layout:?}: smbd still takes the old one"
        );

        // The backup taken before the change puts the old password back for Samba too.
        let id = common::backup_ids(f.root()).remove(0);
        let o = run(qrescue().arg("--root").arg(f.root()).args(["restore", &id]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            smbd.login(ADMIN_OLD),
            "{layout:?}: restore did not bring back the old password"
        );
        assert!(
            !smbd.login(NEW),
            "{layout:?}: the new password still works after restore"
        );
    }
}
