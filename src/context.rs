//! What every command gets: the root it works in and the output mode.

use crate::sys::root::Root;

#[derive(Debug)]
pub struct Context {
    /// The root everything is resolved in (`--root DIR`, or `/`).
    pub root: Root,
    /// `--json`: print one JSON document instead of human text.
    pub json: bool,
}
