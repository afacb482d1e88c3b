#!/usr/bin/env bash
# The project's test command (README and .ci/run both call exactly this).
# Runs as root: some tests use mount namespaces (read-only store) and strace.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked --all-targets
