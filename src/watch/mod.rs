//! The reset-button watcher (`qrescue watch`) and its journal (`qrescue events`); the
//! command line of both is in `cli/` (`watch_cmd`, `events_cmd`).
//!
//! Sources: evdev (`--device`, or found by the key it reports), a GPIO line (`--gpio`), a
//! recorded capture or FIFO (`--replay`). See docs/watcher.md.

pub mod classify;
pub(crate) mod daemon;
pub mod evdev;
pub(crate) mod gpio;
pub mod journal;
pub(crate) mod polled;
pub mod records;
pub(crate) mod replay;
pub mod source;
pub(crate) mod state;
pub(crate) mod stores;
pub(crate) mod term;

use std::path::{Path, PathBuf};

use crate::sys::event::{DirChanges, PollFd, PollFlags, PollTimeout, SignalFd, poll};

use crate::context::Context;
use crate::error::{Error, Result};
use classify::{Classifier, Thresholds};
use daemon::{End, Watcher};
use journal::Journal;
use source::{Source, SourceKind};

/// Where input devices are found.
pub const INPUT_DIR: &str = "/dev/input";

/// What `watch` is asked to do (filled in from the command line by the watch command).
#[derive(Debug, Clone)]
pub struct Options {
    /// Input device to read (/dev/input/eventN)
    pub device: Option<PathBuf>,
    /// GPIO line: CHIP:LINE[:active-low] (chip gpiochipN, line offset or name) or sysfs:N
    pub gpio: Option<String>,
    /// With --gpio sysfs:N: read the line's value file every MS milliseconds (read-only, for
    /// a line only the firmware reads; never exported or reconfigured). Off unless given
    pub poll_ms: Option<u64>,
    /// Replay recorded input_event records from FILE (or a FIFO) in this binary's layout
    pub replay: Option<PathBuf>,
    /// Where replay records go (appended, created 0600); without it, stdout as JSON lines.
    /// A replay never writes the box's journal unless it is named here.
    pub journal: Option<PathBuf>,
    /// Key code of the reset button: a number (408, 0x198) or KEY_RESTART, BTN_2, ...
    pub key: Option<String>,
    /// Command run by /bin/sh after each classified hold (QRESCUE_CLASS, QRESCUE_HELD_MS set)
    pub on_hold: Option<String>,
    /// Do not watch the credential stores (on by default, except for a replay)
    pub no_stores: bool,
    /// Stay attached to the terminal and echo log records to stderr
    pub foreground: bool,
    /// Hold length of a basic reset, in milliseconds
    pub basic_ms: u64,
    /// Hold length of an advanced reset, in milliseconds
    pub advanced_ms: u64,
    /// Contact bounces shorter than this are ignored, in milliseconds
    pub debounce_ms: u64,
    /// Rotate the journal when it would exceed this size
    pub journal_max_bytes: u64,
    /// Where auto-detection looks for input devices (tests point it at an empty directory,
    /// so they do not depend on the host's devices)
    pub input_dir: PathBuf,
}

/// Key names the reset button is known to use (include/uapi/linux/input-event-codes.h).
const KEYS: &[(&str, u16)] = &[
    ("KEY_RESTART", 0x198),
    ("KEY_POWER", 116),
    ("KEY_COPY", 133),
    ("KEY_VENDOR", 0x168),
    ("KEY_PROG1", 148),
    ("BTN_0", 0x100),
    ("BTN_1", 0x101),
    ("BTN_2", 0x102),
    ("BTN_3", 0x103),
];

pub fn parse_key(s: &str) -> Option<u16> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(h, 16)
            .ok()
            .filter(|&k| k <= records::KEY_MAX);
    }
    if let Ok(n) = s.parse::<u16>() {
        return (n <= records::KEY_MAX).then_some(n);
    }
    KEYS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|&(_, k)| k)
}

fn key_label(k: u16) -> String {
    match KEYS.iter().find(|&&(_, c)| c == k) {
        Some((n, _)) => format!("{n} ({k:#x})"),
        None => format!("{k:#x}"),
    }
}

/// What to watch, as chosen from the options or found.
enum Choice {
    Device(PathBuf),
    /// `--gpio sysfs:N --poll-ms MS`.
    Polled(u32, bool, u64),
    Gpio(gpio::Spec),
    Replay(PathBuf),
}

