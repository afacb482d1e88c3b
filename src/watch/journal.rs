//! The button journal: append-only JSON Lines in qrescue's persistent state directory
//! (`/etc/config/qrescue/button.jsonl` on QTS), one fdatasync per record.
//!
//! - Each record is one `write()` of a whole line on an `O_APPEND` fd, then `fdatasync`: after a
//!   power cut the file ends with complete lines, or with one torn line at most.
//! - A torn last line is tolerated: on open it is closed with a newline (so the next record
//!   starts clean) and reported; readers skip unparseable lines and count them.
//! - Size cap: before a record would take the file over `max_bytes`, the file is renamed to
//!   `button.jsonl.1` (replacing the older one) and a new file is started. The newest
//!   records are never dropped; `events` reads both files.

use std::fs::File;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths::StateDir;
use crate::sys::Errno;
use crate::sys::dir::{Dir, errno_of};
use crate::sys::fs;
use crate::sys::root::Root;
use crate::watch::classify::Class;
use crate::watch::source::SourceKind;
use crate::watch::term::{Term, words};

pub const FILE: &str = "button.jsonl";
pub const ROTATED: &str = "button.jsonl.1";
pub const DEFAULT_MAX_BYTES: u64 = 512 * 1024;

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Wall-clock time of the press (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The same as Unix milliseconds.
    pub unix_ms: u64,
    pub event: Term<Event>,
    /// `short`, `basic-reset`, `advanced-reset`.
    pub class: Term<Class>,
    /// How long the button was (or had been) held, from monotonic timestamps.
    pub held_ms: u64,
    /// False when the button was already down when watching began: `held_ms` is a minimum.
    pub start_known: bool,
    /// What the firmware does (or will do on release) for this class.
    pub firmware: String,
    /// For `unfinished`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// evdev, gpio-v2, gpio-v1, sysfs-gpio, replay.
    pub source: Term<SourceKind>,
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// Key code (evdev, replay) or line offset (GPIO).
    pub code: u32,
}

/// What a journal line records about a press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Crossed a class's threshold while still held.
    Threshold,
    /// Released and classified.
    Hold,
    /// No release: device gone, watcher stopped, end of replay.
    Unfinished,
}
words!(Event {
    Threshold => "threshold",
    Hold => "hold",
    Unfinished => "unfinished",
});

/// `2026-11-24T21:44:00.250Z`.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    let s = crate::clock::rfc3339(unix_ms / 1000);
    format!("{}.{:03}Z", s.trim_end_matches('Z'), unix_ms % 1000)
}

pub struct Journal {
    dir: Dir,
    /// The file's name in `dir` (`button.jsonl`, or the one `--journal FILE` names); rotation
    /// renames it to the same name with `.1`.
    name: std::ffi::OsString,
    display: String,
    file: File,
    size: u64,
    max_bytes: u64,
}

fn open_append(dir: &Dir, name: &std::ffi::OsStr, display: &str) -> Result<(File, u64)> {
    // Never blocks on a FIFO, never opens a device put there.
    let fd = crate::sys::regular::open_append_or_err(dir, name, display)?;
    let st = fs::fstat(&fd).map_err(|e| Error::io(display, e))?;
    if !fs::is_regular(&st) {
        return Err(Error::perm(format!("{display} is not a regular file")));
    }
    Ok((File::from(fd), st.st_size as u64))
}

fn last_byte(dir: &Dir, name: &std::ffi::OsStr, display: &str, size: u64) -> Result<Option<u8>> {
    if size == 0 {
        return Ok(None);
    }
    let fd = crate::sys::regular::open_read_or_err(dir, name, display)?;
    let mut b = [0u8; 1];
    fs::pread(&fd, &mut b, size as i64 - 1).map_err(|e| Error::io(display, e))?;
    Ok(Some(b[0]))
}

impl Journal {
    /// Open (creating the state directory and the file, 0600) for appending. Returns
    /// whether a torn last line was found (and closed).
    pub fn open(root: &Root, max_bytes: u64) -> Result<(Journal, bool)> {
        let state = StateDir::open(root, true)?.expect("created");
        let display = format!("{}/{FILE}", state.display);
        Self::open_in(state.fd, FILE.as_ref(), display, max_bytes)
    }

