//! Byte layouts of the kernel's event records, decoded by hand (no `unsafe` transmutes):
//!
//! - `struct input_event` (include/uapi/linux/input.h):
//!   `struct timeval time; __u16 type; __u16 code; __s32 value;` where the timeval is two
//!   `long`s (`__kernel_ulong_t __sec, __usec` under `__USE_TIME_BITS64`): 24 bytes in a 64-bit
//!   process, 16 bytes in a 32-bit one, even on a 64-bit kernel. The layout follows the
//!   *process* ABI.
//! - `struct gpio_v2_line_event` (include/uapi/linux/gpio.h): `__aligned_u64 timestamp_ns;
//!   __u32 id; __u32 offset; __u32 seqno; __u32 line_seqno; __u32 padding[6];` = 48 bytes on
//!   every architecture. `id`: 1 rising edge, 2 falling edge.
//! - `struct gpioevent_data` (v1): `__u64 timestamp; __u32 id;` = 16 bytes where `__u64` is
//!   8-aligned (x86_64, arm, aarch64), 12 on i386. `id`: 1 rising, 2 falling.
//!
//! All fields are in the machine's byte order (little-endian on every QNAP CPU).

use std::mem::size_of;

/// Event types and codes (include/uapi/linux/input-event-codes.h).
pub const EV_SYN: u16 = 0x00;
pub const EV_KEY: u16 = 0x01;
pub const SYN_REPORT: u16 = 0;
pub const SYN_DROPPED: u16 = 3;
pub const KEY_RESTART: u16 = 0x198;
pub const KEY_MAX: u16 = 0x2ff;

/// `struct input_event` layout: the width of the two timeval fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLayout {
    /// 64-bit process: `long` is 8 bytes, the record 24.
    Long64,
    /// 32-bit process: `long` is 4 bytes, the record 16.
    Long32,
}

impl InputLayout {
    /// The layout of this binary's own ABI (what `read()` on an evdev node returns to it).
    pub const fn native() -> InputLayout {
        if size_of::<std::ffi::c_long>() == 8 {
            InputLayout::Long64
        } else {
            InputLayout::Long32
        }
    }

    pub const fn size(self) -> usize {
        match self {
            InputLayout::Long64 => 24,
            InputLayout::Long32 => 16,
        }
    }
}

/// One decoded `struct input_event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    pub sec: u64,
    pub usec: u64,
    pub kind: u16,
    pub code: u16,
    pub value: i32,
}

impl InputEvent {
    /// The timestamp in nanoseconds.
    pub fn ns(&self) -> u64 {
        self.sec
            .saturating_mul(1_000_000_000)
            .saturating_add(self.usec.min(999_999) * 1000)
    }

    /// Encode in `layout` (tests, and the uinput helper).
    pub fn encode(&self, layout: InputLayout) -> Vec<u8> {
        let mut v = Vec::with_capacity(layout.size());
        match layout {
            InputLayout::Long64 => {
                v.extend_from_slice(&self.sec.to_le_bytes());
                v.extend_from_slice(&self.usec.to_le_bytes());
            }
            InputLayout::Long32 => {
                v.extend_from_slice(&(self.sec as u32).to_le_bytes());
                v.extend_from_slice(&(self.usec as u32).to_le_bytes());
            }
        }
        v.extend_from_slice(&self.kind.to_le_bytes());
        v.extend_from_slice(&self.code.to_le_bytes());
        v.extend_from_slice(&self.value.to_le_bytes());
        v
    }
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Decode one record; `rec` must be exactly `layout.size()` bytes.
pub fn decode_input(rec: &[u8], layout: InputLayout) -> Option<InputEvent> {
    if rec.len() != layout.size() {
        return None;
    }
    let (sec, usec, o) = match layout {
        InputLayout::Long64 => (u64_at(rec, 0), u64_at(rec, 8), 16),
        InputLayout::Long32 => (u32_at(rec, 0) as u64, u32_at(rec, 4) as u64, 8),
    };
    Some(InputEvent {
        sec,
        usec,
        kind: u16_at(rec, o),
        code: u16_at(rec, o + 2),
        value: u32_at(rec, o + 4) as i32,
    })
}

/// A GPIO edge, from either uAPI version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpioEdge {
    pub timestamp_ns: u64,
    pub rising: bool,
    /// v2 only: the line's own sequence number (gaps mean lost events).
    pub line_seqno: Option<u32>,
}

pub const GPIO_V2_EVENT_SIZE: usize = 48;
pub const GPIO_V1_EVENT_SIZE: usize = if cfg!(target_arch = "x86") { 12 } else { 16 };

/// The edge id both uAPI versions use: 1 rising, 2 falling.
fn edge_id(rec: &[u8]) -> Option<bool> {
    match u32_at(rec, 8) {
        1 => Some(true),
        2 => Some(false),
        _ => None,
    }
}

