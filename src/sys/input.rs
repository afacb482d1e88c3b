//! The input (evdev) uAPI: four ioctls from include/uapi/linux/input.h, done by hand.
//! `EVIOCGBIT(EV_KEY, len)` which keys a device has, `EVIOCGNAME(len)` its name,
//! `EVIOCGKEY(len)` which keys are down now, `EVIOCSCLOCKID` the timestamp clock. Which
//! device and key to watch is `watch::evdev`'s.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::Errno;

/// `EV_KEY`: key events.
const EV_KEY: u8 = 0x01;

nix::ioctl_read_buf!(eviocgbit_key, b'E', 0x20 + EV_KEY, u8);
nix::ioctl_read_buf!(eviocgname, b'E', 0x06, u8);
nix::ioctl_read_buf!(eviocgkey, b'E', 0x18, u8);
nix::ioctl_write_ptr!(eviocsclockid, b'E', 0xa0, nix::libc::c_int);

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
