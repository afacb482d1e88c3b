//! A read-only reader for QTS's INI-style configuration files (`uLinux.conf`,
//! `platform.conf`, `/etc/os-release`): `[Section]` headers and `Key = Value` lines, the
//! format QTS's own `getcfg SECTION KEY -f FILE` reads. Section and key names compare
//! case-insensitively (as `getcfg` does); values are trimmed, nothing else is interpreted.
//! Lines before the first header belong to the section `""`. Lines that are neither a
//! header nor `key = value` (comments starting with `#` or `;`, junk) are skipped.

/// A parsed file: sections in file order, each with its entries in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ini {
    pub sections: Vec<(String, Vec<(String, String)>)>,
}

/// Parse `text` (lossy: comments and layout are not kept).
pub fn parse(text: &str) -> Ini {
    let mut ini = Ini::default();
    let mut current: Option<usize> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            ini.sections.push((name.trim().to_string(), Vec::new()));
            current = Some(ini.sections.len() - 1);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let idx = match current {
            Some(i) => i,
            None => {
                ini.sections.push((String::new(), Vec::new()));
                let i = ini.sections.len() - 1;
                current = Some(i);
                i
            }
        };
        ini.sections[idx]
            .1
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    ini
}

impl Ini {
    /// The value of `key` in `section` (the last one wins, as repeated keys override).
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .filter(|(s, _)| s.eq_ignore_ascii_case(section))
            .flat_map(|(_, entries)| entries.iter())
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .next_back()
    }

    /// Like [`Ini::get`], ignoring empty values and removing one pair of surrounding
    /// double or single quotes (os-release style).
    pub fn get_unquoted(&self, section: &str, key: &str) -> Option<String> {
        let v = self.get(section, key)?;
        let v = ['"', '\'']
            .iter()
            .find_map(|q| v.strip_prefix(*q).and_then(|r| r.strip_suffix(*q)))
            .unwrap_or(v);
        (!v.is_empty()).then(|| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_keys_and_junk() {
        let ini = parse(
            "top = 1\n[System]\nModel = TS-453D\n  Build Number=20231128  \n# c\n; c\njunk\n\
             [Network]\nModel = other\n[system]\nVersion = 5.1.4\nVersion = 5.2.0\nEmpty =\n",
        );
        assert_eq!(ini.get("", "top"), Some("1"));
        assert_eq!(ini.get("System", "Model"), Some("TS-453D"));
        assert_eq!(ini.get("SYSTEM", "build number"), Some("20231128"));
        assert_eq!(ini.get("System", "Version"), Some("5.2.0"));
        assert_eq!(ini.get("Network", "Model"), Some("other"));
        assert_eq!(ini.get_unquoted("System", "Empty"), None);
        assert_eq!(ini.get("System", "Missing"), None);
    }

    #[test]
    fn os_release_quotes() {
        let ini = parse("NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\nID=debian\n");
        assert_eq!(
            ini.get_unquoted("", "NAME").as_deref(),
            Some("Debian GNU/Linux")
        );
        assert_eq!(ini.get_unquoted("", "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(ini.get_unquoted("", "ID").as_deref(), Some("debian"));
    }

    #[test]
    fn comments_are_skipped_even_when_they_look_like_settings() {
        let ini = parse("[System]\nModel = TS-453D\n# Model = hash\n; Model = semicolon\n");
        assert_eq!(ini.get("System", "Model"), Some("TS-453D"));
        assert_eq!(ini.get("System", "# Model"), None);
        assert_eq!(ini.get("System", "; Model"), None);
    }
}
