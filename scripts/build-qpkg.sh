#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build qrescue's QNAP packages without QNAP's QDK:
#   dist/qrescue_<version>_<arch>.qpkg (+ .md5, .sha256) for every arch built in
#   cross/targets.tsv (x86_64 arm_64 arm-x41 arm-x31 arm-x19)
# from the static binaries dist/qrescue-<version>-<arch> (scripts/build-release.sh) and the
# package source in qpkg/. The .qpkg layout is QDK's (docs/qpkg-format.md); the output is
# reproducible: the same inputs and SOURCE_DATE_EPOCH give the same bytes.
#
# Needs bash, GNU tar (--sort), gzip, python3 (stdlib), git (for the default
# SOURCE_DATE_EPOCH): all on Debian 12.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The arches and their Rust targets, in the table's order.
# shellcheck source=../cross/targets.sh
source "$root/cross/targets.sh"
ALL_ARCHES=()
declare -A target_of=()
# shellcheck disable=SC2119 # every arch: no names to pass
while IFS=$'\t' read -r arch target _; do
	ALL_ARCHES+=("$arch")
	target_of[$arch]=$target
done < <(cross_rows)

usage() {
	cat <<EOF
Usage: scripts/build-qpkg.sh [options]

Builds qrescue_<version>_<arch>.qpkg for every arch whose binary exists.

  --dist DIR         where the binaries are (default: dist/)
  --out DIR          where the packages go (default: the --dist directory)
  --bin ARCH=PATH    binary for ARCH (default: DIST/qrescue-<version>-ARCH, else that of
                     an arch above it in cross/targets.tsv with the same Rust target:
                     arm-x31 falls back to the arm-x41 binary, the same ARMv7 build)
  --arch ARCH        build only ARCH (repeatable; default: ${ALL_ARCHES[*]})
  --require-all      fail unless every selected arch has a binary
  --man FILE         man page to ship (default: DIST/man/qrescue.8 if present, from scripts/gen-docs.sh)
  --completions FILE bash completion to ship (default: DIST/completions/qrescue.bash if present)
  -h, --help         this help

Environment: SOURCE_DATE_EPOCH (default: the time of the last git commit) sets every
timestamp inside the packages.
EOF
}

die() {
	echo "build-qpkg: $*" >&2
	exit 1
}

is_arch() {
	local a
	for a in "${ALL_ARCHES[@]}"; do
		[[ $1 == "$a" ]] && return 0
	done
	return 1
}

src=$root/qpkg
tool=$src/format/qpkgtool.py
dist=$root/dist
out=
require_all=0
man_page=
completions=
arches=()
declare -A bin_for=()

while (($#)); do
	case $1 in
	--dist | --out | --bin | --arch | --man | --completions)
		(($# >= 2)) || die "$1 needs a value"
		opt=$1 val=$2
		shift 2
		;;
	--*=*)
		opt=${1%%=*} val=${1#*=}
		shift
		;;
	--require-all)
		require_all=1
		shift
		continue
		;;
	-h | --help)
		usage
		exit 0
		;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
	case $opt in
	--dist) dist=$val ;;
	--out) out=$val ;;
	--bin)
		[[ $val == *=* ]] || die "--bin wants ARCH=PATH, not $val"
		is_arch "${val%%=*}" || die "--bin: unknown arch ${val%%=*} (known: ${ALL_ARCHES[*]})"
		bin_for[${val%%=*}]=${val#*=}
		;;
	--arch)
		is_arch "$val" || die "--arch: unknown arch $val (known: ${ALL_ARCHES[*]})"
		arches+=("$val")
		;;
	--man) man_page=$val ;;
	--completions) completions=$val ;;
	*) die "unknown option: $opt (see --help)" ;;
	esac
