//! GPIO buttons: the character device (`/dev/gpiochipN`, uAPI v2 from Linux 5.10, v1 from
//! 4.8 as fallback) and the legacy sysfs interface (`/sys/class/gpio/gpioN`) of old QNAP
//! kernels. Only for lines the owner names and that are free: a line bound to gpio-keys or
//! held by the firmware is refused (requests are exclusive; taking it would take the button
//! from QTS).
//!
//! The uAPI structures and ioctls are in [`crate::sys::gpio_uapi`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::sys::Errno;
use crate::sys::fs::open_read;
use crate::sys::gpio_uapi::{self, line_info};

use super::records::{
    GPIO_V1_EVENT_SIZE, GPIO_V2_EVENT_SIZE, GpioEdge, decode_gpio_v1, decode_gpio_v2,
};
use super::source::{Clock, Ev, Info, Source};
use crate::error::{Error, Result};

const CONSUMER: &[u8] = b"qrescue";

/// `--gpio` as given: `CHIP:LINE[:active-low]` (chip `gpiochipN`, `/dev/gpiochipN` or `N`;
/// line an offset or a line name), or `sysfs:N[:active-low]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Chardev {
        chip: PathBuf,
        line: LineRef,
        active_low: bool,
    },
    Sysfs {
        number: u32,
        active_low: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRef {
    Offset(u32),
    Name(String),
}

pub fn parse_spec(s: &str) -> std::result::Result<Spec, String> {
    let bad = || format!("--gpio {s:?}: expected CHIP:LINE[:active-low] or sysfs:N[:active-low]");
    let (rest, active_low) = match s.strip_suffix(":active-low") {
        Some(r) => (r, true),
        None => (s, false),
    };
    let (chip, line) = rest.rsplit_once(':').ok_or_else(bad)?;
    if chip.is_empty() || line.is_empty() {
        return Err(bad());
    }
    if chip == "sysfs" {
        let number = line.parse().map_err(|_| bad())?;
        return Ok(Spec::Sysfs { number, active_low });
    }
    let chip = if chip.starts_with('/') {
        PathBuf::from(chip)
    } else if chip.bytes().all(|b| b.is_ascii_digit()) {
        PathBuf::from(format!("/dev/gpiochip{chip}"))
    } else if chip.starts_with("gpiochip") && !chip.contains('/') {
        PathBuf::from(format!("/dev/{chip}"))
    } else {
        return Err(bad());
    };
    let line = match line.parse() {
        Ok(n) => LineRef::Offset(n),
        Err(_) => LineRef::Name(line.to_string()),
    };
    Ok(Spec::Chardev {
        chip,
        line,
        active_low,
    })
}

/// Find a line by name on a chip (offsets 0..512 are tried until the kernel says EINVAL).
fn find_line(chip: BorrowedFd<'_>, name: &str) -> Option<u32> {
    (0..512u32)
        .map_while(|o| line_info(chip, o).ok().map(|i| (o, i)))
        .find(|(_, i)| i.name == name)
        .map(|(o, _)| o)
}

/// A free GPIO line named like a reset button on any chip under `/dev` (auto-detection).
pub fn find_reset_line() -> Option<Spec> {
    let mut chips: Vec<PathBuf> = std::fs::read_dir("/dev")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("gpiochip"))
        })
        .collect();
    chips.sort();
    for chip in chips {
        let Ok(fd) = open_read(&chip) else {
            continue;
        };
        for o in 0..512u32 {
            let Ok(gpio_uapi::LineInfo { name, used, .. }) = line_info(fd.as_fd(), o) else {
                break;
            };
            let lower = name.to_ascii_lowercase();
            if !used && (lower == "reset" || lower.contains("reset-button") || lower == "btn_reset")
            {
                return Some(Spec::Chardev {
                    chip,
                    line: LineRef::Offset(o),
                    active_low: false,
                });
            }
        }
    }
    None
}

enum Kind {
    V2,
    V1,
    Sysfs { value: File, last: bool },
}

