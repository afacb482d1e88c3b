//! The integration tests that drive the `qrescue` binary (`QRESCUE_BIN`, optionally under
//! `QRESCUE_RUNNER`): one test binary, so the shared set-up in `tests/common/` is compiled once.
//!
//! Each module was once its own test file and keeps its name, so `cargo test --test cli
//! engine_cli::` runs what `cargo test --test engine_cli` ran. The tests that need strace,
//! root, Samba, PAM tools, busybox, python3 or openssl are `#[ignore = "needs …"]`;
//! `scripts/test.sh` runs them with `--include-ignored`.

#[path = "../common/mod.rs"]
mod common;

mod audit_info;
mod durability_order;
mod edit_fields;
mod engine_cli;
mod engine_faults;
mod hostile_stores;
mod hostile_txn;
mod json_schema;
mod mutants_killed;
mod offline_root;
mod open_flags;
mod output_cli;
mod path_safety;
mod qts_fidelity;
mod qts_passwd;
mod signals;
mod store_watch;
mod watch_cli;
mod watch_poll;
