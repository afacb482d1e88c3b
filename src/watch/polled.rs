//! `--gpio sysfs:N --poll-ms MS`: for boards where the reset button is a GPIO that only the
//! firmware reads (no edge interrupt for us, and `hal_daemon` owns the line). The line's
//! `value` file is read, read-only, every MS milliseconds on a timerfd. Nothing is
//! exported, and the line's direction and edge are never changed. Off unless asked: unlike
//! every other source it wakes the box periodically (its cost is in docs/watcher.md).

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::sys::Errno;
use crate::sys::event::Interval;

use super::source::{Clock, Ev, Info, Source};
use crate::error::{Error, Result};

/// Where sysfs GPIO lines are (another directory for tests: `QRESCUE_SYSFS_GPIO`).
pub const DIR_ENV: &str = "QRESCUE_SYSFS_GPIO";

pub struct Polled {
    timer: Interval,
    value: File,
    info: Info,
    invert: bool,
    last: Option<bool>,
}

impl Polled {
    pub fn open(number: u32, active_low: bool, period_ms: u64) -> Result<Polled> {
        let base = std::env::var_os(DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/sys/class/gpio"));
        let dir = base.join(format!("gpio{number}"));
        let path = dir.join("value");
        let disp = path.display().to_string();
        let value = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::usage(format!(
                "{disp} does not exist: the line is not exported (qrescue never exports it; \
                 the firmware does on boards that use it)"
            )),
            _ => Error::io(&disp, Errno::from_raw(e.raw_os_error().unwrap_or(0))),
        })?;
        let timer = Interval::new(std::time::Duration::from_millis(period_ms))
            .map_err(|e| Error::io("timerfd", e))?;
        let mut p = Polled {
            timer,
            value,
            info: Info {
                kind: super::source::SourceKind::SysfsPoll,
                path: dir.display().to_string(),
                name: None,
                code: number,
            },
            invert: active_low,
            last: None,
        };
        p.last = p.key_state();
        Ok(p)
    }
}

impl Source for Polled {
    fn info(&self) -> &Info {
        &self.info
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.timer.as_fd()
    }

    fn clock(&self) -> Clock {
        Clock::Monotonic
    }

    fn key_state(&mut self) -> Option<bool> {
        let mut b = [0u8; 4];
        let n = self.value.read_at(&mut b, 0).ok()?;
        let v = match b[..n].first() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return None,
        };
        Some(v != self.invert)
    }

    fn read(&mut self, out: &mut Vec<Ev>) -> Result<()> {
        // Expirations since the last read (8 bytes); the count itself does not matter.
        self.timer.ack();
        let now = self.key_state();
        if let Some(v) = now
            && Some(v) != self.last
        {
            self.last = Some(v);
            out.push(Ev::Key {
                pressed: v,
                ts: crate::clock::mono_ns(),
            });
        }
        Ok(())
    }
}
