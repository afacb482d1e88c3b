//! GPIO buttons: the character device (`/dev/gpiochipN`, uAPI v2 from Linux 5.10, v1 from
//! 4.8 as fallback) and the legacy sysfs interface (`/sys/class/gpio/gpioN`) of old QNAP
//! kernels. Only for lines the owner names and that are free: a line bound to gpio-keys or
//! held by the firmware is refused (requests are exclusive; taking it would take the button
//! from QTS).
//!
//! Structures and ioctl numbers: include/uapi/linux/gpio.h (Linux 6.1). The unions there
//! (`gpio_v2_line_attribute`) are a `u64` here: every QNAP CPU is little-endian, where the
//! `__u32 debounce_period_us` member is the low half of it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use super::records::{
    GPIO_V1_EVENT_SIZE, GPIO_V2_EVENT_SIZE, GpioEdge, decode_gpio_v1, decode_gpio_v2,
};
use super::source::{Clock, Ev, Info, Source};
use crate::error::{Error, Result};

#[cfg(not(target_endian = "little"))]
compile_error!("gpio.rs assumes a little-endian CPU (every QNAP model is)");

const NAME: usize = 32;
const CONSUMER: &[u8] = b"qrescue";

#[repr(C)]
#[derive(Clone, Copy)]
struct LineAttribute {
    id: u32,
    padding: u32,
    value: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [ConfigAttribute; 10],
}

