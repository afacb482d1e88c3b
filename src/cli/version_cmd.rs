//! `qrescue version`: what a support request needs (shadow-rs build information).

use crate::error::Result;
use crate::version::BuildInfo;

pub fn run(json: bool) -> Result<i32> {
    let info = BuildInfo::current();
    if json {
        super::print_json(&info)?;
    } else {
        println!("{}", info.human());
    }
    Ok(0)
}
