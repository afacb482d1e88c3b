//! One error type for the whole tool: what went wrong, typed, and the documented exit code
//! it ends with, decided in one place ([`Error::exit`]).
//!
//! Every failure ends as a single line on stderr (`qrescue: <message>`) and one of the
//! exit codes below; they are part of the command-line contract (README, `--help`). The
//! message is `Display`; code that needs to know what happened matches the variant, never
//! the text.

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
    /// Every code, in the order the README and `--help` list them.
    pub const ALL: [Exit; 10] = [
        Exit::Ok,
        Exit::Mismatch,
        Exit::Usage,
        Exit::DataErr,
        Exit::NoInput,
        Exit::NoUser,
        Exit::Unavailable,
        Exit::IoErr,
        Exit::TempFail,
        Exit::NoPerm,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Who holds a lock qrescue waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// A program that does not say who it is (an `lckpwdf` lock).
    Unknown,
    /// The process a lock file names, still alive.
    Process(i32),
    /// A lock file that names no process.
    Nobody,
}

/// What went wrong, with a one-line, password-free message.
#[derive(Debug)]
pub enum Error {
    /// A system call on `what` (a path or an action) failed. Permission problems end
    /// with 77, the rest with 74.
    Io { what: String, source: io::Error },
    /// A step failed without an OS error (content read back differs, a helper program
    /// failed, interrupted by a signal): 74.
    Failed(String),
    /// A line of a credential store is malformed: 65.
    Malformed {
        path: String,
        line: usize,
        problem: String,
    },
    /// Input is not what qrescue can work with (malformed, ambiguous, damaged): 65.
    Data(String),
    /// The user is not in the stores: 67.
    NoSuchUser { user: String, looked_in: String },
    /// A backup has no entry for the user: 67.
    NotInBackup { id: String, user: String },
    /// A lock on `what` stayed taken past the bounded wait: 75.
    Locked {
        what: String,
        holder: Holder,
        waited_s: u64,
    },
    /// Something else is busy (a file keeps changing, no free md device, mounted): 75.
    Busy(String),
    /// Bad command line or bad input: 2.
    Usage(String),
    /// Not permitted: 77.
    NotPermitted(String),
    /// A program qrescue needs is missing: 69.
    Unavailable(String),
    /// Nothing to work on: 66.
    NoInput(String),
    /// `source` with what it happened during (`what: source`); ends as `source` does.
    Context { what: String, source: Box<Error> },
    /// `source`, then a note on what else happened (`source; note`); ends as `source` does.
    Followed { source: Box<Error>, note: String },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The documented exit code: the one place errors become codes.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Io { source, .. } => {
                if source.kind() == io::ErrorKind::PermissionDenied
                    || source.raw_os_error() == Some(1 /* EPERM */)
                {
                    Exit::NoPerm
                } else {
                    Exit::IoErr
                }
            }
            Error::Failed(_) => Exit::IoErr,
            Error::Malformed { .. } | Error::Data(_) => Exit::DataErr,
            Error::NoSuchUser { .. } | Error::NotInBackup { .. } => Exit::NoUser,
            Error::Locked { .. } | Error::Busy(_) => Exit::TempFail,
            Error::Usage(_) => Exit::Usage,
            Error::NotPermitted(_) => Exit::NoPerm,
            Error::Unavailable(_) => Exit::Unavailable,
            Error::NoInput(_) => Exit::NoInput,
            Error::Context { source, .. } | Error::Followed { source, .. } => source.exit(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage(message.into())
    }
    pub fn data(message: impl Into<String>) -> Self {
        Error::Data(message.into())
    }
    pub fn no_input(message: impl Into<String>) -> Self {
        Error::NoInput(message.into())
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }
    pub fn busy(message: impl Into<String>) -> Self {
        Error::Busy(message.into())
    }
    pub fn perm(message: impl Into<String>) -> Self {
        Error::NotPermitted(message.into())
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }
    /// Line `line` of `path` is malformed: `problem`.
    pub fn malformed(path: impl Into<String>, line: usize, problem: impl Into<String>) -> Self {
        Error::Malformed {
            path: path.into(),
            line,
            problem: problem.into(),
        }
    }
    /// An I/O error on `what` (a path or an action). Permission problems map to 77.
    pub fn io(what: impl fmt::Display, err: impl Into<io::Error>) -> Self {
        Error::Io {
            what: what.to_string(),
            source: err.into(),
        }
    }
    /// Prefix the message with context, keeping the exit code.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error::Context {
            what: what.to_string(),
            source: Box::new(self),
        }
    }
    /// Append a note on what else happened, keeping the exit code.
    pub fn followed_by(self, note: impl fmt::Display) -> Self {
        Error::Followed {
            source: Box::new(self),
            note: note.to_string(),
        }
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
        match self {
            Error::Io { what, source } => write!(f, "{what}: {}", describe_io(source)),
            Error::Malformed {
                path,
                line,
                problem,
            } => write!(f, "{path}: line {line}: {problem}"),
            Error::NoSuchUser { user, looked_in } => write!(f, "no user {user:?} in {looked_in}"),
            Error::NotInBackup { id, user } => {
                write!(
                    f,
                    "backup {id} holds no entry for {user}: nothing to restore"
                )
            }
            Error::Locked {
                what,
                holder: Holder::Unknown,
                waited_s,
            } => write!(
                f,
                "{what} is locked by another program (passwd, useradd…) for more than {waited_s} s"
            ),
            Error::Locked {
                what,
                holder: Holder::Process(pid),
                waited_s,
            } => write!(
                f,
                "{what} is held by process {pid} for more than {waited_s} s"
            ),
            Error::Locked {
                what,
                holder: Holder::Nobody,
                ..
            } => write!(
                f,
                "{what} exists and names no process: remove it if no passwd/useradd is running"
            ),
            Error::Failed(m)
            | Error::Data(m)
            | Error::Busy(m)
            | Error::Usage(m)
            | Error::NotPermitted(m)
            | Error::Unavailable(m)
            | Error::NoInput(m) => f.write_str(m),
            Error::Context { what, source } => write!(f, "{what}: {source}"),
            Error::Followed { source, note } => write!(f, "{source}; {note}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Context { source, .. } | Error::Followed { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(errno: i32) -> Error {
        Error::io("/etc/shadow", io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn every_variant_ends_with_its_documented_code() {
        let cases: Vec<(Error, i32, &str)> = vec![
            (io(5 /* EIO */), 74, "/etc/shadow: Input/output error"),
            (
                io(28 /* ENOSPC */),
                74,
                "/etc/shadow: No space left on device",
            ),
            (io(13 /* EACCES */), 77, "/etc/shadow: Permission denied"),
            (
                io(1 /* EPERM */),
                77,
                "/etc/shadow: Operation not permitted",
            ),
            (
                Error::failed("mdadm --stop: busy"),
                74,
                "mdadm --stop: busy",
            ),
            (
                Error::malformed("/etc/shadow", 3, "8 fields, shadow needs 9"),
                65,
                "/etc/shadow: line 3: 8 fields, shadow needs 9",
            ),
            (
                Error::data("backup X is damaged: missing"),
                65,
                "backup X is damaged: missing",
            ),
            (
                Error::NoSuchUser {
                    user: "bob".into(),
                    looked_in: "/etc/passwd".into(),
                },
                67,
                "no user \"bob\" in /etc/passwd",
            ),
            (
                Error::NotInBackup {
                    id: "X".into(),
                    user: "bob".into(),
                },
                67,
                "backup X holds no entry for bob: nothing to restore",
            ),
            (
                Error::Locked {
                    what: "/etc/.pwd.lock".into(),
                    holder: Holder::Unknown,
                    waited_s: 15,
                },
                75,
                "/etc/.pwd.lock is locked by another program (passwd, useradd…) for more than 15 s",
            ),
            (
                Error::Locked {
                    what: "/etc/shadow.lock".into(),
                    holder: Holder::Process(42),
                    waited_s: 15,
                },
                75,
                "/etc/shadow.lock is held by process 42 for more than 15 s",
            ),
            (
                Error::Locked {
                    what: "/etc/shadow.lock".into(),
                    holder: Holder::Nobody,
                    waited_s: 15,
                },
                75,
                "/etc/shadow.lock exists and names no process: remove it if no passwd/useradd is running",
            ),
            (Error::busy("no free md device"), 75, "no free md device"),
            (Error::usage("unknown backup id"), 2, "unknown backup id"),
            (Error::perm("not root"), 77, "not root"),
            (
                Error::unavailable("mdadm is not installed"),
                69,
                "mdadm is not installed",
            ),
            (
                Error::no_input("no credential store"),
                66,
                "no credential store",
            ),
            (
                Error::malformed("/etc/shadow", 3, "8 fields").followed_by("nothing was changed"),
                65,
                "/etc/shadow: line 3: 8 fields; nothing was changed",
            ),
            (
                io(13 /* EACCES */).context("after the change"),
                77,
                "after the change: /etc/shadow: Permission denied",
            ),
            (
                Error::busy("x").context("a").followed_by("b"),
                75,
                "a: x; b",
            ),
        ];
        for (e, code, text) in cases {
            assert_eq!(e.exit().code(), code, "{e:?}");
            assert_eq!(e.to_string(), text, "{e:?}");
        }
    }

    #[test]
    fn every_exit_code_is_documented_in_the_readme() {
        let readme = include_str!("../README.md");
        let table = &readme[readme
            .find("### Exit codes")
            .expect("README lists the exit codes")..];
        let table = &table[..table[4..].find("\n#").map_or(table.len(), |i| i + 4)];
        let listed: Vec<i32> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| ")?.split(' ').next()?.parse().ok())
            .collect();
        let codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(listed, codes, "README's exit-code table and Exit differ");
    }
}
