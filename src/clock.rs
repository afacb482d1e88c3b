//! Wall-clock helpers without a date crate: Unix time, days since the epoch (the shadow
//! "last change" unit), RFC 3339 UTC formatting and parsing (civil-from-days algorithm), and
//! the monotonic clock the button watcher measures holds with.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// CLOCK_MONOTONIC now, in nanoseconds: the button watcher's time base (the kernel stamps
/// input and GPIO events with it; it never jumps with the wall clock).
pub fn mono_ns() -> u64 {
    crate::sys::clock::monotonic_ns()
}

/// Days since 1970-01-01, as shadow's "last change" field counts them.
pub fn today() -> u64 {
    now_unix() / 86_400
}

/// (year, month, day) of a day number since the epoch.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day number since the epoch of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-24T21:44:00Z`.
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Local time of Unix milliseconds (the C library's zone rules, `TZ`), with its offset:
/// `2026-11-25T06:44:00.250+09:00`. UTC where the C library's `time_t` cannot be trusted
/// from Rust (32-bit musl changed it to 64 bits; the libc crate's binding may not follow).
pub fn local_ms(unix_ms: u64) -> String {
    match local_parts(unix_ms / 1000) {
        Some((y, mo, d, h, mi, s, off)) => {
            let sign = if off < 0 { '-' } else { '+' };
            let off = off.unsigned_abs();
            format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}{sign}{:02}:{:02}",
                unix_ms % 1000,
                off / 3600,
                off / 60 % 60
            )
        }
        None => {
            let s = rfc3339(unix_ms / 1000);
            format!("{}.{:03}Z", s.trim_end_matches('Z'), unix_ms % 1000)
        }
    }
}

fn local_parts(unix: u64) -> Option<crate::sys::clock::LocalParts> {
    crate::sys::clock::local_parts(unix)
}

/// `2026-11-24` for a day number (shadow's last change).
pub fn date_of_day(days: u64) -> String {
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Compact id form: `20261124T214400Z`.
pub fn compact(unix: u64) -> String {
    rfc3339(unix).replace(['-', ':'], "")
}

/// Parse `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z]` (UTC), or a plain Unix time.
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = 0u64;
    if let Some(t) = time {
        let mut tp = t.split(':');
        let h: u64 = tp.next()?.parse().ok()?;
        let mi: u64 = tp.next()?.parse().ok()?;
        let se: u64 = tp.next().map_or(Some(0), |x| x.parse().ok())?;
        if h > 23 || mi > 59 || se > 60 || tp.next().is_some() {
            return None;
        }
        secs = h * 3600 + mi * 60 + se;
    }
    let days = days_from_civil(y, m, d);
    u64::try_from(days).ok().map(|d| d * 86_400 + secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_556_640), "2026-11-24T21:44:00Z");
        for d in [-1000i64, 0, 11_016, 20_416, 60_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(parse_time("2026-11-24T21:44:00Z"), Some(1_795_556_640));
        assert_eq!(parse_time("2026-11-24"), Some(1_795_478_400));
        assert_eq!(parse_time("12345"), Some(12345));
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(date_of_day(14233), "2008-12-20");
        assert_eq!(compact(0), "19700101T000000Z");
    }
}
