#!/usr/bin/env bash
# Power cuts on a real kernel: Debian's kernel under qemu (TCG) runs `passwd`, `restore` and a
# journalled `watch --replay` on ext3/ext4 (and ext2) file systems that sit on the kernel's
# dm-log-writes target, which logs every write, flush and FUA to a second disk. The guest
# marks the log when each operation starts and once it reported success (and after each
# journal record the watcher reported). After the guest powers off, scripts/powercut_check.py
# replays each log onto a copy of its base image up to every FLUSH, FUA and mark (each a state
# a power cut can leave), recovers it (e2fsck replays the journal, `qrescue status` rolls back
# an interrupted change) and checks the promises: old-or-new stores before success, new after,
# intact backups, every reported journal record kept.
#
# The same run proves the check can fail: mutants built from a patched copy of the source must
# be caught —
#   nodirsync-atomic  no directory fsync after the rename in src/sys/atomic.rs;
#   nodirsync-all     no directory fsync after any rename (atomic.rs, and sys::dir::Dir::sync:
#                     the intent record, the backup sets, the journal's rotation, watch state);
#   misordered        the journal's fdatasync moved before its write (src/watch/journal.rs).
#
#   scripts/vm-powercut.sh     the release binary on ext3 (data=ordered; one file system, and
#                              /etc apart from /mnt/HDA_ROOT) and ext4, and the three mutants
#   POWERCUT_ALL=1             also the observed-only cases (ext2; nodirsync-atomic on one ext3)
#   POWERCUT_KEEP=1            keep the images, logs and console (the path is printed)
#
# Needs (installed by .ci/run): qemu-system-x86 linux-image-amd64 busybox-static cpio kmod
# dmsetup e2fsprogs python3 util-linux (unshare). Results: docs/reliability.md, "Power cuts".
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
# shellcheck source=scripts/vm-lib.sh
. scripts/vm-lib.sh
vm_qrescue
bin=$VM_QRESCUE

# --- Mutants: a copy of the source with one durability step broken, built apart -----------
mutdir=target/powercut
mutant() { # NAME: copy the sources, patch them (python3 below), build, print the binary
    local name=$1 src=$mutdir/src-$1
    rm -rf "$src"
    mkdir -p "$src"
    # -p keeps mtimes, so only the patched crate is rebuilt.
    # (cross/: the arch table the crate compiles in)
    cp -rp Cargo.toml Cargo.lock build.rs src benches examples cross "$src/"
    # (errexit does not reach into the $(mutant …) below: every step checks its own status,
    # so a patch that no longer applies or a mutant that does not build stops the run)
    python3 - "$name" "$src" <<'PY' >&2 || return 1
import sys
name, src = sys.argv[1], sys.argv[2]
ok = "Ok::<(), nix::errno::Errno>(())"
edits = {
    "nodirsync-atomic": [("src/sys/atomic.rs", "fsync(&self.res.dir)", ok, 1)],
    # Every other directory fsync (intent record, backup sets, journal rotation, watch
    # state) is sys::dir::Dir::sync.
    "nodirsync-all": [
        ("src/sys/atomic.rs", "fsync(&self.res.dir)", ok, 1),
        ("src/sys/dir.rs", "    pub fn sync(&self) -> Result<(), Errno> {\n        fsync(&self.fd)",
         "    pub fn sync(&self) -> Result<(), Errno> {\n        " + ok, 1),
    ],
    "misordered": [("src/watch/journal.rs",
        """        self.file
            .write_all(line.as_bytes())
            .map_err(|e| self.err(e))?;
        self.file.sync_data().map_err(|e| self.err(e))?;
""",
        """        self.file.sync_data().map_err(|e| self.err(e))?;
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| self.err(e))?;
""", 1)],
}[name]
for path, old, new, count in edits:
    p = f"{src}/{path}"
    text = open(p).read()
    if text.count(old) != count:
        sys.exit(f"mutant {name}: {path} has {text.count(old)} of {old!r}, expected {count}")
    open(p, "w").write(text.replace(old, new))
    print(f"vm-powercut: mutant {name}: {path}: {count} x {old.strip().splitlines()[-1]!r}")
PY
    # The dev profile builds fast; the syscalls made are the same as in a release build.
    CARGO_TARGET_DIR=$mutdir/target cargo build --locked --quiet --target $target --bin qrescue \
        --manifest-path "$src/Cargo.toml" >&2 || {
        echo "vm-powercut: mutant $name does not build" >&2
        return 1
    }
    cp "$mutdir/target/$target/debug/qrescue" "$mutdir/qrescue-$name" || return 1
    realpath "$mutdir/qrescue-$name"
}
declare -A bins=([good]=$bin)
for m in nodirsync-atomic nodirsync-all misordered; do
    bins[$m]=$(mutant $m) || exit 1
