#!/usr/bin/env bash
# The project's test command (README and .ci/run both call exactly this).
# Runs as root on Debian 12: some tests use mount namespaces, strace, chroot and qemu.
#
#   scripts/test.sh          everything: lint, unit and integration tests, the static
#                            release binaries for every QNAP arch and the same integration
#                            tests on each under qemu-user, the watcher, power cuts and
#                            the offline route (md RAID-1 system partitions) on a real
#                            kernel under qemu-system, and the QPKG build/install tests
#   QRESCUE_QUICK=1 scripts/test.sh    only lint + cargo test (a fast inner loop)
#
# No silent skips: under CI=true a missing tool is a failure (tests/common/skip.rs,
# tests/qpkg/run.sh); otherwise every skip is recorded in $QRESCUE_SKIP_LOG and counted at
# the end. Every stage runs through bash, whatever the files' exec bits.
set -euo pipefail
cd "$(dirname "$0")/.."

QRESCUE_SKIP_LOG="$PWD/target/test-skips.log"
export QRESCUE_SKIP_LOG
mkdir -p target
: >"$QRESCUE_SKIP_LOG"
in_ci=0
[[ "${CI:-}" == true || "${CI:-}" == 1 ]] && in_ci=1

# need TOOL PACKAGE: a tool this command itself runs; missing is always a failure.
need() {
    command -v "$1" >/dev/null || {
        echo "scripts/test.sh: $1 not found (apt-get install $2; .ci/run installs everything)" >&2
        exit 1
    }
}

summary() {
    local n
    n=$(grep -c . "$QRESCUE_SKIP_LOG" || true)
    if ((n > 0)); then
        echo "== $n test(s) SKIPPED (not run, so not passed):"
        sed 's/^/   SKIP /' "$QRESCUE_SKIP_LOG"
        if ((in_ci)); then
            echo "scripts/test.sh: skips under CI=true are failures" >&2
            exit 1
        fi
    else
        echo "== 0 tests skipped"
    fi
}

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== shellcheck"
need shellcheck shellcheck
shellcheck -x scripts/*.sh cross/targets.sh .ci/run tests/qpkg/run.sh
echo "== layers (nix, libc and unsafe only under src/sys/; imports run down the layers of docs/architecture.md)"
bash scripts/check-layers.sh
echo "== cargo test (with the ignored tests: peers, oracles, strace faults, root-only)"
# Plain `cargo test` is hermetic (no root, no strace, Samba, PAM tools, busybox, openssl,
# python3 or qemu); the tests that need one are #[ignore = "needs …"], and run here.
cargo test --locked --all-targets -- --include-ignored
echo "== hermetic: plain cargo test as nobody without the peer tools (scripts/check-hermetic.sh)"
bash scripts/check-hermetic.sh

if [[ "${QRESCUE_QUICK:-}" == 1 ]]; then
    summary
    echo "QRESCUE_QUICK=1: the cross-architecture, VM and QPKG stages were not run"
    exit 0
fi

echo "== static release binaries (scripts/build-release.sh)"
bash scripts/build-release.sh
echo "== integration tests on every arch under qemu-user (scripts/cross-test.sh)"
bash scripts/cross-test.sh
echo "== watcher on a real kernel (scripts/vm-test.sh)"
bash scripts/vm-test.sh
echo "== power cuts on a real kernel: dm-log-writes replay, and its mutants caught (scripts/vm-powercut.sh)"
bash scripts/vm-powercut.sh
echo "== the NAS's disks in a PC: disks and --disk on md RAID-1 on a real kernel (scripts/vm-md-test.sh)"
bash scripts/vm-md-test.sh
echo "== man page and completions, QPKG packages (scripts/gen-docs.sh, build-qpkg.sh, tests/qpkg/run.sh)"
[[ -f tests/qpkg/run.sh ]] || {
    echo "scripts/test.sh: tests/qpkg/run.sh is missing" >&2
    exit 1
}
bash scripts/gen-docs.sh dist
bash scripts/build-qpkg.sh
bash tests/qpkg/run.sh
summary
echo "== all tests passed"
