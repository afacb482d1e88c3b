# shellcheck shell=bash
# Sourced by scripts/build-release.sh, scripts/cross-test.sh and scripts/build-qpkg.sh: the
# rows of cross/targets.tsv (tab-separated, comments and blank lines dropped) of the arches
# qrescue is built for (rust_target not "-"), only those whose QNAP arch is named when any are.
#   cross_rows [QNAP_ARCH...]
cross_rows() {
    local arch target rest a want
    while IFS=$'\t' read -r arch target rest; do
        [[ -z "$arch" || "$arch" == \#* || "$target" == - ]] && continue
        if (($# > 0)); then
            want=0
            for a in "$@"; do [[ "$a" == "$arch" ]] && want=1; done
            ((want)) || continue
        fi
        printf '%s\t%s\t%s\n' "$arch" "$target" "$rest"
    done <"$(dirname "${BASH_SOURCE[0]}")/targets.tsv"
}
