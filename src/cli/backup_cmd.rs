use crate::context::Context;
use crate::error::Result;
pub fn run_backup(_ctx: &Context, _r: Option<&str>) -> Result<i32> {
    Ok(0)
}
pub fn run_list(_ctx: &Context) -> Result<i32> {
    Ok(0)
}
