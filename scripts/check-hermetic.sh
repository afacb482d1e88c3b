#!/usr/bin/env bash
# Plain `cargo test` is hermetic: every test that is not `#[ignore = "needs …"]` passes as an
# unprivileged user (nobody) on a PATH without strace, Samba, PAM tools, busybox, openssl,
# python3, qemu, shadow-utils or mdadm. scripts/test.sh runs this after `cargo test
# --include-ignored` (which built the test binaries), so a new test that needs root or a tool
# and is not marked fails here instead of on a newcomer's laptop.
#
# The test binaries and qrescue are copied to a scratch directory nobody can read (the
# checkout may be under /root); the tests take the binary from QRESCUE_BIN.
# Needs root (to become nobody) and setpriv (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) == 0 ]] || {
    echo "check-hermetic: run as root (it runs the tests as nobody)" >&2
    exit 1
}
command -v setpriv >/dev/null || {
    echo "check-hermetic: setpriv not found (apt-get install util-linux)" >&2
    exit 1
}

# The tools the hermetic tests must not need.
hidden=' strace smbd nmbd smbclient pdbedit testparm net busybox openssl pamtester passwd chpasswd mdadm '

scratch=$(mktemp -d /tmp/qrescue-hermetic.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/bin" "$scratch/tests" "$scratch/home"
for dir in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
    for tool in "$dir"/*; do
        name=${tool##*/}
        case "$name" in python* | qemu-*) continue ;; esac
        [[ "$hidden" == *" $name "* || -e "$scratch/bin/$name" ]] && continue
        ln -s "$tool" "$scratch/bin/$name"
    done
done

# The test executables cargo built for --all-targets (it prints them; nothing is rebuilt).
mapfile -t built < <(cargo test --locked --all-targets --no-run 2>&1 |
    sed -n 's/^ *Executable .*(\(target\/[^)]*\))$/\1/p')
((${#built[@]} > 0)) || {
    echo "check-hermetic: cargo listed no test executables" >&2
    exit 1
}
cp "${built[@]}" "$scratch/tests/"
cp target/debug/qrescue "$scratch/bin/qrescue"
chmod -R a+rX "$scratch"
chown nobody "$scratch/home"

fail=0
for t in "$scratch"/tests/*; do
    name=${t##*/}
    if ! (cd "$scratch/home" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
        env -i PATH="$scratch/bin" HOME="$scratch/home" QRESCUE_BIN="$scratch/bin/qrescue" \
        "$t" >"$scratch/$name.log" 2>&1); then
        echo "check-hermetic: $name fails as nobody without the peer tools:" >&2
        grep -E '^test .* FAILED$|panicked' "$scratch/$name.log" | head -20 >&2
        fail=1
    fi
    echo "   $name: $(grep -E '^test result' "$scratch/$name.log" | tail -1)"
done
((fail == 0)) || exit 1
echo "check-hermetic: ok (plain cargo test passes as nobody without strace, Samba, PAM, busybox, openssl, python3, qemu)"
