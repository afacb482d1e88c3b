use crate::context::Context;
use crate::error::Result;
#[derive(Debug, clap::Args)]
pub struct PasswdArgs {}
pub fn run(_ctx: &Context, _a: &PasswdArgs) -> Result<i32> {
    Ok(0)
}
