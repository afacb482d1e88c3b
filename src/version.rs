//! Build information captured at compile time by shadow-rs.

use serde::Serialize;

shadow_rs::shadow!(build);

#[derive(Debug, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
    pub commit_date: &'static str,
    pub build_time: &'static str,
    pub rustc: &'static str,
    pub target: &'static str,
    pub profile: &'static str,
    /// `sizeof(struct input_event)` in this binary's ABI: the layout `watch --replay` reads.
    pub input_event_bytes: usize,
}

impl BuildInfo {
    pub fn current() -> Self {
        BuildInfo {
            version: build::PKG_VERSION,
            commit: build::SHORT_COMMIT,
            commit_date: build::COMMIT_DATE,
            build_time: build::BUILD_TIME,
            rustc: build::RUST_VERSION,
            target: build::BUILD_TARGET,
            profile: build::BUILD_RUST_CHANNEL,
            input_event_bytes: crate::watch::records::InputLayout::native().size(),
        }
    }

    pub fn human(&self) -> String {
        let commit = if self.commit.is_empty() {
            "unknown"
        } else {
            self.commit
        };
        format!(
            "qrescue {}\ncommit:     {} {}\nbuilt:      {}\nrustc:      {}\ntarget:     {}",
            self.version, commit, self.commit_date, self.build_time, self.rustc, self.target
        )
    }
}
