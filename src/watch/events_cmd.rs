//! `qrescue events`: the reset-button journal and the credential-store journal, as tables
//! or one JSON document.

use clap::Args;
use serde::Serialize;

use super::journal::{self, Record};
use super::state::{self, CredRecord};
use crate::clock::parse_time;
use crate::context::Context;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  qrescue events
  qrescue events --since 2026-11-01 --limit 20
  qrescue events --kind credential --localtime
  qrescue --json events --since 2026-11-24T21:00:00Z")]
pub struct EventsArgs {
    /// Only button presses, or only credential-store changes
    #[arg(long, value_name = "KIND", value_parser = ["button", "credential"])]
    pub kind: Option<String>,
    /// Show times in the local time zone (TZ) rather than UTC
    #[arg(long)]
    pub localtime: bool,
    /// Only events at or after TIME (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z, or Unix seconds)
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// At most N events (the newest)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Serialize)]
struct Out<'a> {
    journal: Option<String>,
    events: &'a [Record],
    skipped_lines: usize,
    credential_journal: Option<String>,
    /// Credential-store changes (`watch`'s store watch).
    credential_events: &'a [CredRecord],
}

/// The journal's records, filtered (`since` in Unix seconds) and limited to the newest.
pub fn select(mut records: Vec<Record>, since: Option<u64>, limit: Option<usize>) -> Vec<Record> {
    if let Some(s) = since {
        records.retain(|r| r.unix_ms >= s.saturating_mul(1000));
    }
    if let Some(n) = limit {
        let drop = records.len().saturating_sub(n);
        records.drain(..drop);
    }
    records
}

pub fn run_events(ctx: &Context, args: &EventsArgs) -> Result<i32> {
    let since = match &args.since {
        Some(s) => Some(parse_time(s).ok_or_else(|| {
            Error::usage(format!(
                "--since {s:?}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or Unix seconds"
            ))
        })?),
        None => None,
    };
    let want_button = args.kind.as_deref() != Some("credential");
    let want_cred = args.kind.as_deref() != Some("button");
    let (contents, path) = journal::read_all(&ctx.root)?;
    let mut records = select(contents.records, since, args.limit);
    if !want_button {
        records.clear();
    }
    let (mut creds, cred_path) = state::read_records(&ctx.root)?;
    if let Some(s) = since {
        creds.retain(|r| r.unix_ms >= s.saturating_mul(1000));
    }
    if let Some(n) = args.limit {
        let drop = creds.len().saturating_sub(n);
        creds.drain(..drop);
    }
    if !want_cred {
        creds.clear();
    }
    if ctx.json {
        crate::cli::print_json(&Out {
            journal: path,
            events: &records,
            skipped_lines: contents.skipped_lines,
            credential_journal: cred_path,
            credential_events: &creds,
        })?;
        return Ok(0);
    }
    if contents.skipped_lines > 0 {
        eprintln!(
            "qrescue: {} unreadable journal line(s) skipped (a torn line after a power cut?)",
            contents.skipped_lines
        );
    }
    let when = |r_time: &str, ms: u64| {
        if args.localtime {
            crate::clock::local_ms(ms)
        } else {
            r_time.to_string()
        }
    };
    let zone = if args.localtime { "local" } else { "UTC" };
    if want_button {
        if records.is_empty() {
            crate::say!(
                "no reset-button events{}",
                path.map(|p| format!(" in {p}")).unwrap_or_default()
            );
        } else {
            crate::say!(
                "{:<24}  {:<10}  {:<14}  {:>10}  SOURCE",
                format!("TIME ({zone})"),
                "EVENT",
                "CLASS",
                "HELD"
            );
        }
        for r in &records {
            let held = format!(
                "{}{:.3} s",
                if r.start_known { "" } else { ">=" },
                r.held_ms as f64 / 1000.0
            );
            let event = match &r.reason {
                Some(why) => format!("{} ({why})", r.event),
                None => r.event.to_string(),
            };
            crate::say!(
                "{:<24}  {:<10}  {:<14}  {:>10}  {} {}",
                when(&r.time, r.unix_ms),
                event,
                r.class,
                held,
                r.source,
                r.device
            );
        }
    }
    if want_cred {
        if want_button {
            println!();
        }
        if creds.is_empty() {
            crate::say!(
                "no credential-store changes{}",
                cred_path.map(|p| format!(" in {p}")).unwrap_or_default()
            );
        } else {
            crate::say!(
                "{:<24}  {:<21}  {:<10}  {:<15}  {:<5}  STORES",
                format!("TIME ({zone})"),
                "EVENT",
                "USER",
                "CLASS",
                "AGREE"
            );
        }
        for r in &creds {
            let class = match (&r.class, &r.backup) {
                (Some(c), Some(b)) => format!("{c} {b}"),
                (Some(c), None) => c.to_string(),
                _ => "-".into(),
            };
            let seen = if r.seen == crate::watch::state::Seen::AtStart {
                " (seen at start)"
            } else {
                ""
            };
            crate::say!(
                "{:<24}  {:<21}  {:<10}  {:<15}  {:<5}  {}{seen}",
                when(&r.time, r.unix_ms),
                r.event,
                r.user,
                class,
                if r.agree { "yes" } else { "no" },
                r.stores.join(" ")
            );
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ms: u64) -> Record {
        Record {
            time: journal::rfc3339_ms(ms),
            unix_ms: ms,
            event: journal::Event::Hold.into(),
            class: crate::watch::classify::Class::Short.into(),
            held_ms: 1,
            start_known: true,
            firmware: String::new(),
            reason: None,
            source: crate::watch::source::SourceKind::Replay.into(),
            device: "x".into(),
            device_name: None,
            code: 0,
        }
    }

    #[test]
    fn since_and_limit_keep_the_newest() {
        let all: Vec<Record> = (1..=5).map(|s| rec(s * 1000)).collect();
        let got = |since, limit| {
            select(all.clone(), since, limit)
                .iter()
                .map(|r| r.unix_ms / 1000)
                .collect::<Vec<_>>()
        };
        assert_eq!(got(None, None), vec![1, 2, 3, 4, 5]);
        assert_eq!(got(Some(3), None), vec![3, 4, 5]);
        assert_eq!(got(None, Some(2)), vec![4, 5]);
        assert_eq!(got(Some(2), Some(10)), vec![2, 3, 4, 5]);
        assert_eq!(got(Some(9), None), Vec::<u64>::new());
    }
}