done

# --- Cases: NAME FSTYPE LAYOUT MOUNT-OPTIONS BINARY EXPECT -----------------------------------
# EXPECT: pass (no failing state), fail=SYMPTOM (a mutant: some state fails with SYMPTOM:
# not-new = a store not the new version once success was reported; unkept-record = a
# journal record reported written is missing), any (observed only).
# single: the whole QTS 4 root on one file system; split: /etc on one, /mnt/HDA_ROOT (the
# persistent .config with qrescue's state directory) on another, as on a QTS box, both on
# one logged device (two dm-linear halves), so one log orders every write.
# commit=600: the journal is committed only when something asks for it (an fsync), never by
# the 5 s timer in the middle of a run, so what is durable at a mark is what qrescue made so.
o3=data=ordered,commit=600
cases=(
    "good-ext3 ext3 single $o3 good pass"
    "good-ext3-split ext3 split $o3 good pass"
    "good-ext4 ext4 single commit=600 good pass"
    "nodirsync-atomic-split ext3 split $o3 nodirsync-atomic fail=not-new"
    "nodirsync-all-ext3 ext3 single $o3 nodirsync-all fail=not-new"
    "misordered-ext3 ext3 single $o3 misordered fail=unkept-record"
)
# POWERCUT_ALL=1: also what is observed but not required (docs/reliability.md says why).
if [[ ${POWERCUT_ALL:-} == 1 ]]; then
    cases+=(
        "good-ext2 ext2 single defaults good any"
        "nodirsync-atomic-ext3 ext3 single $o3 nodirsync-atomic any"
    )
fi

vm_kernel
work=$(mktemp -d)
# POWERCUT_KEEP=1 keeps the images, logs and console for a look (the path is printed).
if [[ ${POWERCUT_KEEP:-} == 1 ]]; then
    echo "vm-powercut: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
python3 scripts/powercut_check.py prepare "$work"
ir=$work/initrd
vm_root "$ir"
vm_modules "$ir" virtio_pci virtio_blk dm-mod dm-log-writes ext4 crc32c_generic
vm_exe "$ir" "$(command -v dmsetup)"
cp "$work/capture.bin" "$ir/capture.bin"
drives=()
specs=()
specs_any=()
: >"$ir/cases"
letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)
i=0
for c in "${cases[@]}"; do
    read -r name fs layout opts which expect <<<"$c"
    cp "${bins[$which]}" "$ir/bin/qrescue-$which"
    cp "$work/base-$layout-$fs.img" "$work/$name.img"
    truncate -s 96M "$work/$name.log"
    drives+=(-drive "file=$work/$name.img,format=raw,if=virtio"
        -drive "file=$work/$name.log,format=raw,if=virtio")
    echo "$name $fs $layout $opts qrescue-$which vd${letters[i]} vd${letters[i + 1]}" >>"$ir/cases"
    spec=$name:$fs:$layout:${bins[$which]}
    if [[ $expect == any ]]; then specs_any+=("$spec:pass"); else specs+=("$spec:$expect"); fi
    i=$((i + 2))