fn open_source(c: &Choice, key: u16, debounce_ms: u64) -> Result<Box<dyn Source>> {
    Ok(match c {
        Choice::Device(p) => Box::new(evdev::Evdev::open(p, key)?),
        Choice::Gpio(s) => Box::new(gpio::Gpio::open(s, debounce_ms)?),
        Choice::Polled(n, low, ms) => Box::new(polled::Polled::open(*n, *low, *ms)?),
        Choice::Replay(p) => Box::new(replay::Replay::open(p, key)?),
    })
}

/// Input devices known to carry a reset button, tried in order when `--key` is not given:
/// (device name, or any; key; where the row comes from).
pub const BUTTONS: &[(Option<&str>, u16, &str)] = &[
    // The out-of-tree qnap8528 driver (Debian/TrueNAS on IT8528 QNAP boards) reports the
    // reset button as BTN_2 on a device named qnap8528.
    (Some("qnap8528"), 0x102, "qnap8528"),
    // gpio-keys on ARM boards whose device tree describes the button.
    (None, 0x198, "gpio-keys"),
];

/// Auto-detection: an input device of the table (or, with `--key`, any reporting that key),
/// then a free GPIO line named like a reset button. Returns the choice and its key.
fn detect(key: Option<u16>, input_dir: &Path) -> Option<(Choice, u16)> {
    let rows: Vec<(Option<&str>, u16)> = match key {
        Some(k) => vec![(None, k)],
        None => BUTTONS.iter().map(|&(n, k, _)| (n, k)).collect(),
    };
    for (want, k) in rows {
        if let Some((p, name)) = evdev::find_named(input_dir, k, want) {
            log::info!(
                "found {} ({}) reporting {}",
                p.display(),
                name.as_deref().unwrap_or("unnamed"),
                key_label(k)
            );
            return Some((Choice::Device(p), k));
        }
    }
    if let Some(spec) = gpio::find_reset_line() {
        log::info!("found a free GPIO line named like a reset button: {spec:?}");
        return Some((Choice::Gpio(spec), key.unwrap_or(records::KEY_RESTART)));
    }
    None
}

const NOT_FOUND: &str = "\
no reset-button source found: no input device under /dev/input is a known reset button \
(qnap8528's BTN_2, gpio-keys' KEY_RESTART, or the --key asked for), and no \
free GPIO line is named like a reset button. On QNAP x86 models QTS reads the button \
through its embedded controller (hal_daemon), which the kernel does not expose; qrescue \
does not poll the controller itself (that would race with the firmware). Options: \
--device /dev/input/eventN (and --key CODE) if a driver such as qnap8528 provides one, \
--gpio CHIP:LINE for a free line. Waiting for an input device to appear.";

