//! The watcher loop: sleep in `poll()` on the source and a signalfd; timers only while the
//! button is down (threshold announcements, debounce, a check for a missed release). Each
//! classifier output becomes one fsynced journal line, one syslog record, and (for holds)
//! the `--on-hold` hook.

use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use crate::clock::{mono_ns, wall_ms};
use crate::sys::Errno;
use crate::sys::event::{self, PollFd, PollFlags, PollTimeout, SignalFd, poll};
use crate::sys::signal::Signal;

use super::classify::{Class, Classifier, Output, Unfinished};
use super::journal::{Event, Journal, Record, rfc3339_ms};
use super::source::{Clock, Ev, Source};
use crate::error::{Error, Result};

const NS_PER_MS: u64 = 1_000_000;
/// While held past the last threshold, re-read the key state this often (a lost release).
const RECHECK_MS: u64 = 5_000;

/// Signals the watcher handles through its signalfd.
pub fn signal_fd() -> Result<SignalFd> {
    event::signal_fd(&[
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ])
}

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// SIGTERM/SIGINT/SIGHUP.
    Stopped,
    /// End of a replay.
    Eof,
    /// The device went away: the caller waits for it.
    Gone,
}

/// Drain the signalfd: reap hook children; a termination signal ends the watch.
pub fn handle_signals(sfd: &SignalFd) -> bool {
    event::drain_signals(sfd)
}

/// Where records go: the box's journal, a file named by `--journal` (a replay), or stdout
/// as JSON lines (a replay without `--journal`, and `--json watch` in addition).
pub struct Sink<'a> {
    pub journal: Option<&'a mut Journal>,
    pub stdout: bool,
}

impl Sink<'_> {
    pub fn display(&self) -> String {
        match &self.journal {
            Some(j) => j.display().to_string(),
            None => "stdout".into(),
        }
    }

    fn put(&mut self, rec: &Record) {
        if let Some(j) = self.journal.as_deref_mut()
            && let Err(e) = j.append(rec)
        {
            log::error!("journal: {}", e);
        }
        if self.stdout {
            print_json_line(rec);
        }
    }
}

/// One record as one JSON line on stdout, flushed (a pipe reader sees it at once).
pub fn print_json_line<T: serde::Serialize>(rec: &T) {
    use std::io::Write;
    if let Ok(mut line) = serde_json::to_string(rec) {
        line.push('\n');
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes()).and_then(|_| out.flush());
    }
}

pub struct Watcher<'a> {
    pub classifier: Classifier,
    pub journal: Sink<'a>,
    pub on_hold: Option<&'a str>,
    /// A source on its own clock: (source time, wall-clock ms) of its first edge.
    pub anchor: Option<(u64, u64)>,
    /// The last press's (source time, wall-clock ms): its later records reuse the time.
    pub last_press: Option<(u64, u64)>,
}

