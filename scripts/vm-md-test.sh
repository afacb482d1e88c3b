#!/usr/bin/env bash
# The offline route on a real kernel: Debian's kernel under qemu (TCG) with virtio disks
# built the way a QNAP builds them (GPT; partition 1 a member of an md RAID-1 with metadata
# 1.0, or 0.90 on old firmware, holding ext3 with a QTS .config/), plus a non-QNAP disk,
# and the real mdadm, mke2fs, e2fsck and sfdisk in the initramfs. The guest runs
# `qrescue disks` and `--disk` (both members, one member, auto), then checks with md's own
# tools: nothing left assembled, mounted or looped, e2fsck clean, each member alone carries
# the new hash, a member updated while degraded wins on reassembly and resyncs the other,
# SIGKILL during passwd is recovered, an auto-read-only array is switched back, one mounted
# elsewhere is refused; the non-QNAP disk's image is byte-identical afterwards.
#
# Needs (installed by .ci/run): qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
# mdadm e2fsprogs fdisk openssl.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/vm-lib.sh
. scripts/vm-lib.sh
vm_qrescue
bin=$VM_QRESCUE
vm_kernel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ir=$work/root
vm_root "$ir"
cp "$bin" "$ir/bin/qrescue"
vm_modules "$ir" virtio_pci virtio_blk md-mod raid1 crc32c_generic ext4 loop
# Busybox has applets of some of these names: drop its links first, or copying the real
# program onto the link would overwrite busybox itself (the guest calls them as /bin/NAME,
# since busybox's shell prefers its own applets).
for exe in mdadm mke2fs e2fsck tune2fs sfdisk losetup; do
    rm -f "$ir/bin/$exe"
done
vm_exe "$ir" mdadm mke2fs e2fsck tune2fs sfdisk losetup
mkdir -p "$ir/etc"
cp /etc/mke2fs.conf "$ir/etc/"

# The QTS files the partitions get (admin's password is "admin", as from the factory).
fx=$ir/fixture/.config
mkdir -p "$fx" "$ir/fixture/.logs" "$ir/fixture/update_pkg"
admin_hash=$(openssl passwd -6 -salt qnapsalt admin)
cat >"$fx/passwd" <<'EOF'
admin:x:0:0:administrator:/share/homes/admin:/bin/sh
guest:x:65534:65534:guest:/share/homes/guest:/bin/sh
httpdusr:x:99:100:Apache httpd user:/tmp:/bin/sh
EOF
printf 'admin:%s:19000:0:99999:7:::\nguest:%s:14233:0:99999:7:::\nhttpdusr:!:14233:0:99999:7:::\n' \
    "$admin_hash" "$(openssl passwd -1 -salt '' guest)" >"$fx/shadow"
printf 'administrators:x:0:admin\neveryone:x:100:admin,guest\n' >"$fx/group"
printf 'admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:209C6174DA490CAEB422F3FA5A7AE634:[U          ]:LCT-5A8D1F2B:\n' >"$fx/smbpasswd"
printf '[global]\n   passdb backend = smbpasswd\n   smb passwd file=/etc/config/smbpasswd \n' >"$fx/smb.conf"
printf '[System]\nModel = TS-X53D\nVersion = 5.1.4\nBuild Number = 20231128\nServer Name = NAS-VM\n' >"$fx/uLinux.conf"
chmod 600 "$fx/shadow" "$fx/smbpasswd"

cp scripts/vm-md-guest.sh "$ir/init"
chmod +x "$ir/init"
vm_initrd "$ir" "$work/initrd.gz"

# Five 64 MiB disks: vda+vdb (metadata 1.0), vdc+vdd (0.90), vde (not QNAP: GPT + ext4).
for d in a b c d e; do truncate -s 64M "$work/disk-$d.img"; done
printf 'label: gpt\n,20M\n,20M\n' | sfdisk -q "$work/disk-e.img" >/dev/null
mke2fs -q -t ext4 -F -E offset=$((2048 * 512)) "$work/disk-e.img" 20M >/dev/null
# Partition 2 (at 21 MiB) carries a ZFS uberblock magic where a ZFS label has its uberblock
# ring (128 KiB in): a QuTS hero-like disk must be named, never guessed at.
printf '\x0c\xb1\xba\x00\x00\x00\x00\x00' |
    dd of="$work/disk-e.img" bs=1 seek=$((21 * 1024 * 1024 + 128 * 1024)) conv=notrunc status=none
before_e=$(sha256sum <"$work/disk-e.img")

drives=()
for d in a b c d e; do
    drives+=(-drive "file=$work/disk-$d.img,format=raw,if=virtio")
done
echo "vm-md-test: booting $VM_KERNEL with $(du -h "$work/initrd.gz" | cut -f1) initramfs and 5 disks (TCG)"
t0=$(date +%s)
vm_boot "$work/initrd.gz" "$work/console.log" 600 -smp 2 "${drives[@]}"
echo "vm-md-test: guest ran $(($(date +%s) - t0)) s"
mkdir -p dist
cp "$work/console.log" dist/vm-md-test-console.log

log=$work/console.log
grep -E '^(VMTEST|qrescue: (assembled|mounted|command|synced|stopped|switched))' "$log" || true
fail=0
if [[ $(sha256sum <"$work/disk-e.img") != "$before_e" ]]; then
    echo "vm-md-test: FAIL the non-QNAP disk's image changed"
    fail=1
fi
if ! grep -q '^VMTEST-DONE' "$log"; then
    echo "vm-md-test: FAIL the guest did not finish; console tail:"
    tail -40 "$log"
    fail=1
fi
if grep -q '^VMTEST-FAIL' "$log"; then
    fail=1
fi
oks=$(grep -c '^VMTEST-OK' "$log" || true)
if ((fail)); then
    echo "vm-md-test: FAIL ($oks checks passed; full console in dist/vm-md-test-console.log)"
    exit 1
fi
echo "vm-md-test: PASS ($oks checks on a real kernel)"
