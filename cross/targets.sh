# shellcheck shell=bash
# Sourced by scripts/build-release.sh and scripts/cross-test.sh: the rows of
# cross/targets.tsv (tab-separated, comments and blank lines dropped), only those whose QNAP
# arch is named when any are.
#   cross_rows [QNAP_ARCH...]
cross_rows() {
    local arch rest a want
    while IFS=$'\t' read -r arch rest; do
        [[ -z "$arch" || "$arch" == \#* ]] && continue
        if (($# > 0)); then
            want=0
            for a in "$@"; do [[ "$a" == "$arch" ]] && want=1; done
            ((want)) || continue
        fi
        printf '%s\t%s\n' "$arch" "$rest"
    done <"$(dirname "${BASH_SOURCE[0]}")/targets.tsv"
}
