//! The reset-button watcher (`qrescue watch`) and its journal (`qrescue events`).
//! (Being built: see issue 4.)

use clap::Args;
use std::path::PathBuf;

use crate::context::Context;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Input device to read (/dev/input/eventN)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["gpio", "replay"])]
    pub device: Option<PathBuf>,
    /// GPIO line to watch (e.g. gpiochip0:17)
    #[arg(long, value_name = "CHIP:LINE", conflicts_with = "replay")]
    pub gpio: Option<String>,
    /// Replay recorded input_event records from FILE (or a FIFO)
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Key code of the reset button (default KEY_RESTART, 0x198)
    #[arg(long, value_name = "CODE")]
    pub key: Option<String>,
    /// Command to run after each classified hold
    #[arg(long, value_name = "CMD")]
    pub on_hold: Option<String>,
    /// Stay in the foreground and log to the console
    #[arg(long)]
    pub foreground: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events at or after TIME
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// At most N events (the newest)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

pub fn run_watch(_ctx: &Context, _args: &WatchArgs) -> Result<i32> {
    Err(Error::usage("watch: not built yet"))
}

pub fn run_events(_ctx: &Context, _args: &EventsArgs) -> Result<i32> {
    Err(Error::usage("events: not built yet"))
}
