//! The GPIO character device's uAPI (`/dev/gpiochipN`): v2 from Linux 5.10, v1 from 4.8.
//! Structures and ioctl numbers: include/uapi/linux/gpio.h (Linux 6.1). The unions there
//! (`gpio_v2_line_attribute`) are a `u64` here: every QNAP CPU is little-endian, where the
//! `__u32 debounce_period_us` member is the low half of it. Which line to take, and what a
//! refusal means, is `watch::gpio`'s.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::Errno;

#[cfg(not(target_endian = "little"))]
compile_error!("gpio_uapi.rs assumes a little-endian CPU (every QNAP model is)");

const NAME: usize = 32;

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

fn cstr(b: &[u8]) -> String {
    let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

fn label(buf: &mut [u8; NAME], s: &[u8]) {
    let n = s.len().min(NAME - 1);
    buf[..n].copy_from_slice(&s[..n]);
}

/// What the kernel says about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    pub name: String,
    pub consumer: String,
    /// Requested by someone (a driver such as gpio-keys, the firmware, another program).
    pub used: bool,
}

/// A line's name, consumer and whether it is in use (v2 info, else v1). `EINVAL` past the
/// chip's last line.
pub fn line_info(chip: BorrowedFd<'_>, offset: u32) -> Result<LineInfo, Errno> {
    // SAFETY: all-zero is a valid LineInfoV2 (plain integers and byte arrays).
    let mut info: LineInfoV2 = unsafe { std::mem::zeroed() };
    info.offset = offset;
    // SAFETY: GPIO_V2_GET_LINEINFO reads and writes one LineInfoV2 that we own; its layout
    // matches the kernel's (size asserted above).
    match unsafe { gpio_v2_get_lineinfo(chip.as_raw_fd(), &mut info) } {
        Ok(_) => Ok(LineInfo {
            name: cstr(&info.name),
            consumer: cstr(&info.consumer),
            used: info.flags & V2_FLAG_USED != 0,
        }),
        Err(Errno::ENOTTY | Errno::EINVAL) => {
            // SAFETY: all-zero is a valid LineInfoV1.
            let mut v1: LineInfoV1 = unsafe { std::mem::zeroed() };
            v1.line_offset = offset;
            // SAFETY: GPIO_GET_LINEINFO reads and writes one LineInfoV1 that we own.
            unsafe { gpio_get_lineinfo(chip.as_raw_fd(), &mut v1) }?;
            Ok(LineInfo {
                name: cstr(&v1.name),
                consumer: cstr(&v1.consumer),
                used: v1.flags & V1_LINE_KERNEL != 0,
            })
        }
        Err(e) => Err(e),
    }
}

/// Request one line as an input reporting both edges (uAPI v2), with a debounce period
/// when `debounce_us` is not 0. Returns the line's fd. `ENOTTY`: a kernel before 5.10;
/// `EINVAL` with a debounce: the chip cannot debounce.
pub fn request_v2(
    chip: BorrowedFd<'_>,
    offset: u32,
    active_low: bool,
    debounce_us: u64,
    consumer: &[u8],
) -> Result<OwnedFd, Errno> {
    // SAFETY: all-zero is a valid LineRequest (integers and arrays).
    let mut req: LineRequest = unsafe { std::mem::zeroed() };
    req.offsets[0] = offset;
    req.num_lines = 1;
    label(&mut req.consumer, consumer);
    req.config.flags = V2_FLAG_INPUT | V2_FLAG_EDGE_RISING | V2_FLAG_EDGE_FALLING;
    if active_low {
        req.config.flags |= V2_FLAG_ACTIVE_LOW;
    }
    if debounce_us > 0 {
        req.config.num_attrs = 1;
        req.config.attrs[0] = ConfigAttribute {
            attr: LineAttribute {
                id: V2_ATTR_DEBOUNCE,
                padding: 0,
                value: debounce_us,
            },
            mask: 1,
        };
    }
    // SAFETY: GPIO_V2_GET_LINE reads and writes one LineRequest that we own; on success the
    // kernel stores a new fd in `req.fd`, which we take ownership of below.
    unsafe { gpio_v2_get_line(chip.as_raw_fd(), &mut req) }?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(req.fd) })
}

/// Request one line's edge events (uAPI v1, kernels 4.8 to 5.9). Returns the events' fd.
pub fn request_v1_events(
    chip: BorrowedFd<'_>,
    offset: u32,
    active_low: bool,
    consumer: &[u8],
) -> Result<OwnedFd, Errno> {
    // SAFETY: all-zero is a valid EventRequestV1.
    let mut v1: EventRequestV1 = unsafe { std::mem::zeroed() };
    v1.lineoffset = offset;
    v1.handleflags = V1_HANDLE_INPUT | if active_low { V1_HANDLE_ACTIVE_LOW } else { 0 };
    v1.eventflags = V1_EVENT_BOTH;
    label(&mut v1.consumer_label, consumer);
    // SAFETY: GPIO_GET_LINEEVENT reads and writes one EventRequestV1 that we own; the
    // kernel stores a new fd in `v1.fd`.
    unsafe { gpio_get_lineevent(chip.as_raw_fd(), &mut v1) }?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(v1.fd) })
}

/// The line's value now (v2 line fd).
pub fn value_v2(line: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut vals = LineValues { bits: 0, mask: 1 };
    // SAFETY: GPIO_V2_LINE_GET_VALUES reads and writes one LineValues we own.
    unsafe { gpio_v2_line_get_values(line.as_raw_fd(), &mut vals) }?;
    Ok(vals.bits & 1 != 0)
}

/// The line's value now (v1 event fd).
pub fn value_v1(line: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut d = HandleData { values: [0; 64] };
    // SAFETY: GPIOHANDLE_GET_LINE_VALUES writes one HandleData we own.
    unsafe { gpiohandle_get_line_values(line.as_raw_fd(), &mut d) }?;
    Ok(d.values[0] != 0)
}