    /// Open a file named by the user (`watch --replay --journal FILE`) for appending,
    /// creating it 0600; never the box's journal unless named. Rotated like the box's.
    pub fn open_path(path: &std::path::Path, max_bytes: u64) -> Result<(Journal, bool)> {
        let display = path.display().to_string();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| Error::usage(format!("--journal {display}: not a file name")))?;
        let dir = Dir::open_path(parent).map_err(|e| Error::io(&display, e))?;
        Self::open_in(dir, name, display, max_bytes)
    }

    /// Open `name` in `dir` for appending (a regular file only, created 0600) and close a
    /// torn last line. Returns whether one was found.
    fn open_in(
        dir: Dir,
        name: &std::ffi::OsStr,
        display: String,
        max_bytes: u64,
    ) -> Result<(Journal, bool)> {
        let (mut file, mut size) = open_append(&dir, name, &display)?;
        let torn = last_byte(&dir, name, &display, size)?.is_some_and(|b| b != b'\n');
        if torn {
            file.write_all(b"\n")
                .and_then(|_| file.sync_all())
                .map_err(|e| Error::io(&display, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
            size += 1;
        }
        Ok((
            Journal {
                dir,
                name: name.to_os_string(),
                display,
                file,
                size,
                max_bytes: max_bytes.max(1024),
            },
            torn,
        ))
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    fn err(&self, e: std::io::Error) -> Error {
        Error::io(&self.display, errno_of(&e))
    }

    /// Append one record durably (fdatasync before returning).
    pub fn append(&mut self, rec: &Record) -> Result<()> {
        let mut line = serde_json::to_string(rec).map_err(|e| Error::io(&self.display, e))?;
        line.push('\n');
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| self.err(e))?;
        self.file.sync_data().map_err(|e| self.err(e))?;
        self.size += line.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        self.file.sync_all().map_err(|e| self.err(e))?;
        let mut rotated = self.name.clone();
        rotated.push(".1");
        self.dir
            .rename(self.name.as_os_str(), rotated.as_os_str())
            .map_err(|e| Error::io(&self.display, e))?;
        let (file, size) = open_append(&self.dir, &self.name, &self.display)?;
        self.dir.sync().map_err(|e| Error::io(&self.display, e))?;
        self.file = file;
        self.size = size;
        Ok(())
    }
}

/// What `events` reads back.
#[derive(Debug, Default, Serialize)]
pub struct Contents {
    pub records: Vec<Record>,
    /// Lines that could not be parsed (a torn line after a power cut, or damage).
    pub skipped_lines: usize,
}

/// Read the rotated file, then the current one. A missing journal is empty.
pub fn read_all(root: &Root) -> Result<(Contents, Option<String>)> {
    let Some(state) = StateDir::open(root, false)? else {
        return Ok((Contents::default(), None));
    };
    let mut c = Contents::default();
    for name in [ROTATED, FILE] {
        let display = format!("{}/{name}", state.display);
        let fd =
            match crate::sys::regular::open_read(&state.fd, std::ffi::OsStr::new(name), &display) {
                Ok(fd) => fd,
                Err(crate::sys::regular::OpenError::Os(Errno::ENOENT)) => continue,
                Err(e) => return Err(e.into_error(&display)),
            };
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut File::from(fd), &mut text)
            .map_err(|e| Error::io(&display, errno_of(&e)))?;
        parse_into(&text, &mut c);
    }
    Ok((c, Some(format!("{}/{FILE}", state.display))))
}

