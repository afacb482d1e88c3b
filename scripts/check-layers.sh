#!/usr/bin/env bash
# The layering rules of issue 12: src/sys/ is the only module that talks to the kernel, and the
# modules form layers that import only downwards (so the module graph stays a DAG).
#
# Fails, naming file:line, when any file under src/ outside src/sys/ has
#   - a `nix::` or `libc::` path, or `use nix` / `use libc` / `extern crate nix|libc`;
#   - `unsafe` code: an `unsafe` block, fn, impl, trait or extern block, or `#[unsafe(...)]`;
# and when a top-level module declared in src/lib.rs (other than `sys`) is not declared
# `#[forbid(unsafe_code)]`, or src/main.rs lacks `#![forbid(unsafe_code)]`.
#
# Layers: the table between `<!-- layers:begin -->` and `<!-- layers:end -->` in
# docs/architecture.md (rows `| N | mod, mod |`, the lowest layer first) is the one place they
# are written. Every top-level module of src/lib.rs is in exactly one layer, and a `crate::X`
# path (in `use` or in code) in a file of module M must name a module X in a LOWER layer than
# M, or M itself (a module uses its own submodules). Equal layers may not import each other:
# that is what keeps cycles out. `crate::{…}` groups are refused (name one module a line).
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
    if [[ "$text" =~ ^[[:space:]]*(pub(\(crate\))?[[:space:]]+)?mod[[:space:]]+([a-z_0-9]+)[[:space:]]*\; ]]; then
        name="${BASH_REMATCH[3]}"
        if [[ "$name" != sys && "$prev" != *'forbid(unsafe_code)'* && "$text" != *'forbid(unsafe_code)'* ]]; then
            report "src/lib.rs:$lineno: module $name must be declared #[forbid(unsafe_code)]"
        fi
    fi
    prev="$text"
done < src/lib.rs
if ! grep -q '^#!\[forbid(unsafe_code)\]' src/main.rs; then
    report "src/main.rs:1: #![forbid(unsafe_code)] is missing"
fi

# The layer table, read from the architecture document.
doc=docs/architecture.md
declare -A layer_of=()
while IFS= read -r text; do
    if [[ "$text" =~ ^\|[[:space:]]*([0-9]+)[[:space:]]*\|([^|]*)\| ]]; then
        n="${BASH_REMATCH[1]}"
        IFS=', ' read -r -a mods <<<"${BASH_REMATCH[2]//\`/}"
        for m in "${mods[@]}"; do
            [[ -z "$m" ]] && continue
            if [[ -n "${layer_of[$m]:-}" ]]; then
                report "$doc: module $m is in two layers (${layer_of[$m]} and $n)"
            fi
            layer_of[$m]="$n"
        done
    fi
done < <(sed -n '/<!-- layers:begin -->/,/<!-- layers:end -->/p' "$doc")
if [[ "${#layer_of[@]}" == 0 ]]; then
    report "$doc: no layer table between <!-- layers:begin --> and <!-- layers:end -->"
fi
declared=()
while IFS= read -r name; do
    declared+=("$name")
    if [[ -z "${layer_of[$name]:-}" ]]; then
        report "src/lib.rs: module $name is in no layer of $doc"
    fi
done < <(sed -nE 's/^[[:space:]]*(pub(\(crate\))?[[:space:]]+)?mod[[:space:]]+([a-z_0-9]+)[[:space:]]*;.*/\3/p' src/lib.rs)
for m in "${!layer_of[@]}"; do
    if [[ " ${declared[*]} " != *" $m "* ]]; then
        report "$doc: layer table names $m, which src/lib.rs does not declare"
    fi
done

# Every crate:: path reaches its own module or a lower layer.
while IFS= read -r -d '' file; do
    rel="${file#src/}"
    own="${rel%%/*}"
    own="${own%.rs}"
    [[ "$own" == lib || "$own" == main ]] && continue
    mine="${layer_of[$own]:-}"
    [[ -z "$mine" ]] && continue
    while IFS=: read -r line text; do
        if [[ "$text" == *'crate::{'* ]]; then
            report "$file:$line: name one module a path (crate::X::…), not crate::{…}: $text"
            continue
        fi
        rest="$text"
        while [[ "$rest" =~ (^|[^A-Za-z0-9_:])crate::([a-z_0-9]+)(.*)$ ]]; do
            target="${BASH_REMATCH[2]}"
            rest="${BASH_REMATCH[3]}"
            [[ "$target" == "$own" ]] && continue
            theirs="${layer_of[$target]:-}"
            if [[ -z "$theirs" ]]; then
                report "$file:$line: crate::$target is in no layer of $doc"
            elif ((theirs >= mine)); then
                report "$file:$line: $own (layer $mine) may not use $target (layer $theirs): only lower layers (see $doc)"
            fi
        done
    done < <(sed -e 's#//.*$##' "$file" | grep -nE 'crate::' || true)
done < <(find src -name '*.rs' -print0 | sort -z)

if [[ "$fail" != 0 ]]; then
    echo "check-layers: FAILED (see docs in scripts/check-layers.sh)" >&2
    exit 1
fi
echo "check-layers: ok (nix, libc and unsafe only under src/sys/; ${#layer_of[@]} modules in layers, every crate:: path runs down)"
