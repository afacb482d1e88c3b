//! Samba itself as the oracle: a real `smbd` (Debian's), on loopback only, uses the fixture
//! root's smbpasswd as its passdb. After `qrescue passwd` the new password opens a share and
//! the old one is refused; after `qrescue restore` the reverse holds.
//!
//! smbd needs the account as a Unix user: it runs in a mount namespace where a small
//! /etc/passwd with `admin` (uid 0, as on QTS) is bind-mounted over the host's.
//! Needs: apt-get install samba smbclient (.ci/run installs them); runs as root.

use crate::common;

use crate::common::fixture::{ADMIN_OLD, Fixture, Layout};
use crate::common::{qrescue, run};

const NEW: &str = "Samba-Sees-This-1";

#[test]
#[ignore = "needs root, smbd and smbclient"]
fn smbd_accepts_the_new_password_and_after_restore_the_old_one() {
    if !common::skip::tools(
        "smbd_accepts_the_new_password_and_after_restore_the_old_one",
        &[("smbd", "samba"), ("smbclient", "smbclient")],
    ) {
        return;
    }
    for layout in [Layout::Qts5, Layout::Qts4] {
        let f = Fixture::new(layout);
        let smbd = common::smbd::start(&f.path("/mnt/HDA_ROOT/.config/smbpasswd"));
        assert!(smbd.login(ADMIN_OLD), "the fixture's password works first");
        assert!(!smbd.login(NEW));

        let o = common::passwd(f.root(), "admin", NEW);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(smbd.login(NEW), "{layout:?}: smbd refuses the new password");
        assert!(
            !smbd.login(ADMIN_OLD),
            "{layout:?}: smbd still takes the old one"
        );

        // The backup taken before the change puts the old password back for Samba too.
        let id = common::backup_ids(f.root()).remove(0);
        let o = run(qrescue().arg("--root").arg(f.root()).args(["restore", &id]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            smbd.login(ADMIN_OLD),
            "{layout:?}: restore did not bring back the old password"
        );
        assert!(
            !smbd.login(NEW),
            "{layout:?}: the new password still works after restore"
        );
    }
}
