//! What the credential commands share: permission check, store discovery, user names.

use crate::context::Context;
use crate::error::{Error, Result};
use crate::stores::Stores;

/// On the live system (no `--root`) the stores are root's: refuse early and clearly.
pub fn require_root(ctx: &Context) -> Result<()> {
    if ctx.root.is_host() && !crate::sys::proc::is_root() {
        return Err(Error::perm(
            "must be run as root on a live system (on QTS: `sudo -i`, or log in as an administrator)",
        ));
    }
    Ok(())
}

/// Check a user name against QTS's rules (1–32 characters, none of `" / \ [ ] : ; | = , + * ? < > ` '`).
pub fn check_user(name: &str) -> Result<()> {
    const FORBIDDEN: &str = "\"/\\[]:;|=,+*?<>`'";
    if name.is_empty() || name.len() > 32 {
        return Err(Error::usage(format!(
            "user name must have 1 to 32 characters, not {}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| FORBIDDEN.contains(*c) || c.is_control() || c.is_whitespace())
    {
        return Err(Error::usage(format!(
            "user name contains {c:?}, which QTS does not allow"
        )));
    }
    Ok(())
}

/// Permission check plus discovery.
pub fn open_stores(ctx: &Context) -> Result<Stores> {
    require_root(ctx)?;
    Stores::discover(&ctx.root)
}
