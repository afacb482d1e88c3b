#!/usr/bin/env bash
# Mutation-testing campaign (cargo-mutants) over the credential engine's core modules, each
# against its fast suite. Not part of CI: it takes hours on 2 cores. Results and the
# equivalent mutants are in docs/reliability.md ("Mutation testing").
#
#   scripts/mutants.sh                    every module, in the order below
#   scripts/mutants.sh formats journal    only these modules
#   scripts/mutants.sh --list [MODULE..]  count the mutants per module, run nothing
#   scripts/mutants.sh --iterate MODULE   test again only what the last run of MODULE did
#                                         not catch (after adding tests that kill them),
#                                         except `|` → `^`: on flags whose bits are disjoint
#                                         that is the same value (docs/reliability.md)
#
# Modules: formats hash classify journal backup txn, and src/sys/ in groups, each against
# the tests that reach it: sys (atomic, lock, root: the store writes), sys-engine (dir,
# regular, fs, proc: state files, journal, backups), sys-audit (xattr), sys-watch (dirwatch,
# event, signal, clock, term), sys-uapi (the GPIO and evdev ioctls: their unit tests and the
# kernel headers' oracle) and sys-offline (mountns, loopdev, supervise). src/sys/arm_kuser.rs is compiled only for ARMv5TE/ARMv4T and has no
# group: on the host every mutant of it would "pass" (see docs/reliability.md).
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

# Mutant builds without debug info: each one relinks the binary and the test binaries, and
# the links are most of a mutant's build time. The copy of the tree starts without target/
# (a from-scratch build takes under a minute; copying target/ takes as long).
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

ALL=(formats hash classify journal backup sys sys-engine sys-audit sys-watch sys-uapi sys-offline txn)
TIMEOUT="${MUTANTS_TIMEOUT:-120}"

files() {
    case "$1" in
        formats) echo 'src/formats/*.rs' ;;
        hash) echo 'src/hash/*.rs' ;;
        classify) echo 'src/watch/classify.rs' ;;
        journal) echo 'src/watch/journal.rs' ;;
        backup) echo 'src/backup/*.rs' ;;
        sys) echo 'src/sys/atomic.rs src/sys/lock.rs src/sys/root.rs' ;;
        sys-engine) echo 'src/sys/dir.rs src/sys/regular.rs src/sys/fs.rs src/sys/proc.rs src/sys/mod.rs' ;;
        sys-audit) echo 'src/sys/xattr.rs' ;;
        sys-watch) echo 'src/sys/dirwatch.rs src/sys/event.rs src/sys/signal.rs src/sys/clock.rs src/sys/term.rs' ;;
        sys-uapi) echo 'src/sys/gpio_uapi.rs src/sys/input.rs' ;;
        sys-offline) echo 'src/sys/mountns.rs src/sys/loopdev.rs src/sys/supervise.rs' ;;
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
    # Of the binary-driving tests (tests/cli/main.rs), the modules that reach the code under
    # test; every other module is skipped (common holds no tests).
    local keep=""
    case "$1" in
        # The engine through the binary (engine_cli), the tests written to kill mutants and
        # how every file is opened (open_flags).
        backup | sys) keep="engine_cli mutants_killed open_flags" ;;
        # txn also: the read-back and rollback forced with strace (durability_order) and the
        # recovery of hostile or damaged intent records (hostile_txn).
        txn) keep="engine_cli mutants_killed open_flags durability_order hostile_txn" ;;
        # Dir, regular-file opens, fs wrappers and /proc also carry the journal, the watch
        # state, leftovers and hostile roots.
        sys-engine) keep="engine_cli mutants_killed open_flags hostile_txn hostile_stores path_safety durability_order watch_cli store_watch" ;;
        # Extended attributes: audit reads ACLs; a replaced store keeps the old one's.
        sys-audit) keep="audit_info hostile_txn" ;;
        # inotify, signalfd, timerfd, the clocks and the terminal: the watcher, the password
        # prompt and the signal dispositions. (sys-uapi: the unit tests alone.)
        sys-watch) keep="watch_cli watch_poll store_watch qts_passwd signals" ;;
        # Mount namespaces, loop devices and the supervised child: the offline rescue.
        sys-offline) keep="offline_root" ;;
    esac
    case "$keep" in
        ?*)
            args+=(--test cli)
            keep=" common $keep "
            local m
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
    read -ra globs <<<"$(files "$m")"
    fargs=()
    for g in "${globs[@]}"; do fargs+=(-f "$g"); done
    glob="${globs[*]}"
    if [[ $list == 1 ]]; then
        printf '%-11s %4d mutants (%s)\n' "$m" "$(cargo mutants --list "${fargs[@]}" | wc -l)" "$glob"
        continue
    fi
    out="${MUTANTS_OUT:-target/mutants}/$m"
    mkdir -p "$out"
    mapfile -t suite_args < <(suite "$m")
    echo "== $m: $glob against cargo test ${suite_args[*]#--cargo-arg=}"
    [[ $iterate == 1 ]] && suite_args=(--iterate --exclude-re 'replace \| with \^' "${suite_args[@]}")
    # Exit status 2/3 means missed/timed-out mutants: reported below, not a script failure.
    nice -n 19 cargo mutants -j 1 --timeout "$TIMEOUT" --copy-target false \
        --output "$out" "${fargs[@]}" "${suite_args[@]}" || true
    for kind in caught missed timeout unviable; do
        printf '   %-8s %4d\n' "$kind" "$(wc -l <"$out/mutants.out/$kind.txt")"
    done
done
