//! The GPIO character device's uAPI (`/dev/gpiochipN`): v2 from Linux 5.10, v1 from 4.8.
//! Structures and ioctl numbers: include/uapi/linux/gpio.h (Linux 6.1). The unions there
//! (`gpio_v2_line_attribute`) are a `u64` here: every QNAP CPU is little-endian, where the
//! `__u32 debounce_period_us` member is the low half of it. Which line to take, and what a
//! refusal means, is `watch::gpio`'s.
//!
//! Each wrapper is one ioctl between two pure functions: a builder of the request (the
//! flags, the debounce attribute, the NUL-terminated consumer label) and a decoder of the
//! answer. No host here has a GPIO chip (Debian's kernel has neither gpio-sim nor
//! gpio-mockup), so the tests below check the builders and decoders directly, and
//! `header_oracle` checks the layouts, constants, ioctl numbers and the bytes of built
//! requests against a C program compiled with the kernel's own header.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::ioctl::ioctl_num_type;

use super::Errno;

#[cfg(not(target_endian = "little"))]
compile_error!("gpio_uapi.rs assumes a little-endian CPU (every QNAP model is)");

const NAME: usize = 32;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LineAttribute {
    id: u32,
    padding: u32,
    value: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The GPIO character device's ioctl type (`0xB4` in every request number below).
const GPIO_IOC: u8 = 0xB4;
const GPIO_V2_GET_LINEINFO_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x05, size_of::<LineInfoV2>());
const GPIO_V2_GET_LINE_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x07, size_of::<LineRequest>());
const GPIO_V2_LINE_GET_VALUES_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x0E, size_of::<LineValues>());
const GPIO_GET_LINEINFO_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x02, size_of::<LineInfoV1>());
const GPIO_GET_LINEEVENT_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x04, size_of::<EventRequestV1>());
const GPIOHANDLE_GET_LINE_VALUES_IOCTL: ioctl_num_type =
    nix::request_code_readwrite!(GPIO_IOC, 0x08, size_of::<HandleData>());

nix::ioctl_readwrite_bad!(gpio_v2_get_lineinfo, GPIO_V2_GET_LINEINFO_IOCTL, LineInfoV2);
nix::ioctl_readwrite_bad!(gpio_v2_get_line, GPIO_V2_GET_LINE_IOCTL, LineRequest);
nix::ioctl_readwrite_bad!(
    gpio_v2_line_get_values,
    GPIO_V2_LINE_GET_VALUES_IOCTL,
    LineValues
);
nix::ioctl_readwrite_bad!(gpio_get_lineinfo, GPIO_GET_LINEINFO_IOCTL, LineInfoV1);
nix::ioctl_readwrite_bad!(gpio_get_lineevent, GPIO_GET_LINEEVENT_IOCTL, EventRequestV1);
nix::ioctl_readwrite_bad!(
    gpiohandle_get_line_values,
    GPIOHANDLE_GET_LINE_VALUES_IOCTL,
    HandleData
);

const NO_ATTR: LineAttribute = LineAttribute {
    id: 0,
    padding: 0,
    value: 0,
};

/// A name field as text: up to its first NUL (all of it without one), invalid UTF-8 replaced.
fn cstr(b: &[u8]) -> String {
    let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

/// A consumer label: at most `NAME - 1` bytes of `s`, then NULs (the kernel reads up to the
/// first NUL, and needs one).
fn label(s: &[u8]) -> [u8; NAME] {
    let mut buf = [0; NAME];
    let n = s.len().min(NAME - 1);
    buf[..n].copy_from_slice(&s[..n]);
    buf
}

/// What the kernel says about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    pub name: String,
    pub consumer: String,
    /// Requested by someone (a driver such as gpio-keys, the firmware, another program).
    pub used: bool,
}

/// The question GPIO_V2_GET_LINEINFO answers: line `offset`, everything else zero.
fn info_v2_query(offset: u32) -> LineInfoV2 {
    LineInfoV2 {
        name: [0; NAME],
        consumer: [0; NAME],
        offset,
        num_attrs: 0,
        flags: 0,
        attrs: [NO_ATTR; 10],
        padding: [0; 4],
    }
}

fn decode_info_v2(info: &LineInfoV2) -> LineInfo {
    LineInfo {
        name: cstr(&info.name),
        consumer: cstr(&info.consumer),
        used: info.flags & V2_FLAG_USED != 0,
    }
}

