//! Linux input devices (`/dev/input/event*`): find the one that reports the reset key, and
//! read its key edges with CLOCK_MONOTONIC timestamps.
//!
//! The ioctls (which keys a device has, its name, which keys are down, the timestamp clock)
//! are in `crate::sys::input`.
//! The device is never grabbed (no EVIOCGRAB): the firmware keeps seeing the button.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::sys::Errno;
use crate::sys::fs::open_device_nonblock;
use crate::sys::input;

use super::records::{EV_KEY, EV_SYN, InputLayout, KEY_MAX, SYN_DROPPED, SYN_REPORT, decode_input};
use super::source::{Clock, Ev, Info, Source};
use crate::error::{Error, Result};

const KEY_BYTES: usize = KEY_MAX as usize / 8 + 1;

fn bit(bits: &[u8], code: u16) -> bool {
    bits.get(code as usize / 8)
        .is_some_and(|b| b & (1 << (code % 8)) != 0)
}

/// Whether the device behind `fd` can report `key`.
fn has_key(fd: BorrowedFd<'_>, key: u16) -> bool {
    let mut bits = [0u8; KEY_BYTES];
    let r = input::key_bits(fd, &mut bits);
    r.is_ok() && bit(&bits, key)
}

fn device_name(fd: BorrowedFd<'_>) -> Option<String> {
    let mut buf = [0u8; 256];
    let n = input::name(fd, &mut buf).ok()?;
    let s = &buf[..n.min(buf.len())];
    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
    Some(String::from_utf8_lossy(s).into_owned())
}

fn key_down(fd: BorrowedFd<'_>, key: u16) -> Option<bool> {
    let mut bits = [0u8; KEY_BYTES];
    input::keys_down(fd, &mut bits).ok()?;
    Some(bit(&bits, key))
}

fn open_nonblock(path: &Path) -> std::result::Result<File, Errno> {
    let fd = open_device_nonblock(path)?;
    Ok(File::from(fd))
}

/// The evdev nodes under `dir`, in numeric order.
pub fn event_nodes(dir: &Path) -> Vec<PathBuf> {
    let mut nodes: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("event")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, p)| p).collect()
}

/// The first device under `dir` that reports `key`, with its name.
pub fn find(dir: &Path, key: u16) -> Option<(PathBuf, Option<String>)> {
    find_named(dir, key, None)
}

/// Like [`find`], also requiring the device's own name (EVIOCGNAME) when `name` is given.
pub fn find_named(dir: &Path, key: u16, name: Option<&str>) -> Option<(PathBuf, Option<String>)> {
    event_nodes(dir).into_iter().find_map(|p| {
        let f = open_nonblock(&p).ok()?;
        let n = device_name(f.as_fd());
        let named = name.is_none_or(|want| n.as_deref() == Some(want));
        (named && has_key(f.as_fd(), key)).then(|| (p.clone(), n))
    })
}

/// Turns a byte stream of `input_event` records into key edges for one key: whole records
/// only (a short read keeps the remainder), autorepeat ignored, everything between
/// SYN_DROPPED and the next SYN_REPORT dropped and replaced by the key state read afresh.
pub struct KeyFilter {
    key: u16,
    layout: InputLayout,
    buf: Vec<u8>,
    dropping: bool,
    last_ts: u64,
}

impl KeyFilter {
    pub fn new(key: u16, layout: InputLayout) -> Self {
        KeyFilter {
            key,
            layout,
            buf: Vec::new(),
            dropping: false,
            last_ts: 0,
        }
    }

    /// Timestamp of the last whole record seen (any type).
    pub fn last_ts(&self) -> u64 {
        self.last_ts
    }

    /// Bytes left over that do not make a whole record.
    pub fn partial(&self) -> usize {
        self.buf.len()
    }

    /// Decode `bytes`; `state` reads the key state after a SYN_DROPPED (None: cannot).
    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<Ev>,
        mut state: impl FnMut() -> Option<bool>,
    ) {
        let size = self.layout.size();
        self.buf.extend_from_slice(bytes);
        let whole = self.buf.len() / size * size;
        for rec in self.buf[..whole].chunks_exact(size) {
            let Some(e) = decode_input(rec, self.layout) else {
                continue;
            };
            self.last_ts = e.ns();
            match (e.kind, e.code) {
                (EV_SYN, SYN_DROPPED) => self.dropping = true,
                (EV_SYN, SYN_REPORT) if self.dropping => {
                    self.dropping = false;
                    if let Some(pressed) = state() {
                        out.push(Ev::Resync {
                            pressed,
                            ts: e.ns(),
                        });
                    }
                }
                _ if self.dropping => {}
                // Autorepeat (value 2) is not an edge.
                (EV_KEY, c) if c == self.key && (e.value == 0 || e.value == 1) => {
                    out.push(Ev::Key {
                        pressed: e.value == 1,
                        ts: e.ns(),
                    })
                }
                _ => {}
            }
        }
        self.buf.drain(..whole);
    }
}

