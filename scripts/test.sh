#!/usr/bin/env bash
# The project's test command (README and .ci/run both call exactly this).
# Runs as root on Debian 12: some tests use mount namespaces, strace, chroot and qemu.
#
#   scripts/test.sh          everything: lint, unit and integration tests, the static
#                            release binaries for every QNAP arch and the same integration
#                            tests on each under qemu-user, the watcher and power cuts on
#                            a real kernel under qemu-system, and the QPKG build/install
#                            tests
#   QRESCUE_QUICK=1 scripts/test.sh    only lint + cargo test (a fast inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== shellcheck"
shellcheck -x scripts/*.sh cross/targets.sh .ci/run
echo "== cargo test"
cargo test --locked --all-targets

if [[ "${QRESCUE_QUICK:-}" == 1 ]]; then
    echo "QRESCUE_QUICK=1: skipping the cross-architecture, VM and QPKG tests"
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
if [[ -x tests/qpkg/run.sh ]]; then
    echo "== man page and completions, QPKG packages (scripts/gen-docs.sh, build-qpkg.sh, tests/qpkg/run.sh)"
    bash scripts/gen-docs.sh dist
    bash scripts/build-qpkg.sh
    bash tests/qpkg/run.sh
fi
echo "== all tests passed"
