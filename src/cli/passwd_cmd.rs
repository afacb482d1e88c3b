//! `qrescue passwd`: a new password in every store, in one transaction.

use clap::Args;
use serde::Serialize;

use super::common::{check_user, open_stores};
use super::output::{self, Outcome, Report, Text};
use super::vocab::{Change, SambaDoc};
use super::{DEFAULT_USER, password_input};
use crate::account;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::hash::{self, GenScheme};
use crate::secret::{self, Password};
use crate::snapshot::Snapshot;
use crate::stores::{Kind, Samba};
use crate::txn;

#[derive(Debug, Args)]
pub struct PasswdArgs {
    /// Account name (default: admin)
    pub user: Option<String>,
    /// Read the new password as exactly one line from standard input (more is refused)
    #[arg(long, conflicts_with = "random")]
    pub password_stdin: bool,
    /// Generate a strong password and print it once
    #[arg(long)]
    pub random: bool,
    /// Hash scheme (default: keep the account's current family; QTS's own empty-salt
    /// MD5-crypt `$1$$…` is kept exactly: the one form proven on the box, but weak)
    #[arg(long, value_enum)]
    pub scheme: Option<SchemeArg>,
    /// SHA-crypt rounds (1000 to 999999999; default: keep, or 5000)
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Read and check the password as the real run does, show what would change (hashes
    /// redacted), change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also lift the account's lock in every store (`!` in shadow, an expired shadow entry,
    /// `D` in Samba); without it each store's state is kept
    #[arg(long)]
    pub unlock: bool,
    /// Accept a factory default of this box (admin, an adapter's MAC, the Cloud Key)
    #[arg(long)]
    pub allow_default: bool,
    /// Also refuse the Cloud Key from the label as the new password (asked for)
    #[arg(long)]
    pub cloud_key: bool,
}

/// `--scheme`: the command line's names for [`GenScheme`] (clap stays in `cli/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemeArg {
    Sha512,
    Sha256,
    Md5,
}

impl From<SchemeArg> for GenScheme {
    fn from(s: SchemeArg) -> GenScheme {
        match s {
            SchemeArg::Sha512 => GenScheme::Sha512,
            SchemeArg::Sha256 => GenScheme::Sha256,
            SchemeArg::Md5 => GenScheme::Md5,
        }
    }
}

/// Rounds above which a login visibly waits: `--rounds` beyond it warns with the time.
const ROUNDS_WARN: u32 = 1_000_000;

/// Shorter passwords are accepted with a warning.
const ADVISED_LEN: usize = 8;

/// Length of `--random` passwords (56-character alphabet: about 116 bits).
const RANDOM_LEN: usize = 20;