pub struct Gpio {
    fd: OwnedFd,
    kind: Kind,
    info: Info,
    invert: bool,
}

impl Gpio {
    pub fn open(spec: &Spec, debounce_ms: u64) -> Result<Gpio> {
        match spec {
            Spec::Chardev {
                chip,
                line,
                active_low,
            } => open_chardev(chip, line, *active_low, debounce_ms),
            Spec::Sysfs { number, active_low } => open_sysfs(*number, *active_low),
        }
    }
}

fn open_chardev(chip: &Path, line: &LineRef, active_low: bool, debounce_ms: u64) -> Result<Gpio> {
    let disp = chip.display().to_string();
    let chip_fd = open_read(chip).map_err(|e| match e {
        Errno::ENOENT => Error::usage(format!("{disp}: no such GPIO chip")),
        e => Error::io(&disp, e),
    })?;
    let offset = match line {
        LineRef::Offset(o) => *o,
        LineRef::Name(n) => find_line(chip_fd.as_fd(), n)
            .ok_or_else(|| Error::usage(format!("{disp}: no line named {n:?}")))?,
    };
    let gpio_uapi::LineInfo {
        name,
        consumer,
        used,
    } = line_info(chip_fd.as_fd(), offset).map_err(|e| Error::io(&disp, e))?;
    if used {
        return Err(Error::usage(format!(
            "{disp} line {offset} is in use by {consumer:?}: refusing to take it (if it is the \
             reset button, watch its input device instead: --device /dev/input/eventN)"
        )));
    }
    let info = Info {
        kind: super::source::SourceKind::GpioV2,
        path: format!("{disp}:{offset}"),
        name: (!name.is_empty()).then_some(name),
        code: offset,
    };

    let request = |debounce_us| {
        gpio_uapi::request_v2(chip_fd.as_fd(), offset, active_low, debounce_us, CONSUMER)
    };
    let r = match request(debounce_ms * 1000) {
        // Debounce not supported by this chip: ask again without it (the classifier
        // filters bounces anyway).
        Err(Errno::EINVAL) if debounce_ms > 0 => request(0),
        r => r,
    };
    match r {
        Ok(fd) => Ok(Gpio {
            fd,
            kind: Kind::V2,
            info,
            invert: false,
        }),
        Err(Errno::ENOTTY) => {
            // A kernel before 5.10: uAPI v1.
            let fd = gpio_uapi::request_v1_events(chip_fd.as_fd(), offset, active_low, CONSUMER)
                .map_err(|e| Error::io(&info.path, e))?;
            Ok(Gpio {
                fd,
                kind: Kind::V1,
                info: Info {
                    kind: super::source::SourceKind::GpioV1,
                    ..info
                },
                invert: false,
            })
        }
        Err(Errno::EBUSY) => Err(Error::usage(format!(
            "{} is busy: another program holds it",
            info.path
        ))),
        Err(e) => Err(Error::io(&info.path, e)),
    }
}

