//! A word of the journals' vocabulary (`hold`, `basic-reset`, `credential-change`…) as an
//! enum in memory and as its text on disk.
//!
//! The journals are read back by `events` and `audit`, possibly from a file another version
//! wrote: a word this version does not know is kept as `Term::Unknown` (shown and written back
//! as it is, matching no check) instead of making the whole line unreadable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum whose variants have fixed names in the journals.
pub trait Word: Copy + Eq + 'static {
    /// Every variant.
    const ALL: &'static [Self];
    /// The variant's text on disk and in output.
    fn name(self) -> &'static str;
}

/// A known word, or the text of one this version does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term<T> {
    Known(T),
    Unknown(String),
}

impl<T: Word> Term<T> {
    pub fn parse(text: &str) -> Term<T> {
        match T::ALL.iter().find(|w| w.name() == text) {
            Some(w) => Term::Known(*w),
            None => Term::Unknown(text.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Term::Known(w) => w.name(),
            Term::Unknown(text) => text,
        }
    }

    /// The known word, if it is one.
    pub fn known(&self) -> Option<T> {
        match self {
            Term::Known(w) => Some(*w),
            Term::Unknown(_) => None,
        }
    }
}

impl<T: Word> From<T> for Term<T> {
    fn from(w: T) -> Self {
        Term::Known(w)
    }
}

impl<T: Word> PartialEq<T> for Term<T> {
    fn eq(&self, other: &T) -> bool {
        self.known() == Some(*other)
    }
}

impl<T: Word> fmt::Display for Term<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that table widths (`{:<10}`) apply as they do to a `String`.
        f.pad(self.as_str())
    }
}

impl<T: Word> Serialize for Term<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: Word> Deserialize<'de> for Term<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Term<T>, D::Error> {
        Ok(Term::parse(&String::deserialize(d)?))
    }
}

/// For a fieldless enum, from its variants and their names: `name()`, [`Word`], `Display`
/// and `Serialize` (as the name).
macro_rules! words {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }
        }
        impl $crate::watch::term::Word for $ty {
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];
            fn name(self) -> &'static str {
                <$ty>::name(self)
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use words;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Colour {
        Red,
        DarkBlue,
    }
    words!(Colour { Red => "red", DarkBlue => "dark-blue" });

    #[test]
    fn known_words_round_trip_and_unknown_text_is_kept() {
        for w in Colour::ALL {
            let t = Term::from(*w);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", w.name()));
            assert_eq!(serde_json::from_str::<Term<Colour>>(&json).unwrap(), *w);
        }
        let t: Term<Colour> = serde_json::from_str("\"green\"").unwrap();
        assert_eq!(t, Term::Unknown("green".into()));
        assert_ne!(t, Colour::Red);
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"green\"");
        assert_eq!(
            format!("[{:<10}]", Term::from(Colour::DarkBlue)),
            "[dark-blue ]"
        );
    }
}
