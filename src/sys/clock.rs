//! The kernel's clocks: CLOCK_MONOTONIC, and the local time zone's view of a Unix time
//! (`localtime_r`, which reads TZ).

use nix::time::{ClockId, clock_gettime};

/// CLOCK_MONOTONIC now, in nanoseconds (0 if it cannot be read).
pub fn monotonic_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second, UTC offset in seconds) in the local time zone.
pub type LocalParts = (i64, i32, i32, i32, i32, i32, i64);

/// A Unix time in the local time zone; `None` where `time_t` is 32-bit (not trusted past
/// 2038) or localtime_r fails.
#[cfg(target_pointer_width = "64")]
#[allow(deprecated)] // libc's musl time_t alias: 64-bit on every 64-bit target
pub fn local_parts(unix: u64) -> Option<LocalParts> {
    use nix::libc;
    let t = unix as libc::time_t;
    // SAFETY: `tm` is plain data (a null `tm_zone` pointer is valid) that localtime_r fills
    // (reading TZ on first use); it gets valid pointers to locals that outlive the call.
    let (ok, tm) = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let ok = !libc::localtime_r(&t, &mut tm).is_null();
        (ok, tm)
    };
    ok.then(|| {
        (
            tm.tm_year as i64 + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            tm.tm_gmtoff,
        )
    })
}

/// See the 64-bit version.
#[cfg(not(target_pointer_width = "64"))]
pub fn local_parts(_unix: u64) -> Option<LocalParts> {
    None
}
