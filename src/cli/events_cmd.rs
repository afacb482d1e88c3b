//! `qrescue events`: the reset-button journal and the credential-store journal (both kept by
//! `crate::watch`), as tables or one JSON document.

use clap::Args;
use serde::Serialize;

use super::output::{Align, Outcome, Report, Text, advise, table};
use super::vocab::{in_root, time_ms};
use crate::clock::parse_time;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::watch::journal::{self, Record};
use crate::watch::state::{self, CredRecord};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  qrescue events
  qrescue events --since 2026-11-01 --limit 20
  qrescue events --kind credential --localtime
  qrescue --json events --since 2026-11-24T21:00:00Z")]
pub struct EventsArgs {
    /// Only button presses, or only credential-store changes
    #[arg(long, value_name = "KIND")]
    pub kind: Option<EventKind>,
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

/// `--kind`: which of the two journals to show (both without it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EventKind {
    // Reset-button presses (the journal of `watch`).
    Button,
    // Credential-store changes (the store watch).
    Credential,
}

/// `events`' document: both journals, their records with the time in the vocabulary
/// (`time` and `time_unix_ms`).
#[derive(Serialize)]
pub struct EventsReport {
    /// The reset-button journal (host path) and its name in the root.
    journal: Option<String>,
    journal_in_root: Option<String>,
    events: Vec<serde_json::Value>,
    skipped_lines: usize,
    credential_journal: Option<String>,
    credential_journal_in_root: Option<String>,
    // Credential-store changes (the store watch). (`watch`'s store watch).
    credential_events: Vec<serde_json::Value>,
    #[serde(skip)]
    records: Vec<Record>,
    #[serde(skip)]
    creds: Vec<CredRecord>,
    #[serde(skip)]
    want_button: bool,
    #[serde(skip)]
    want_cred: bool,
    #[serde(skip)]
    localtime: bool,
}

/// A journal record as the vocabulary has it: its keys, `time` (RFC 3339 UTC with
/// milliseconds) and `time_unix_ms` in place of the journal's `time` and `unix_ms`; the
/// `optional` keys the journal leaves out when empty are there, null.
fn timed<R: Serialize>(record: &R, unix_ms: u64, optional: &[&str]) -> serde_json::Value {
    let mut v = serde_json::to_value(record).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("unix_ms");
        for key in optional {
            map.entry(*key).or_insert(serde_json::Value::Null);
        }
        map.insert("time".into(), time_ms(unix_ms).into());
        map.insert("time_unix_ms".into(), unix_ms.into());
    }
    v
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

pub fn run(ctx: &Context, args: &EventsArgs) -> Result<Outcome> {
    let since = match &args.since {
        Some(s) => Some(parse_time(s).ok_or_else(|| {
            Error::usage(format!(
                "--since {s:?}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or Unix seconds"
            ))
        })?),
        None => None,
    };
    let want_button = args.kind != Some(EventKind::Credential);
    let want_cred = args.kind != Some(EventKind::Button);
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
    let report = EventsReport {
        journal_in_root: path.as_deref().map(|p| in_root(&ctx.root, p)),
        journal: path,
        events: records
            .iter()
            .map(|r| timed(r, r.unix_ms, &["reason", "device_name"]))
            .collect(),
        skipped_lines: contents.skipped_lines,
        credential_journal_in_root: cred_path.as_deref().map(|p| in_root(&ctx.root, p)),
        credential_journal: cred_path,
        credential_events: creds
            .iter()
            .map(|r| timed(r, r.unix_ms, &["class", "backup"]))
            .collect(),
        records,
        creds,
        want_button,
        want_cred,
        localtime: args.localtime,
    };
    if !ctx.json && report.skipped_lines > 0 {
        advise(&format!(
            "qrescue: {} unreadable journal line(s) skipped (a torn line after a power cut?)",
            report.skipped_lines
        ));
    }
    Ok(Outcome::ok(report))
}

impl Report for EventsReport {
    fn render_text(&self, out: &mut Text) {
        let when = |ms: u64| {
            if self.localtime {
                crate::clock::local_ms(ms)
            } else {
                time_ms(ms)
            }
        };
        let zone = if self.localtime { "local" } else { "UTC" };
        if self.want_button {
            if self.records.is_empty() {
                let _ = writeln!(
                    out,
                    "no reset-button events{}",
                    self.journal
                        .as_ref()
                        .map(|p| format!(" in {p}"))
                        .unwrap_or_default()
                );
            } else {
                let mut rows = vec![vec![
                    format!("TIME ({zone})"),
                    "EVENT".into(),
                    "CLASS".into(),
                    "HELD".into(),
                    "SOURCE".into(),
                ]];
                for r in &self.records {
                    let held = format!(
                        "{}{:.3} s",
                        if r.start_known { "" } else { ">=" },
                        r.held_ms as f64 / 1000.0
                    );
                    let event = match &r.reason {
                        Some(why) => format!("{} ({why})", r.event),
                        None => r.event.to_string(),
                    };
                    rows.push(vec![
                        when(r.unix_ms),
                        event,
                        r.class.to_string(),
                        held,
                        format!("{} {}", r.source, r.device),
                    ]);
                }
                let align = [Align::Left, Align::Left, Align::Left, Align::Right];
                for line in table("", &align, &rows) {
                    out.line(line);
                }
            }
        }
        if self.want_cred {
            if self.want_button {
                out.line("");
            }
            if self.creds.is_empty() {
                let _ = writeln!(
                    out,
                    "no credential-store changes{}",
                    self.credential_journal
                        .as_ref()
                        .map(|p| format!(" in {p}"))
                        .unwrap_or_default()
                );
                return;
            }
            let mut rows = vec![
                [
                    format!("TIME ({zone})"),
                    "EVENT".into(),
                    "USER".into(),
                    "CLASS".into(),
                    "AGREE".into(),
                    "STORES".into(),
                ]
                .to_vec(),
            ];
            for r in &self.creds {
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
                rows.push(vec![
                    when(r.unix_ms),
                    r.event.to_string(),
                    r.user.clone(),
                    class,
                    if r.agree { "yes" } else { "no" }.into(),
                    format!("{}{seen}", r.stores.join(" ")),
                ]);
            }
            for line in table("", &[], &rows) {
                out.line(line);
            }
        }
    }
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
