#!/usr/bin/env bash
# Build the static release binaries for every QNAP CPU family listed in cross/targets.tsv,
# check that each is a static ELF for the right machine, and write
#   dist/qrescue-<version>-<qnap-arch>   (one per QNAP arch; arches sharing a CPU share bytes)
#   dist/SHA256SUMS, dist/sizes.tsv
# then print a size table.
#
# Installs what it needs itself (pinned): rustup targets, rust-src, and a Python venv with
# ziglang + cargo-zigbuild for the 32-bit ARM targets, whose std rustup does not ship for
# musl. std is built from rust-src for every target (`-Z build-std` through
# RUSTC_BOOTSTRAP=1, confined to this script; see docs/cross.md): rustup has no std for the
# 32-bit ARM musl targets, and without std's backtrace feature (a DWARF symbolizer that a
# panic=abort tool never uses) each binary is about 240 KB smaller.
#
# Usage: scripts/build-release.sh [QNAP_ARCH...]     (default: every arch in the table)
set -euo pipefail
cd "$(dirname "$0")/.."

ZIGLANG_VERSION=0.13.0
CARGO_ZIGBUILD_VERSION=0.19.8
VENV=.venv-zig

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Reproducible: the build time shadow-rs embeds is the last commit's time.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH
# No machine-specific paths in the binaries (panic locations name source files).
remap="--remap-path-prefix=$PWD=/qrescue --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
remap+=" --remap-path-prefix=$(rustc --print sysroot)=/rust"

# shellcheck source=cross/targets.sh
source cross/targets.sh
declare -a rows=()
# Each row: arch, target, link method, readelf's machine name (cross/targets.tsv).
while IFS=$'\t' read -r arch target link _qemu _cpu _ebytes _uname _alias _class _em elf_name _; do
    rows+=("$arch	$target	$link	$elf_name")
done < <(cross_rows "$@")
((${#rows[@]} > 0)) || {
    echo "build-release: no such arch in cross/targets.tsv: $*" >&2
    exit 2
}

rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
# std from source, without the backtrace symbolizer; panics still print their message.
build_std=(-Z "build-std=std,panic_abort" -Z "build-std-features=")
need_zig=0
for r in "${rows[@]}"; do
    IFS=$'\t' read -r _ target link _ <<<"$r"
    case $link in
    rustup | lld) rustup target list --installed | grep -qx "$target" || rustup target add "$target" ;;
    zig) need_zig=1 ;;
    esac
done
if ((need_zig)); then
    if ! "$VENV/bin/cargo-zigbuild" --version 2>/dev/null | grep -q "$CARGO_ZIGBUILD_VERSION" ||
        [[ "$("$VENV/bin/python" -m ziglang version 2>/dev/null)" != "$ZIGLANG_VERSION" ]]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    fi
fi

# Check that FILE is a static ELF executable for MACHINE (readelf's name for it).
check_static() {
    local file=$1 machine=$2
    local hdr
    hdr=$(readelf -hW "$file")
    grep -q "Machine:.*$machine" <<<"$hdr" || {
        echo "build-release: $file is not a $machine binary:" >&2
        grep Machine <<<"$hdr" >&2
        return 1
    }
    if readelf -lW "$file" | grep -q 'INTERP'; then
        echo "build-release: $file asks for a dynamic loader (not static)" >&2
        return 1
    fi
    if readelf -dW "$file" 2>/dev/null | grep -q '(NEEDED)'; then
        echo "build-release: $file needs shared libraries (not static)" >&2
        return 1
    fi
}

mkdir -p dist
declare -A built=()
start=$(date +%s)
for r in "${rows[@]}"; do
    IFS=$'\t' read -r arch target link elf_name <<<"$r"
    out=target/$target/release/qrescue
    if [[ -z "${built[$target]:-}" ]]; then
        echo "== $arch: $target ($link)" >&2
        t0=$(date +%s)
        case $link in
        rustup)
            RUSTC_BOOTSTRAP=1 RUSTFLAGS="$remap" \
                cargo build --locked --release --target "$target" "${build_std[@]}"
            ;;
        lld)
            env "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$target")_LINKER=rust-lld" RUSTFLAGS="$remap" \
                RUSTC_BOOTSTRAP=1 cargo build --locked --release --target "$target" "${build_std[@]}"
            ;;
        zig)
            # zig compiles musl for the link; tell it the CPU, or it assumes an ARM without
            # the `bx` instruction for armv5te.
            cpuflag=""
            [[ $target == armv5te-* ]] && cpuflag="-C link-arg=-mcpu=arm926ej_s"
            PATH="$PWD/$VENV/bin:$PATH" RUSTC_BOOTSTRAP=1 \
                RUSTFLAGS="-C link-self-contained=no $cpuflag $remap" \
                cargo zigbuild --locked --release --target "$target" "${build_std[@]}"
            ;;
        *)
            echo "build-release: unknown link method '$link' for $arch" >&2
            exit 2
            ;;
        esac
        built[$target]=$(($(date +%s) - t0))
    fi
    check_static "$out" "$elf_name"
    install -m 0755 "$out" "dist/qrescue-$version-$arch"
done
total=$(($(date +%s) - start))

(
    cd dist
    sha256sum qrescue-"$version"-* >SHA256SUMS
)
# Every arch of the table whose binary is in dist/ (built now or earlier: "-" seconds).
{
    printf 'qnap_arch\trust_target\tbytes\tbuild_seconds\n'
    while IFS=$'\t' read -r arch target _; do
        f="dist/qrescue-$version-$arch"
        [[ -f "$f" ]] || continue
        printf '%s\t%s\t%s\t%s\n' "$arch" "$target" "$(stat -c %s "$f")" "${built[$target]:--}"
    done < <(cross_rows)
} >dist/sizes.tsv

echo
printf '%-9s %-32s %10s %8s  %s\n' "arch" "target" "bytes" "KiB" "static"
for r in "${rows[@]}"; do
    IFS=$'\t' read -r arch target _ <<<"$r"
    f="dist/qrescue-$version-$arch"
    b=$(stat -c %s "$f")
    printf '%-9s %-32s %10d %8.1f  %s\n' "$arch" "$target" "$b" "$(awk -v b="$b" 'BEGIN{print b/1024}')" "yes"
done
echo "whole matrix built in ${total}s; checksums in dist/SHA256SUMS"
