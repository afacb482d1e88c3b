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
tests=(--test engine_cli --test watch_cli --test engine_faults --test audit_info --test path_safety --test hostile_stores)
report=dist/cross-test.tsv
printf 'qnap_arch\trunner\tresult\tseconds\n' >"$report"
fail=0
# shellcheck source=cross/targets.sh
source cross/targets.sh
while IFS=$'\t' read -r arch _target _link qemu cpu ebytes _models; do
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
    if QRESCUE_BIN="$bin" QRESCUE_RUNNER="$runner" cargo test --locked "${tests[@]}"; then
        result=pass
    else
        result=FAIL
        fail=1
    fi
    printf '%s\t%s\t%s\t%s\n' "$arch" "${runner:-native}" "$result" "$(($(date +%s) - t0))" >>"$report"
done < <(cross_rows "$@")
column -t -s $'\t' "$report"
exit $fail