done
((${#arches[@]})) || arches=("${ALL_ARCHES[@]}")
out=${out:-$dist}

for cmd in tar gzip python3 md5sum sha256sum; do
	command -v "$cmd" >/dev/null || die "$cmd is required"
done
tar --sort=name --version >/dev/null 2>&1 || die "GNU tar >= 1.28 (--sort=name) is required"

# The version comes from Cargo.toml ([package] version); QTS keeps it in a 10-byte field.
version=$(awk -F'"' '/^\[/ { pkg = ($0 == "[package]") } pkg && /^version[ \t]*=/ { print $2; exit }' "$root/Cargo.toml")
[[ -n $version ]] || die "no [package] version in $root/Cargo.toml"
[[ $version =~ ^[A-Za-z0-9._+-]{1,10}$ ]] ||
	die "version '$version' does not fit a QPKG (at most 10 characters: letters, digits, . _ + -)"

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null) ||
		die "SOURCE_DATE_EPOCH is not set and $root is not a git checkout"
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be seconds since 1970, not '$SOURCE_DATE_EPOCH'"
export SOURCE_DATE_EPOCH TZ=UTC LC_ALL=C
umask 022

# Name and display name from the package source (ours: sourcing it is safe).
# shellcheck source=../qpkg/qpkg.cfg
name=$(. "$src/qpkg.cfg" && printf '%s' "$QPKG_NAME")
# shellcheck source=../qpkg/qpkg.cfg
display=$(. "$src/qpkg.cfg" && printf '%s' "${QPKG_DISPLAY_NAME:-$QPKG_NAME}")
[[ $name == qrescue ]] || die "qpkg/qpkg.cfg: QPKG_NAME must be qrescue, not '$name'"

[[ -n $man_page || ! -f $dist/man/qrescue.8 ]] || man_page=$dist/man/qrescue.8
[[ -n $completions || ! -f $dist/completions/qrescue.bash ]] || completions=$dist/completions/qrescue.bash
[[ -z $man_page || -f $man_page ]] || die "--man: no such file: $man_page"
[[ -z $completions || -f $completions ]] || die "--completions: no such file: $completions"

# same_build ARCH: the dist binary of an arch above ARCH in the table with the same Rust
# target (the same build), if there is one.
same_build() {
	local a
	for a in "${ALL_ARCHES[@]}"; do
		[[ $a == "$1" ]] && return 1
		if [[ ${target_of[$a]} == "${target_of[$1]}" && -f $dist/qrescue-$version-$a ]]; then
			printf '%s' "$dist/qrescue-$version-$a"
			return 0
		fi
	done
	return 1
}

# Which binary each arch gets.
declare -A chosen=()
missing=()
for arch in "${arches[@]}"; do
	if [[ -n ${bin_for[$arch]:-} ]]; then
		[[ -f ${bin_for[$arch]} ]] || die "--bin $arch: no such file: ${bin_for[$arch]}"
		chosen[$arch]=${bin_for[$arch]}
	elif [[ -f $dist/qrescue-$version-$arch ]]; then
		chosen[$arch]=$dist/qrescue-$version-$arch
	elif same=$(same_build "$arch"); then
		chosen[$arch]=$same
	else
		missing+=("$arch")
	fi
done
if ((${#missing[@]})); then
	for arch in "${missing[@]}"; do
		echo "build-qpkg: no binary for $arch (looked for $dist/qrescue-$version-$arch; use --bin $arch=PATH)" >&2
	done
	((require_all == 0)) || die "--require-all: missing binaries for: ${missing[*]}"
fi
((${#chosen[@]})) || die "no binaries found: nothing to build (run scripts/build-release.sh first)"

work=$(mktemp -d "${TMPDIR:-/tmp}/build-qpkg.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# tar_dir DIR: a reproducible tar of DIR's contents, members named ./... like QDK's.
tar_dir() {
	tar --format=gnu --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
		-C "$1" -cf - .
}

# normalize_modes DIR: directories and executables 0755, other files 0644; no symlinks.
normalize_modes() {
	if [[ -n $(find "$1" -type l -print -quit) ]]; then
		die "symlinks are not supported in the package payload: $(find "$1" -type l | head -n 3)"
	fi
	find "$1" -type d -exec chmod 0755 {} +
	find "$1" -type f -perm /0111 -exec chmod 0755 {} +
	find "$1" -type f ! -perm /0111 -exec chmod 0644 {} +
}

python3 "$tool" icons "$work/icons" "$name"

build_one() {
	local arch=$1 bin=$2
	local w=$work/$arch
	local pkg=$out/${name}_${version}_${arch}.qpkg
	python3 "$tool" elfcheck "$arch" "$bin"
	mkdir -p "$w/data" "$w/control" "$w/outer"

	# Data archive: the package directory. QDK's order: shared/, then <arch>/ (wins),
	# then the icons under the names the installer looks for.
	cp -R "$src/shared/." "$w/data/"
	if [[ -d $src/$arch ]]; then
		cp -R "$src/$arch/." "$w/data/"
	fi
	cp "$bin" "$w/data/qrescue"
	cp "$work/icons/$name.gif" "$w/data/.qpkg_icon.gif"
	cp "$work/icons/${name}_80.gif" "$w/data/.qpkg_icon_80.gif"
	cp "$work/icons/${name}_gray.gif" "$w/data/.qpkg_icon_gray.gif"
	if [[ -n $man_page ]]; then
		mkdir -p "$w/data/share/man/man8"
		cp "$man_page" "$w/data/share/man/man8/qrescue.8"
	fi
	if [[ -n $completions ]]; then
		mkdir -p "$w/data/share/bash-completion/completions"
		cp "$completions" "$w/data/share/bash-completion/completions/qrescue"
	fi
	normalize_modes "$w/data"
	chmod 0755 "$w/data/qrescue" "$w/data/qrescue.sh"
	chmod 0644 "$w/data/share/man/man8/qrescue.8" "$w/data/share/bash-completion/completions/qrescue" 2>/dev/null || :

	# Control archive: what the header extracts first and the installer needs.
	sed "s/@VERSION@/$version/g" "$src/qpkg.cfg" >"$w/control/qpkg.cfg"
	printf '\n# Added by scripts/build-qpkg.sh: the CPU family this package is for.\nQPKG_ARCH="%s"\n' \
		"$arch" >>"$w/control/qpkg.cfg"
	if grep -q '@[A-Z_]*@' "$w/control/qpkg.cfg"; then
		die "qpkg/qpkg.cfg: placeholder left after substitution: $(grep -o '@[A-Z_]*@' "$w/control/qpkg.cfg" | head -n 1)"
	fi
	cp "$src/package_routines" "$w/control/package_routines"
	cp "$src/format/qinstall.sh" "$w/control/qinstall.sh"
	printf 'time = %s\n' "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d)" >"$w/control/built_info"
	normalize_modes "$w/control"
	chmod 0644 "$w/control/qpkg.cfg" "$w/control/package_routines" "$w/control/built_info"
	chmod 0755 "$w/control/qinstall.sh"

	tar_dir "$w/data" | gzip -9 -n >"$w/data.tar.gz"
	tar_dir "$w/control" | gzip -9 -n >"$w/outer/control.tar.gz"
	# QDK wraps control.tar.gz in a plain tar: the header's "tar -xO" then stops by itself
	# at the end of that archive, without knowing its length.
	tar --format=gnu --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
		-C "$w/outer" -cf "$w/control.tar" control.tar.gz

	local layout
	layout=$(python3 "$tool" assemble --header "$src/format/header.sh.in" \
		--control "$w/control.tar" --data "$w/data.tar.gz" --name "$name" \
		--display-name "$display" --version "$version" --arch "$arch" --out "$pkg")
	(cd "$out" && md5sum "${pkg##*/}" >"${pkg##*/}.md5" && sha256sum "${pkg##*/}" >"${pkg##*/}.sha256")
	printf 'built %s  (%s; from %s)\n' "$pkg" "$layout" "$bin"
}

for arch in "${arches[@]}"; do
	[[ -n ${chosen[$arch]:-} ]] || continue
	build_one "$arch" "${chosen[$arch]}"
done
