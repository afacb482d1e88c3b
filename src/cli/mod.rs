//! The command line: argument definitions (clap derive) and dispatch to one module per
//! command. Exit codes are documented here, in `--help` and in the README.

mod audit_cmd;
mod backup_cmd;
mod common;
mod disks_cmd;
mod events_cmd;
mod info_cmd;
pub(crate) mod output;
mod passwd_cmd;
mod restore_cmd;
mod status_cmd;
mod verify_cmd;
mod version_cmd;
pub(crate) mod vocab;
mod watch_cmd;

pub(crate) mod password_input;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::context::Context;
use crate::error::{Error, Exit, Result};
use crate::sys::root::Root;

pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   verify: password does not match every store (audit: high-severity finding)
  2   usage error or bad input (nothing was changed)
  65  a credential store is malformed (nothing was changed)
  66  no input: no credential store under --root, no QNAP system partition on the disks,
      or the backup an interrupted change needs is missing or damaged (check with
      `qrescue audit`, then remove the intent record the message names)
  67  no such user
  69  a program qrescue needs is missing (mdadm for --disk)
  74  I/O error (the stores were left as they were, or rolled back)
  75  a lock is held by another program (try again)
  77  not permitted (not root on a live system, permission denied, path escapes --root)

Locked out, no administrator login? README \"Locked out? Start here\": with the NAS's disks in
a Linux PC, `sudo qrescue disks`, then `sudo qrescue --disk auto passwd`.";

#[derive(Debug, Parser)]
#[command(
    name = "qrescue",
    version,
    about = "Safe admin password rescue and reset-button watcher for QNAP NAS",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Treat DIR as / (offline repair of a mounted system partition, tests)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Work on the NAS's system partition on this disk or partition (repeatable; `auto`:
    /// every one `qrescue disks` finds): assembled with mdadm, mounted privately, released
    #[arg(long, global = true, value_name = "DEV", conflicts_with = "root")]
    pub disk: Vec<String>,
    /// Print one JSON document instead of human text
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Account state in every credential store (default USER: admin)
    #[command(
        after_help = "Examples:\n  qrescue status\n  qrescue --root /mnt/sysroot --json status admin"
    )]
    Status {
        /// Account name
        user: Option<String>,
    },
    /// Set a new password in every store, atomically, with a backup first
    #[command(
        after_help = "Examples:\n  qrescue passwd                      # asks twice, no echo\n  printf '%s\\n' \"$PW\" | qrescue passwd admin --password-stdin\n  qrescue passwd admin --random --scheme sha512\n  qrescue passwd --dry-run                 # reads and checks the password too\n  qrescue passwd admin --unlock            # also enable a locked/disabled admin\n  qrescue --root /mnt/md9 passwd --cloud-key   # refuse the label's Cloud Key too\n\nHash: a QTS entry holding the firmware's own empty-salt MD5-crypt ($1$$...) gets exactly\nthat form again: the one QTS's closed checker is proven to accept, but identical passwords\ngive identical hashes and it is fast to guess. --scheme sha512 (or sha256, md5 with a\nsalt) is stronger; test the web and SSH login afterwards and keep the backup.\nRefused (exit 2) unless --allow-default: admin, each adapter's MAC as QTS writes it,\nthe Cloud Key with --cloud-key, empty. Warned: fewer than 8 characters, unchanged."
    )]
    Passwd(passwd_cmd::PasswdArgs),
    /// Exit 0 if the password matches every store, 1 if not
    #[command(
        after_help = "Examples:\n  printf '%s\\n' \"$PW\" | qrescue verify admin --password-stdin"
    )]
    Verify {
        /// Account name (default: admin)
        user: Option<String>,
        /// Read the password as one line from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Snapshot all credential files now and print the backup id
    #[command(after_help = "Examples:\n  qrescue backup --reason 'before firmware update'")]
    Backup {
        /// Why the backup was taken (stored in its manifest)
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// List backup sets (id, time, reason, files, intact?), or prune old ones
    #[command(
        after_help = "--prune --keep N removes all but the N newest sets, under the same locks a \
change takes; the set an unfinished change would roll back from is always kept.\n\n\
Examples:\n  qrescue backups\n  qrescue --json backups\n  qrescue backups --prune --keep 20"
    )]
    Backups {
        /// Remove old sets, keeping the --keep N newest
        #[arg(long, requires = "keep")]
        prune: bool,
        /// How many of the newest sets --prune keeps (at least 1)
        #[arg(long, value_name = "N", requires = "prune", value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// Put a backup set back (the current state is backed up first)
    #[command(
        after_help = "Whole files also revert other accounts' later changes (a user added since \
the backup loses its shadow line); --user puts back one account's entries only.\n\n\
Examples:\n  qrescue backups\n  qrescue restore 20261124T214400Z-1234 --dry-run\n  \
qrescue restore 20261124T214400Z-1234 --user admin"
    )]
    Restore {
        /// Backup id, as printed by `backup` or listed by `backups`
        id: String,
        /// Put back only this account's entries (passwd, shadow, smbpasswd lines and group
        /// membership), edited into today's files
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Show what would change, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Watch the reset button and journal every press
    Watch(watch_cmd::WatchArgs),
    /// Show the reset-button journal
    Events(events_cmd::EventsArgs),
    /// The box: model, firmware, architecture, kernel, adapters, serial, credential stores
    #[command(after_help = "\
Each value says where it came from; what cannot be found is shown as unknown.
Read-only: works as any user, and on an offline root.

Examples:
  qrescue info
  qrescue --json info
  qrescue --root /mnt/sysroot info")]
    Info,
    /// Read-only findings: default passwords, disagreeing stores, weak hashes, resets, permissions
    #[command(after_help = "\
Checks admin and every member of the administrators group (gid 0) unless USERs are named.
Each finding: severity (high, medium, low, info), id, subject, message and a fix.
Passwords, candidates and hashes are never printed. Nothing is written, locked or cleaned.
Exit 0 when no finding is high-severity, 1 otherwise.

Examples:
  qrescue audit
  qrescue audit admin bob
  qrescue audit --cloud-key                   # asks for the label's Cloud Key, no echo
  printf '%s\\n' \"$KEY\" | qrescue --json audit --cloud-key
  qrescue --root /mnt/sysroot audit")]
    Audit {
        /// Accounts to check (default: admin and every administrator)
        users: Vec<String>,
        /// Also test the Cloud Key from the label (QTS 5.2+ default): read from the
        /// terminal without echo, or as one line of standard input
        #[arg(long)]
        cloud_key: bool,
    },
    /// List the QNAP system partitions on this PC's disks (read-only)
    #[command(after_help = "\
For an owner with the NAS's disks in (or beside) a Linux PC. Reads each block device's md
superblock and filesystem signature, and the box's files from a read-only mount of one
member in a private mount namespace; never assembles read-write, never writes.
Exit 66 when no QNAP system partition is found.

Examples:
  sudo qrescue disks
  sudo qrescue --json disks")]
    Disks,
    /// Version and build information (for support requests)
    #[command(after_help = "Examples:\n  qrescue version\n  qrescue --json version")]
    Version,
}