#[repr(C)]
struct LineRequest {
    offsets: [u32; 64],
    consumer: [u8; NAME],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

#[repr(C)]
struct LineInfoV2 {
    name: [u8; NAME],
    consumer: [u8; NAME],
    offset: u32,
    num_attrs: u32,
    flags: u64,
    attrs: [LineAttribute; 10],
    padding: [u32; 4],
}

#[repr(C)]
struct LineValues {
    bits: u64,
    mask: u64,
}

#[repr(C)]
struct EventRequestV1 {
    lineoffset: u32,
    handleflags: u32,
    eventflags: u32,
    consumer_label: [u8; NAME],
    fd: i32,
}

#[repr(C)]
struct LineInfoV1 {
    line_offset: u32,
    flags: u32,
    name: [u8; NAME],
    consumer: [u8; NAME],
}

#[repr(C)]
struct HandleData {
    values: [u8; 64],
}

// Sizes from the header's own layout comments; a wrong size would be a wrong ioctl number.
const _: () = assert!(std::mem::size_of::<LineRequest>() == 592);
const _: () = assert!(std::mem::size_of::<LineInfoV2>() == 256);
const _: () = assert!(std::mem::size_of::<EventRequestV1>() == 48);
const _: () = assert!(std::mem::size_of::<LineInfoV1>() == 72);

const V2_FLAG_USED: u64 = 1 << 0;
const V2_FLAG_ACTIVE_LOW: u64 = 1 << 1;
const V2_FLAG_INPUT: u64 = 1 << 2;
const V2_FLAG_EDGE_RISING: u64 = 1 << 4;
const V2_FLAG_EDGE_FALLING: u64 = 1 << 5;
const V2_ATTR_DEBOUNCE: u32 = 3;
const V1_LINE_KERNEL: u32 = 1 << 0;
const V1_HANDLE_INPUT: u32 = 1 << 0;
const V1_HANDLE_ACTIVE_LOW: u32 = 1 << 2;
const V1_EVENT_BOTH: u32 = 3;

nix::ioctl_readwrite!(gpio_v2_get_lineinfo, 0xB4, 0x05, LineInfoV2);
nix::ioctl_readwrite!(gpio_v2_get_line, 0xB4, 0x07, LineRequest);
nix::ioctl_readwrite!(gpio_v2_line_get_values, 0xB4, 0x0E, LineValues);
nix::ioctl_readwrite!(gpio_get_lineinfo, 0xB4, 0x02, LineInfoV1);
nix::ioctl_readwrite!(gpio_get_lineevent, 0xB4, 0x04, EventRequestV1);
nix::ioctl_readwrite!(gpiohandle_get_line_values, 0xB4, 0x08, HandleData);

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

fn cstr(b: &[u8]) -> String {
    let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

fn label(buf: &mut [u8; NAME], s: &[u8]) {
    buf[..s.len()].copy_from_slice(s);
}

/// A line's name, consumer and whether it is in use (v2 info, else v1).
fn line_info(chip: BorrowedFd<'_>, offset: u32) -> nix::Result<(String, String, bool)> {
    // SAFETY: all-zero is a valid LineInfoV2 (plain integers and byte arrays).
    let mut info: LineInfoV2 = unsafe { std::mem::zeroed() };
    info.offset = offset;
    // SAFETY: GPIO_V2_GET_LINEINFO reads and writes one LineInfoV2 that we own; its layout
    // matches the kernel's (size asserted above).
    match unsafe { gpio_v2_get_lineinfo(chip.as_raw_fd(), &mut info) } {
        Ok(_) => Ok((
            cstr(&info.name),
            cstr(&info.consumer),
            info.flags & V2_FLAG_USED != 0,
        )),
        Err(Errno::ENOTTY | Errno::EINVAL) => {
            // SAFETY: all-zero is a valid LineInfoV1.
            let mut v1: LineInfoV1 = unsafe { std::mem::zeroed() };
            v1.line_offset = offset;
            // SAFETY: GPIO_GET_LINEINFO reads and writes one LineInfoV1 that we own.
            unsafe { gpio_get_lineinfo(chip.as_raw_fd(), &mut v1) }?;
            Ok((
                cstr(&v1.name),
                cstr(&v1.consumer),
                v1.flags & V1_LINE_KERNEL != 0,
            ))
        }
        Err(e) => Err(e),
    }
}

/// Find a line by name on a chip (offsets 0..512 are tried until the kernel says EINVAL).
fn find_line(chip: BorrowedFd<'_>, name: &str) -> Option<u32> {
    (0..512u32)
        .map_while(|o| line_info(chip, o).ok().map(|i| (o, i)))
        .find(|(_, (n, _, _))| n == name)
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
        let Ok(fd) = open(&chip, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) else {
            continue;
        };
        for o in 0..512u32 {
            let Ok((name, _, used)) = line_info(fd.as_fd(), o) else {
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
    let chip_fd =
        open(chip, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| match e {
            Errno::ENOENT => Error::usage(format!("{disp}: no such GPIO chip")),
            e => Error::io(&disp, e),
        })?;
    let offset = match line {
        LineRef::Offset(o) => *o,
        LineRef::Name(n) => find_line(chip_fd.as_fd(), n)
            .ok_or_else(|| Error::usage(format!("{disp}: no line named {n:?}")))?,
    };
    let (name, consumer, used) =
        line_info(chip_fd.as_fd(), offset).map_err(|e| Error::io(&disp, e))?;
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

    // SAFETY: all-zero is a valid LineRequest (integers and arrays).
    let mut req: LineRequest = unsafe { std::mem::zeroed() };
    req.offsets[0] = offset;
    req.num_lines = 1;
    label(&mut req.consumer, CONSUMER);
    req.config.flags = V2_FLAG_INPUT | V2_FLAG_EDGE_RISING | V2_FLAG_EDGE_FALLING;
    if active_low {
        req.config.flags |= V2_FLAG_ACTIVE_LOW;
    }
    if debounce_ms > 0 {
        req.config.num_attrs = 1;
        req.config.attrs[0] = ConfigAttribute {
            attr: LineAttribute {
                id: V2_ATTR_DEBOUNCE,
                padding: 0,
                value: debounce_ms * 1000,
            },
            mask: 1,
        };
    }
    // SAFETY: GPIO_V2_GET_LINE reads and writes one LineRequest that we own; on success the
    // kernel stores a new fd in `req.fd`, which we take ownership of below.
    let r = unsafe { gpio_v2_get_line(chip_fd.as_raw_fd(), &mut req) };
    let r = match r {
        // Debounce not supported by this chip: ask again without it (the classifier
        // filters bounces anyway).
        Err(Errno::EINVAL) if req.config.num_attrs > 0 => {
            req.config.num_attrs = 0;
            // SAFETY: as above.
            unsafe { gpio_v2_get_line(chip_fd.as_raw_fd(), &mut req) }
        }
        r => r,
    };
    match r {
        Ok(_) => Ok(Gpio {
            // SAFETY: the kernel just returned this fd to us and nothing else owns it.
            fd: unsafe { OwnedFd::from_raw_fd(req.fd) },
            kind: Kind::V2,
            info,
            invert: false,
        }),
        Err(Errno::ENOTTY) => {
            // A kernel before 5.10: uAPI v1.
            // SAFETY: all-zero is a valid EventRequestV1.
            let mut v1: EventRequestV1 = unsafe { std::mem::zeroed() };
            v1.lineoffset = offset;
            v1.handleflags = V1_HANDLE_INPUT | if active_low { V1_HANDLE_ACTIVE_LOW } else { 0 };
            v1.eventflags = V1_EVENT_BOTH;
            label(&mut v1.consumer_label, CONSUMER);
            // SAFETY: GPIO_GET_LINEEVENT reads and writes one EventRequestV1 that we own;
            // the kernel stores a new fd in `v1.fd`.
            unsafe { gpio_get_lineevent(chip_fd.as_raw_fd(), &mut v1) }
                .map_err(|e| Error::io(&info.path, e))?;
            Ok(Gpio {
                // SAFETY: the kernel just returned this fd to us and nothing else owns it.
                fd: unsafe { OwnedFd::from_raw_fd(v1.fd) },
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
    let fd = open(
        &value_path,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(format!("{disp}/value"), e))?;
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
    super::daemon::mono_ns()
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
            Kind::V2 => {
                let mut vals = LineValues { bits: 0, mask: 1 };
                // SAFETY: GPIO_V2_LINE_GET_VALUES reads and writes one LineValues we own.
                unsafe { gpio_v2_line_get_values(self.fd.as_raw_fd(), &mut vals) }.ok()?;
                vals.bits & 1 != 0
            }
            Kind::V1 => {
                let mut d = HandleData { values: [0; 64] };
                // SAFETY: GPIOHANDLE_GET_LINE_VALUES writes one HandleData we own.
                unsafe { gpiohandle_get_line_values(self.fd.as_raw_fd(), &mut d) }.ok()?;
                d.values[0] != 0
            }
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
        let n = match nix::unistd::read(&self.fd, &mut buf[..size * 16]) {
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
