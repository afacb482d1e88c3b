#!/usr/bin/env bash
# The layering rule of issue 12: src/sys/ is the only module that talks to the kernel.
#
# Fails, naming file:line, when any file under src/ outside src/sys/ has
#   - a `nix::` or `libc::` path, or `use nix` / `use libc` / `extern crate nix|libc`;
#   - `unsafe` code: an `unsafe` block, fn, impl, trait or extern block, or `#[unsafe(...)]`;
# and when a top-level module declared in src/lib.rs (other than `sys`) is not declared
# `#[forbid(unsafe_code)]`, or src/main.rs lacks `#![forbid(unsafe_code)]`.
#
# What counts: Rust source text with `//` comments removed (doc comments included), so prose
# that mentions unsafe or nix is fine; string literals are not parsed (a string holding
# "unsafe {" is reported: reword it). `unix::` (std::os::unix) is not `nix::`. examples/,
# tests/ and benches/ are not checked: they may use what they need.
#
# Usage: scripts/check-layers.sh [REPO_DIR]   (default: the repository holding this script)
set -euo pipefail

repo="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$repo"

fail=0
report() {
    echo "check-layers: $1" >&2
    fail=1
}

kernel='(^|[^A-Za-z0-9_])(nix|libc)::|^[[:space:]]*(pub[[:space:]]+)?use[[:space:]]+(nix|libc)([[:space:]]|;|$)|extern[[:space:]]+crate[[:space:]]+(nix|libc)'
unsafe_code='(^|[^A-Za-z0-9_])unsafe[[:space:]]*(\{|fn([^A-Za-z0-9_]|$)|impl([^A-Za-z0-9_]|$)|trait([^A-Za-z0-9_]|$)|extern([^A-Za-z0-9_]|$)|$)|#!?\[unsafe\('

while IFS= read -r -d '' file; do
    # Strip `//` comments, keep line numbers.
    while IFS=: read -r line text; do
        report "$file:$line: the kernel is reached only through src/sys/ (nix/libc here): $text"
    done < <(sed -e 's#//.*$##' "$file" | grep -nE "$kernel" || true)
    while IFS=: read -r line text; do
        report "$file:$line: unsafe code belongs in src/sys/ behind a safe wrapper: $text"
    done < <(sed -e 's#//.*$##' "$file" | grep -nE "$unsafe_code" || true)
done < <(find src -name '*.rs' -not -path 'src/sys/*' -print0 | sort -z)

# Every top-level module but sys is fenced in lib.rs; main.rs fences itself.
prev=''
lineno=0
while IFS= read -r text; do
    lineno=$((lineno + 1))
    if [[ "$text" =~ ^[[:space:]]*(pub[[:space:]]+)?mod[[:space:]]+([a-z_0-9]+)[[:space:]]*\; ]]; then
        name="${BASH_REMATCH[2]}"
        if [[ "$name" != sys && "$prev" != *'forbid(unsafe_code)'* && "$text" != *'forbid(unsafe_code)'* ]]; then
            report "src/lib.rs:$lineno: module $name must be declared #[forbid(unsafe_code)]"
        fi
    fi
    prev="$text"
done < src/lib.rs
if ! grep -q '^#!\[forbid(unsafe_code)\]' src/main.rs; then
    report "src/main.rs:1: #![forbid(unsafe_code)] is missing"
fi

if [[ "$fail" != 0 ]]; then
    echo "check-layers: FAILED (see docs in scripts/check-layers.sh)" >&2
    exit 1
fi
echo "check-layers: ok (nix, libc and unsafe only under src/sys/)"
