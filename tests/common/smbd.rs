//! smbd on loopback for the peer tests: Debian's Samba serving one read-only share with a
//! fixture's smbpasswd as its passdb; `admin` is a uid-0 Unix user inside a mount namespace
//! (a small passwd bind-mounted over the host's), as on QTS.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Smbd {
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

pub fn start(smbpasswd: &Path) -> Smbd {
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
    /// smbclient's verdict for `admin` with `password`: "ok" (the share was listed), or the
    /// NT_STATUS it failed with. smbclient reads the password from a 0600 authentication
    /// file, never from its command line.
    pub fn verdict(&self, password: &str) -> String {
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
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.success() {
            assert!(all.contains("hello.txt"), "{all}");
            return "ok".into();
        }
        all.split_whitespace()
            .find(|w| w.starts_with("NT_STATUS_"))
            .unwrap_or_else(|| panic!("unexpected smbclient failure: {all}"))
            .to_string()
    }

    /// Whether `admin` with `password` can list the share; any failure but a wrong password
    /// fails the test.
    pub fn login(&self, password: &str) -> bool {
        match self.verdict(password).as_str() {
            "ok" => true,
            "NT_STATUS_LOGON_FAILURE" => false,
            other => panic!("unexpected smbclient failure: {other}"),
        }
    }
}