pub fn run(ctx: &Context, args: &PasswdArgs) -> Result<Outcome> {
    let user = args.user.as_deref().unwrap_or(DEFAULT_USER);
    check_user(user)?;
    crate::logging::init(crate::logging::SyslogFacility::LOG_AUTH, false);
    let stores = open_stores(ctx)?;
    let snapshot = Snapshot::read(&stores)?;
    account::require_user(&snapshot, user)?;
    let info = account::current_hash_info(&snapshot, user);
    let (mut scheme, mut rounds) = info
        .as_ref()
        .map_or((GenScheme::Sha512, None), hash::keep_family);
    if let Some(s) = args.scheme.map(GenScheme::from) {
        scheme = s;
        if s == GenScheme::Md5 || info.as_ref().and_then(|i| i.rounds).is_none() {
            rounds = None;
        }
    }
    if let Some(r) = info.as_ref().and_then(|i| i.rounds)
        && r > hash::VERIFY_ROUNDS_MAX
        && args.rounds.is_none()
        && scheme != GenScheme::Md5
    {
        output::advise(&format!(
            "qrescue: note: the current hash asks for {r} rounds, above the ceiling of {}: the new one uses the default (--rounds N to choose)",
            hash::VERIFY_ROUNDS_MAX
        ));
    }
    if let Some(r) = args.rounds {
        if scheme == GenScheme::Md5 {
            return Err(Error::usage("--rounds applies to sha512/sha256, not md5"));
        }
        if !(1000..=999_999_999).contains(&r) {
            return Err(Error::usage("--rounds must be between 1000 and 999999999"));
        }
        rounds = Some(r);
    }

    // QTS writes `$1$$…` (no salt) for every account; keeping the family keeps that form.
    let empty_salt = args.scheme.is_none() && info.as_ref().is_some_and(|i| i.empty_salt);
    if let Some(r) = rounds
        && r > ROUNDS_WARN
        && scheme != GenScheme::Md5
    {
        warn_rounds(scheme, r);
    }

    // Read and checked exactly as for the real run: a dry run that passes means it would.
    let password: Password = if args.random {
        secret::random(RANDOM_LEN)?
    } else if args.password_stdin {
        password_input::from_stdin_one_line(user)?
    } else {
        password_input::from_tty(user, true)?
    };
    let state = account::state(&snapshot, user);
    if !args.random {
        check_new_password(ctx, args, user, &password, &state)?;
    }
    let state_note = state_note(ctx, &state, args.unlock);

    if args.dry_run {
        let how = NewHash {
            scheme,
            rounds,
            empty_salt,
        };
        return dry_run(
            ctx,
            &snapshot,
            user,
            &how,
            args.unlock,
            state_note.as_deref(),
        );
    }

    let crypt_hash = if empty_salt {
        hash::generate_with_salt(password.bytes(), GenScheme::Md5, "", None)
    } else {
        hash::generate(password.bytes(), scheme, rounds)?
    };
    let nt_hex = hash::nt_hash_hex(password.bytes());
    // Written by the plan, read by the announcement: both are called by the transaction.
    let skipped = std::cell::RefCell::new(Vec::new());
    let samba_note = samba_note(ctx, &stores, user);
    let unlock = args.unlock;
    let shown_password = args
        .random
        .then(|| String::from_utf8_lossy(password.bytes()).into_owned());
    let how = NewHash {
        scheme,
        rounds,
        empty_salt,
    };
    let report =
        |changed: &[String], skipped: &[String], recovered: &[String], backup: Option<&str>| {
            PasswdReport {
                user: user.to_string(),
                dry_run: false,
                scheme,
                rounds,
                empty_salt,
                changes: Change::list(&ctx.root, &stores, changed),
                skipped: skipped.to_vec(),
                recovered: recovered.to_vec(),
                backup: backup.map(str::to_string),
                samba: SambaDoc::new(&ctx.root, &stores.samba, samba_note.clone()),
                state: state_note.clone(),
                password: shown_password.clone(),
                described: how.describe(),
                announced: false,
                invocation: ctx.invocation().to_string(),
            }
        };
    let mut announced = false;
    let outcome = txn::run(
        &ctx.root,
        &stores,
        &crate::backup::Reason::BeforePasswd {
            user: user.to_string(),
        },
        |snapshot| {
            // Planned again if another program changed a store meanwhile: start clean.
            let mut skipped = skipped.borrow_mut();
            skipped.clear();
            account::plan_password(snapshot, user, &crypt_hash, &nt_hex, unlock, &mut skipped)
        },
        |file, bytes| account::check_password(file, bytes, user, &crypt_hash, &nt_hex),
        // The backup id (to undo) and a generated password are shown before the change is
        // committed: if they cannot be written, nothing changes.
        |preview| {
            announced = true;
            if ctx.json {
                return output::emit(
                    true,
                    &report(
                        &preview.changing,
                        &skipped.borrow(),
                        preview.recovered,
                        Some(preview.backup_id),
                    ),
                );
            }
            output::emit(
                false,
                &Announcement {
                    recovered: preview.recovered.to_vec(),
                    backup: preview.backup_id.to_string(),
                    password: shown_password.clone(),
                    invocation: ctx.invocation().to_string(),
                },
            )
        },
    )?;
    let skipped = skipped.into_inner();
    let backup = outcome.backup_id.clone().unwrap_or_else(|| "none".into());
    log::info!(
        "password of {user} changed by {} in {} (backup {backup})",
        crate::backup::operator(&ctx.root),
        outcome.changed.join(", ")
    );
    let printed_after = Some(format!(
        "the password of {user} was changed (backup {backup}), but the summary could not be printed"
    ));
    if ctx.json && announced {
        return Ok(Outcome {
            report: None,
            code: 0,
            printed_after,
        });
    }
    let mut done = report(
        &outcome.changed,
        &skipped,
        &outcome.recovered,
        outcome.backup_id.as_deref(),
    );
    done.announced = announced;
    Ok(Outcome {
        report: Some(Box::new(done)),
        code: 0,
        printed_after,
    })
}