pub struct Evdev {
    file: File,
    info: Info,
    key: u16,
    clock: Clock,
    filter: KeyFilter,
}

impl Evdev {
    /// Open `path` and check that it reports `key`.
    pub fn open(path: &Path, key: u16) -> Result<Evdev> {
        let disp = path.display().to_string();
        let file = open_nonblock(path).map_err(|e| match e {
            Errno::ENOENT | Errno::ENODEV => Error::usage(format!("{disp}: no such device")),
            e => Error::io(&disp, e),
        })?;
        if !has_key(file.as_fd(), key) {
            return Err(Error::usage(format!(
                "{disp} does not report key {key:#x}: pass --key CODE for this device's reset key"
            )));
        }
        let clock = match input::use_monotonic_clock(file.as_fd()) {
            Ok(_) => Clock::Monotonic,
            // Kernels before 3.4: wall-clock stamps; only differences are used then.
            Err(_) => Clock::Own,
        };
        let name = device_name(file.as_fd());
        Ok(Evdev {
            file,
            info: Info {
                kind: super::source::SourceKind::Evdev,
                path: disp,
                name,
                code: key as u32,
            },
            key,
            clock,
            filter: KeyFilter::new(key, InputLayout::native()),
        })
    }
}

impl Source for Evdev {
    fn info(&self) -> &Info {
        &self.info
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn key_state(&mut self) -> Option<bool> {
        key_down(self.file.as_fd(), self.key)
    }

    fn read(&mut self, out: &mut Vec<Ev>) -> Result<()> {
        let mut chunk = [0u8; 64 * 24];
        loop {
            let n = match crate::sys::fs::read(&self.file, &mut chunk) {
                Ok(0) | Err(Errno::ENODEV) => {
                    out.push(Ev::Gone);
                    return Ok(());
                }
                Ok(n) => n,
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::io(&self.info.path, e)),
            };
            let (file, key) = (&self.file, self.key);
            self.filter
                .feed(&chunk[..n], out, || key_down(file.as_fd(), key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::{InputEvent, KEY_RESTART};
    use super::*;

    fn rec(sec: u64, kind: u16, code: u16, value: i32) -> Vec<u8> {
        InputEvent {
            sec,
            usec: 0,
            kind,
            code,
            value,
        }
        .encode(InputLayout::native())
    }

    #[test]
    fn filter_keeps_edges_of_the_key_only_and_whole_records() {
        let mut bytes = Vec::new();
        bytes.extend(rec(1, EV_KEY, KEY_RESTART, 1));
        bytes.extend(rec(1, EV_SYN, SYN_REPORT, 0));
        bytes.extend(rec(2, EV_KEY, KEY_RESTART, 2)); // autorepeat
        bytes.extend(rec(2, EV_KEY, 116, 1)); // KEY_POWER
        bytes.extend(rec(3, EV_KEY, KEY_RESTART, 0));
        let mut f = KeyFilter::new(KEY_RESTART, InputLayout::native());
        let mut out = Vec::new();
        // Split mid-record: nothing is lost or misread.
        let cut = InputLayout::native().size() + 5;
        f.feed(&bytes[..cut], &mut out, || None);
        assert_eq!(f.partial(), 5);
        f.feed(&bytes[cut..], &mut out, || None);
        assert_eq!(f.partial(), 0);
        assert_eq!(
            out,
            vec![
                Ev::Key {
                    pressed: true,
                    ts: 1_000_000_000
                },
                Ev::Key {
                    pressed: false,
                    ts: 3_000_000_000
                }
            ]
        );
    }

    #[test]
    fn syn_dropped_discards_until_report_then_resyncs() {
        let mut bytes = Vec::new();
        bytes.extend(rec(1, EV_KEY, KEY_RESTART, 1));
        bytes.extend(rec(2, EV_SYN, SYN_DROPPED, 0));
        bytes.extend(rec(2, EV_KEY, KEY_RESTART, 0)); // partial packet: dropped
        bytes.extend(rec(4, EV_SYN, SYN_REPORT, 0));
        let mut f = KeyFilter::new(KEY_RESTART, InputLayout::native());
        let mut out = Vec::new();
        f.feed(&bytes, &mut out, || Some(false));
        assert_eq!(
            out,
            vec![
                Ev::Key {
                    pressed: true,
                    ts: 1_000_000_000
                },
                Ev::Resync {
                    pressed: false,
                    ts: 4_000_000_000
                }
            ]
        );
    }
}
