//! Helpers for sys/'s own tests that need the real kernel: a fresh process for what is
//! process-wide (signal dispositions, a mount namespace), what a test needs from the host
//! (root, loop devices, tools), the kernel's view of a mount, guards that undo a mount or a
//! loop device even when an assertion fails, and a small ext3 image.
//!
//! The unit-test binary runs its tests as threads of one process, so a test that changes
//! signal handlers or signals its own process would disturb the others: [`in_own_process`]
//! runs the test's body in a new copy of the test binary (`--exact` the calling test, in its
//! own process group, with a timeout that fails the test instead of hanging the run).
//!
//! A test that needs root or a tool is `#[ignore = "needs …"]` (plain `cargo test` stays
//! hermetic) and calls [`needs`] first: under `CI=true` something missing fails the test;
//! otherwise the test prints a `SKIP` line, appends it to `$QRESCUE_SKIP_LOG` (which
//! scripts/test.sh counts) and returns, as tests/common/skip.rs does for the integration
//! tests.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable that tells a re-executed test binary which test's body to run.
const ROLE: &str = "QRESCUE_SYS_TEST_IN_OWN_PROCESS";

/// How long the body in its own process may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Run `body` in a new process: the test binary again, with only the calling test (by the
/// name libtest gives its thread), `wrapper` (e.g. strace and its arguments) in front of it.
/// Fails the calling test if that process fails, dies or is still running after
/// [`TIMEOUT`] (then its whole process group is killed).
pub fn in_own_process(wrapper: &[&str], body: impl FnOnce()) {
    let name = std::thread::current()
        .name()
        .expect("a libtest thread has the test's name")
        .to_string();
    if std::env::var(ROLE).is_ok_and(|role| role == name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let out = log.reopen().expect("the log file");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args([
        name.as_str(),
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, &name)
    .stdin(Stdio::null())
    // One open file description for both, so neither overwrites the other.
    .stdout(out.try_clone().expect("the log file"))
    .stderr(out)
    // Its own process group: a signal sent to "the group" (pid 0) stays inside, and a
    // timeout can kill whatever it forked.
    .process_group(0);
    let mut child = cmd.spawn().expect("re-run the test binary");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the test binary") {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(log.path()).unwrap_or_default();
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!("{name} in its own process: {status}\n{output}"),
        None => panic!("{name} in its own process: still running after {TIMEOUT:?}\n{output}"),
    }
}

/// What a test needs from the host.
#[derive(Clone, Copy, Debug)]
pub enum Need {
    /// Effective uid 0 (CAP_SYS_ADMIN for mounts and namespaces).
    Root,
    /// Loop devices (`/dev/loop-control`).
    LoopDevices,
    /// A program on PATH, and the Debian package that has it.
    Tool(&'static str, &'static str),
}

/// What a test of an ext3 image on a loop device needs ([`ext3_image`] runs e2fsprogs).
pub const EXT3_ON_LOOP: [Need; 4] = [
    Need::Root,
    Need::LoopDevices,
    Need::Tool("mke2fs", "e2fsprogs"),
    Need::Tool("debugfs", "e2fsprogs"),
];

/// Whether the host has everything `test` needs. If not: a failure under `CI=true`,
/// otherwise a recorded `SKIP` and `false` (the caller returns).
pub fn needs(test: &str, needed: &[Need]) -> bool {
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
    };
    let missing: Vec<String> = needed
        .iter()
        .filter_map(|need| match *need {
            Need::Root if !nix::unistd::geteuid().is_root() => Some("root".to_string()),
            Need::LoopDevices if !Path::new("/dev/loop-control").exists() => {
                Some("loop devices (/dev/loop-control; modprobe loop)".to_string())
            }
            Need::Tool(tool, package) if !on_path(tool) => {
                Some(format!("{tool} (apt-get install {package})"))
            }
            _ => None,
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("not available: {}", missing.join(", "));
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !in_ci,
        "{test}: cannot run ({why}), and CI=true makes that a failure, not a skip"
    );
    eprintln!("SKIP {test}: {why}");
    if let Some(path) = std::env::var_os("QRESCUE_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
    false
}

/// One line of a mountinfo file (proc(5)): the mount on `mount_point`, as the kernel sees it.
#[derive(Debug)]
pub struct MountInfo {
    /// Per-mount options (`ro`, `nosuid`, …).
    pub options: Vec<String>,
    /// Optional fields: the propagation tags (`shared:N`, `master:N`, …).
    pub tags: Vec<String>,
    pub fstype: String,
    /// Superblock options (`ro`, `norecovery`, …).
    pub super_options: Vec<String>,
}

/// The last mount on `mount_point` in `mountinfo` (e.g. `/proc/self/mountinfo`), if any.
pub fn mount_at(mountinfo: &Path, mount_point: &Path) -> Option<MountInfo> {
    let text = std::fs::read_to_string(mountinfo).expect("read mountinfo");
    let want = mount_point.to_str().expect("a UTF-8 mount point");
    text.lines()
        .rev()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let fields: Vec<&str> = mount.split(' ').collect();
            if fields.get(4) != Some(&want) {
                return None;
            }
            let list = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
            let fs: Vec<&str> = fs.split(' ').collect();
            Some(MountInfo {
                options: list(fields[5]),
                tags: fields[6..].iter().map(|s| s.to_string()).collect(),
                fstype: fs[0].to_string(),
                super_options: list(fs.get(2).copied().unwrap_or_default()),
            })
        })
        .next()
}

