use crate::context::Context;
use crate::error::Result;
pub fn run(_ctx: &Context, _id: &str, _dry: bool) -> Result<i32> {
    Ok(0)
}
