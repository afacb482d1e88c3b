//! Logging: `log` records go to syslog (RFC 3164 over the local socket) and, when asked,
//! to stderr. A missing or broken syslog never stops a repair: records are then only
//! written to stderr (if enabled) and otherwise dropped.
//!
//! The syslog socket is `/dev/log`; `QRESCUE_SYSLOG_SOCKET` names another one (tests use it
//! to capture the exact records). Messages never contain a password or a hash: callers log
//! user names, store paths and backup ids only.

use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

/// Environment variable naming another syslog socket than `/dev/log`.
pub const SOCKET_ENV: &str = "QRESCUE_SYSLOG_SOCKET";

struct QLogger {
    syslog: Mutex<Option<Logger<LoggerBackend, Formatter3164>>>,
    stderr: bool,
}

impl Log for QLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        if self.stderr {
            crate::escape::advise(&format!("qrescue: {msg}"));
        }
        if let Ok(mut guard) = self.syslog.lock()
            && let Some(logger) = guard.as_mut()
        {
            let r = match record.level() {
                Level::Error => logger.err(&msg),
                Level::Warn => logger.warning(&msg),
                _ => logger.info(&msg),
            };
            if r.is_err() {
                // Drop a broken connection; do not retry on every record.
                *guard = None;
            }
        }
    }

    fn flush(&self) {}
}

/// Install the logger once. `facility` is `auth` for credential changes, `daemon` for the
/// watcher; `stderr` echoes every record to stderr (the watcher in the foreground).
pub fn init(facility: Facility, stderr: bool) {
    let formatter = Formatter3164 {
        facility,
        hostname: None,
        process: "qrescue".into(),
        pid: std::process::id(),
    };
    let logger = match std::env::var_os(SOCKET_ENV) {
        Some(path) => syslog::unix_custom(formatter, path).ok(),
        None => syslog::unix(formatter).ok(),
    };
    let boxed = Box::new(QLogger {
        syslog: Mutex::new(logger),
        stderr,
    });
    if log::set_boxed_logger(boxed).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

pub use syslog::Facility as SyslogFacility;
