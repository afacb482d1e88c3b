//! What every button source (evdev, GPIO character device, sysfs GPIO, replay) gives the
//! watcher loop: a pollable fd, decoded key edges with timestamps, and where it can, the
//! current key state.

use std::os::fd::BorrowedFd;

use serde::Serialize;

use crate::error::Result;

/// Which clock a source's timestamps are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// CLOCK_MONOTONIC (evdev after EVIOCSCLOCKID, GPIO v2, our own reads).
    Monotonic,
    /// The source's own clock (a replay's recorded times, GPIO v1 on old kernels): only
    /// differences between its timestamps count.
    Own,
}

/// One thing a source reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// The button went down (`pressed`) or up at `ts` (ns, on the source clock).
    Key { pressed: bool, ts: u64 },
    /// Events were lost; the key state now is `pressed` (re-read from the device).
    Resync { pressed: bool, ts: u64 },
    /// End of a replay; `ts` is the last record's timestamp (the capture's end).
    Eof { ts: u64 },
    /// The device went away (unplugged, driver unbound).
    Gone,
}

/// Where presses come from (named so in the journal and in logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Evdev,
    GpioV2,
    GpioV1,
    SysfsGpio,
    /// A sysfs GPIO value without edge interrupts, read on a timer.
    SysfsPoll,
    /// A recorded capture (`watch --replay`): a test, not a press on this box.
    Replay,
}
super::term::words!(SourceKind {
    Evdev => "evdev",
    GpioV2 => "gpio-v2",
    GpioV1 => "gpio-v1",
    SysfsGpio => "sysfs-gpio",
    SysfsPoll => "sysfs-poll",
    Replay => "replay",
});

/// Describes a source for logs, the journal and `watch` start-up messages.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub kind: SourceKind,
    /// Device node or file.
    pub path: String,
    /// The device's own name (EVIOCGNAME, chip label), if any.
    pub name: Option<String>,
    /// Key code (evdev) or line offset (GPIO).
    pub code: u32,
}

pub trait Source {
    fn info(&self) -> &Info;
    fn fd(&self) -> BorrowedFd<'_>;
    fn clock(&self) -> Clock;
    /// Whether poll should wait for POLLPRI (sysfs GPIO) rather than POLLIN.
    fn wants_pri(&self) -> bool {
        false
    }
    /// The key state right now, if the source can tell.
    fn key_state(&mut self) -> Option<bool>;
    /// Read what is available (the fd polled readable) and append it to `out`. Blocking
    /// sources (a replay file) return at least one event or `Ev::Eof`.
    fn read(&mut self, out: &mut Vec<Ev>) -> Result<()>;
}
