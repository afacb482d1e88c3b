//! `qrescue restore ID`: put a backup set back, in one transaction (which backs up the
//! current state first, so a restore can itself be undone).

use super::common::open_stores;
use crate::backup;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::txn;

pub fn run(ctx: &Context, id: &str, dry_run: bool) -> Result<i32> {
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
    if dry_run {
        let mut differ = Vec::new();
        for (idx, bytes) in &targets {
            let f = &stores.files[*idx];
            if f.read()?.0 != **bytes {
                differ.push(f.display.clone());
            }
        }
        if ctx.json {
            super::print_json(
                &serde_json::json!({"dry_run": true, "id": id, "would_change": differ}),
            )?;
        } else {
            let mut text = format!(
                "Dry run: restoring {id} would change {} file(s):\n",
                differ.len()
            );
            for d in &differ {
                text.push_str(&format!("  {d}\n"));
            }
            text.push_str("Nothing was changed.\n");
            super::print_text(&text)?;
        }
        return Ok(0);
    }
    let mut announced = false;
    let outcome = txn::run(
        &ctx.root,
        &stores,
        &format!("before restore {id}"),
        |files, _current| {
            let mut plan = vec![None; files.len()];
            for (idx, bytes) in &targets {
                plan[*idx] = Some((*bytes).clone());
            }
            Ok(plan)
        },
        |_, _| Ok(()),
        // The backup of the state before the restore (to undo it) is shown before the
        // restore is committed: if it cannot be written, nothing changes.
        |preview| {
            announced = true;
            if ctx.json {
                return super::print_json(
                    &serde_json::json!({"id": id, "changed": preview.changing, "backup": preview.backup_id, "recovered": preview.recovered}),
                );
            }
            let mut text = String::new();
            for r in preview.recovered {
                text.push_str(&format!("note: {r}\n"));
            }
            text.push_str(&format!(
                "The state before the restore is in backup {} (undo with: qrescue restore {}).\n",
                preview.backup_id, preview.backup_id
            ));
            super::print_text(&text)
        },
    )?;
    log::info!(
        "backup {id} restored by {} into {} (previous state in backup {})",
        backup::operator(&ctx.root),
        outcome.changed.join(", "),
        outcome.backup_id.as_deref().unwrap_or("none")
    );
    let printed = if ctx.json && announced {
        Ok(())
    } else if ctx.json {
        super::print_json(
            &serde_json::json!({"id": id, "changed": outcome.changed, "backup": outcome.backup_id, "recovered": outcome.recovered}),
        )
    } else {
        let mut text = String::new();
        if !announced {
            for r in &outcome.recovered {
                text.push_str(&format!("note: {r}\n"));
            }
        }
        if outcome.changed.is_empty() {
            text.push_str(&format!(
                "Nothing to restore: every file already matches backup {id}.\n"
            ));
        } else {
            text.push_str(&format!("Restored backup {id} into:\n"));
            for c in &outcome.changed {
                text.push_str(&format!("  {c}\n"));
            }
        }
        super::print_text(&text)
    };
    printed.map_err(|e| {
        e.context(format!(
            "backup {id} was restored (the state before it is in backup {}), but the summary could not be printed",
            outcome.backup_id.as_deref().unwrap_or("none")
        ))
    })?;
    Ok(0)
}
