//! What an event loop sleeps on: `poll`, a signalfd (termination signals and `SIGCHLD`
//! delivered as readable data), an interval timerfd, and inotify on a directory.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::Duration;

pub use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SfdFlags;
pub use nix::sys::signalfd::SignalFd;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use super::Errno;
use crate::error::{Error, Result};

/// Block `sigs` in this thread and deliver them through a (non-blocking) signalfd instead.
pub fn signal_fd(sigs: &[Signal]) -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for &s in sigs {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| Error::io("signal mask", e))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| Error::io("signalfd", e))
}

/// Drain the signalfd: reap exited children on `SIGCHLD`; returns whether any other
/// (termination) signal arrived.
pub fn drain_signals(sfd: &SignalFd) -> bool {
    let mut stop = false;
    while let Ok(Some(si)) = sfd.read_signal() {
        if si.ssi_signo == Signal::SIGCHLD as u32 {
            while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                if st == WaitStatus::StillAlive {
                    break;
                }
            }
        } else {
            stop = true;
        }
    }
    stop
}

/// A timerfd (CLOCK_MONOTONIC, non-blocking) that fires every `period`.
pub struct Interval(TimerFd);

impl Interval {
    pub fn new(period: Duration) -> std::result::Result<Interval, Errno> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK,
        )?;
        timer.set(
            Expiration::Interval(TimeSpec::from_duration(period)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(Interval(timer))
    }

    /// Consume the expirations since the last call (their count does not matter).
    pub fn ack(&self) {
        let _ = nix::unistd::read(self.0.as_fd(), &mut [0u8; 8]);
    }
}

impl AsFd for Interval {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// inotify (non-blocking) on entries created, renamed in or changed in one directory.
pub struct DirChanges(Inotify);

impl DirChanges {
    pub fn new() -> std::result::Result<DirChanges, Errno> {
        Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map(DirChanges)
    }

    /// Watch `dir` for entries created, moved in, or with changed attributes.
    pub fn watch(&self, dir: &Path) -> std::result::Result<(), Errno> {
        let flags =
            AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ATTRIB | AddWatchFlags::IN_MOVED_TO;
        self.0.add_watch(dir, flags).map(|_| ())
    }
}

impl AsFd for DirChanges {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
