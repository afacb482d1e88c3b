#!/usr/bin/env bash
# Benchmarks: qrescue vs shadow-utils chpasswd, hash speed (native and under qemu), binary
# sizes with a per-crate breakdown, watcher idle cost and latency, startup. Writes
# docs/benchmarks.md. Timing figures belong in that report, never in tests.
#
# Usage: scripts/bench.sh            (about 10 minutes on 2 cores; QUICK=1 for a smoke run)
# Installs what it needs: hyperfine, shadow-utils (passwd), qemu-user, python3, cargo-bloat.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    missing=()
    for p in hyperfine:hyperfine chpasswd:passwd qemu-aarch64:qemu-user python3:python3; do
        command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
    done
    if ((${#missing[@]})); then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi
command -v cargo-bloat >/dev/null || cargo install --locked cargo-bloat@0.12.1

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The binaries measured are the release artifacts, up to date (incremental when nothing changed).
bash scripts/build-release.sh

# In-process hash figures: native, and the aarch64 bench binary under qemu.
cargo bench --locked --bench hash >target/bench-hash-x86_64.tsv
if CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
    cargo bench --locked --no-run --target aarch64-unknown-linux-musl --bench hash 2>target/bench-build.log; then
    b=$(find target/aarch64-unknown-linux-musl/release/deps -maxdepth 1 -type f -name 'hash-*' \
        ! -name '*.d' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
    qemu-aarch64 -cpu cortex-a53 "$b" >target/bench-hash-aarch64.tsv
fi

# Size breakdown of the x86_64 release binary, built as scripts/build-release.sh builds it
# (std from source without its backtrace feature).
RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort CARGO_UNSTABLE_BUILD_STD_FEATURES="" \
    cargo bloat --locked --release --target x86_64-unknown-linux-musl --crates -n 12 \
    >target/bench-bloat.txt 2>/dev/null || true

python3 scripts/bench_report.py "$version"
echo "wrote docs/benchmarks.md"
