//! `qrescue watch`: the command line of the reset-button watcher (`crate::watch`). The
//! watcher prints JSON lines as it goes (`--json`, a replay), not one document.

use std::path::PathBuf;

use clap::Args;

use crate::context::Context;
use crate::error::Result;
use crate::watch::{self, INPUT_DIR, journal};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  qrescue watch --foreground                 # find the reset key's input device
  qrescue watch --device /dev/input/event0 --key KEY_RESTART
  qrescue watch --gpio gpiochip0:17:active-low
  qrescue watch --replay capture.bin         # a `cat /dev/input/eventN` capture
  qrescue watch --on-hold 'logger \"reset button: $QRESCUE_CLASS $QRESCUE_HELD_MS ms\"'

Replays (--replay) go to --journal FILE or stdout (JSON lines), never to the journal.
Holds: short < 3 s <= basic-reset < 10 s <= advanced-reset (what QTS does on release).
Every hold, and each threshold as it is crossed, is fsynced to the journal
(/etc/config/qrescue/button.jsonl on QTS) and sent to syslog. Device paths are the
running system's, also with --root (which only places the journal).")]
pub struct WatchArgs {
    /// Input device to read (/dev/input/eventN)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["gpio", "replay"])]
    pub device: Option<PathBuf>,
    /// GPIO line: CHIP:LINE[:active-low] (chip gpiochipN, line offset or name) or sysfs:N
    #[arg(long, value_name = "CHIP:LINE", conflicts_with = "replay")]
    pub gpio: Option<String>,
    /// With --gpio sysfs:N: read the line's value file every MS milliseconds (read-only, for
    /// a line only the firmware reads; never exported or reconfigured). Off unless given
    #[arg(long, value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// Replay recorded input_event records from FILE (or a FIFO) in this binary's layout
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Where replay records go (appended, created 0600); without it, stdout as JSON lines.
    /// A replay never writes the box's journal unless it is named here.
    #[arg(long, value_name = "FILE", requires = "replay")]
    pub journal: Option<PathBuf>,
    /// Key code of the reset button: a number (408, 0x198) or KEY_RESTART, BTN_2, ...
    /// [default: KEY_RESTART; found automatically: qnap8528's BTN_2, then KEY_RESTART]
    #[arg(long, value_name = "CODE")]
    pub key: Option<String>,
    /// Command run by /bin/sh after each classified hold (QRESCUE_CLASS, QRESCUE_HELD_MS set)
    #[arg(long, value_name = "CMD")]
    pub on_hold: Option<String>,
    /// Do not watch the credential stores (on by default, except for a replay)
    #[arg(long)]
    pub no_stores: bool,
    /// Stay attached to the terminal and echo log records to stderr
    #[arg(long)]
    pub foreground: bool,
    /// Hold length of a basic reset, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub basic_ms: u64,
    /// Hold length of an advanced reset, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub advanced_ms: u64,
    /// Contact bounces shorter than this are ignored, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 30)]
    pub debounce_ms: u64,
    /// Rotate the journal when it would exceed this size
    #[arg(long, value_name = "BYTES", default_value_t = journal::DEFAULT_MAX_BYTES, hide = true)]
    pub journal_max_bytes: u64,
    /// Where auto-detection looks for input devices (tests point it at an empty directory,
    /// so they do not depend on the host's devices)
    #[arg(long, value_name = "DIR", default_value = INPUT_DIR, hide = true)]
    pub input_dir: PathBuf,
}

impl From<&WatchArgs> for watch::Options {
    fn from(a: &WatchArgs) -> Self {
        watch::Options {
            device: a.device.clone(),
            gpio: a.gpio.clone(),
            poll_ms: a.poll_ms,
            replay: a.replay.clone(),
            journal: a.journal.clone(),
            key: a.key.clone(),
            on_hold: a.on_hold.clone(),
            no_stores: a.no_stores,
            foreground: a.foreground,
            basic_ms: a.basic_ms,
            advanced_ms: a.advanced_ms,
            debounce_ms: a.debounce_ms,
            journal_max_bytes: a.journal_max_bytes,
            input_dir: a.input_dir.clone(),
        }
    }
}

pub fn run(ctx: &Context, args: &WatchArgs) -> Result<i32> {
    watch::run_watch(ctx, &args.into())
}
