//! Every path qrescue touches is resolved *inside* a root directory (`--root DIR`, or `/`).
//!
//! The walk follows systemd's `chase()` idea, done by hand so it also works on QNAP's old
//! kernels (no `openat2(RESOLVE_IN_ROOT)` before Linux 5.6): one component at a time with
//! `openat(O_NOFOLLOW)`, symlinks read with `readlinkat` and re-resolved relative to the
//! root (absolute targets start again at the root, `..` never climbs above it). The result
//! keeps an open descriptor of the real parent directory, so every later operation
//! (`openat`, `renameat`, `fsync` of the directory) happens in that directory even if a
//! path component is swapped afterwards. A symlink is never replaced: writes go to the
//! file it resolves to.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};

use crate::error::{Error, Result};

/// Symlinks followed in one resolution before giving up (Linux's own limit).
const MAX_SYMLINKS: usize = 40;

/// A root directory everything is resolved in.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// Logical prefixes that live elsewhere inside this root (a QNAP system partition:
    /// `/etc/config` is its `/.config`), applied to the path asked for and to every
    /// absolute symlink target, as the box's own `/etc/config` symlink would.
    aliases: &'static [(&'static str, &'static str)],
    /// Shown instead of `path` in messages (`--disk`: the md device, not a temporary
    /// mount point that is gone afterwards).
    label: Option<String>,
    /// The command line prefix that reaches this root (`qrescue --root DIR`), shell-quoted:
    /// every command printed as advice starts with it, so pasting it acts here.
    invocation: String,
}

/// What the box sees of its system partition (`/mnt/HDA_ROOT`) when it is the root:
/// `/etc/config` points to `/mnt/HDA_ROOT/.config`. The box's `/etc` is a RAM disk the
/// partition does not hold, so lckpwdf's `/etc/.pwd.lock` (an empty file that only orders
/// concurrent writers) is taken in `.config`, the one directory the partition always has.
const SYSTEM_PARTITION_ALIASES: &[(&str, &str)] = &[
    ("/etc/.pwd.lock", "/.config/.pwd.lock"),
    ("/etc/config", "/.config"),
    ("/mnt/HDA_ROOT", "/"),
];