/// `passwd`'s document (and `passwd --dry-run`'s, with `"dry_run": true`).
#[derive(Serialize)]
pub struct PasswdReport {
    user: String,
    dry_run: bool,
    scheme: GenScheme,
    rounds: Option<u32>,
    empty_salt: bool,
    changes: Vec<Change>,
    skipped: Vec<String>,
    recovered: Vec<String>,
    backup: Option<String>,
    samba: SambaDoc,
    state: Option<String>,
    /// The generated password (`--random`), shown once.
    password: Option<String>,
    #[serde(skip)]
    described: String,
    /// The backup id (and password) were already shown before the commit.
    #[serde(skip)]
    announced: bool,
    #[serde(skip)]
    invocation: String,
}

impl Report for PasswdReport {
    fn render_text(&self, out: &mut Text) {
        let user = &self.user;
        if self.dry_run {
            let _ = writeln!(
                out,
                "Dry run: the password of {user} would be set ({}) in:",
                self.described
            );
            for c in &self.changes {
                let _ = writeln!(out, "  {}", c.path);
                let _ = writeln!(out, "    - {}", c.old.as_deref().unwrap_or("?"));
                let _ = writeln!(out, "    + {}", c.new.as_deref().unwrap_or("?"));
            }
            for s in &self.skipped {
                let _ = writeln!(out, "note: {s}");
            }
            if let Some(n) = &self.state {
                let _ = writeln!(out, "note: {n}");
            }
            let _ = writeln!(out, "Nothing was changed.");
            return;
        }
        if !self.announced {
            for r in &self.recovered {
                let _ = writeln!(out, "note: {r}");
            }
        }
        let _ = writeln!(out, "Password of {user} changed ({}) in:", self.described);
        for c in &self.changes {
            let _ = writeln!(out, "  {}", c.path);
        }
        for s in &self.skipped {
            let _ = writeln!(out, "note: {s}");
        }
        if let Some(n) = &self.samba.note {
            let _ = writeln!(out, "note: {n}");
        }
        if let Some(n) = &self.state {
            let _ = writeln!(out, "note: {n}");
        }
        if !self.announced {
            let backup = self.backup.as_deref().unwrap_or("none");
            let _ = writeln!(
                out,
                "Backup: {backup} (undo with: {} restore {backup})",
                self.invocation
            );
            if let Some(p) = &self.password {
                let _ = writeln!(out, "New password: {p}");
            }
        }
    }
}

/// What `passwd` shows before it commits: the backup to undo with, a generated password.
#[derive(Serialize)]
struct Announcement {
    recovered: Vec<String>,
    backup: String,
    password: Option<String>,
    #[serde(skip)]
    invocation: String,
}

impl Report for Announcement {
    fn render_text(&self, out: &mut Text) {
        for r in &self.recovered {
            let _ = writeln!(out, "note: {r}");
        }
        let b = &self.backup;
        let _ = writeln!(
            out,
            "Backup: {b} (undo with: {} restore {b})",
            self.invocation
        );
        if let Some(p) = &self.password {
            let _ = writeln!(out, "New password: {p}");
        }
    }
}

/// The hash a run writes: scheme, rounds, and whether it is QTS's empty-salt MD5-crypt.
struct NewHash {
    scheme: GenScheme,
    rounds: Option<u32>,
    empty_salt: bool,
}

