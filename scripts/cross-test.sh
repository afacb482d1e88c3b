#!/usr/bin/env bash
# Run the CLI integration tests against each static release binary in dist/, under its own
# architecture's emulator (qemu-user) as listed in cross/targets.tsv. The test suite takes
# the binary from QRESCUE_BIN and the emulator prefix from QRESCUE_RUNNER.
#
# Usage: scripts/cross-test.sh [QNAP_ARCH...]   (default: every arch with a binary in dist/)
# Needs: scripts/build-release.sh first; apt package qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# The CLI suites run under each emulator: modules of the one binary-driving test binary
# (tests/cli/main.rs), picked by their module path.
tests=(--test cli)
suites=(engine_cli:: watch_cli:: engine_faults:: audit_info:: path_safety:: hostile_stores::)
# Tests that need the native binary (strace cannot inject into a qemu-user guest): not run
# here, and said so; each fails if it runs under an emulator (tests/common/skip.rs), so this
# list cannot silently fall behind.
NATIVE_ONLY=(
    error_injection_leaves_old_or_new_never_partial
    sigkill_at_every_write_fsync_rename_recovers
    specific_faults_exit_74_with_one_line
    no_file_syscall_names_a_path_outside_the_root
    sigkill_at_any_journal_write_or_fdatasync_leaves_a_readable_journal
    a_device_node_that_appears_is_tried_at_once
    a_device_node_in_place_of_the_journal_is_refused_unopened
)
skip_args=()
for t in "${NATIVE_ONLY[@]}"; do skip_args+=(--skip "$t"); done
report=dist/cross-test.tsv
printf 'qnap_arch\trunner\tresult\tseconds\tnot_run\n' >"$report"
fail=0
# shellcheck source=cross/targets.sh
source cross/targets.sh
while IFS=$'\t' read -r arch _target _link qemu cpu ebytes _rest; do
    bin="$PWD/dist/qrescue-$version-$arch"
    if [[ ! -x "$bin" ]]; then
        echo "cross-test: $bin missing (run scripts/build-release.sh)" >&2
        exit 2
    fi
    runner=""
    if [[ "$qemu" != "-" ]]; then
        command -v "$qemu" >/dev/null || {
            echo "cross-test: $qemu not found (apt-get install qemu-user)" >&2
            exit 2
        }
        runner="$qemu"
        [[ "$cpu" != "-" ]] && runner+=" -cpu $cpu"
    fi
    echo "== $arch: $bin ${runner:+under $runner}"
    # The binary reports its own input_event size; check it against the table.
    got=$($runner "$bin" --json version | sed -n 's/.*"input_event_bytes": *\([0-9]*\).*/\1/p')
    if [[ "$got" != "$ebytes" ]]; then
        echo "cross-test: $arch: input_event is $got bytes, cross/targets.tsv says $ebytes" >&2
        fail=1
    fi
    t0=$(date +%s)
    not_run=0
    if [[ -n "$runner" ]]; then
        not_run=${#NATIVE_ONLY[@]}
        for t in "${NATIVE_ONLY[@]}"; do echo "NOT RUN under $runner (needs the native binary): $t"; done
    fi
    run_skips=()
    [[ -n "$runner" ]] && run_skips=("${skip_args[@]}")
    if QRESCUE_BIN="$bin" QRESCUE_RUNNER="$runner" cargo test --locked "${tests[@]}" -- --include-ignored "${suites[@]}" "${run_skips[@]}"; then
        result=pass
    else
        result=FAIL
        fail=1
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$arch" "${runner:-native}" "$result" "$(($(date +%s) - t0))" "$not_run" >>"$report"
done < <(cross_rows "$@")
column -t -s $'\t' "$report"
exit $fail