/// A path resolved inside the root: the real parent directory (open) and the final name.
#[derive(Debug)]
pub struct Resolved {
    /// The real parent directory, opened `O_RDONLY|O_DIRECTORY`.
    pub dir: OwnedFd,
    /// Final component (never a symlink when `stat` is `Some`).
    pub name: OsString,
    /// The real path inside the root (absolute, root-relative), for messages and dedup.
    pub real: PathBuf,
    /// `lstat` of the final component, `None` when it does not exist.
    pub stat: Option<FileStat>,
    /// Whether any symlink was followed on the way.
    pub via_symlink: bool,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn is_kind(st: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == kind
}

impl Root {
    /// Open `path` as the root. It must be a directory.
    pub fn open(path: &Path) -> Result<Root> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(format!("root {}", path.display()), e))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
            aliases: &[],
            label: None,
            invocation: "qrescue".to_string(),
        })
    }

    /// Open `path`, a mounted QNAP system partition (what QTS mounts at `/mnt/HDA_ROOT`), as
    /// the root: `/etc/config/...` resolves to its `.config/...`.
    pub fn open_system_partition(path: &Path) -> Result<Root> {
        let mut root = Root::open(path)?;
        root.aliases = SYSTEM_PARTITION_ALIASES;
        Ok(root)
    }

    /// Say `invocation` (`qrescue --root DIR`, `qrescue --disk DEV`) in printed advice.
    pub fn with_invocation(mut self, invocation: String) -> Root {
        self.invocation = invocation;
        self
    }

    /// The command line prefix that reaches this root (see [`Root::with_invocation`]).
    pub fn invocation(&self) -> &str {
        &self.invocation
    }

    /// Show paths inside this root as `LABEL:/path` in messages.
    pub fn with_label(mut self, label: String) -> Root {
        self.label = Some(label);
        self
    }

    /// Whether this root is a QNAP system partition (opened with
    /// [`Root::open_system_partition`]).
    pub fn is_system_partition(&self) -> bool {
        !self.aliases.is_empty()
    }

    /// `path` with the first alias whose prefix matches (whole components) replaced.
    fn unalias(&self, path: &Path) -> PathBuf {
        for (from, to) in self.aliases {
            if let Ok(rest) = path.strip_prefix(from) {
                return Path::new(to).join(rest);
            }
        }
        path.to_path_buf()
    }

    /// The root as given on the command line.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this root is the running system's `/`.
    pub fn is_host(&self) -> bool {
        self.path == Path::new("/")
    }

    /// A root-relative path as the owner sees it on this machine (`DIR/etc/shadow`).
    pub fn display(&self, inside: &Path) -> String {
        if let Some(label) = &self.label {
            format!("{label}:{}", inside.display())
        } else if self.is_host() {
            inside.display().to_string()
        } else {
            let rel = inside.strip_prefix("/").unwrap_or(inside);
            self.path.join(rel).display().to_string()
        }
    }

    /// Resolve `logical` (an absolute path inside the root), following every symlink inside
    /// the root, including one in the final component. A missing final component is fine
    /// (`stat` is `None`); a missing directory on the way is an error.
    pub fn resolve(&self, logical: &str) -> Result<Resolved> {
        self.walk(logical, false, None)?
            .ok_or_else(|| Error::io(self.display(Path::new(logical)), Errno::ENOENT))
    }

    /// Like [`Root::resolve`], but `None` when a directory on the way is missing.
    pub fn try_resolve(&self, logical: &str) -> Result<Option<Resolved>> {
        self.walk(logical, false, None)
    }

    /// Like [`Root::resolve`], creating missing directories on the way (and the final one)
    /// with `mode`; returns the final directory opened.
    pub fn create_dir_all(&self, logical: &str, mode: Mode) -> Result<(OwnedFd, PathBuf)> {
        let r = self
            .walk(logical, true, Some(mode))?
            .ok_or_else(|| Error::io(self.display(Path::new(logical)), Errno::ENOENT))?;
        let fd = openat(&r.dir, r.name.as_os_str(), dir_flags(), Mode::empty())
            .map_err(|e| Error::io(self.display(&r.real), e))?;
        Ok((fd, r.real))
    }

    /// Open an existing directory inside the root (following symlinks inside the root).
    pub fn open_dir(&self, logical: &str) -> Result<(OwnedFd, PathBuf)> {
        let r = self.resolve(logical)?;
        if r.stat.is_none() {
            return Err(Error::io(self.display(&r.real), Errno::ENOENT));
        }
        let fd = openat(&r.dir, r.name.as_os_str(), dir_flags(), Mode::empty())
            .map_err(|e| Error::io(self.display(&r.real), e))?;
        Ok((fd, r.real))
    }

    fn walk(&self, logical: &str, create: bool, mode: Option<Mode>) -> Result<Option<Resolved>> {
        // Components still to walk, in order (front = next).
        let mut todo: Vec<OsString> = Vec::new();
        push_front(&mut todo, &self.unalias(Path::new(logical)));
        // Open directories from the root down; `names[i]` is the name of `dirs[i + 1]`.
        let mut dirs: Vec<OwnedFd> = vec![self.fd.try_clone().map_err(|e| Error::io("root", e))?];
        let mut names: Vec<OsString> = Vec::new();
        let mut links = 0usize;
        let mut via_symlink = false;
        if todo.is_empty() {
            return Err(Error::usage(format!(
                "{logical}: the root itself is not a file"
            )));
        }
        loop {
            let comp = todo.remove(0);
            if comp == "." || comp.is_empty() {
                if todo.is_empty() {
                    return Err(Error::usage(format!("{logical}: does not name a file")));
                }
                continue;
            }
            if comp == ".." {
                if dirs.len() > 1 {
                    dirs.pop();
                    names.pop();
                }
                if todo.is_empty() {
                    return Err(Error::usage(format!("{logical}: does not name a file")));
                }
                continue;
            }
            let last = todo.is_empty();
            let cur = dirs.last().expect("root is always there");
            let real = real_path(&names, Some(&comp));
            let st = match fstatat(cur, comp.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => Some(st),
                Err(Errno::ENOENT) => None,
                Err(e) => return Err(Error::io(self.display(&real), e)),
            };
            match st {
                None if last && !create => {
                    return Ok(Some(Resolved {
                        dir: dirs.pop().expect("root"),
                        name: comp,
                        real,
                        stat: None,
                        via_symlink,
                    }));
                }
                None if create => {
                    match mkdirat(
                        cur,
                        comp.as_os_str(),
                        mode.unwrap_or(Mode::from_bits_truncate(0o700)),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(Error::io(self.display(&real), e)),
                    }
                    todo.insert(0, comp);
                    continue;
                }
                None => return Ok(None),
                Some(st) if is_kind(&st, SFlag::S_IFLNK) => {
                    links += 1;
                    via_symlink = true;
                    if links > MAX_SYMLINKS {
                        return Err(Error::io(self.display(&real), Errno::ELOOP));
                    }
                    let target = readlinkat(cur, comp.as_os_str())
                        .map_err(|e| Error::io(self.display(&real), e))?;
                    let mut target = PathBuf::from(target);
                    if target.is_absolute() {
                        target = self.unalias(&target);
                        dirs.truncate(1);
                        names.clear();
                    }
                    push_front(&mut todo, &target);
                    if todo.is_empty() {
                        // A link to "/" or "." as the final component: it is a directory.
                        return Err(Error::usage(format!("{logical}: resolves to a directory")));
                    }
                }
                Some(st) if is_kind(&st, SFlag::S_IFDIR) && (!last || create) => {
                    let fd = openat(cur, comp.as_os_str(), dir_flags(), Mode::empty())
                        .map_err(|e| Error::io(self.display(&real), e))?;
                    if last {
                        return Ok(Some(Resolved {
                            dir: dirs.pop().expect("root"),
                            name: comp,
                            real,
                            stat: Some(st),
                            via_symlink,
                        }));
                    }
                    dirs.push(fd);
                    names.push(comp);
                }
                Some(st) => {
                    if !last {
                        return Err(Error::io(self.display(&real), Errno::ENOTDIR));
                    }
                    return Ok(Some(Resolved {
                        dir: dirs.pop().expect("root"),
                        name: comp,
                        real,
                        stat: Some(st),
                        via_symlink,
                    }));
                }
            }
        }
    }
}

