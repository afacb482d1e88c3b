//! The input (evdev) uAPI: four ioctls from include/uapi/linux/input.h, done by hand.
//! `EVIOCGBIT(EV_KEY, len)` which keys a device has, `EVIOCGNAME(len)` its name,
//! `EVIOCGKEY(len)` which keys are down now, `EVIOCSCLOCKID` the timestamp clock. Which
//! device and key to watch is `watch::evdev`'s. The request numbers are checked against the
//! kernel's header by a C program (`request_numbers_match_the_kernel_header`).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc::c_int;
use nix::sys::ioctl::ioctl_num_type;

use super::Errno;

/// `EV_KEY`: key events.
const EV_KEY: u8 = 0x01;

/// The evdev ioctls' type (`'E'`), and the numbers of the three that read into a buffer
/// (the buffer's length is part of the request: `ioctl_read_buf!` encodes it per call).
const EVDEV_IOC: u8 = b'E';
const NR_GBIT_KEY: u8 = 0x20 + EV_KEY;
const NR_GNAME: u8 = 0x06;
const NR_GKEY: u8 = 0x18;
const EVIOCSCLOCKID: ioctl_num_type = nix::request_code_write!(EVDEV_IOC, 0xa0, size_of::<c_int>());

nix::ioctl_read_buf!(eviocgbit_key, EVDEV_IOC, NR_GBIT_KEY, u8);
nix::ioctl_read_buf!(eviocgname, EVDEV_IOC, NR_GNAME, u8);
nix::ioctl_read_buf!(eviocgkey, EVDEV_IOC, NR_GKEY, u8);
nix::ioctl_write_ptr_bad!(eviocsclockid, EVIOCSCLOCKID, c_int);

/// `EVIOCGBIT(EV_KEY)`: the bitmap of keys the device can report, into `bits`.
pub fn key_bits(fd: BorrowedFd<'_>, bits: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: EVIOCGBIT(EV_KEY) writes at most `bits.len()` bytes (the length is encoded in
    // the request by the macro) into a buffer we own for the duration of the call.
    unsafe { eviocgbit_key(fd.as_raw_fd(), bits) }.map(|_| ())
}

/// `EVIOCGNAME`: the device's name into `buf`; returns the length the kernel reports.
pub fn name(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: EVIOCGNAME writes at most `buf.len()` bytes into our buffer.
    let n = unsafe { eviocgname(fd.as_raw_fd(), buf) }?;
    Ok(n.max(0) as usize)
}

/// `EVIOCGKEY`: the bitmap of keys down now, into `bits`.
pub fn keys_down(fd: BorrowedFd<'_>, bits: &mut [u8]) -> Result<(), Errno> {
    // SAFETY: EVIOCGKEY writes at most `bits.len()` bytes into our buffer.
    unsafe { eviocgkey(fd.as_raw_fd(), bits) }.map(|_| ())
}

/// `EVIOCSCLOCKID(CLOCK_MONOTONIC)`: stamp events with the monotonic clock (fails before
/// Linux 3.4, which stamps them with the wall clock).
pub fn use_monotonic_clock(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mono = nix::libc::CLOCK_MONOTONIC;
    // SAFETY: EVIOCSCLOCKID reads one c_int from a pointer to a live local.
    unsafe { eviocsclockid(fd.as_raw_fd(), &mono) }.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::super::uapi_oracle::{Oracle, assert_same};
    use super::*;

    #[test]
    fn every_wrapper_passes_on_the_kernels_refusal() {
        // /dev/null answers every ioctl with ENOTTY, as a file that is not an input device
        // does: no wrapper may report success (or a name length) without the kernel's.
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&null);
        let mut buf = [0u8; 256];
        assert_eq!(key_bits(fd, &mut buf), Err(Errno::ENOTTY));
        assert_eq!(name(fd, &mut buf), Err(Errno::ENOTTY));
        assert_eq!(keys_down(fd, &mut buf), Err(Errno::ENOTTY));
        assert_eq!(use_monotonic_clock(fd), Err(Errno::ENOTTY));
    }

    /// The header's facts (C side of the oracle); argv: the buffer lengths to encode.
    const ORACLE_C: &str = r#"
#define _POSIX_C_SOURCE 200809L /* CLOCK_MONOTONIC */
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    printf("const EV_KEY %u\n", (unsigned)EV_KEY);
    printf("const KEY_MAX/8+1 %u\n", (unsigned)(KEY_MAX / 8 + 1));
    printf("const CLOCK_MONOTONIC %d\n", (int)CLOCK_MONOTONIC);
    printf("ioctl EVIOCSCLOCKID %u\n", (unsigned)EVIOCSCLOCKID);
    for (int i = 1; i < argc; i++) {
        unsigned len = strtoul(argv[i], NULL, 10);
        printf("ioctl EVIOCGBIT(EV_KEY,%u) %u\n", len, (unsigned)EVIOCGBIT(EV_KEY, len));
        printf("ioctl EVIOCGNAME(%u) %u\n", len, (unsigned)EVIOCGNAME(len));
        printf("ioctl EVIOCGKEY(%u) %u\n", len, (unsigned)EVIOCGKEY(len));
    }
    return 0;
}
"#;

    /// The request number `ioctl_read_buf!` makes for a `len`-byte buffer (its own
    /// computation: `request_code_read!` with the buffer's size).
    fn read_buf(nr: u8, len: usize) -> u32 {
        nix::request_code_read!(EVDEV_IOC, nr, len) as u32
    }

    #[test]
    #[ignore = "needs cc and linux-libc-dev"]
    fn request_numbers_match_the_kernel_header() {
        // watch::evdev's buffers (a layer above, out of reach here): the key bitmaps
        // (KEY_MAX / 8 + 1 bytes) and the name (256 bytes); and 1 byte.
        const KEY_BITMAP: usize = 96;
        let lens = [KEY_BITMAP, 256, 1];
        let mut ours = vec![
            format!("const EV_KEY {EV_KEY}"),
            format!("const KEY_MAX/8+1 {KEY_BITMAP}"),
            format!("const CLOCK_MONOTONIC {}", nix::libc::CLOCK_MONOTONIC),
            format!("ioctl EVIOCSCLOCKID {}", EVIOCSCLOCKID as u32),
        ];
        for len in lens {
            ours.push(format!(
                "ioctl EVIOCGBIT(EV_KEY,{len}) {}",
                read_buf(NR_GBIT_KEY, len)
            ));
            ours.push(format!(
                "ioctl EVIOCGNAME({len}) {}",
                read_buf(NR_GNAME, len)
            ));
            ours.push(format!("ioctl EVIOCGKEY({len}) {}", read_buf(NR_GKEY, len)));
        }
        let args: Vec<String> = lens.iter().map(usize::to_string).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_same(&Oracle::build(ORACLE_C).run(&args), &ours);
    }
}
