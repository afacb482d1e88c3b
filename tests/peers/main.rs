//! Tests against the real programs qrescue shares its stores and hashes with: Samba (smbd,
//! smbclient), PAM (pamtester), shadow-utils and busybox writing the same files at the same
//! time, and the hash oracles (openssl, libcrypt through python3). Every test here needs such a
//! tool or root and is `#[ignore = "needs …"]`: `cargo test --test peers -- --include-ignored`.
//!
//! Each module was once its own test file and keeps its name (`cargo test --test peers
//! peer_samba::`).

#[path = "../common/mod.rs"]
mod common;

mod hash_oracles;
mod peer_concurrency;
mod peer_pam;
mod peer_samba;