/// The question GPIO_GET_LINEINFO (v1) answers: line `offset`, everything else zero.
fn info_v1_query(offset: u32) -> LineInfoV1 {
    LineInfoV1 {
        line_offset: offset,
        flags: 0,
        name: [0; NAME],
        consumer: [0; NAME],
    }
}

fn decode_info_v1(info: &LineInfoV1) -> LineInfo {
    LineInfo {
        name: cstr(&info.name),
        consumer: cstr(&info.consumer),
        used: info.flags & V1_LINE_KERNEL != 0,
    }
}

/// The v2 request for line `offset` alone (`num_lines` 1), as an input reporting both
/// edges, active-low if asked, with a debounce attribute for that line (`mask` bit 0) only
/// when `debounce_us` is not 0, labelled `consumer`. Everything else is zero.
fn line_request(offset: u32, active_low: bool, debounce_us: u64, consumer: &[u8]) -> LineRequest {
    let mut config = LineConfig {
        flags: V2_FLAG_INPUT | V2_FLAG_EDGE_RISING | V2_FLAG_EDGE_FALLING,
        num_attrs: 0,
        padding: [0; 5],
        attrs: [ConfigAttribute {
            attr: NO_ATTR,
            mask: 0,
        }; 10],
    };
    if active_low {
        config.flags |= V2_FLAG_ACTIVE_LOW;
    }
    if debounce_us > 0 {
        config.num_attrs = 1;
        config.attrs[0] = ConfigAttribute {
            attr: LineAttribute {
                id: V2_ATTR_DEBOUNCE,
                padding: 0,
                value: debounce_us,
            },
            mask: 1,
        };
    }
    let mut offsets = [0; 64];
    offsets[0] = offset;
    LineRequest {
        offsets,
        consumer: label(consumer),
        config,
        num_lines: 1,
        event_buffer_size: 0,
        padding: [0; 5],
        fd: 0,
    }
}

/// The v1 request for line `offset`'s events: an input, active-low if asked, both edges,
/// labelled `consumer`. Everything else is zero.
fn event_request_v1(offset: u32, active_low: bool, consumer: &[u8]) -> EventRequestV1 {
    EventRequestV1 {
        lineoffset: offset,
        handleflags: V1_HANDLE_INPUT | if active_low { V1_HANDLE_ACTIVE_LOW } else { 0 },
        eventflags: V1_EVENT_BOTH,
        consumer_label: label(consumer),
        fd: 0,
    }
}

/// The question GPIO_V2_LINE_GET_VALUES answers: the value of the request's line 0.
fn values_query_v2() -> LineValues {
    LineValues { bits: 0, mask: 1 }
}

fn decode_value_v2(vals: &LineValues) -> bool {
    vals.bits & 1 != 0
}

fn decode_value_v1(d: &HandleData) -> bool {
    d.values[0] != 0
}

/// A line's name, consumer and whether it is in use (v2 info, else v1). `EINVAL` past the
/// chip's last line.
pub fn line_info(chip: BorrowedFd<'_>, offset: u32) -> Result<LineInfo, Errno> {
    let mut info = info_v2_query(offset);
    // SAFETY: GPIO_V2_GET_LINEINFO reads and writes one LineInfoV2 that we own; its layout
    // matches the kernel's (size asserted above).
    match unsafe { gpio_v2_get_lineinfo(chip.as_raw_fd(), &mut info) } {
        Ok(_) => Ok(decode_info_v2(&info)),
        Err(Errno::ENOTTY | Errno::EINVAL) => {
            let mut v1 = info_v1_query(offset);
            // SAFETY: GPIO_GET_LINEINFO reads and writes one LineInfoV1 that we own.
            unsafe { gpio_get_lineinfo(chip.as_raw_fd(), &mut v1) }?;
            Ok(decode_info_v1(&v1))
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
    let mut req = line_request(offset, active_low, debounce_us, consumer);
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
    let mut v1 = event_request_v1(offset, active_low, consumer);
    // SAFETY: GPIO_GET_LINEEVENT reads and writes one EventRequestV1 that we own; the
    // kernel stores a new fd in `v1.fd`.
    unsafe { gpio_get_lineevent(chip.as_raw_fd(), &mut v1) }?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(v1.fd) })
}

