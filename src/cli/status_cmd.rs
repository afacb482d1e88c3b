use crate::context::Context;
use crate::error::Result;
pub fn run(_ctx: &Context, _user: Option<&str>) -> Result<i32> {
    Ok(0)
}
