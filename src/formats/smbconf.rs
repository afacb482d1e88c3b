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

/// Includes deeper than this are refused (Samba itself stops at 100; a real smb.conf nests
/// one or two levels, and a loop must not run long).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Parse one smb.conf without following `include =` (an include is ignored).
pub fn parse(text: &str) -> SambaSettings {
    parse_with_includes(text, &mut |_| Ok(None)).unwrap_or_default()
}

/// Parse smb.conf as Samba does, following `include = FILE` in place: the included file's
/// lines are processed where the include stands, the section they end in stays current
/// afterwards, later settings override earlier ones, and a missing file is skipped (Samba's
/// `handle_include`). `load` returns a file's text (`None`: it does not exist). A `%`
/// substitution in an include or in a password setting depends on the client and the
/// moment: it is refused rather than guessed.
pub fn parse_with_includes(
    text: &str,
    load: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
) -> Result<SambaSettings, String> {
    let mut state = State {
        out: SambaSettings::default(),
        in_global: true, // settings before any section count as global
    };
    state.feed(text, 0, load)?;
    Ok(state.out)
}

struct State {
    out: SambaSettings,
    in_global: bool,
}

impl State {
    fn feed(
        &mut self,
        text: &str,
        depth: usize,
        load: &mut dyn FnMut(&str) -> Result<Option<String>, String>,
    ) -> Result<(), String> {
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
                self.in_global = name.trim().eq_ignore_ascii_case("global");
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            let v = v.trim().to_string();
            let key = norm_key(k);
            if key == "include" {
                // Samba follows an include in any section, in place.
                if v.contains('%') {
                    return Err(format!(
                        "include = {v} uses a % substitution: which file Samba reads depends on the client"
                    ));
                }
                if depth + 1 >= MAX_INCLUDE_DEPTH {
                    return Err(format!(
                        "includes nested deeper than {MAX_INCLUDE_DEPTH} levels (a loop?) at include = {v}"
                    ));
                }
                if let Some(inner) = load(&v)? {
                    self.feed(&inner, depth + 1, load)?;
                }
                continue;
            }
            if !self.in_global {
                continue;
            }
            let slot = match key.as_str() {
                "passdbbackend" => &mut self.out.passdb_backend,
                "smbpasswdfile" => &mut self.out.smb_passwd_file,
                _ => continue,
            };
            if v.contains('%') {
                return Err(format!(
                    "{} = {v} uses a % substitution: qrescue cannot tell which file Samba uses",
                    k.trim()
                ));
            }
            *slot = Some(v);
        }
        Ok(())
    }
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

    /// Semantics checked against Samba 4.17's `testparm -s --parameter-name`.
    #[test]
    fn includes_in_place_like_samba() {
        let files = |name: &str| -> Result<Option<String>, String> {
            Ok(match name {
                "/b" => {
                    Some("smb passwd file = /from-b\n[x]\nsmb passwd file = /in-share\n".into())
                }
                "/c" => Some("smb passwd file = /from-c\n".into()),
                "/loop" => Some("include = /loop\n".into()),
                _ => None,
            })
        };
        let p = |t: &str| parse_with_includes(t, &mut { files }).map(|s| s.smb_passwd_file);
        // Later settings override earlier ones; the include counts where it stands.
        assert_eq!(
            p("smb passwd file = /a\ninclude = /c\n"),
            Ok(Some("/from-c".into()))
        );
        assert_eq!(
            p("include = /c\nsmb passwd file = /a\n"),
            Ok(Some("/a".into()))
        );
        // The section an included file ends in stays current afterwards.
        assert_eq!(
            p("[global]\ninclude = /b\nsmb passwd file = /z\n"),
            Ok(Some("/from-b".into()))
        );
        // In a share section, the included globals do not count.
        assert_eq!(p("[s]\ninclude = /c\n"), Ok(None));
        // A missing include is skipped.
        assert_eq!(
            p("include = /nope\nsmb passwd file = /after\n"),
            Ok(Some("/after".into()))
        );
        assert!(p("include = /loop\n").unwrap_err().contains("deeper"));
        assert!(p("include = /etc/smb.conf.%m\n").unwrap_err().contains('%'));
        assert!(p("smb passwd file = /etc/%U\n").unwrap_err().contains('%'));
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