/// Decode a `struct gpio_v2_line_event`.
pub fn decode_gpio_v2(rec: &[u8]) -> Option<GpioEdge> {
    if rec.len() != GPIO_V2_EVENT_SIZE {
        return None;
    }
    let rising = edge_id(rec)?;
    Some(GpioEdge {
        timestamp_ns: u64_at(rec, 0),
        rising,
        line_seqno: Some(u32_at(rec, 20)),
    })
}

/// Decode a `struct gpioevent_data` (v1) of `size` bytes (16, or 12 on i386).
pub fn decode_gpio_v1(rec: &[u8], size: usize) -> Option<GpioEdge> {
    if rec.len() != size || size < 12 {
        return None;
    }
    let rising = edge_id(rec)?;
    Some(GpioEdge {
        timestamp_ns: u64_at(rec, 0),
        rising,
        line_seqno: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KEY_RESTART press at 1700000000.250000, byte by byte as a 64-bit process reads it.
    const PRESS_64: [u8; 24] = [
        0x00, 0xf1, 0x53, 0x65, 0, 0, 0, 0, // tv_sec = 1700000000 (0x6553f100)
        0x90, 0xd0, 0x03, 0, 0, 0, 0, 0, // tv_usec = 250000 (0x3d090)
        0x01, 0x00, // type EV_KEY
        0x98, 0x01, // code KEY_RESTART (0x198)
        0x01, 0x00, 0x00, 0x00, // value 1 (press)
    ];
    /// The same event as a 32-bit ARM process reads it.
    const PRESS_32: [u8; 16] = [
        0x00, 0xf1, 0x53, 0x65, // tv_sec
        0x90, 0xd0, 0x03, 0x00, // tv_usec
        0x01, 0x00, 0x98, 0x01, // type, code
        0x01, 0x00, 0x00, 0x00, // value
    ];

    #[test]
    fn input_event_both_layouts() {
        let want = InputEvent {
            sec: 1_700_000_000,
            usec: 250_000,
            kind: EV_KEY,
            code: KEY_RESTART,
            value: 1,
        };
        assert_eq!(decode_input(&PRESS_64, InputLayout::Long64), Some(want));
        assert_eq!(decode_input(&PRESS_32, InputLayout::Long32), Some(want));
        assert_eq!(want.encode(InputLayout::Long64), PRESS_64);
        assert_eq!(want.encode(InputLayout::Long32), PRESS_32);
        assert_eq!(want.ns(), 1_700_000_000_250_000_000);
        // A record of the other layout's size is refused, not misread.
        assert_eq!(decode_input(&PRESS_32, InputLayout::Long64), None);
        assert_eq!(decode_input(&PRESS_64[..16], InputLayout::Long64), None);
    }

    #[test]
    fn negative_values_and_syn_dropped() {
        let e = InputEvent {
            sec: 5,
            usec: 1,
            kind: EV_SYN,
            code: SYN_DROPPED,
            value: -1,
        };
        for l in [InputLayout::Long64, InputLayout::Long32] {
            assert_eq!(decode_input(&e.encode(l), l), Some(e));
        }
    }

    #[test]
    fn native_layout_matches_this_abi() {
        let want = if cfg!(target_pointer_width = "64") {
            24
        } else {
            16
        };
        assert_eq!(InputLayout::native().size(), want);
    }

    #[test]
    fn gpio_v2_event() {
        // timestamp_ns = 0x0000_0123_4567_89ab, id = 2 (falling), offset = 17, seqno = 9,
        // line_seqno = 4, padding[6].
        let mut rec = vec![0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00];
        rec.extend_from_slice(&2u32.to_le_bytes());
        rec.extend_from_slice(&17u32.to_le_bytes());
        rec.extend_from_slice(&9u32.to_le_bytes());
        rec.extend_from_slice(&4u32.to_le_bytes());
        rec.extend_from_slice(&[0; 24]);
        assert_eq!(rec.len(), 48);
        assert_eq!(
            decode_gpio_v2(&rec),
            Some(GpioEdge {
                timestamp_ns: 0x0123_4567_89ab,
                rising: false,
                line_seqno: Some(4)
            })
        );
        rec[8] = 1;
        assert!(decode_gpio_v2(&rec).unwrap().rising);
        rec[8] = 3;
        assert_eq!(decode_gpio_v2(&rec), None, "unknown id");
        assert_eq!(decode_gpio_v2(&rec[..47]), None);
    }

    #[test]
    fn gpio_v1_event_both_sizes() {
        let mut rec = 1_000_000_123u64.to_le_bytes().to_vec();
        rec.extend_from_slice(&1u32.to_le_bytes());
        // i386 packs it in 12 bytes; 8-byte-aligned ABIs pad to 16.
        assert_eq!(
            decode_gpio_v1(&rec, 12),
            Some(GpioEdge {
                timestamp_ns: 1_000_000_123,
                rising: true,
                line_seqno: None
            })
        );
        rec.extend_from_slice(&[0; 4]);
        assert!(decode_gpio_v1(&rec, 16).unwrap().rising);
        assert_eq!(decode_gpio_v1(&rec, 12), None);
        let want = if cfg!(target_arch = "x86") { 12 } else { 16 };
        assert_eq!(GPIO_V1_EVENT_SIZE, want);
    }
}