impl NewHash {
    fn describe(&self) -> String {
        if self.empty_salt {
            "MD5-crypt, empty salt as QTS writes it".to_string()
        } else {
            describe_scheme(self.scheme, self.rounds)
        }
    }
}

fn describe_scheme(scheme: GenScheme, rounds: Option<u32>) -> String {
    let name = match scheme {
        GenScheme::Sha512 => "SHA-512-crypt",
        GenScheme::Sha256 => "SHA-256-crypt",
        GenScheme::Md5 => "MD5-crypt",
    };
    match rounds {
        Some(r) => format!("{name}, {r} rounds"),
        None => name.to_string(),
    }
}

/// A Samba backend qrescue does not write is named plainly, with what to do. (QTS's own
/// smbpasswd file is written by qrescue in the same transaction: no note then.)
fn samba_note(ctx: &Context, stores: &crate::stores::Stores, user: &str) -> Option<String> {
    let quoted = crate::context::shell_quote(user);
    match &stores.samba {
        Samba::Other { config, backend } if ctx.root.is_host() => Some(format!(
            "Samba uses passdb backend {backend} ({config}), which qrescue does not write: SMB \
             logins keep the old password until you run `smbpasswd -c {config} {quoted}` \
             (it asks for the new password)"
        )),
        Samba::Other { config, backend } => Some(format!(
            "Samba uses passdb backend {backend} ({config} in this root), which qrescue does not \
             write: SMB logins keep the old password until you run `smbpasswd -c {config} {quoted}` \
             on the box itself once it runs this system (it asks for the new password)"
        )),
        Samba::Smbpasswd { path, .. } if stores.of(Kind::Smbpasswd).next().is_none() => {
            Some(format!(
                "smb.conf names {path} as Samba's password file but it does not exist: SMB logins are not set up"
            ))
        }
        _ => None,
    }
}

fn dry_run(
    ctx: &Context,
    snapshot: &Snapshot<'_>,
    user: &str,
    how: &NewHash,
    unlock: bool,
    state_note: Option<&str>,
) -> Result<Outcome> {
    let stores = snapshot.stores;
    let (scheme, rounds) = (how.scheme, how.rounds);
    let placeholder_hash = "<new hash>";
    let placeholder_nt = "<new NT hash>";
    let mut skipped = Vec::new();
    let planned = account::plan_password(
        snapshot,
        user,
        placeholder_hash,
        placeholder_nt,
        unlock,
        &mut skipped,
    )?;
    let mut changes = Vec::new();
    for edit in &planned {
        let (file, new) = (edit.file, &edit.new);
        let old = snapshot
            .files
            .iter()
            .find(|l| std::ptr::eq(l.file, file))
            .map_or(&[][..], |l| &l.bytes[..]);
        let line_of = |bytes: &'_ [u8]| match crate::formats::colon::find(bytes, user) {
            crate::formats::colon::Lookup::Found(l) => Some(l.text.to_vec()),
            _ => None,
        };
        let (old_line, new_line) = (line_of(old), line_of(new));
        // Only a file that holds a secret is ever planned.
        let format = account::secret_format(file.kind).expect("a store with a secret");
        let redact = |t: &[u8]| format.redact(t);
        let mut change = Change::of(&ctx.root, stores, &file.display);
        change.old = old_line.as_deref().map(redact);
        change.new = new_line.as_deref().map(redact);
        changes.push(change);
    }
    Ok(Outcome::ok(PasswdReport {
        user: user.to_string(),
        dry_run: true,
        scheme,
        rounds,
        empty_salt: how.empty_salt,
        changes,
        skipped,
        recovered: Vec::new(),
        backup: None,
        samba: SambaDoc::new(&ctx.root, &stores.samba, samba_note(ctx, stores, user)),
        state: state_note.map(str::to_string),
        password: None,
        described: how.describe(),
        announced: false,
        invocation: ctx.invocation().to_string(),
    }))
}