fn push_front(todo: &mut Vec<OsString>, path: &Path) {
    let comps: Vec<OsString> = path
        .as_os_str()
        .as_bytes()
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(|c| OsStr::from_bytes(c).to_os_string())
        .collect();
    todo.splice(0..0, comps);
}

fn real_path(names: &[OsString], last: Option<&OsString>) -> PathBuf {
    let mut p = PathBuf::from("/");
    for n in names {
        p.push(n);
    }
    if let Some(l) = last {
        p.push(l);
    }
    p
}

impl Resolved {
    /// Open the resolved file for reading (never following a symlink swapped in since).
    pub fn open_read(&self) -> nix::Result<File> {
        openat(
            &self.dir,
            self.name.as_os_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
    }

    /// Whether it exists as a directory.
    pub fn is_dir(&self) -> bool {
        self.stat
            .as_ref()
            .is_some_and(|st| is_kind(st, SFlag::S_IFDIR))
    }

    /// Whether it exists as a regular file.
    pub fn is_file(&self) -> bool {
        self.stat
            .as_ref()
            .is_some_and(|st| is_kind(st, SFlag::S_IFREG))
    }

    /// Identity of the file (device, inode), to merge paths that are the same file.
    #[allow(clippy::unnecessary_cast)] // dev_t/ino_t widths differ between libcs
    pub fn identity(&self) -> Option<(u64, u64)> {
        self.stat
            .as_ref()
            .map(|st| (st.st_dev as u64, st.st_ino as u64))
    }

    /// A sibling name in the same directory (`shadow` → `shadow+`).
    pub fn sibling(&self, suffix: &str) -> OsString {
        let mut n = self.name.clone();
        n.push(suffix);
        n
    }

    /// The parent directory's descriptor.
    pub fn dir_fd(&self) -> impl AsFd + '_ {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    //! The walk's rules, one at a time (written to kill the mutants cargo-mutants found
    //! alive; docs/reliability.md, "Mutation testing").
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// A root with `/etc/shadow` (a regular file) and an empty `/var`.
    fn tree() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::create_dir_all(dir.path().join("var")).unwrap();
        fs::write(dir.path().join("etc/shadow"), b"s\n").unwrap();
        let root = Root::open(dir.path()).unwrap();
        (dir, root)
    }

    fn message(r: Result<Resolved>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_regular_file_is_found_with_its_kind_and_identity() {
        let (dir, root) = tree();
        let r = root.resolve("/etc/shadow").unwrap();
        assert_eq!(r.real, Path::new("/etc/shadow"));
        assert_eq!(r.name, "shadow");
        assert!(r.is_file() && !r.is_dir() && !r.via_symlink);
        let st = fs::metadata(dir.path().join("etc/shadow")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(r.identity(), Some((st.dev(), st.ino())));
        assert_eq!(r.sibling("+"), "shadow+");
        let d = root.resolve("/etc").unwrap();
        assert!(d.is_dir() && !d.is_file());
        let missing = root.resolve("/etc/gshadow").unwrap();
        assert!(missing.stat.is_none() && !missing.is_file() && !missing.is_dir());
        assert_eq!(missing.identity(), None);
    }

    #[test]
    fn dot_dotdot_and_empty_components_stay_inside_the_root() {
        let (_dir, root) = tree();
        for p in [
            "/../../etc/shadow",
            "//etc//shadow",
            "/./etc/./shadow",
            "/var/../etc/shadow",
            "/etc/../../../etc/shadow",
        ] {
            let r = root.resolve(p).unwrap();
            assert_eq!(r.real, Path::new("/etc/shadow"), "{p}");
            assert!(r.is_file(), "{p}");
        }
        for p in ["/", "/.", "/..", "/etc/.", "/etc/.."] {
            let m = message(root.resolve(p));
            assert!(
                m.contains("is not a file") || m.contains("does not name a file"),
                "{p}: {m}"
            );
        }
    }

    #[test]
    fn a_file_on_the_way_is_not_a_directory_and_a_missing_directory_is_none() {
        let (_dir, root) = tree();
        let m = message(root.resolve("/etc/shadow/x"));
        assert!(m.contains("Not a directory"), "{m}");
        assert!(root.try_resolve("/nope/shadow").unwrap().is_none());
        assert!(message(root.resolve("/nope/shadow")).contains("No such file"));
    }

    #[test]
    fn symlinks_resolve_inside_the_root_up_to_forty_of_them() {
        let (dir, root) = tree();
        // Absolute targets start again at the root; relative ones where the link is.
        symlink("/etc/shadow", dir.path().join("var/abs")).unwrap();
        symlink("../etc/shadow", dir.path().join("var/rel")).unwrap();
        for p in ["/var/abs", "/var/rel"] {
            let r = root.resolve(p).unwrap();
            assert_eq!(r.real, Path::new("/etc/shadow"), "{p}");
            assert!(r.via_symlink && r.is_file(), "{p}");
        }
        // A chain of 40 links resolves (Linux's own limit); one of 41 does not.
        let link = |i: usize| dir.path().join(format!("var/l{i}"));
        symlink("/etc/shadow", link(0)).unwrap();
        for i in 1..41 {
            symlink(format!("l{}", i - 1), link(i)).unwrap();
        }
        assert!(root.resolve("/var/l39").unwrap().is_file());
        let m = message(root.resolve("/var/l40"));
        assert!(m.contains("symbolic links"), "{m}");
        // A loop ends too.
        symlink("loop2", dir.path().join("var/loop1")).unwrap();
        symlink("loop1", dir.path().join("var/loop2")).unwrap();
        assert!(message(root.resolve("/var/loop1")).contains("symbolic links"));
        // A link to the root itself names a directory, not a file.
        symlink("/", dir.path().join("var/top")).unwrap();
        assert!(message(root.resolve("/var/top")).contains("resolves to a directory"));
    }

    #[test]
    fn create_dir_all_makes_each_missing_directory_with_the_mode_given() {
        let (dir, root) = tree();
        let (_fd, real) = root
            .create_dir_all("/var/lib/qrescue", Mode::from_bits_truncate(0o750))
            .unwrap();
        assert_eq!(real, Path::new("/var/lib/qrescue"));
        for d in ["var/lib", "var/lib/qrescue"] {
            let mode = fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o750 & !umask(), "{d}");
        }
        // Existing ones are opened as they are.
        let (_fd, real) = root
            .create_dir_all("/etc", Mode::from_bits_truncate(0o700))
            .unwrap();
        assert_eq!(real, Path::new("/etc"));
        assert!(root.open_dir("/var/lib").is_ok());
        assert!(root.open_dir("/var/nope").is_err());
        assert!(root.open_dir("/etc/shadow").is_err());
    }

    /// The process umask, read without changing it (tests run in parallel).
    fn umask() -> u32 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
        u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
    }

    #[test]
    fn a_system_partition_maps_etc_config_and_its_own_mount_point() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(".config")).unwrap();
        fs::write(dir.path().join(".config/shadow"), b"s\n").unwrap();
        let plain = Root::open(dir.path()).unwrap();
        assert!(!plain.is_system_partition());
        assert!(plain.try_resolve("/etc/config/shadow").unwrap().is_none());
        let root = Root::open_system_partition(dir.path()).unwrap();
        assert!(root.is_system_partition());
        for p in ["/etc/config/shadow", "/mnt/HDA_ROOT/.config/shadow"] {
            let r = root.resolve(p).unwrap();
            assert_eq!(r.real, Path::new("/.config/shadow"), "{p}");
        }
        // Whole components only: `/etc/configx` is not under `/etc/config`.
        assert!(root.try_resolve("/etc/configx/shadow").unwrap().is_none());
        assert_eq!(
            root.resolve("/etc/.pwd.lock").unwrap().real,
            Path::new("/.config/.pwd.lock")
        );
        // Absolute link targets are mapped too.
        symlink("/etc/config/shadow", dir.path().join("link")).unwrap();
        assert_eq!(
            root.resolve("/link").unwrap().real,
            Path::new("/.config/shadow")
        );
    }

    #[test]
    fn paths_are_shown_as_the_owner_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        assert!(!root.is_host());
        assert_eq!(root.path(), dir.path());
        assert_eq!(
            root.display(Path::new("/etc/shadow")),
            dir.path().join("etc/shadow").display().to_string()
        );
        assert_eq!(root.invocation(), "qrescue");
        let root = root
            .with_label("/dev/md9".into())
            .with_invocation("qrescue --disk /dev/sda".into());
        assert_eq!(
            root.display(Path::new("/etc/shadow")),
            "/dev/md9:/etc/shadow"
        );
        assert_eq!(root.invocation(), "qrescue --disk /dev/sda");
        let host = Root::open(Path::new("/")).unwrap();
        assert!(host.is_host());
        assert_eq!(host.display(Path::new("/etc/shadow")), "/etc/shadow");
    }

    #[test]
    fn the_root_must_be_a_directory() {
        let (dir, _root) = tree();
        let file = dir.path().join("etc/shadow");
        let e = Root::open(&file).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("root {}", file.display())),
            "{}",
            e.to_string()
        );
        assert!(
            e.to_string().contains("Not a directory"),
            "{}",
            e.to_string()
        );
    }
}
