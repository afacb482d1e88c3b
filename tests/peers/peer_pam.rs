//! Linux-PAM's pam_unix as the oracle: after `qrescue passwd`, the account's shadow entry
//! authenticates the new password through a real PAM stack (`pamtester`) and refuses the old
//! one — for every scheme qrescue writes, and for each copy of the shadow file QTS reads.
//!
//! pamtester runs in a mount namespace where the fixture's passwd and shadow, and a pam.d
//! holding only our test service, are bind-mounted over the host's /etc files.
//! Needs: apt-get install pamtester (.ci/run installs it); runs as root.

use crate::common;

use std::path::Path;
use std::process::Command;

use crate::common::fixture::{ADMIN_OLD, Fixture, Layout};
use crate::common::{qrescue, run_with_stdin};

const NEW: &str = "Pam-Unix-Agrees-9";

/// Whether pam_unix accepts `password` for admin with these passwd/shadow files.
fn pam_ok(passwd: &Path, shadow: &Path, password: &str) -> bool {
    let pamd = tempfile::tempdir().unwrap();
    std::fs::write(
        pamd.path().join("qrescue-test"),
        "auth required pam_unix.so\naccount required pam_unix.so\n",
    )
    .unwrap();
    let script = format!(
        "mount --bind {p} /etc/passwd && mount --bind {s} /etc/shadow && mount --bind {d} /etc/pam.d && exec pamtester qrescue-test admin authenticate",
        p = passwd.display(),
        s = shadow.display(),
        d = pamd.path().display()
    );
    let mut c = Command::new("unshare");
    c.args(["-m", "sh", "-c", &script]);
    let o = run_with_stdin(&mut c, format!("{password}\n").as_bytes());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("not found") && !err.contains("mount:"),
        "pamtester and mount namespaces are required: {err}"
    );
    if o.status.success() {
        true
    } else {
        assert!(err.contains("Authentication failure"), "{err}");
        false
    }
}

#[test]
#[ignore = "needs root (a mount namespace) and pamtester"]
fn pam_unix_authenticates_every_scheme_qrescue_writes() {
    if !common::skip::tools(
        "pam_unix_authenticates_every_scheme_qrescue_writes",
        &[("pamtester", "pamtester"), ("unshare", "util-linux")],
    ) {
        return;
    }
    for (layout, scheme) in [
        (Layout::Qts5, None),
        (Layout::Qts5, Some("sha256")),
        (Layout::Qts5, Some("md5")),
        (Layout::Qts4, None),
    ] {
        let f = Fixture::new(layout);
        let passwd = f.path("/mnt/HDA_ROOT/.config/passwd");
        // QTS 4-like fixtures keep a separate runtime copy in /etc: both must agree.
        let mut shadows = vec![f.path("/mnt/HDA_ROOT/.config/shadow")];
        if layout == Layout::Qts4 {
            shadows.push(f.path("/etc/shadow"));
        }
        for s in &shadows {
            assert!(pam_ok(&passwd, s, ADMIN_OLD), "fixture: {}", s.display());
        }
        let mut c = qrescue();
        c.arg("--root")
            .arg(f.root())
            .args(["passwd", "admin", "--password-stdin"]);
        if let Some(s) = scheme {
            c.args(["--scheme", s]);
        }
        let o = run_with_stdin(&mut c, format!("{NEW}\n").as_bytes());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for s in &shadows {
            let what = format!("{layout:?} {scheme:?} {}", s.display());
            assert!(
                pam_ok(&passwd, s, NEW),
                "{what}: pam_unix refuses the new password"
            );
            assert!(
                !pam_ok(&passwd, s, ADMIN_OLD),
                "{what}: the old one still works"
            );
        }
    }
}