done
cat >"$ir/init" <<'EOF'
#!/bin/sh
. /lib/vm-init.sh
dmesg -n 1
vm_load_modules
echo "VMTEST: kernel $(uname -r)"
export DM_DISABLE_UDEV=1
mkdir -p /data
view() { # CASE OP: every regular file as this system sees it (its page cache)
    (cd /data && find . -type f | sort | while read -r f; do
        echo "PC $1 VIEW $2 $(stat -c %a "$f") $(sha256sum <"$f" | cut -d' ' -f1) ${f#./}"
    done)
}
while read -r name fs layout opts bin data log; do
    dm=pc-$name
    size=$(blockdev --getsz "/dev/$data")
    if ! dmsetup create "$dm" --table "0 $size log-writes /dev/$data /dev/$log"; then
        echo "PC $name ERROR dmsetup create"
        continue
    fi
    mark() { dmsetup message "$dm" 0 mark "$1"; }
    if [ "$layout" = split ]; then
        half=$((size / 2))
        dmsetup create "$dm-a" --table "0 $half linear /dev/mapper/$dm 0"
        dmsetup create "$dm-b" --table "0 $half linear /dev/mapper/$dm $half"
        mount -t "$fs" -o "$opts" "/dev/mapper/$dm-a" /data || echo "PC $name ERROR mount"
        mount -t "$fs" -o "$opts" "/dev/mapper/$dm-b" /data/mnt/HDA_ROOT ||
            echo "PC $name ERROR mount"
    else
        mount -t "$fs" -o "$opts" "/dev/mapper/$dm" /data || echo "PC $name ERROR mount"
    fi
    mark mounted
    view "$name" base
    mark op1-start
    echo "power-cut-1" | $bin --root /data passwd admin --password-stdin >/tmp/out 2>&1
    rc=$?
    echo "PC $name RC op1 $rc"
    [ $rc = 0 ] && mark op1-done
    view "$name" op1
    id=$(ls /data/mnt/HDA_ROOT/.config/qrescue/backups)
    mark op2-start
    $bin --root /data restore "$id" >>/tmp/out 2>&1
    rc=$?
    echo "PC $name RC op2 $rc"
    [ $rc = 0 ] && mark op2-done
    view "$name" op2
    mark op3-start
    # Each journal record is logged (stderr) only after its write and fdatasync: mark then.
    { $bin --root /data watch --replay /capture.bin --foreground --journal-max-bytes 1536 \
        --journal /data/mnt/HDA_ROOT/.config/qrescue/button.jsonl 2>&1
      echo "watch-exit $?"; } | {
        k=0
        while read -r line; do
            case $line in
            *"reset button held"* | *"reset button released"* | *"reset button was down"*)
                k=$((k + 1))
                mark "op3-rec$k"
                ;;
            "watch-exit "*)
                echo "PC $name RC op3 ${line#watch-exit }"
                [ "$line" = "watch-exit 0" ] && mark op3-done
                ;;
            esac
        done
    }
    view "$name" op3
    for f in button.jsonl.1 button.jsonl; do
        p=/data/mnt/HDA_ROOT/.config/qrescue/$f
        [ -f "$p" ] || continue
        while read -r line; do echo "PC $name JOURNAL $f $line"; done <"$p"
    done
    cat /tmp/out
    echo "PC $name STATUS $(dmsetup status "$dm")"
    if [ "$layout" = split ]; then
        umount /data/mnt/HDA_ROOT
        umount /data
        dmsetup remove "$dm-b"
        dmsetup remove "$dm-a"
    else
        umount /data
    fi
    dmsetup remove "$dm"
    echo "PC $name END"
done </cases
poweroff -f
EOF
chmod +x "$ir/init"
vm_initrd "$ir" "$work/initrd.gz"

echo "vm-powercut: booting $VM_KERNEL with ${#cases[@]} cases (TCG)"
t0=$(date +%s)
vm_boot "$work/initrd.gz" "$work/console.log" 900 "${drives[@]}"
echo "vm-powercut: guest ran $(($(date +%s) - t0)) s"
mkdir -p dist
cp "$work/console.log" dist/vm-powercut-console.log
t0=$(date +%s)
status=0
python3 scripts/powercut_check.py check "$work" "$work/console.log" "${specs[@]}" || status=$?
if ((${#specs_any[@]})); then
    echo "vm-powercut: observed, not required (docs/reliability.md says why):"
    python3 scripts/powercut_check.py check "$work" "$work/console.log" "${specs_any[@]}" || true
fi
echo "vm-powercut: checks ran $(($(date +%s) - t0)) s"
exit $status
