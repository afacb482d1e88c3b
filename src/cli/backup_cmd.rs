//! `qrescue backup` and `qrescue backups`.

use super::common::open_stores;
use crate::backup;
use crate::context::Context;
use crate::error::Result;
use crate::txn;

pub fn run_backup(ctx: &Context, reason: Option<&str>) -> Result<i32> {
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
    let m = backup::create(&ctx.root, reason.unwrap_or("manual"), &snaps)?;
    if ctx.json {
        super::print_json(
            &serde_json::json!({"id": m.id, "files": m.files.iter().map(|f| &f.path).collect::<Vec<_>>(), "recovered": recovered}),
        )?;
    } else {
        for r in recovered {
            eprintln!("note: {r}");
        }
        crate::say!("{}", m.id);
    }
    Ok(0)
}

/// `backups --prune --keep N`: under the locks a transaction takes (so no set is being
/// written meanwhile), keep the N newest sets and the one an unfinished transaction names.
pub fn run_prune(ctx: &Context, keep: usize) -> Result<i32> {
    let stores = open_stores(ctx)?;
    // The locks without recovery: the set an unfinished change names stays for the next run.
    let _locks = txn::Locks::take(&ctx.root, &stores)?;
    let pending = txn::pending(&ctx.root)?;
    let protect = pending.as_ref().map(|i| i.backup_id.as_str());
    let removed = backup::prune(&ctx.root, keep, protect)?;
    if ctx.json {
        super::print_json(
            &serde_json::json!({"removed": removed, "kept_for_unfinished_change": protect}),
        )?;
    } else {
        for id in &removed {
            crate::say!("removed {id}");
        }
        if let Some(id) = protect {
            crate::say!(
                "kept {id}: an unfinished change would roll back from it (run {} status)",
                ctx.invocation()
            );
        }
        crate::say!(
            "{} set{} removed, the {keep} newest kept",
            removed.len(),
            if removed.len() == 1 { "" } else { "s" }
        );
    }
    Ok(0)
}

pub fn run_list(ctx: &Context) -> Result<i32> {
    super::common::require_root(ctx)?;
    let sets = backup::list(&ctx.root)?;
    if ctx.json {
        super::print_json(&serde_json::json!({"backups": sets}))?;
        return Ok(0);
    }
    if sets.is_empty() {
        crate::say!("no backups");
        return Ok(0);
    }
    crate::say!(
        "{:<28} {:<20} {:>5} {:<7} reason",
        "id",
        "time",
        "files",
        "intact"
    );
    for s in &sets {
        let (time, files, reason) = match &s.manifest {
            Some(m) => (
                m.created.clone(),
                m.files.len().to_string(),
                m.reason.clone(),
            ),
            None => ("?".into(), "?".into(), String::new()),
        };
        let intact = if s.intact { "yes" } else { "NO" };
        crate::say!(
            "{:<28} {:<20} {:>5} {:<7} {reason}",
            s.id,
            time,
            files,
            intact
        );
        for p in &s.problems {
            crate::say!("    problem: {p}");
        }
    }
    Ok(0)
}
