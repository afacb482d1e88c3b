//! Just enough of smb.conf: the `[global]` settings that say where Samba keeps passwords.
//! Keys are case-insensitive and whitespace in them is insignificant (`smb passwd file`
//! equals `smbpasswdfile`), as in Samba's own parser; `;` and `#` start comments; a trailing
//! `\` continues a line.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SambaSettings {
    /// `passdb backend` (e.g. `smbpasswd`, `smbpasswd:/etc/config/smbpasswd`, `tdbsam`).
    pub passdb_backend: Option<String>,
    /// `smb passwd file`.
    pub smb_passwd_file: Option<String>,
}

/// Where Samba's passwords are, as far as qrescue is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An smbpasswd text file at this path (inside the root).
    Smbpasswd(String),
    /// Something qrescue does not write natively (tdbsam, ldapsam…): the backend string.
    Other(String),
}

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn parse(text: &str) -> SambaSettings {
    let mut out = SambaSettings::default();
    let mut in_global = true; // settings before any section count as global
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let l = full.trim();
        if l.is_empty() || l.starts_with(';') || l.starts_with('#') {
            continue;
        }
        if l.starts_with('[') {
            let name = l.trim_start_matches('[').split(']').next().unwrap_or("");
            in_global = name.trim().eq_ignore_ascii_case("global");
            continue;
        }
        if !in_global {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            let v = v.trim().to_string();
            match norm_key(k).as_str() {
                "passdbbackend" => out.passdb_backend = Some(v),
                "smbpasswdfile" => out.smb_passwd_file = Some(v),
                _ => {}
            }
        }
    }
    out
}

impl SambaSettings {
    /// The backend, given the build's default smbpasswd location.
    pub fn backend(&self, default_file: &str) -> Backend {
        let backend = self
            .passdb_backend
            .clone()
            .unwrap_or_else(|| "smbpasswd".into());
        let first = backend
            .split_whitespace()
            .next()
            .unwrap_or("smbpasswd")
            .to_string();
        match first.split_once(':') {
            Some(("smbpasswd", path)) if !path.is_empty() => Backend::Smbpasswd(path.to_string()),
            _ if first == "smbpasswd" => Backend::Smbpasswd(
                self.smb_passwd_file
                    .clone()
                    .unwrap_or_else(|| default_file.to_string()),
            ),
            _ => Backend::Other(first),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qts_style() {
        let s = parse(
            "[global]\n  passdb backend = smbpasswd\n  Smb Passwd File = /etc/config/smbpasswd\n[share]\nsmb passwd file = /nope\n",
        );
        assert_eq!(
            s.backend("/x"),
            Backend::Smbpasswd("/etc/config/smbpasswd".into())
        );
    }

    #[test]
    fn explicit_path_and_others() {
        assert_eq!(
            parse("passdb backend = smbpasswd:/a/b").backend("/x"),
            Backend::Smbpasswd("/a/b".into())
        );
        assert_eq!(
            parse("[global]\n; passdb backend = smbpasswd\npassdb backend = tdbsam\n")
                .backend("/x"),
            Backend::Other("tdbsam".into())
        );
        assert_eq!(
            parse("[global]\npassdb \\\n backend = ldapsam:ldap://x\n").backend("/x"),
            Backend::Other("ldapsam:ldap://x".into())
        );
        assert_eq!(parse("").backend("/d"), Backend::Smbpasswd("/d".into()));
    }

    #[test]
    fn commented_settings_after_the_real_one_do_not_count() {
        for comment in [
            "; passdb backend = smbpasswd",
            "# passdb backend = smbpasswd",
        ] {
            let s = parse(&format!("[global]\npassdb backend = tdbsam\n{comment}\n"));
            assert_eq!(
                s.backend("/x"),
                Backend::Other("tdbsam".into()),
                "{comment}"
            );
        }
    }

    #[test]
    fn smbpasswd_with_an_empty_path_is_not_a_file() {
        assert_eq!(
            parse("passdb backend = smbpasswd:").backend("/x"),
            Backend::Other("smbpasswd:".into())
        );
    }
}