/// Lazily unmounts `0` when dropped, if still mounted: a failed assertion leaves no mount.
pub struct Unmount(pub PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A read-write loop device over `image` (util-linux's losetup), detached when dropped.
pub struct ReadWriteLoop(pub PathBuf);

impl ReadWriteLoop {
    pub fn attach(image: &Path) -> ReadWriteLoop {
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(image)
            .output()
            .expect("losetup");
        assert!(out.status.success(), "losetup: {out:?}");
        let dev = String::from_utf8(out.stdout).expect("a device name");
        ReadWriteLoop(PathBuf::from(dev.trim_end()))
    }
}

impl Drop for ReadWriteLoop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

/// Whether loop device `dev` (`/dev/loopN`) is free again within 5 s: autoclear detaches it
/// when its last user goes, and the kernel may finish that a moment later.
pub fn until_detached(dev: &Path) -> bool {
    let name = dev
        .file_name()
        .and_then(|n| n.to_str())
        .expect("/dev/loopN");
    let backing = PathBuf::from(format!("/sys/block/{name}/loop/backing_file"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while backing.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !backing.exists()
}

/// The file [`ext3_image`] puts in the filesystem, and its content.
pub const GREETING: (&str, &str) = ("greeting", "hello from the image\n");

/// An 8 MiB ext3 image in `dir` holding [`GREETING`]; with `needs_recovery`, its superblock
/// says the journal must be replayed before the filesystem may be used (as after a power
/// cut): the kernel then refuses a read-only block device unless told not to load the
/// journal (`noload`).
pub fn ext3_image(dir: &Path, needs_recovery: bool) -> PathBuf {
    let content = dir.join("content");
    std::fs::create_dir(&content).expect("mkdir");
    std::fs::write(content.join(GREETING.0), GREETING.1).expect("write");
    let image = dir.join("ext3.img");
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("run e2fsprogs");
        assert!(out.status.success(), "{cmd:?}: {out:?}");
    };
    run(Command::new("mke2fs")
        .args(["-q", "-t", "ext3", "-F", "-d"])
        .arg(&content)
        .arg(&image)
        .arg("8M"));
    if needs_recovery {
        run(Command::new("debugfs")
            .args(["-w", "-R", "feature needs_recovery"])
            .arg(&image));
    }
    image
}