/// Refuse a factory default of this box (as QTS's own UI does) unless `--allow-default`;
/// warn about a short password or one equal to the current.
fn check_new_password(
    ctx: &Context,
    args: &PasswdArgs,
    user: &str,
    password: &Password,
    state: &account::AccountState,
) -> Result<()> {
    let cloud_key = if args.cloud_key {
        Some(super::audit_cmd::read_cloud_key(args.password_stdin)?)
    } else {
        None
    };
    let (adapters, _) = crate::info::adapters(&ctx.root);
    let default = crate::factory::default_of(
        user,
        password.bytes(),
        &adapters,
        cloud_key.as_deref().map(|k| &k[..]),
    );
    if let Some(what) = default
        && !args.allow_default
    {
        return Err(Error::usage(format!(
            "the new password is this box's factory default {what}: refused, as QTS refuses \
             it (--allow-default to set it anyway); nothing was changed"
        )));
    }
    let len = password.bytes().len();
    if len < ADVISED_LEN {
        output::advise(&format!(
            "qrescue: warning: the new password has {len} character{}; {ADVISED_LEN} or more are advised",
            if len == 1 { "" } else { "s" }
        ));
    }
    let same = state.stores.iter().any(|st| {
        let Some(stored) = st.fingerprint.as_deref() else {
            return false;
        };
        match st.kind {
            Kind::Smbpasswd => zeroize::Zeroizing::new(hash::nt_hash_hex(password.bytes()))
                .eq_ignore_ascii_case(stored),
            Kind::Shadow | Kind::Passwd => {
                !stored.is_empty() && hash::verify(password.bytes(), stored) == hash::Verdict::Match
            }
            Kind::Group => false,
        }
    });
    if same {
        output::advise("qrescue: warning: the new password is the same as the current one");
    }
    Ok(())
}

/// What `passwd` does to the account's locked/disabled state, said plainly.
fn state_note(ctx: &Context, state: &account::AccountState, unlock: bool) -> Option<String> {
    let mut places: Vec<String> = Vec::new();
    for st in &state.stores {
        let store = match st.kind {
            Kind::Shadow => "shadow",
            Kind::Passwd => "passwd",
            Kind::Smbpasswd => "Samba",
            Kind::Group => continue,
        };
        // What passwd keeps: a `!` lock (formats::secret::kept_lock), Samba's `D`, an expired entry.
        let locked = match st.kind {
            Kind::Smbpasswd => st.locked,
            _ => st.fingerprint.as_deref().is_some_and(account::is_lock),
        };
        let what = match (locked, st.disabled) {
            (true, true) => format!("locked and disabled in {store}"),
            (true, false) => format!("locked in {store}"),
            (false, true) => format!("disabled in {store}"),
            (false, false) => continue,
        };
        if !places.contains(&what) {
            places.push(what);
        }
    }
    if places.is_empty() {
        return None;
    }
    let user = &state.user;
    let list = places.join(", ");
    Some(if unlock {
        format!("{user} was {list}: enabled in every store (--unlock)")
    } else {
        format!(
            "{user} stays {list}: add --unlock to enable it ({} passwd {} --unlock)",
            ctx.invocation(),
            crate::context::shell_quote(user)
        )
    })
}

/// `--rounds` above [`ROUNDS_WARN`]: every login will hash this many rounds. Timed here on a
/// short hash and scaled (the work is linear in the rounds), so the warning costs little;
/// the fastest of three samples, as a busy machine only ever adds time.
fn warn_rounds(scheme: GenScheme, rounds: u32) {
    const SAMPLE: u32 = 20_000;
    let fastest = (0..3)
        .map(|_| {
            let start = std::time::Instant::now();
            let _ =
                hash::generate_with_salt(b"timing sample", scheme, "qrescuetiming", Some(SAMPLE));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    let per_round = fastest / f64::from(SAMPLE);
    let estimate = per_round * f64::from(rounds);
    output::advise(&format!(
        "qrescue: warning: --rounds {rounds}: every login (and every check of this password) will \
         take about {estimate:.1} s on this machine (estimated from qrescue's own timed hash of {SAMPLE} rounds), \
         and longer on a slower NAS"
    ));
}
