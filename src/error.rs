//! One error type for the whole tool, carrying the documented exit code.
//!
//! Every failure ends as a single line on stderr (`qrescue: <message>`) and one of the
//! exit codes below; they are part of the command-line contract (README, `--help`).

use std::fmt;
use std::io;

/// Documented process exit codes (sysexits-style where one fits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// `verify`: the password does not match every store; `audit`: high-severity finding.
    Mismatch = 1,
    /// Bad command line or bad input (password rules, unknown backup id…).
    Usage = 2,
    /// A credential store is malformed where qrescue would have to change it.
    DataErr = 65,
    /// No input to work on: no credential store under the root, no QNAP system partition
    /// on the disks, or the backup an interrupted change needs for its rollback is missing or
    /// damaged (the message names the intent record to remove once the accounts are checked).
    NoInput = 66,
    /// No such user in the stores.
    NoUser = 67,
    /// A program qrescue needs is not installed (`mdadm` for `--disk`).
    Unavailable = 69,
    /// I/O error (read, write, fsync, rename, disk full…).
    IoErr = 74,
    /// A lock is held by another program past the bounded wait.
    TempFail = 75,
    /// Not permitted (not root on a live system, permission denied, path escapes the root).
    NoPerm = 77,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error with a one-line, password-free message and its exit code.
#[derive(Debug)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Error {
            exit,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(Exit::DataErr, message)
    }
    pub fn no_input(message: impl Into<String>) -> Self {
        Self::new(Exit::NoInput, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Exit::Unavailable, message)
    }
    pub fn no_user(message: impl Into<String>) -> Self {
        Self::new(Exit::NoUser, message)
    }
    pub fn busy(message: impl Into<String>) -> Self {
        Self::new(Exit::TempFail, message)
    }
    pub fn perm(message: impl Into<String>) -> Self {
        Self::new(Exit::NoPerm, message)
    }
    /// An I/O error on `what` (a path or an action). Permission problems map to 77.
    pub fn io(what: impl fmt::Display, err: impl Into<io::Error>) -> Self {
        let err: io::Error = err.into();
        let exit = match err.kind() {
            io::ErrorKind::PermissionDenied => Exit::NoPerm,
            // EPERM (1): an operation not permitted, whatever the kind says.
            _ if err.raw_os_error() == Some(1) => Exit::NoPerm,
            _ => Exit::IoErr,
        };
        Error::new(exit, format!("{what}: {}", describe_io(&err)))
    }
    /// Prefix the message with context, keeping the exit code.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

/// `io::Error`'s text without the "(os error N)" suffix, which means nothing to an owner.
fn describe_io(err: &io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
