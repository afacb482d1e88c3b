#!/usr/bin/env bash
# Mutation-testing campaign (cargo-mutants) over the credential engine's core modules, each
# against its fast suite. Not part of CI: it takes hours on 2 cores. Results and the
# equivalent mutants are in docs/reliability.md ("Mutation testing").
#
#   scripts/mutants.sh                    every module, in the order below
#   scripts/mutants.sh formats journal    only these modules
#   scripts/mutants.sh --list [MODULE..]  count the mutants per module, run nothing
#   scripts/mutants.sh --iterate MODULE   test again only what the last run of MODULE did
#                                         not catch (after adding tests that kill them)
#
# Modules: formats hash classify journal backup sys txn.
# Env: MUTANTS_TIMEOUT  per-mutant test timeout in seconds (default 120)
#      MUTANTS_OUT      where each module's mutants.out goes (default target/mutants/MODULE)
# Needs `cargo install --locked cargo-mutants` (figures in the docs are from 27.1.0).
#
# The fast suites: the unit tests (`cargo test --lib`) for every module; for the engine
# modules without unit tests of their own (backup, sys, txn) also the CLI tests through the
# binary (`engine_cli`) and the tests written to kill their mutants (`mutants_killed`, about
# 10 s: single strace injections and SIGSTOP-forced races). Never the strace sweeps (engine_faults,
# path_safety), the peer tests or the property tests: minutes per run, times hundreds of
# mutants.
#
# Each mutant is built and tested in a copy of the tree (cargo-mutants' default; the source
# tree is never modified), one at a time (-j 1) at the lowest priority: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(formats hash classify journal backup sys txn)
TIMEOUT="${MUTANTS_TIMEOUT:-120}"

files() {
    case "$1" in
        formats) echo 'src/formats/*.rs' ;;
        hash) echo 'src/hash/*.rs' ;;
        classify) echo 'src/watch/classify.rs' ;;
        journal) echo 'src/watch/journal.rs' ;;
        backup) echo 'src/backup/mod.rs' ;;
        sys) echo 'src/sys/*.rs' ;;
        txn) echo 'src/txn/*.rs' ;;
        *)
            echo "unknown module: $1 (one of: ${ALL[*]})" >&2
            exit 2
            ;;
    esac
}

# The suite as cargo-mutants arguments: `--cargo-arg` reaches both the build (`cargo test
# --no-run`) and the test run, so only these targets are built for each mutant.
suite() {
    local args=(--lib) skips=()
    case "$1" in
        backup | sys | txn)
            # Of the binary-driving tests (tests/cli/main.rs), the modules engine_cli (the
            # engine through the binary) and mutants_killed: every other module is skipped
            # (common holds no tests).
            args+=(--test cli)
            local keep=" common engine_cli mutants_killed " m
            while read -r m; do
                [[ "$keep" == *" $m "* ]] || skips+=(--skip "$m::")
            done < <(sed -n 's/^mod \([a-z_]*\);$/\1/p' tests/cli/main.rs)
            ;;
    esac
    printf -- '--cargo-arg=%s\n' "${args[@]}"
    # The tests that need strace or root are #[ignore = "needs …"] (plain `cargo test` is
    # hermetic); they are part of the suite.
    printf -- '%s\n' -- -- --include-ignored
    [[ ${#skips[@]} -eq 0 ]] || printf -- '%s\n' "${skips[@]}"
    # The hash test vectors are the only slow unit tests (thousands of rounds: 16 s of wall
    # time on a loaded machine, the other unit tests 0.4 s) and src/hash/ calls none of the
    # other modules, so they cannot catch their mutants: they run for hash only.
    if [[ "$1" != hash ]]; then
        printf -- '%s\n' --skip hash::
    fi
}

list=0 iterate=0
case "${1:-}" in
    --list) list=1 && shift ;;
    --iterate) iterate=1 && shift ;;
esac
modules=("$@")
[[ ${#modules[@]} -gt 0 ]] || modules=("${ALL[@]}")

for m in "${modules[@]}"; do
    glob="$(files "$m")"
    if [[ $list == 1 ]]; then
        printf '%-9s %4d mutants (%s)\n' "$m" "$(cargo mutants --list -f "$glob" | wc -l)" "$glob"
        continue
    fi
    out="${MUTANTS_OUT:-target/mutants}/$m"
    mkdir -p "$out"
    mapfile -t suite_args < <(suite "$m")
    echo "== $m: $glob against cargo test ${suite_args[*]#--cargo-arg=}"
    [[ $iterate == 1 ]] && suite_args=(--iterate "${suite_args[@]}")
    # Exit status 2/3 means missed/timed-out mutants: reported below, not a script failure.
    nice -n 19 cargo mutants -j 1 --timeout "$TIMEOUT" --copy-target true \
        --output "$out" -f "$glob" "${suite_args[@]}" || true
    for kind in caught missed timeout unviable; do
        printf '   %-8s %4d\n' "$kind" "$(wc -l <"$out/mutants.out/$kind.txt")"
    done
done