/// The line's value now (v2 line fd).
pub fn value_v2(line: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut vals = values_query_v2();
    // SAFETY: GPIO_V2_LINE_GET_VALUES reads and writes one LineValues we own.
    unsafe { gpio_v2_line_get_values(line.as_raw_fd(), &mut vals) }?;
    Ok(decode_value_v2(&vals))
}

/// The line's value now (v1 event fd).
pub fn value_v1(line: BorrowedFd<'_>) -> Result<bool, Errno> {
    let mut d = HandleData { values: [0; 64] };
    // SAFETY: GPIOHANDLE_GET_LINE_VALUES writes one HandleData we own.
    unsafe { gpiohandle_get_line_values(line.as_raw_fd(), &mut d) }?;
    Ok(decode_value_v1(&d))
}

#[cfg(test)]
mod header_oracle;

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz"; // 36 bytes

    fn text(bytes: &[u8]) -> [u8; NAME] {
        let mut b = [0; NAME];
        b[..bytes.len()].copy_from_slice(bytes);
        b
    }

    #[test]
    fn the_label_is_at_most_31_bytes_and_always_nul_terminated() {
        assert_eq!(label(b""), [0; NAME]);
        assert_eq!(label(b"qrescue"), text(b"qrescue"));
        assert_eq!(label(&LONG[..31]), text(&LONG[..31]));
        assert_eq!(label(&LONG[..32]), text(&LONG[..31]));
        assert_eq!(label(LONG), text(&LONG[..31]));
        assert_eq!(label(LONG)[NAME - 1], 0);
    }

    #[test]
    fn a_name_field_is_read_up_to_its_first_nul_with_invalid_utf8_replaced() {
        assert_eq!(cstr(&text(b"")), "");
        assert_eq!(cstr(&text(b"RESET_BTN")), "RESET_BTN");
        assert_eq!(cstr(&text(b"gpio-keys\0stale")), "gpio-keys");
        assert_eq!(cstr(&text(b"\0stale")), "");
        assert_eq!(cstr(&text(b"caf\xc3\xa9 \xff")), "caf\u{e9} \u{fffd}");
        // All 32 bytes used, no NUL: all of it.
        assert_eq!(
            cstr(&LONG[..NAME]),
            std::str::from_utf8(&LONG[..NAME]).unwrap()
        );
    }

    #[test]
    fn the_v2_request_asks_for_one_input_line_with_both_edges() {
        let r = line_request(17, false, 0, b"qrescue");
        assert_eq!(r.offsets[0], 17);
        assert!(r.offsets[1..].iter().all(|&o| o == 0));
        assert_eq!(r.num_lines, 1);
        assert_eq!(r.consumer, text(b"qrescue"));
        // INPUT (bit 2) | EDGE_RISING (bit 4) | EDGE_FALLING (bit 5): gpio.h.
        assert_eq!(r.config.flags, 0b11_0100);
        assert_eq!((r.event_buffer_size, r.padding, r.fd), (0, [0; 5], 0));
        assert_eq!((r.config.num_attrs, r.config.padding), (0, [0; 5]));

        let low = line_request(3, true, 0, LONG);
        // ... | ACTIVE_LOW (bit 1).
        assert_eq!(low.config.flags, 0b11_0110);
        assert_eq!(low.consumer, text(&LONG[..31]));
        assert_eq!((low.offsets[0], low.num_lines), (3, 1));
    }

    #[test]
    fn the_v2_request_carries_a_debounce_attribute_only_when_one_is_asked_for() {
        let none = ConfigAttribute {
            attr: NO_ATTR,
            mask: 0,
        };
        let plain = line_request(0, true, 0, b"");
        assert_eq!(plain.config.num_attrs, 0);
        assert_eq!(plain.config.attrs, [none; 10]);
        for us in [1, 20_000, u64::from(u32::MAX)] {
            let r = line_request(0, true, us, b"");
            assert_eq!(r.config.num_attrs, 1, "{us}");
            assert_eq!(
                r.config.attrs[0],
                ConfigAttribute {
                    // GPIO_V2_LINE_ATTR_ID_DEBOUNCE is 3; mask bit 0 is offsets[0].
                    attr: LineAttribute {
                        id: 3,
                        padding: 0,
                        value: us
                    },
                    mask: 1
                }
            );
            assert_eq!(r.config.attrs[1..], [none; 9]);
            // The flags do not change with the debounce.
            assert_eq!(r.config.flags, plain.config.flags);
        }
    }

    #[test]
    fn the_v1_event_request_asks_for_an_input_with_both_edges() {
        let r = event_request_v1(9, false, b"qrescue");
        assert_eq!(r.lineoffset, 9);
        // GPIOHANDLE_REQUEST_INPUT (bit 0); GPIOEVENT_REQUEST_BOTH_EDGES (bits 0 and 1).
        assert_eq!(r.handleflags, 0b001);
        assert_eq!(r.eventflags, 0b11);
        assert_eq!(r.consumer_label, text(b"qrescue"));
        assert_eq!(r.fd, 0);
        let low = event_request_v1(0, true, LONG);
        // ... | GPIOHANDLE_REQUEST_ACTIVE_LOW (bit 2).
        assert_eq!(low.handleflags, 0b101);
        assert_eq!(low.eventflags, 0b11);
        assert_eq!(low.consumer_label, text(&LONG[..31]));
    }

    #[test]
    fn the_info_queries_name_the_line_and_nothing_else() {
        let q = info_v2_query(42);
        assert_eq!(q.offset, 42);
        assert_eq!((q.name, q.consumer), ([0; NAME], [0; NAME]));
        assert_eq!(
            (q.num_attrs, q.flags, q.attrs, q.padding),
            (0, 0, [NO_ATTR; 10], [0; 4])
        );
        let q = info_v1_query(42);
        assert_eq!((q.line_offset, q.flags), (42, 0));
        assert_eq!((q.name, q.consumer), ([0; NAME], [0; NAME]));
        let v = values_query_v2();
        assert_eq!((v.bits, v.mask), (0, 1));
    }

    #[test]
    fn v2_line_info_is_used_exactly_when_the_used_bit_is_set() {
        let mut info = info_v2_query(7);
        info.name = text(b"RESET\0old");
        info.consumer = text(b"gpio-keys");
        // ACTIVE_LOW | INPUT | EDGE_*: not USED (bit 0).
        info.flags = 0b11_0110;
        assert_eq!(
            decode_info_v2(&info),
            LineInfo {
                name: "RESET".into(),
                consumer: "gpio-keys".into(),
                used: false
            }
        );
        info.flags = 0b1;
        assert!(decode_info_v2(&info).used);
        info.flags = 0b11_0111;
        assert!(decode_info_v2(&info).used);
        info.flags = 0;
        assert!(!decode_info_v2(&info).used);
    }

    #[test]
    fn v1_line_info_is_used_exactly_when_the_kernel_bit_is_set() {
        let mut info = info_v1_query(7);
        info.name = text(b"");
        info.consumer = text(b"\xffkeys");
        // IS_OUT | ACTIVE_LOW | OPEN_DRAIN: not KERNEL (bit 0).
        info.flags = 0b1110;
        assert_eq!(
            decode_info_v1(&info),
            LineInfo {
                name: String::new(),
                consumer: "\u{fffd}keys".into(),
                used: false
            }
        );
        info.flags = 0b1;
        assert!(decode_info_v1(&info).used);
        info.flags = 0b1111;
        assert!(decode_info_v1(&info).used);
    }

    #[test]
    fn the_value_is_the_bit_of_line_0_only() {
        let v = |bits| decode_value_v2(&LineValues { bits, mask: 1 });
        assert!(!v(0));
        assert!(v(1));
        assert!(!v(0b10), "another line's bit");
        assert!(v(0b11));
        let mut d = HandleData { values: [0; 64] };
        assert!(!decode_value_v1(&d));
        d.values[1] = 1;
        assert!(!decode_value_v1(&d), "another line's value");
        d.values[0] = 1;
        assert!(decode_value_v1(&d));
    }

    #[test]
    fn every_wrapper_passes_on_the_kernels_refusal() {
        // /dev/null answers every ioctl with ENOTTY, as a kernel without the uAPI (or a
        // file that is not a GPIO chip) does: no wrapper may report success without one.
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&null);
        assert_eq!(line_info(fd, 0), Err(Errno::ENOTTY));
        assert_eq!(
            request_v2(fd, 0, false, 1000, b"qrescue").err(),
            Some(Errno::ENOTTY)
        );
        assert_eq!(
            request_v1_events(fd, 0, true, b"qrescue").err(),
            Some(Errno::ENOTTY)
        );
        assert_eq!(value_v2(fd), Err(Errno::ENOTTY));
        assert_eq!(value_v1(fd), Err(Errno::ENOTTY));
    }
}
