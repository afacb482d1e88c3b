//! `qrescue version`: what a support request needs (shadow-rs build information).

use serde::Serialize;

use super::output::{Outcome, Report, Text};
use super::vocab::{offset_time_ms, time_ms};
use crate::error::Result;
use crate::version::BuildInfo;

/// `version`'s document: the build information, its times in the vocabulary.
#[derive(Serialize)]
pub struct VersionReport {
    version: &'static str,
    commit: &'static str,
    commit_date: Option<String>,
    commit_date_unix_ms: Option<u64>,
    build_time: Option<String>,
    build_time_unix_ms: Option<u64>,
    rustc: &'static str,
    target: &'static str,
    profile: &'static str,
    /// `sizeof(struct input_event)` in this binary's ABI: the layout `watch --replay` reads.
    input_event_bytes: usize,
    #[serde(skip)]
    human: String,
}

pub fn run() -> Result<Outcome> {
    let info = BuildInfo::current();
    let commit_ms = offset_time_ms(info.commit_date);
    let build_ms = offset_time_ms(info.build_time);
    Ok(Outcome::ok(VersionReport {
        version: info.version,
        commit: info.commit,
        commit_date: commit_ms.map(time_ms),
        commit_date_unix_ms: commit_ms,
        build_time: build_ms.map(time_ms),
        build_time_unix_ms: build_ms,
        rustc: info.rustc,
        target: info.target,
        profile: info.profile,
        input_event_bytes: info.input_event_bytes,
        human: info.human(),
    }))
}

impl Report for VersionReport {
    fn render_text(&self, out: &mut Text) {
        for line in self.human.lines() {
            out.line(line);
        }
    }
}