/// Parse JSON Lines, skipping (and counting) lines that are not records.
pub fn parse_into(text: &[u8], c: &mut Contents) {
    for line in text.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => c.records.push(r),
            Err(_) => c.skipped_lines += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u64) -> Record {
        Record {
            time: rfc3339_ms(n),
            unix_ms: n,
            event: Event::Hold.into(),
            class: Class::Short.into(),
            held_ms: n,
            start_known: true,
            firmware: "nothing".into(),
            reason: None,
            source: SourceKind::Replay.into(),
            device: "/tmp/x".into(),
            device_name: None,
            code: 0x198,
        }
    }

    #[test]
    fn words_this_version_does_not_know_are_read_and_kept() {
        // A line another version wrote: kept (not counted as damaged), matching no known word.
        let line = serde_json::to_string(&rec(5))
            .unwrap()
            .replace("\"hold\"", "\"double-press\"")
            .replace("\"short\"", "\"super-reset\"");
        let mut c = Contents::default();
        parse_into(line.as_bytes(), &mut c);
        assert_eq!(c.skipped_lines, 0);
        let r = &c.records[0];
        assert_eq!(r.event, Term::Unknown("double-press".into()));
        assert_ne!(r.class, Class::Short);
        assert_eq!(r.class.as_str(), "super-reset");
        assert_eq!(serde_json::to_string(r).unwrap(), line);
        // Known words are written exactly as before.
        let known = serde_json::to_string(&rec(5)).unwrap();
        assert!(
            known.contains("\"event\":\"hold\",\"class\":\"short\"")
                && known.contains("\"source\":\"replay\""),
            "{known}"
        );
    }

    #[test]
    fn torn_and_damaged_lines_are_skipped_and_counted() {
        let mut text = Vec::new();
        for n in 0..3 {
            text.extend(serde_json::to_vec(&rec(n)).unwrap());
            text.push(b'\n');
        }
        text.extend_from_slice(b"{\"time\":\"2026-11-24T2");
        text.push(b'\n');
        text.extend(serde_json::to_vec(&rec(9)).unwrap());
        let mut c = Contents::default();
        parse_into(&text, &mut c);
        assert_eq!(
            c.records.iter().map(|r| r.unix_ms).collect::<Vec<_>>(),
            vec![0, 1, 2, 9]
        );
        assert_eq!(c.skipped_lines, 1);
    }

    #[test]
    fn milliseconds_format() {
        assert_eq!(rfc3339_ms(1_795_556_640_250), "2026-11-24T21:44:00.250Z");
        assert_eq!(rfc3339_ms(7), "1970-01-01T00:00:00.007Z");
    }

    #[test]
    fn rotation_keeps_the_newest_and_the_file_set_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (mut j, torn) = Journal::open(&root, 2048).unwrap();
        assert!(!torn);
        for n in 0..40 {
            j.append(&rec(n)).unwrap();
        }
        let (c, _) = read_all(&root).unwrap();
        let got: Vec<u64> = c.records.iter().map(|r| r.unix_ms).collect();
        assert_eq!(got.last(), Some(&39), "newest record kept");
        assert!(got.windows(2).all(|w| w[0] + 1 == w[1]), "no gap: {got:?}");
        assert_eq!(c.skipped_lines, 0);
        let state = dir.path().join("var/lib/qrescue");
        for f in [FILE, ROTATED] {
            let len = std::fs::metadata(state.join(f)).unwrap().len();
            assert!(len <= 2048, "{f} is {len} bytes");
        }
    }

    #[test]
    fn torn_last_line_is_closed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (mut j, _) = Journal::open(&root, DEFAULT_MAX_BYTES).unwrap();
        j.append(&rec(1)).unwrap();
        drop(j);
        let path = dir.path().join("var/lib/qrescue").join(FILE);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"time\":\"20").unwrap();
        drop(f);
        let (mut j, torn) = Journal::open(&root, DEFAULT_MAX_BYTES).unwrap();
        assert!(torn);
        j.append(&rec(2)).unwrap();
        let (c, _) = read_all(&root).unwrap();
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.skipped_lines, 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    fn state(dir: &tempfile::TempDir) -> std::path::PathBuf {
        dir.path().join("var/lib/qrescue")
    }

    /// A record whose JSON line (with its newline) is exactly `len` bytes.
    fn rec_of_len(n: u64, len: usize) -> Record {
        let mut r = rec(n);
        let base = serde_json::to_string(&r).unwrap().len() + 1;
        r.device = format!("/{}", "d".repeat(len - base + r.device.len() - 1));
        assert_eq!(serde_json::to_string(&r).unwrap().len() + 1, len);
        r
    }

    #[test]
    fn default_cap_keeps_hundreds_of_records_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (mut j, _) = Journal::open(&root, DEFAULT_MAX_BYTES).unwrap();
        assert!(j.display().ends_with("/var/lib/qrescue/button.jsonl"));
        for n in 0..300 {
            j.append(&rec(n)).unwrap();
        }
        assert!(!state(&dir).join(ROTATED).exists(), "rotated below 512 KiB");
        let (c, shown) = read_all(&root).unwrap();
        assert_eq!(c.records.len(), 300);
        assert_eq!(shown.as_deref(), Some(j.display()));
    }

    #[test]
    fn rotation_happens_only_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (mut j, _) = Journal::open(&root, 2048).unwrap();
        j.append(&rec_of_len(1, 1024)).unwrap();
        j.append(&rec_of_len(2, 1024)).unwrap();
        assert!(
            !state(&dir).join(ROTATED).exists(),
            "exactly 2048 bytes fit"
        );
        j.append(&rec(3)).unwrap();
        let rotated = std::fs::read(state(&dir).join(ROTATED)).unwrap();
        assert_eq!(rotated.len(), 2048);
        let (c, _) = read_all(&root).unwrap();
        let got: Vec<u64> = c.records.iter().map(|r| r.unix_ms).collect();
        assert_eq!(got, vec![1, 2, 3]);
    }

    #[test]
    fn the_closing_newline_counts_toward_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        drop(Journal::open(&root, 2048).unwrap());
        // 1023 bytes of a torn line: closed with a newline on open, the file is 1024 bytes.
        std::fs::write(state(&dir).join(FILE), vec![b'{'; 1023]).unwrap();
        let (mut j, torn) = Journal::open(&root, 2048).unwrap();
        assert!(torn);
        // 1024 + 1024 = 2048 would fit; 1024 + 1025 does not.
        j.append(&rec_of_len(1, 1025)).unwrap();
        assert_eq!(
            std::fs::read(state(&dir).join(ROTATED)).unwrap().len(),
            1024,
            "the closed torn line was rotated out first"
        );
    }

    #[test]
    fn reopening_a_clean_journal_is_not_torn() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let (mut j, torn) = Journal::open(&root, DEFAULT_MAX_BYTES).unwrap();
        assert!(!torn);
        j.append(&rec(1)).unwrap();
        drop(j);
        let (_, torn) = Journal::open(&root, DEFAULT_MAX_BYTES).unwrap();
        assert!(!torn, "ends with a newline");
        let (c, _) = read_all(&root).unwrap();
        assert_eq!((c.records.len(), c.skipped_lines), (1, 0));
    }

    #[test]
    fn an_oversized_record_on_an_empty_file_does_not_rotate_the_older_one_away() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        drop(Journal::open(&root, 1024).unwrap());
        // As after a crash between a rotation and the next append: older records in
        // button.jsonl.1, an empty button.jsonl.
        let mut old = serde_json::to_vec(&rec(1)).unwrap();
        old.push(b'\n');
        std::fs::write(state(&dir).join(ROTATED), &old).unwrap();
        let (mut j, _) = Journal::open(&root, 1024).unwrap();
        j.append(&rec_of_len(2, 1500)).unwrap();
        let (c, _) = read_all(&root).unwrap();
        let got: Vec<u64> = c.records.iter().map(|r| r.unix_ms).collect();
        assert_eq!(got, vec![1, 2]);
    }

    #[test]
    fn a_symlinked_journal_is_neither_written_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        drop(Journal::open(&root, DEFAULT_MAX_BYTES).unwrap());
        let decoy = dir.path().join("decoy");
        let mut line = serde_json::to_vec(&rec(7)).unwrap();
        line.push(b'\n');
        std::fs::write(&decoy, &line).unwrap();
        for name in [FILE, ROTATED] {
            let p = state(&dir).join(name);
            let _ = std::fs::remove_file(&p);
            std::os::unix::fs::symlink(&decoy, &p).unwrap();
            assert!(read_all(&root).is_err(), "{name} followed");
            std::fs::remove_file(&p).unwrap();
        }
        std::os::unix::fs::symlink(&decoy, state(&dir).join(FILE)).unwrap();
        assert!(Journal::open(&root, DEFAULT_MAX_BYTES).is_err());
        assert_eq!(std::fs::read(&decoy).unwrap(), line, "decoy untouched");
        // An empty target too (no last byte to read, so only the open can refuse it).
        std::fs::write(&decoy, b"").unwrap();
        assert!(Journal::open(&root, DEFAULT_MAX_BYTES).is_err());
        assert_eq!(std::fs::read(&decoy).unwrap(), b"", "empty decoy untouched");
    }
}
