//! Hash throughput, in process: SHA-512-crypt (5,000 rounds, the default), SHA-256-crypt,
//! MD5-crypt, DES crypt verification and the NT hash, as hashes per second. No framework
//! (the binary also runs under qemu for the ARM figures): each case runs for about a second
//! after a warm-up and prints one tab-separated line, which scripts/bench.sh collects.
//!
//!     cargo bench --bench hash

use std::hint::black_box;
use std::time::{Duration, Instant};

use qrescue::hash::{self, GenScheme};

fn measure(name: &str, mut f: impl FnMut()) {
    for _ in 0..3 {
        f();
    }
    let budget = Duration::from_millis(
        std::env::var("QRESCUE_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1000),
    );
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        f();
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}\t{:.1}\t{:.1}",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument selects cases.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let want = |n: &str| filter.as_deref().is_none_or(|f| n.contains(f));
    let pw = b"Correct-Horse-9";
    println!("case\thashes_per_s\tus_per_hash");
    if want("sha512crypt") {
        measure("sha512crypt-5000", || {
            black_box(hash::generate_with_salt(
                black_box(pw),
                GenScheme::Sha512,
                "saltsaltsaltsalt",
                None,
            ));
        });
    }
    if want("sha256crypt") {
        measure("sha256crypt-5000", || {
            black_box(hash::generate_with_salt(
                black_box(pw),
                GenScheme::Sha256,
                "saltsaltsaltsalt",
                None,
            ));
        });
    }
    if want("md5crypt") {
        measure("md5crypt", || {
            black_box(hash::generate_with_salt(
                black_box(pw),
                GenScheme::Md5,
                "saltsalt",
                None,
            ));
        });
    }
    if want("descrypt") {
        // "ab" + 11 characters: the traditional DES crypt of "password".
        measure("descrypt-verify", || {
            black_box(hash::verify(black_box(b"password"), "abJnggxhB/yWI"));
        });
    }
    if want("nthash") {
        measure("nt-hash", || {
            black_box(hash::nt_hash_hex(black_box(pw)));
        });
    }
}
