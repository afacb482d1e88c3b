//! `qrescue restore ID [--user NAME]`: put a backup set back, in one transaction (which backs
//! up the current state first, so a restore can itself be undone). Whole files by default,
//! which also reverts every other account's later changes (said before and after); with
//! `--user`, only that account's entries, edited into today's files.

use std::collections::BTreeSet;

use serde::Serialize;

use super::common::{check_user, open_stores};
use super::output::{self, Outcome, Report, Text};
use super::vocab::Change;
use crate::backup;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::restore_user;
use crate::snapshot::Edit;
use crate::txn;

pub fn run(ctx: &Context, id: &str, user: Option<&str>, dry_run: bool) -> Result<Outcome> {
    if let Some(u) = user {
        check_user(u)?;
    }
    crate::logging::init(crate::logging::SyslogFacility::LOG_AUTH, false);
    let stores = open_stores(ctx)?;
    let (manifest, contents) = backup::load(&ctx.root, id)?;
    // Map each backed-up file to a current store by its real path.
    let mut targets = Vec::new();
    for (bf, bytes) in manifest.files.iter().zip(&contents) {
        let idx = stores
            .files
            .iter()
            .position(|f| f.real.to_string_lossy() == bf.path)
            .ok_or_else(|| {
                Error::data(format!(
                    "backup {id} holds {}, which is not a credential store of this root now",
                    bf.path
                ))
            })?;
        targets.push((idx, bytes));
    }
    if let Some(u) = user
        && !targets.iter().any(|(idx, bytes)| {
            stores.files[*idx].kind != crate::stores::Kind::Group
                && !matches!(
                    crate::formats::colon::find(bytes, u),
                    crate::formats::colon::Lookup::Missing
                )
        })
    {
        return Err(Error::NotInBackup {
            id: id.to_string(),
            user: u.to_string(),
        });
    }
    // What the restore would write, from today's files (re-planned under the locks).
    let planned = |current: &dyn Fn(usize) -> Result<Vec<u8>>| -> Result<Vec<(usize, Vec<u8>)>> {
        let mut out = Vec::new();
        for (idx, bytes) in &targets {
            let f = &stores.files[*idx];
            let now = current(*idx)?;
            let new = match user {
                None => (now != **bytes).then(|| (*bytes).clone()),
                Some(u) => restore_user::merge(f.kind, &now, bytes, u, &f.display)?,
            };
            if let Some(new) = new {
                out.push((*idx, new));
            }
        }
        Ok(out)
    };
    // Accounts whose entries the restore changes, and in which files.
    let read_now = |idx: usize| stores.files[idx].read().map(|(b, _)| b);
    let plan_now = planned(&read_now)?;
    let mut accounts = BTreeSet::new();
    for (idx, new) in &plan_now {
        let f = &stores.files[*idx];
        accounts.extend(restore_user::accounts_differing(
            f.kind,
            &read_now(*idx)?,
            new,
        ));
    }
    // Accounts other than the one the backup was taken for (`before passwd USER`); when it
    // names none, every account the whole-file restore changes.
    let intended = manifest.reason.passwd_user();
    let others: Vec<&String> = match user {
        Some(_) => Vec::new(),
        None => accounts
            .iter()
            .filter_map(|a| match a {
                restore_user::Entry::Account(name) if Some(name.as_str()) != intended => Some(name),
                _ => None,
            })
            .collect(),
    };
    let others_list = others
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let report = |changed: &[String], backup: Option<&str>, recovered: &[String]| RestoreReport {
        id: id.to_string(),
        user: user.map(str::to_string),
        dry_run,
        changes: Change::list(&ctx.root, &stores, changed),
        accounts: accounts.iter().map(ToString::to_string).collect(),
        backup: backup.map(str::to_string),
        recovered: recovered.to_vec(),
        others: others_list.clone(),
        announced: false,
    };
    if dry_run {
        let files: Vec<String> = plan_now
            .iter()
            .map(|(i, _)| stores.files[*i].display.clone())
            .collect();
        return Ok(Outcome::ok(report(&files, None, &[])));
    }
    if !others.is_empty() && !ctx.json {
        output::advise(&format!(
            "qrescue: warning: restoring whole files also reverts later changes of {others_list} \
             (--user NAME restores one account only)"
        ));
    }
    let reason = crate::backup::Reason::BeforeRestore {
        id: id.to_string(),
        user: user.map(str::to_string),
    };
    let mut announced = false;
    let outcome = txn::run(
        &ctx.root,
        &stores,
        &reason,
        |snapshot| {
            let edits = planned(&|i| Ok(snapshot.files[i].bytes.clone()))?;
            Ok(edits
                .into_iter()
                .map(|(idx, new)| Edit {
                    file: snapshot.files[idx].file,
                    new,
                })
                .collect())
        },
        |_, _| Ok(()),
        // The backup of the state before the restore (to undo it) is shown before the
        // restore is committed: if it cannot be written, nothing changes.
        |preview| {
            announced = true;
            if ctx.json {
                return output::emit(
                    true,
                    &report(
                        &preview.changing,
                        Some(preview.backup_id),
                        preview.recovered,
                    ),
                );
            }
            output::emit(
                false,
                &Announcement {
                    recovered: preview.recovered.to_vec(),
                    backup: preview.backup_id.to_string(),
                    invocation: ctx.invocation().to_string(),
                },
            )
        },
    )?;
    log::info!(
        "backup {id} restored{} by {} into {} (previous state in backup {})",
        user.map(|u| format!(" for {u}")).unwrap_or_default(),
        backup::operator(&ctx.root),
        outcome.changed.join(", "),
        outcome.backup_id.as_deref().unwrap_or("none")
    );
    let printed_after = Some(format!(
        "backup {id} was restored (the state before it is in backup {}), but the summary could not be printed",
        outcome.backup_id.as_deref().unwrap_or("none")
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
        outcome.backup_id.as_deref(),
        &outcome.recovered,
    );
    done.announced = announced;
    Ok(Outcome {
        report: Some(Box::new(done)),
        code: 0,
        printed_after,
    })
}

/// `restore`'s document (and `restore --dry-run`'s, with `"dry_run": true`).
#[derive(Serialize)]
pub struct RestoreReport {
    id: String,
    user: Option<String>,
    dry_run: bool,
    changes: Vec<Change>,
    /// Accounts whose entries change (`group NAME` for a group's members).
    accounts: Vec<String>,
    backup: Option<String>,
    recovered: Vec<String>,
    /// Accounts other than the one the backup was taken for that a whole-file restore
    /// reverts (text only: the warning).
    #[serde(skip)]
    others: String,
    #[serde(skip)]
    announced: bool,
}

impl Report for RestoreReport {
    fn render_text(&self, out: &mut Text) {
        let id = &self.id;
        let for_user = self
            .user
            .as_deref()
            .map(|u| format!(" for {u}"))
            .unwrap_or_default();
        if self.dry_run {
            let _ = writeln!(
                out,
                "Dry run: restoring {id}{for_user} would change {} file(s):",
                self.changes.len()
            );
            for c in &self.changes {
                let _ = writeln!(out, "  {}", c.path);
            }
            if !self.accounts.is_empty() {
                let _ = writeln!(
                    out,
                    "Entries that would change: {}",
                    self.accounts.join(", ")
                );
            }
            if !self.others.is_empty() {
                let _ = writeln!(
                    out,
                    "warning: whole files also revert later changes of {}; \
                     --user NAME restores one account only",
                    self.others
                );
            }
            let _ = writeln!(out, "Nothing was changed.");
            return;
        }
        if !self.announced {
            for r in &self.recovered {
                let _ = writeln!(out, "note: {r}");
            }
        }
        if self.changes.is_empty() {
            let _ = writeln!(
                out,
                "Nothing to restore: {} already matches backup {id}.",
                self.user
                    .as_deref()
                    .map_or("every file".to_string(), |u| format!("{u}'s entries"))
            );
        } else {
            let _ = writeln!(out, "Restored backup {id}{for_user} into:");
            for c in &self.changes {
                let _ = writeln!(out, "  {}", c.path);
            }
        }
    }
}

/// What `restore` shows before it commits: the backup of the state before it.
#[derive(Serialize)]
struct Announcement {
    recovered: Vec<String>,
    backup: String,
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
            "The state before the restore is in backup {b} (undo with: {} restore {b}).",
            self.invocation
        );
    }
}
