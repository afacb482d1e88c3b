//! Why a backup set was taken, as the manifest's `reason` records it.
//!
//! On disk the reason stays the text older versions wrote (`before passwd admin`,
//! `before restore ID --user NAME`, `manual`, or the operator's `--reason` words); in memory it
//! is this enum, so a check such as audit's "was this account changed by qrescue" matches a
//! variant, not a sentence. Text that is none of the known forms (an older or newer version,
//! an operator's note) is kept as it is and written back unchanged.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `passwd USER` took it before changing USER's password.
    BeforePasswd { user: String },
    /// `restore ID` (`--user NAME` for one account) took it before restoring.
    BeforeRestore { id: String, user: Option<String> },
    /// `backup` without `--reason`.
    Manual,
    /// Any other text: the operator's `backup --reason` words, or what another version wrote.
    Text(String),
}

const PASSWD: &str = "before passwd ";
const RESTORE: &str = "before restore ";
const RESTORE_USER: &str = " --user ";
const MANUAL: &str = "manual";

impl Reason {
    /// The reason a manifest's text records (the inverse of `Display`).
    pub fn parse(text: &str) -> Reason {
        if let Some(user) = text.strip_prefix(PASSWD) {
            return Reason::BeforePasswd {
                user: user.to_string(),
            };
        }
        if let Some(rest) = text.strip_prefix(RESTORE) {
            let (id, user) = match rest.split_once(RESTORE_USER) {
                Some((id, user)) => (id, Some(user.to_string())),
                None => (rest, None),
            };
            return Reason::BeforeRestore {
                id: id.to_string(),
                user,
            };
        }
        if text == MANUAL {
            return Reason::Manual;
        }
        Reason::Text(text.to_string())
    }

    /// The operator's `backup --reason` words (`manual` without them).
    pub fn given(note: Option<&str>) -> Reason {
        note.map_or(Reason::Manual, Reason::parse)
    }

    /// The account `passwd` changed after taking this backup, if it was taken by `passwd`.
    pub fn passwd_user(&self) -> Option<&str> {
        match self {
            Reason::BeforePasswd { user } => Some(user),
            _ => None,
        }
    }

    /// Taken by qrescue right before it changed `user`'s password: a `passwd` of that user,
    /// or any `restore` (which may have put back any account).
    pub fn changed_account(&self, user: &str) -> bool {
        match self {
            Reason::BeforePasswd { user: u } => u == user,
            Reason::BeforeRestore { .. } => true,
            Reason::Manual | Reason::Text(_) => false,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BeforePasswd { user } => write!(f, "{PASSWD}{user}"),
            Reason::BeforeRestore { id, user: None } => write!(f, "{RESTORE}{id}"),
            Reason::BeforeRestore {
                id,
                user: Some(user),
            } => write!(f, "{RESTORE}{id}{RESTORE_USER}{user}"),
            Reason::Manual => f.write_str(MANUAL),
            Reason::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        Ok(Reason::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_back_as_written() {
        for (reason, text) in [
            (
                Reason::BeforePasswd {
                    user: "admin".into(),
                },
                "before passwd admin",
            ),
            (
                Reason::BeforeRestore {
                    id: "20261124T214400Z-42".into(),
                    user: None,
                },
                "before restore 20261124T214400Z-42",
            ),
            (
                Reason::BeforeRestore {
                    id: "20261124T214400Z-42".into(),
                    user: Some("alice".into()),
                },
                "before restore 20261124T214400Z-42 --user alice",
            ),
            (Reason::Manual, "manual"),
            (
                Reason::Text("before the upgrade".into()),
                "before the upgrade",
            ),
        ] {
            assert_eq!(reason.to_string(), text);
            assert_eq!(Reason::parse(text), reason);
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), reason);
        }
    }

    #[test]
    fn only_qrescue_changes_of_the_account_count_as_its_last_change() {
        let passwd = Reason::parse("before passwd admin");
        assert!(passwd.changed_account("admin"));
        assert!(!passwd.changed_account("alice"));
        assert!(Reason::parse("before restore X --user bob").changed_account("admin"));
        assert!(!Reason::Manual.changed_account("admin"));
        assert!(!Reason::parse("passwd admin by hand").changed_account("admin"));
        assert_eq!(passwd.passwd_user(), Some("admin"));
        assert_eq!(Reason::given(None), Reason::Manual);
        assert_eq!(Reason::given(Some("x")), Reason::Text("x".into()));
    }
}
