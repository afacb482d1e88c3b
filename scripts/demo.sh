#!/usr/bin/env bash
# The main job on a PC: reset the admin password of a throwaway QTS-like root, showing
# `status` before and after, checking it with `verify`, and listing the backup it took.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "demo: cargo is missing: install Rust with rustup (README \"Prerequisites\")" >&2
    exit 69
fi
echo "== building the release binary (cargo build --release; about a minute the first time)"
cargo build --release --locked --quiet
bin=$PWD/target/release/qrescue
root=$(mktemp -d /tmp/qrescue-demo.XXXXXX)
cfg=$root/mnt/HDA_ROOT/.config

# A QTS 5-like layout: /etc/config -> /mnt/HDA_ROOT/.config (the system RAID, md9);
# /etc/passwd, /etc/shadow, /etc/group, /etc/smb.conf are symlinks into it.
mkdir -p "$root/etc" "$cfg"
printf '%s\n' 'admin:x:0:0:administrator:/share/homes/admin:/bin/sh' \
  'guest:x:65534:65534:guest:/tmp:/bin/sh' > "$cfg/passwd"
# shellcheck disable=SC2016  # literal crypt hashes, not expansions
printf '%s\n' 'admin:$1$$CoERg7ynjYLsj2j4glJ34.:14233:0:99999:7:::' \
  'guest:$1$$ysap7EeB9ODCrO46Psdbq/:14233:0:99999:7:::' > "$cfg/shadow"
printf '%s\n' 'administrators:x:0:admin' 'everyone:x:100:admin,guest' > "$cfg/group"
printf '%s\n' 'admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:209C6174DA490CAEB422F3FA5A7AE634:[U          ]:LCT-5A8D1F2B:' > "$cfg/smbpasswd"
printf '%s\n' '[global]' 'passdb backend = smbpasswd' 'smb passwd file = /etc/config/smbpasswd' > "$cfg/smb.conf"
chmod 600 "$cfg/shadow" "$cfg/smbpasswd"
ln -s /mnt/HDA_ROOT/.config "$root/etc/config"
for f in passwd shadow group smb.conf; do ln -s "/etc/config/$f" "$root/etc/$f"; done

echo "== throwaway QTS root: $root"
echo "== before"
"$bin" --root "$root" status
echo
echo "== qrescue audit (admin still has its factory password)"
"$bin" --root "$root" audit || echo "(exit $?: a high-severity finding, as expected)"
echo
echo "== qrescue passwd admin --random"
"$bin" --root "$root" passwd admin --random
echo
echo "== after"
"$bin" --root "$root" status
echo
echo "== the factory password 'admin' no longer works:"
printf 'admin\n' | "$bin" --root "$root" verify admin --password-stdin || echo "(exit $?: mismatch, as expected)"
echo
echo "== qrescue audit again"
"$bin" --root "$root" audit && echo "(exit 0: nothing high-severity left)"
echo
echo "== backups"
"$bin" --root "$root" backups
echo
echo "Undo with: $bin --root $root restore <id>   (remove the root with: rm -rf $root)"