impl Watcher<'_> {
    /// Watch one source until it ends or a signal stops us.
    pub fn run(&mut self, src: &mut dyn Source, sfd: &SignalFd) -> Result<End> {
        let clock = src.clock();
        // Source time = monotonic time - offset (0 for monotonic sources).
        let mut offset: i128 = 0;
        let mut last_ts: u64 = 0;
        let mut anchored = false;
        let src_now = |offset: i128| (mono_ns() as i128 - offset).max(0) as u64;
        if clock == Clock::Own {
            offset = mono_ns() as i128;
        }
        if src.key_state() == Some(true) {
            let now = src_now(offset);
            self.classifier.already_down(now);
            log::warn!(
                "the reset button is already down as watching starts: its hold is a minimum"
            );
        }
        let mut out = Vec::new();
        let mut evs = Vec::new();
        let mut last_check = mono_ns();
        loop {
            let now_mono = mono_ns();
            let mut deadline: Option<u64> = self
                .classifier
                .next_deadline()
                .map(|d| (d as i128 + offset).max(0) as u64);
            if self.classifier.is_down() {
                let recheck = last_check + RECHECK_MS * NS_PER_MS;
                deadline = Some(deadline.map_or(recheck, |d| d.min(recheck)));
            }
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let ms = d.saturating_sub(now_mono).div_ceil(NS_PER_MS);
                    PollTimeout::try_from(ms.min(60_000)).unwrap_or(PollTimeout::MAX)
                }
            };
            let want = if src.wants_pri() {
                PollFlags::POLLPRI | PollFlags::POLLERR
            } else {
                PollFlags::POLLIN
            };
            let (src_ready, sig_ready) = {
                let mut fds = [
                    PollFd::new(src.fd(), want),
                    PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(Error::io("poll", e)),
                }
                let r = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (r(&fds[0]), r(&fds[1]))
            };
            if sig_ready && handle_signals(sfd) {
                self.classifier
                    .finish(src_now(offset), Unfinished::WatcherStopped, &mut out);
                self.emit(src, &mut out, clock, offset);
                return Ok(End::Stopped);
            }
            if src_ready {
                evs.clear();
                src.read(&mut evs)?;
                for ev in evs.drain(..) {
                    match ev {
                        Ev::Key { pressed, ts } => {
                            // The source's clock is anchored once, at its first edge: every
                            // later time keeps the capture's own spacing, so presses stay in
                            // order and all records of one press share its time.
                            if clock == Clock::Own && !anchored {
                                offset = mono_ns() as i128 - ts as i128;
                                self.anchor = Some((ts, wall_ms()));
                                anchored = true;
                            }
                            last_ts = ts;
                            self.classifier.edge(pressed, ts, &mut out);
                        }
                        Ev::Resync { pressed, ts } => {
                            log::warn!("{}: events were lost; key state re-read", src.info().path);
                            if pressed != self.classifier.is_down() {
                                self.classifier.edge(pressed, ts, &mut out);
                            }
                        }
                        Ev::Eof { ts } => {
                            let end = if clock == Clock::Own {
                                last_ts.max(ts)
                            } else {
                                src_now(offset)
                            };
                            self.classifier
                                .finish(end, Unfinished::EndOfReplay, &mut out);
                            self.emit(src, &mut out, clock, offset);
                            return Ok(End::Eof);
                        }
                        Ev::Gone => {
                            self.classifier.finish(
                                src_now(offset),
                                Unfinished::DeviceGone,
                                &mut out,
                            );
                            self.emit(src, &mut out, clock, offset);
                            return Ok(End::Gone);
                        }
                    }
                    self.emit(src, &mut out, clock, offset);
                }
            } else {
                let now = src_now(offset);
                self.classifier.tick(now, &mut out);
                if self.classifier.is_down() && mono_ns() >= last_check + RECHECK_MS * NS_PER_MS {
                    last_check = mono_ns();
                    if src.key_state() == Some(false) {
                        log::warn!("{}: release was missed; key is up now", src.info().path);
                        self.classifier.edge(false, now, &mut out);
                    }
                }
                self.emit(src, &mut out, clock, offset);
            }
            if !self.classifier.is_down() {
                last_check = mono_ns();
            }
        }
    }

    /// Wall-clock milliseconds of a press, the same for every record of it.
    fn press_wall(&mut self, ts: u64, clock: Clock, offset: i128) -> u64 {
        if let Some((t, w)) = self.last_press
            && t == ts
        {
            return w;
        }
        let w = self.wall_of(ts, clock, offset);
        self.last_press = Some((ts, w));
        w
    }

    /// Wall-clock milliseconds of a source timestamp.
    fn wall_of(&self, ts: u64, clock: Clock, offset: i128) -> u64 {
        // Recorded wall-clock stamps (a capture of a device using CLOCK_REALTIME, GPIO v1
        // on old kernels) are taken as they are.
        const YEAR_2001_NS: u64 = 978_307_200 * 1_000_000_000;
        if clock == Clock::Own && ts >= YEAR_2001_NS {
            return ts / NS_PER_MS;
        }
        if clock == Clock::Own
            && let Some((t, w)) = self.anchor
        {
            // The capture's own spacing from its first edge, in one computation (no clock
            // read: presses keep their exact order and distance).
            let delta_ms = (ts as i128 - t as i128).div_euclid(NS_PER_MS as i128);
            return (w as i128 + delta_ms).max(0) as u64;
        }
        // Signed: a replay anchored at its first edge has later presses "ahead" of now.
        let now_src = mono_ns() as i128 - offset;
        let delta_ms = (ts as i128 - now_src).div_euclid(NS_PER_MS as i128);
        (wall_ms() as i128 + delta_ms).max(0) as u64
    }

    fn emit(&mut self, src: &dyn Source, out: &mut Vec<Output>, clock: Clock, offset: i128) {
        for o in out.drain(..) {
            let info = src.info();
            let (event, class, held, start_known, pressed_at, reason) = match o {
                Output::Threshold {
                    class,
                    held_ms,
                    pressed_at,
                } => (
                    Event::Threshold,
                    class,
                    held_ms,
                    true,
                    pressed_at,
                    None::<&'static str>,
                ),
                Output::Hold {
                    class,
                    held_ms,
                    start_known,
                    pressed_at,
                } => (Event::Hold, class, held_ms, start_known, pressed_at, None),
                Output::Unfinished {
                    class,
                    held_ms,
                    start_known,
                    pressed_at,
                    why,
                } => (
                    Event::Unfinished,
                    class,
                    held_ms,
                    start_known,
                    pressed_at,
                    Some(why.name()),
                ),
            };
            // Every record of one press carries the wall-clock time of that press.
            let unix_ms = self.press_wall(pressed_at, clock, offset);
            let firmware = match event {
                Event::Threshold => format!("on release: {}", class.firmware_action()),
                _ => class.firmware_action().to_string(),
            };
            let rec = Record {
                time: rfc3339_ms(unix_ms),
                unix_ms,
                event: event.into(),
                class: class.into(),
                held_ms: held,
                start_known,
                firmware,
                reason: reason.map(str::to_string),
                source: info.kind.into(),
                device: info.path.clone(),
                device_name: info.name.clone(),
                code: info.code,
            };
            // The journal first: it is the durable record (an advanced reset may reboot
            // the box any moment now).
            self.journal.put(&rec);
            let secs = held as f64 / 1000.0;
            match event {
                Event::Threshold => log::warn!(
                    "reset button held {secs:.0} s: {} will happen on release",
                    class_phrase(class)
                ),
                Event::Hold => {
                    let msg = format!(
                        "reset button released after {secs:.3} s{}: {} ({})",
                        if start_known { "" } else { " (at least)" },
                        class.name(),
                        class.firmware_action()
                    );
                    if class == Class::Short {
                        log::info!("{msg}")
                    } else {
                        log::warn!("{msg}")
                    }
                    self.hook(&rec);
                }
                Event::Unfinished => log::warn!(
                    "reset button was down for {secs:.3} s with no release ({}): {}",
                    reason.unwrap_or(""),
                    class.name()
                ),
            }
        }
    }

    /// Start `--on-hold CMD` without waiting for it (reaped on SIGCHLD).
    fn hook(&self, rec: &Record) {
        let Some(cmd) = self.on_hold else { return };
        let r = Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env("QRESCUE_CLASS", rec.class.as_str())
            .env("QRESCUE_HELD_MS", rec.held_ms.to_string())
            .env("QRESCUE_EVENT", rec.event.as_str())
            .env("QRESCUE_TIME", &rec.time)
            .env("QRESCUE_SOURCE", rec.source.as_str())
            .env("QRESCUE_DEVICE", &rec.device)
            .stdin(Stdio::null())
            .spawn();
        if let Err(e) = r {
            log::error!("--on-hold: cannot start /bin/sh: {e}");
        }
    }
}

fn class_phrase(c: Class) -> &'static str {
    match c {
        Class::Short => "nothing",
        Class::BasicReset => "basic reset",
        Class::AdvancedReset => "advanced reset",
    }
}