fn open_sysfs(number: u32, active_low: bool) -> Result<Gpio> {
    let dir = PathBuf::from(format!("/sys/class/gpio/gpio{number}"));
    let disp = dir.display().to_string();
    if !dir.exists() {
        return Err(Error::usage(format!(
            "{disp} does not exist: export the line first (echo {number} > /sys/class/gpio/export) \
             if it is free"
        )));
    }
    // Edge detection must be on for poll() to report changes.
    std::fs::write(dir.join("edge"), "both").map_err(|e| {
        Error::io(
            format!("{disp}/edge"),
            Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        )
    })?;
    let value_path = dir.join("value");
    let fd = open_read(&value_path).map_err(|e| Error::io(format!("{disp}/value"), e))?;
    let value = File::from(
        fd.try_clone()
            .map_err(|e| Error::io(&disp, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?,
    );
    let mut g = Gpio {
        fd,
        kind: Kind::Sysfs { value, last: false },
        info: Info {
            kind: super::source::SourceKind::SysfsGpio,
            path: disp,
            name: None,
            code: number,
        },
        invert: active_low,
    };
    let now = g.key_state().unwrap_or(false);
    if let Kind::Sysfs { last, .. } = &mut g.kind {
        *last = now;
    }
    Ok(g)
}

fn read_sysfs_value(f: &mut File) -> Option<bool> {
    let mut s = [0u8; 4];
    f.seek(SeekFrom::Start(0)).ok()?;
    let n = f.read(&mut s).ok()?;
    match s[..n].first() {
        Some(b'1') => Some(true),
        Some(b'0') => Some(false),
        _ => None,
    }
}

fn mono_now() -> u64 {
    crate::clock::mono_ns()
}

impl Source for Gpio {
    fn info(&self) -> &Info {
        &self.info
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn clock(&self) -> Clock {
        match self.kind {
            Kind::V2 | Kind::Sysfs { .. } => Clock::Monotonic,
            // Realtime stamps before Linux 5.7.
            Kind::V1 => Clock::Own,
        }
    }

    fn wants_pri(&self) -> bool {
        matches!(self.kind, Kind::Sysfs { .. })
    }

    fn key_state(&mut self) -> Option<bool> {
        let v = match &mut self.kind {
            Kind::V2 => gpio_uapi::value_v2(self.fd.as_fd()).ok()?,
            Kind::V1 => gpio_uapi::value_v1(self.fd.as_fd()).ok()?,
            Kind::Sysfs { value, .. } => read_sysfs_value(value)?,
        };
        Some(v != self.invert)
    }

    fn read(&mut self, out: &mut Vec<Ev>) -> Result<()> {
        if let Kind::Sysfs { .. } = self.kind {
            let now = self.key_state();
            if let (Some(v), Kind::Sysfs { last, .. }) = (now, &mut self.kind)
                && v != *last
            {
                *last = v;
                out.push(Ev::Key {
                    pressed: v,
                    ts: mono_now(),
                });
            }
            return Ok(());
        }
        let size = match self.kind {
            Kind::V2 => GPIO_V2_EVENT_SIZE,
            _ => GPIO_V1_EVENT_SIZE,
        };
        let mut buf = [0u8; 16 * GPIO_V2_EVENT_SIZE];
        let n = match crate::sys::fs::read(&self.fd, &mut buf[..size * 16]) {
            Ok(0) | Err(Errno::ENODEV) => {
                out.push(Ev::Gone);
                return Ok(());
            }
            Ok(n) => n,
            Err(Errno::EAGAIN | Errno::EINTR) => return Ok(()),
            Err(e) => return Err(Error::io(&self.info.path, e)),
        };
        // The kernel returns whole events only.
        for rec in buf[..n].chunks_exact(size) {
            let e: Option<GpioEdge> = match self.kind {
                Kind::V2 => decode_gpio_v2(rec),
                _ => decode_gpio_v1(rec, size),
            };
            if let Some(e) = e {
                out.push(Ev::Key {
                    pressed: e.rising != self.invert,
                    ts: e.timestamp_ns,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpio_specs() {
        assert_eq!(
            parse_spec("gpiochip0:17"),
            Ok(Spec::Chardev {
                chip: "/dev/gpiochip0".into(),
                line: LineRef::Offset(17),
                active_low: false
            })
        );
        assert_eq!(
            parse_spec("1:reset:active-low"),
            Ok(Spec::Chardev {
                chip: "/dev/gpiochip1".into(),
                line: LineRef::Name("reset".into()),
                active_low: true
            })
        );
        assert_eq!(
            parse_spec("/dev/gpiochip2:3"),
            Ok(Spec::Chardev {
                chip: "/dev/gpiochip2".into(),
                line: LineRef::Offset(3),
                active_low: false
            })
        );
        assert_eq!(
            parse_spec("sysfs:45:active-low"),
            Ok(Spec::Sysfs {
                number: 45,
                active_low: true
            })
        );
        for bad in [
            "",
            "17",
            "gpiochip0:",
            ":3",
            "sysfs:x",
            "../etc:1",
            "chip/0:1",
        ] {
            assert!(parse_spec(bad).is_err(), "{bad:?} accepted");
        }
    }
}
