use crate::context::Context;
use crate::error::Result;
pub fn run(_ctx: &Context, _user: Option<&str>, _stdin: bool) -> Result<i32> {
    Ok(0)
}