/// Sleep until something changes under `dir` (or its parent, while it does not exist), or
/// a signal arrives. Returns false when a termination signal ended the wait.
fn wait_for_change(dir: &Path, sfd: &SignalFd) -> Result<bool> {
    let ino = DirChanges::new().map_err(|e| Error::io("inotify", e))?;
    if ino.watch(dir).is_err() {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        ino.watch(parent)
            .map_err(|e| Error::io(parent.display().to_string(), e))?;
    }
    loop {
        let (ino_ready, sig_ready) = {
            let mut fds = [
                PollFd::new(std::os::fd::AsFd::as_fd(&ino), PollFlags::POLLIN),
                PollFd::new(std::os::fd::AsFd::as_fd(sfd), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(crate::sys::Errno::EINTR) => {}
                Err(e) => return Err(Error::io("poll", e)),
            }
            let r = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (r(&fds[0]), r(&fds[1]))
        };
        if sig_ready && daemon::handle_signals(sfd) {
            return Ok(false);
        }
        if ino_ready {
            // The events need not be read: `ino` is closed on return.
            // Let udev/mdev finish setting up the node (permissions) before it is opened.
            std::thread::sleep(std::time::Duration::from_millis(200));
            return Ok(true);
        }
    }
}

/// What is watched, said once per change: "stores: /etc/config; button: /dev/input/event0
/// (gpio-keys)". Logged (QTS: the service's log), on a terminal without `--foreground` also
/// on stderr, and written to `watch.status` in the state directory for the service's
/// `status` action.
struct Status {
    stores: String,
    said: Option<String>,
    tell_terminal: bool,
    write: bool,
}

impl Status {
    fn announce(&mut self, ctx: &Context, button: String) {
        let line = format!("{}; button: {button}", self.stores);
        if self.said.as_deref() == Some(line.as_str()) {
            return;
        }
        log::info!("{line}");
        if self.tell_terminal {
            crate::escape::advise(&format!("qrescue: {line}"));
        }
        if self.write
            && let Err(e) = state::write_status(&ctx.root, &line)
        {
            log::warn!("{}", e);
        }
        self.said = Some(line);
    }
}

pub fn run_watch(ctx: &Context, args: &Options) -> Result<i32> {
    crate::logging::init(crate::logging::SyslogFacility::LOG_DAEMON, args.foreground);
    let asked_key = match &args.key {
        Some(k) => Some(parse_key(k).ok_or_else(|| {
            Error::usage(format!(
                "--key {k:?}: expected a key code (408, 0x198) or a name such as KEY_RESTART"
            ))
        })?),
        None => None,
    };
    let mut key = asked_key.unwrap_or(records::KEY_RESTART);
    if !(args.debounce_ms < args.basic_ms && args.basic_ms < args.advanced_ms) {
        return Err(Error::usage(
            "thresholds must satisfy --debounce-ms < --basic-ms < --advanced-ms",
        ));
    }
    let th = Thresholds {
        debounce_ms: args.debounce_ms,
        basic_ms: args.basic_ms,
        advanced_ms: args.advanced_ms,
    };
    let gpio_spec = match &args.gpio {
        Some(s) => Some(gpio::parse_spec(s).map_err(Error::usage)?),
        None => None,
    };
    let choice = match (&args.replay, &args.device, gpio_spec, args.poll_ms) {
        (Some(p), _, _, _) => Some(Choice::Replay(p.clone())),
        (_, Some(p), _, _) => Some(Choice::Device(p.clone())),
        (_, _, Some(gpio::Spec::Sysfs { number, active_low }), Some(ms)) => {
            if !(10..=10_000).contains(&ms) {
                return Err(Error::usage(format!(
                    "--poll-ms {ms}: expected 10 to 10000 milliseconds"
                )));
            }
            Some(Choice::Polled(number, active_low, ms))
        }
        (_, _, _, Some(_)) => {
            return Err(Error::usage("--poll-ms works with --gpio sysfs:N only"));
        }
        (_, _, Some(s), None) => Some(Choice::Gpio(s)),
        _ => None,
    };
    // Open the first source before anything else, so a bad option fails fast.
    let mut source = match &choice {
        Some(c) => Some(open_source(c, key, th.debounce_ms)?),
        None => None,
    };
    let is_replay = args.replay.is_some();
    let opened = match (&args.journal, is_replay) {
        (Some(p), _) => Some(Journal::open_path(p, args.journal_max_bytes)?),
        (None, true) => None,
        (None, false) => Some(Journal::open(&ctx.root, args.journal_max_bytes)?),
    };
    let mut journal = opened.map(|(journal, torn)| {
        if torn {
            log::warn!(
                "{}: the last line was torn (power cut?); it was closed and is skipped",
                journal.display()
            );
        }
        journal
    });
    let sfd = daemon::signal_fd()?;
    // The store watch runs on its own thread (started after the signal mask is set, so
    // signals still reach the signalfd only); it ends with the process.
    let stores_summary = if is_replay || args.no_stores {
        None
    } else {
        match stores::StoreWatch::start(ctx.root.path(), ctx.json) {
            Ok((w, summary)) => {
                std::thread::Builder::new()
                    .name("stores".into())
                    .spawn(move || w.run())
                    .map_err(|e| {
                        Error::io(
                            "thread",
                            crate::sys::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                        )
                    })?;
                Some(summary)
            }
            Err(e) => {
                log::warn!("credential stores not watched: {}", e);
                None
            }
        }
    };
    let mut status = Status {
        stores: match (&stores_summary, is_replay, args.no_stores) {
            (Some(s), _, _) => format!("stores: {s}"),
            (None, true, _) => "stores: not watched (a replay)".into(),
            (None, _, true) => "stores: not watched (--no-stores)".into(),
            (None, _, _) => "stores: not watched".into(),
        },
        said: None,
        tell_terminal: !args.foreground && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        write: !is_replay,
    };
    if !args.foreground {
        // Not tied to the terminal that started us (a service script backgrounds us).
        crate::sys::proc::setsid();
    }
    let mut watcher = Watcher {
        classifier: Classifier::new(th),
        journal: daemon::Sink {
            stdout: ctx.json || (is_replay && args.journal.is_none()),
            journal: journal.as_mut(),
        },
        on_hold: args.on_hold.as_deref(),
        anchor: None,
        last_press: None,
    };
    let auto = choice.is_none();
    let mut said_not_found = false;
    loop {
        let mut src = match source.take() {
            Some(s) => s,
            None => {
                let c = match &choice {
                    Some(c) => Some(c),
                    None => None,
                };
                let found = match c {
                    Some(Choice::Device(p)) => evdev::Evdev::open(p, key)
                        .ok()
                        .map(|s| Box::new(s) as Box<dyn Source>),
                    Some(Choice::Gpio(s)) => gpio::Gpio::open(s, th.debounce_ms)
                        .ok()
                        .map(|s| Box::new(s) as Box<dyn Source>),
                    Some(c @ Choice::Polled(..)) => open_source(c, key, th.debounce_ms).ok(),
                    Some(Choice::Replay(_)) => unreachable!("a replay is opened once"),
                    None => detect(asked_key, &args.input_dir).and_then(|(c, k)| {
                        key = k;
                        open_source(&c, k, th.debounce_ms).ok()
                    }),
                };
                match found {
                    Some(s) => s,
                    None => {
                        if auto && !said_not_found {
                            log::warn!("{NOT_FOUND}");
                            said_not_found = true;
                        }
                        status.announce(
                            ctx,
                            match &choice {
                                Some(Choice::Device(p)) => {
                                    format!("{} (waiting for it)", p.display())
                                }
                                Some(Choice::Gpio(g)) => format!("{g:?} (waiting for it)"),
                                Some(Choice::Polled(n, ..)) => {
                                    format!("sysfs GPIO {n} (waiting for it)")
                                }
                                _ => "none on this model (read by the firmware)".into(),
                            },
                        );
                        let dir = match &choice {
                            Some(Choice::Device(p)) => {
                                p.parent().unwrap_or(Path::new("/dev")).to_path_buf()
                            }
                            Some(Choice::Gpio(_) | Choice::Polled(..)) => PathBuf::from("/dev"),
                            _ => args.input_dir.clone(),
                        };
                        if !wait_for_change(&dir, &sfd)? {
                            log::info!("watch stopped");
                            return Ok(0);
                        }
                        continue;
                    }
                }
            }
        };
        said_not_found = false;
        let i = src.info().clone();
        status.announce(
            ctx,
            format!(
                "{} ({})",
                i.path,
                i.name.as_deref().unwrap_or(i.kind.name())
            ),
        );
        log::info!(
            "watching {} ({}{}), {}; journal {}",
            i.path,
            i.kind,
            i.name.map(|n| format!(": {n}")).unwrap_or_default(),
            match i.kind {
                SourceKind::Evdev | SourceKind::Replay => format!("key {}", key_label(key)),
                _ => format!("line {}", i.code),
            },
            watcher.journal.display()
        );
        match watcher.run(src.as_mut(), &sfd)? {
            End::Stopped => {
                log::info!("watch stopped");
                return Ok(0);
            }
            End::Eof => return Ok(0),
            End::Gone => {
                log::warn!("{} went away; waiting for it to come back", i.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_codes() {
        assert_eq!(parse_key("KEY_RESTART"), Some(0x198));
        assert_eq!(parse_key("key_restart"), Some(0x198));
        assert_eq!(parse_key("0x198"), Some(408));
        assert_eq!(parse_key("408"), Some(408));
        assert_eq!(parse_key("116"), Some(116));
        assert_eq!(parse_key("0x300"), None, "beyond KEY_MAX");
        assert_eq!(parse_key("KEY_NOPE"), None);
        assert_eq!(key_label(0x198), "KEY_RESTART (0x198)");
    }
}