/// Parse the command line, run the command, print any error as one line; the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "qrescue: {}",
                crate::escape::line(&e.to_string())
            );
            e.exit().code()
        }
    }
}

/// Read commands end quietly when their reader goes away (`qrescue status | head`), as Unix
/// tools do, instead of failing on EPIPE. The watcher keeps EPIPE as an error it handles:
/// a closed stderr must not end it.
fn default_sigpipe() {
    use crate::sys::signal::{Signal, set_default};
    set_default(Signal::SIGPIPE);
}

/// `passwd` and `restore` must see every output error (EPIPE included) before they commit,
/// and must not be killed half-way by a dropped SSH session: SIGPIPE and SIGHUP are ignored,
/// so a closed pipe or a hung-up terminal is a write error, handled as one line and exit 74.
fn ignore_sigpipe_and_sighup() {
    use crate::sys::signal::{Signal, ignore};
    for sig in [Signal::SIGPIPE, Signal::SIGHUP] {
        ignore(sig);
    }
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Watch(_) => {}
        Command::Passwd(_) | Command::Restore { .. } => ignore_sigpipe_and_sighup(),
        _ => default_sigpipe(),
    }
    if !cli.disk.is_empty() {
        let write = match &cli.command {
            Command::Passwd(args) => !args.dry_run,
            Command::Restore { dry_run, .. } => !dry_run,
            Command::Backup { .. } | Command::Backups { prune: true, .. } => true,
            Command::Status { .. }
            | Command::Verify { .. }
            | Command::Backups { prune: false, .. }
            | Command::Events(_)
            | Command::Info
            | Command::Audit { .. } => false,
            Command::Watch(_) | Command::Version | Command::Disks => {
                return Err(Error::usage(
                    "--disk works with status, verify, audit, info, backups, events, passwd, \
                     restore and backup",
                ));
            }
        };
        let json = cli.json;
        let command = cli.command;
        let invocation = crate::context::invocation(None, &cli.disk);
        return crate::offline::session::run_on_disks(&cli.disk, write, move |root| {
            dispatch(
                &Context {
                    root: root.with_invocation(invocation),
                    json,
                },
                command,
            )
        });
    }
    if let Command::Version = cli.command {
        return output::finish(cli.json, version_cmd::run()?);
    }
    if let Command::Disks = cli.command {
        return output::finish(cli.json, disks_cmd::run(cli.json)?);
    }
    let root = match &cli.root {
        Some(dir) => crate::offline::layout::open_root(dir)?,
        None => Root::open(std::path::Path::new("/"))?,
    };
    let ctx = Context {
        root: root.with_invocation(crate::context::invocation(cli.root.as_deref(), &[])),
        json: cli.json,
    };
    dispatch(&ctx, cli.command)
}

/// Run the command and print its report: the one place that prints a command's result.
fn dispatch(ctx: &Context, command: Command) -> Result<i32> {
    let outcome = match command {
        Command::Status { user } => status_cmd::run(ctx, user.as_deref()),
        Command::Passwd(args) => passwd_cmd::run(ctx, &args),
        Command::Verify {
            user,
            password_stdin,
        } => verify_cmd::run(ctx, user.as_deref(), password_stdin),
        Command::Backup { reason } => backup_cmd::run_backup(ctx, reason.as_deref()),
        Command::Backups { prune: false, .. } => backup_cmd::run_list(ctx),
        Command::Backups { prune: true, keep } => {
            backup_cmd::run_prune(ctx, keep.unwrap_or(u32::MAX) as usize)
        }
        Command::Restore { id, user, dry_run } => {
            restore_cmd::run(ctx, &id, user.as_deref(), dry_run)
        }
        // The watcher streams JSON lines (or logs) as it runs: no document at the end.
        Command::Watch(args) => return watch_cmd::run(ctx, &args),
        Command::Events(args) => events_cmd::run(ctx, &args),
        Command::Info => info_cmd::run(ctx),
        Command::Audit { users, cloud_key } => audit_cmd::run(ctx, &users, cloud_key),
        Command::Version | Command::Disks => unreachable!("handled before"),
    }?;
    output::finish(ctx.json, outcome)
}

/// Default account when none is named (defined in `account`, which `audit` reads too).
pub(crate) use crate::account::DEFAULT_USER;
