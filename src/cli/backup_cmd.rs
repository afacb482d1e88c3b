//! `qrescue backup` and `qrescue backups`.

use std::path::Path;

use serde::Serialize;

use super::common::open_stores;
use super::output::{Align, Outcome, Report, Text, advise, table};
use super::vocab::{FileName, mode, time_ms};
use crate::backup::{self, Listed, Manifest};
use crate::context::Context;
use crate::error::Result;
use crate::stores::Kind;
use crate::sys::root::Root;
use crate::txn;

/// `backup`'s document: the new set's id and files.
#[derive(Serialize)]
pub struct BackupReport {
    id: String,
    files: Vec<FileName>,
    recovered: Vec<String>,
}

impl Report for BackupReport {
    fn render_text(&self, out: &mut Text) {
        let _ = writeln!(out, "{}", self.id);
    }
}

pub fn run_backup(ctx: &Context, reason: Option<&str>) -> Result<Outcome> {
    let stores = open_stores(ctx)?;
    let locked = txn::Locked::take(&ctx.root, &stores)?;
    let recovered = locked.recovered();
    let snapshot = locked.snapshot()?;
    let snaps: Vec<backup::Snapshot<'_>> = snapshot
        .files
        .iter()
        .map(|l| backup::Snapshot {
            file: l.file,
            bytes: &l.bytes,
            meta: l.meta,
        })
        .collect();
    let m = backup::create(&ctx.root, &backup::Reason::given(reason), &snaps)?;
    if !ctx.json {
        for r in recovered {
            advise(&format!("note: {r}"));
        }
    }
    Ok(Outcome::ok(BackupReport {
        id: m.id.clone(),
        files: m
            .files
            .iter()
            .map(|f| in_root_name(&ctx.root, &f.path))
            .collect(),
        recovered: recovered.to_vec(),
    }))
}

/// A name inside the root (as a manifest records it) with its host path.
fn in_root_name(root: &Root, inside: &str) -> FileName {
    FileName {
        path: root.display(Path::new(inside)),
        in_root: inside.to_string(),
    }
}

/// `backups --prune`'s document.
#[derive(Serialize)]
pub struct PruneReport {
    removed: Vec<String>,
    kept_for_unfinished_change: Option<String>,
    #[serde(skip)]
    keep: usize,
    #[serde(skip)]
    invocation: String,
}

impl Report for PruneReport {
    fn render_text(&self, out: &mut Text) {
        for id in &self.removed {
            let _ = writeln!(out, "removed {id}");
        }
        if let Some(id) = &self.kept_for_unfinished_change {
            let _ = writeln!(
                out,
                "kept {id}: an unfinished change would roll back from it (run {} status)",
                self.invocation
            );
        }
        let _ = writeln!(
            out,
            "{} set{} removed, the {} newest kept",
            self.removed.len(),
            if self.removed.len() == 1 { "" } else { "s" },
            self.keep
        );
    }
}

/// `backups --prune --keep N`: under the locks a transaction takes (so no set is being
/// written meanwhile), keep the N newest sets and the one an unfinished transaction names.
pub fn run_prune(ctx: &Context, keep: usize) -> Result<Outcome> {
    let stores = open_stores(ctx)?;
    // The locks without recovery: the set an unfinished change names stays for the next run.
    let _locks = txn::Locks::take(&ctx.root, &stores)?;
    let pending = txn::pending(&ctx.root)?;
    let protect = pending.as_ref().map(|i| i.backup_id.clone());
    let removed = backup::prune(&ctx.root, keep, protect.as_deref())?;
    Ok(Outcome::ok(PruneReport {
        removed,
        kept_for_unfinished_change: protect,
        keep,
        invocation: ctx.invocation().to_string(),
    }))
}

/// `backups`' document: every set found.
#[derive(Serialize)]
pub struct ListReport {
    backups: Vec<SetDoc>,
}

/// One set (`backup::Listed` in the vocabulary).
#[derive(Serialize)]
struct SetDoc {
    id: String,
    manifest: Option<ManifestDoc>,
    intact: bool,
    problems: Vec<String>,
}

#[derive(Serialize)]
struct ManifestDoc {
    id: String,
    created: String,
    created_unix_ms: u64,
    reason: String,
    tool_version: String,
    operator: String,
    files: Vec<FileDoc>,
}

#[derive(Serialize)]
struct FileDoc {
    path: String,
    in_root: String,
    names: Vec<String>,
    kind: Kind,
    stored_as: String,
    sha256: String,
    size: u64,
    mode: String,
    uid: u32,
    gid: u32,
}

impl ManifestDoc {
    fn new(root: &Root, m: Manifest) -> ManifestDoc {
        let ms = m.created_unix.saturating_mul(1000);
        ManifestDoc {
            id: m.id,
            created: time_ms(ms),
            created_unix_ms: ms,
            reason: m.reason.to_string(),
            tool_version: m.tool_version,
            operator: m.operator,
            files: m
                .files
                .into_iter()
                .map(|f| {
                    let name = in_root_name(root, &f.path);
                    FileDoc {
                        path: name.path,
                        in_root: name.in_root,
                        names: f.names,
                        kind: f.kind,
                        stored_as: f.stored_as,
                        sha256: f.sha256,
                        size: f.size,
                        mode: mode(f.meta.mode),
                        uid: f.meta.uid,
                        gid: f.meta.gid,
                    }
                })
                .collect(),
        }
    }
}

impl Report for ListReport {
    fn render_text(&self, out: &mut Text) {
        if self.backups.is_empty() {
            let _ = writeln!(out, "no backups");
            return;
        }
        let mut rows = vec![
            ["id", "time", "files", "intact", "reason"]
                .map(String::from)
                .to_vec(),
        ];
        let mut problems = vec![&[][..]];
        for s in &self.backups {
            let (time, files, reason) = match &s.manifest {
                Some(m) => (
                    crate::clock::rfc3339(m.created_unix_ms / 1000),
                    m.files.len().to_string(),
                    m.reason.clone(),
                ),
                None => ("?".into(), "?".into(), String::new()),
            };
            let intact = if s.intact { "yes" } else { "NO" };
            rows.push(vec![s.id.clone(), time, files, intact.into(), reason]);
            problems.push(&s.problems[..]);
        }
        let align = [Align::Left, Align::Left, Align::Right, Align::Left];
        for (line, problems) in table("", &align, &rows).into_iter().zip(problems) {
            let _ = writeln!(out, "{line}");
            for p in problems {
                let _ = writeln!(out, "    problem: {p}");
            }
        }
    }
}

pub fn run_list(ctx: &Context) -> Result<Outcome> {
    super::common::require_root(ctx)?;
    let sets: Vec<Listed> = backup::list(&ctx.root)?;
    Ok(Outcome::ok(ListReport {
        backups: sets
            .into_iter()
            .map(|s| SetDoc {
                id: s.id,
                manifest: s.manifest.map(|m| ManifestDoc::new(&ctx.root, m)),
                intact: s.intact,
                problems: s.problems.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }))
}
