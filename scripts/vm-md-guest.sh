#!/bin/sh
# The guest side of scripts/vm-md-test.sh (its /init): builds the QNAP-style disks, then
# drives qrescue through `disks` and `--disk`, checking with mdadm, e2fsck and mount.
# Prints VMTEST-OK/VMTEST-FAIL lines and VMTEST-DONE; powers off.
# shellcheck source=/dev/null
. /lib/vm-init.sh
vm_load_modules
mkdir -p /run/mdadm /etc /mnt/a /mnt/b /mnt/x
echo "VMTEST: kernel $(uname -r)"

ok() { echo "VMTEST-OK $*"; }
bad() { echo "VMTEST-FAIL $*"; }
check() { # check NAME COMMAND…: the command must succeed
    name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
# The admin hash in .config/shadow of a mounted partition.
hash_in() { sed -n 's/^admin:\([^:]*\):.*/\1/p' "$1/.config/shadow"; }
# The admin hash on one member alone: a read-only loop device, mounted without the journal.
member_hash() {
    lo=$(/bin/losetup -f)
    /bin/losetup -r "$lo" "$1"
    mount -t ext3 -o ro,noload "$lo" /mnt/b
    hash_in /mnt/b
    umount /mnt/b
    /bin/losetup -d "$lo"
}
md_hash() { # md_hash MEMBERS…: assemble read-only, print the hash, stop
    mdadm --assemble --run --readonly /dev/md50 "$@" >/dev/null 2>&1
    mount -t ext3 -o ro,noload /dev/md50 /mnt/b
    hash_in /mnt/b
    umount /mnt/b
    mdadm --stop /dev/md50 >/dev/null 2>&1
}
nothing_left() { # no md array, no qrescue mount, no loop device, no mount point
    left=""
    grep -q '^md' /proc/mdstat && left="$left md:$(grep '^md' /proc/mdstat | tr '\n' ' ')"
    grep -q 'vd\|/md\|loop' /proc/mounts && left="$left mount:$(grep 'vd\|/md\|loop' /proc/mounts)"
    for l in /sys/block/loop*/loop/backing_file; do
        [ -e "$l" ] && left="$left loop:$l"
    done
    for d in /tmp/qrescue-*; do
        [ -e "$d" ] && left="$left dir:$d"
    done
    if [ -n "$left" ]; then
        echo "VMTEST: left behind:$left"
        return 1
    fi
}
fsck_clean() { # fsck_clean MEMBERS…
    mdadm --assemble --run --readonly /dev/md50 "$@" >/dev/null 2>&1
    /bin/e2fsck -fn /dev/md50 >/tmp/fsck.log 2>&1
    rc=$?
    mdadm --stop /dev/md50 >/dev/null 2>&1
    [ $rc -eq 0 ] || cat /tmp/fsck.log
    return $rc
}
pw() { printf '%s\n' "$1"; }
q_pw() { # q_pw PASSWORD ARGS…: qrescue ARGS with the password on stdin
    p=$1
    shift
    pw "$p" | qrescue "$@"
}

# --- Build the disks as a QNAP does: GPT, partition 1 (~40 MiB) in an md RAID-1 with more
# slots than disks (QNAP shows [24/2]: missing slots are normal), ext3, .config at the top.
build() { # build MD METADATA DISK… 
    md=$1 meta=$2
    shift 2
    parts=""
    for d in "$@"; do
        printf 'label: gpt\n,40M\n,\n' | /bin/sfdisk -q "/dev/$d" >/dev/null
        parts="$parts /dev/${d}1"
    done
    # shellcheck disable=SC2086
    mdadm --create "/dev/$md" --run --assume-clean --metadata="$meta" --level=1 \
        --raid-devices=4 $parts missing missing >/dev/null 2>&1 || bad "mdadm --create $md"
    /bin/mke2fs -q -t ext3 -F "/dev/$md" >/dev/null
    mount -t ext3 "/dev/$md" /mnt/x
    cp -a /fixture/. /mnt/x/
    umount /mnt/x
    mdadm --stop "/dev/$md" >/dev/null 2>&1
}
build md9 1.0 vda vdb
build md8 0.90 vdc vdd
OLD=$(member_hash /dev/vda1)
echo "VMTEST: built; admin hash $(echo "$OLD" | cut -c1-10)..."
check "built-nothing-left" nothing_left

# --- disks: exactly the two QNAP arrays, with mdadm's own UUIDs.
qrescue disks >/tmp/disks.txt 2>&1
rc=$?
cat /tmp/disks.txt
check "disks-exit-0" [ $rc -eq 0 ]
u10=$(mdadm --examine /dev/vda1 | sed -n 's/.*Array UUID : //p')
u09=$(mdadm --examine /dev/vdc1 | sed -n 's/^ *UUID : \([0-9a-f:]*\).*/\1/p' | head -1)
check "disks-lists-1.0-uuid" grep -q "/dev/vda1 /dev/vdb1 (md array $u10, metadata 1.0, ext3)" /tmp/disks.txt
check "disks-lists-0.90-uuid" grep -q "/dev/vdc1 /dev/vdd1 (md array $u09, metadata 0.90, ext3)" /tmp/disks.txt
check "disks-2-of-2" [ "$(grep -c 'members present: 2 of 2' /tmp/disks.txt)" -eq 2 ]
check "disks-reads-box" grep -q 'model: *TS-X53D' /tmp/disks.txt
check "disks-server-firmware" grep -q 'firmware: *5.1.4 build 20231128' /tmp/disks.txt
check "disks-admin-changed" grep -q 'admin password last changed: 2022-01-08' /tmp/disks.txt
check "disks-not-vde" sh -c '! grep -q "^QNAP.*vde" /tmp/disks.txt'
check "disks-says-zfs" grep -q 'also found: /dev/vde2: a ZFS pool member (QuTS hero?): not supported yet' /tmp/disks.txt
qrescue --json disks >/tmp/disks.json 2>/dev/null
check "disks-json" [ "$(grep -c '"uuid"' /tmp/disks.json)" -eq 2 ]
check "disks-nothing-left" nothing_left

# --- Both members: status, passwd, verify.
qrescue --disk /dev/vda --disk /dev/vdb status >/tmp/out 2>&1
check "status-both" grep -q '.config/shadow' /tmp/out
cat /tmp/out
check "status-nothing-left" nothing_left
q_pw 'New-1 pass' --disk /dev/vda1 --disk /dev/vdb1 passwd admin --password-stdin 2>&1
check "passwd-both-exit" [ $? -eq 0 ]
check "passwd-both-nothing-left" nothing_left
q_pw 'New-1 pass' --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1
check "verify-both" [ $? -eq 0 ]
q_pw 'admin' --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1
check "verify-old-fails" [ $? -eq 1 ]
H1=$(md_hash /dev/vda1 /dev/vdb1)
check "fsck-after-passwd" fsck_clean /dev/vda1 /dev/vdb1
check "member-a-new" [ "$(member_hash /dev/vda1)" = "$H1" ]
check "member-b-new" [ "$(member_hash /dev/vdb1)" = "$H1" ]
check "hash-changed" [ "$H1" != "$OLD" ]

# --- One member (degraded): status and verify read-only, then passwd on vda1 alone.
sum_b=$(sha256sum </dev/vdb1)
qrescue --disk /dev/vdb1 status >/dev/null 2>&1
check "status-degraded" [ $? -eq 0 ]
q_pw 'New-1 pass' --disk /dev/vdb1 verify admin --password-stdin >/dev/null 2>&1
check "verify-degraded" [ $? -eq 0 ]
qrescue --disk /dev/vdb1 info >/tmp/out 2>&1
check "info-degraded" grep -q 'TS-X53D' /tmp/out
qrescue --disk /dev/vdb1 audit >/dev/null 2>&1
rc=$?
check "audit-degraded" [ $rc -le 1 ]
qrescue --disk /dev/vdb1 events >/dev/null 2>&1
check "events-degraded" [ $? -eq 0 ]
qrescue --disk /dev/vdb1 backups >/tmp/out 2>&1
check "backups-degraded" grep -q 'Z-' /tmp/out
check "vdb-byte-identical-after-reads" [ "$(sha256sum </dev/vdb1)" = "$sum_b" ]
check "vdb-untouched-by-reads" [ "$(member_hash /dev/vdb1)" = "$H1" ]
q_pw 'New-2 pass' --disk /dev/vda1 passwd admin --password-stdin 2>&1
check "passwd-degraded" [ $? -eq 0 ]
check "degraded-nothing-left" nothing_left
H2=$(member_hash /dev/vda1)
check "degraded-a-new" [ "$H2" != "$H1" ]
check "degraded-b-stale" [ "$(member_hash /dev/vdb1)" = "$H1" ]
# Reassembled with both, md takes the updated member and leaves the stale one out; added
# back, it is resynced from the updated one.
mdadm --assemble --run /dev/md50 /dev/vda1 /dev/vdb1 >/tmp/asm.log 2>&1
cat /tmp/asm.log
mount -t ext3 -o ro /dev/md50 /mnt/b
check "reassembly-takes-updated" [ "$(hash_in /mnt/b)" = "$H2" ]
umount /mnt/b
mdadm /dev/md50 --add /dev/vdb1 >/dev/null 2>&1 || mdadm /dev/md50 --re-add /dev/vdb1 >/dev/null 2>&1
n=0
while [ "$(cat /sys/block/md50/md/degraded)" != 2 ] && [ $n -lt 600 ]; do
    sleep 0.2
    n=$((n + 1))
done
cat /proc/mdstat
mdadm --stop /dev/md50 >/dev/null 2>&1
check "resynced-b-new" [ "$(member_hash /dev/vdb1)" = "$H2" ]
check "fsck-after-degraded" fsck_clean /dev/vda1 /dev/vdb1

# --- restore (both members): the first backup set holds the factory hash.
id=$(qrescue --disk /dev/vda --disk /dev/vdb backups 2>/dev/null | grep -o '^[0-9T]*Z-[0-9]*' | head -1)
echo "VMTEST: first backup $id"
qrescue --disk /dev/vda --disk /dev/vdb restore "$id" 2>&1
check "restore-exit" [ $? -eq 0 ]
check "restore-a-old" [ "$(member_hash /dev/vda1)" = "$OLD" ]
check "restore-b-old" [ "$(member_hash /dev/vdb1)" = "$OLD" ]
check "restore-nothing-left" nothing_left

# --- metadata 0.90 pair.
q_pw 'Old-fw pass' --disk /dev/vdc --disk /dev/vdd passwd admin --password-stdin 2>&1
check "passwd-0.90" [ $? -eq 0 ]
H9=$(member_hash /dev/vdc1)
check "0.90-members-agree" [ "$(member_hash /dev/vdd1)" = "$H9" ]
check "0.90-changed" [ "$H9" != "$OLD" ]
check "fsck-0.90" fsck_clean /dev/vdc1 /dev/vdd1
check "0.90-nothing-left" nothing_left

# --- SIGKILL during passwd, at several moments: the next run assembles and recovers; the
# hash is the old or the new one, never anything else.
cur="admin"
hits=0
for delay in 0.1 0.2 0.3 0.4 0.5; do
    before=$(member_hash /dev/vda1)
    (pw "Kill-$delay pass" | qrescue --disk /dev/vda --disk /dev/vdb passwd admin --password-stdin >/dev/null 2>&1) &
    sleep "$delay"
    # shellcheck disable=SC2046
    if kill -9 $(pidof qrescue) 2>/dev/null; then
        hits=$((hits + 1))
    else
        echo "VMTEST: nothing to kill after $delay s"
    fi
    wait
    sleep 0.5
    grep '^md' /proc/mdstat | sed 's/^/VMTEST: after SIGKILL: /'
    # A killed run leaves at most an empty mount point behind (rmdir removes only that).
    rmdir /tmp/qrescue-md-* 2>/dev/null
    if q_pw "Kill-$delay pass" --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1; then
        echo "VMTEST: SIGKILL after $delay s: the new password is in"
        cur="Kill-$delay pass"
    else
        echo "VMTEST: SIGKILL after $delay s: the old password is in"
    fi
    q_pw "$cur" --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1
    check "kill-$delay-old-or-new" [ $? -eq 0 ]
    q_pw "After-$delay pass" --disk /dev/vda --disk /dev/vdb passwd admin --password-stdin >/dev/null 2>&1
    check "kill-$delay-recovered" [ $? -eq 0 ]
    cur="After-$delay pass"
    grep '^md' /proc/mdstat | cut -d' ' -f1 | while read -r a; do
        mdadm --stop "/dev/$a" >/dev/null 2>&1
    done
    after=$(member_hash /dev/vda1)
    check "kill-$delay-members-agree" [ "$(member_hash /dev/vdb1)" = "$after" ]
    check "kill-$delay-changed" [ "$after" != "$before" ]
    check "kill-$delay-fsck" fsck_clean /dev/vda1 /dev/vdb1
done
check "kill-landed-$hits-times" [ $hits -ge 2 ]
# SIGTERM to qrescue (the parent) during passwd: the command is interrupted, and the array is
# still stopped and the mount point removed.
for delay in 0.05 0.2 0.3 0.4; do
    pw "Term-$delay pass" >/tmp/pw
    qrescue --disk /dev/vda --disk /dev/vdb passwd admin --password-stdin </tmp/pw >/tmp/out 2>&1 &
    sleep "$delay"
    kill -TERM $!
    wait $!
    echo "VMTEST: SIGTERM after $delay s: exit $?: $(tail -1 /tmp/out)"
    check "term-$delay-nothing-left" nothing_left
    if q_pw "Term-$delay pass" --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1; then
        cur="Term-$delay pass"
    fi
    if q_pw "$cur" --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1; then
        check "term-$delay-old-or-new" true
    else
        # The signal reached the child inside the change (it is passed on, as the message
        # says): every store is a complete file, but not all are changed yet, and `verify`
        # does not recover. The next run that locks completes or rolls it back, as after
        # SIGKILL above.
        echo "VMTEST: SIGTERM after $delay s landed inside the change"
        q_pw "After-term-$delay pass" --disk /dev/vda --disk /dev/vdb passwd admin --password-stdin >/dev/null 2>&1
        check "term-$delay-next-run-recovers" [ $? -eq 0 ]
        cur="After-term-$delay pass"
    fi
    grep '^md' /proc/mdstat | cut -d' ' -f1 | while read -r a; do
        mdadm --stop "/dev/$a" 2>&1 | sed 's/^/VMTEST: stopping a leftover: /'
    done
done
check "kill-nothing-left" nothing_left

# --- An array the PC already assembled, auto-read-only: switched for the write and back.
echo 1 >/sys/module/md_mod/parameters/start_ro
mdadm --assemble /dev/md9 /dev/vda1 /dev/vdb1 >/dev/null 2>&1
echo "VMTEST: md9 $(cat /sys/block/md9/md/array_state)"
check "auto-ro-state" grep -q 'read-auto' /sys/block/md9/md/array_state
q_pw 'Auto-ro pass' --disk /dev/vda passwd admin --password-stdin 2>&1
check "auto-ro-passwd" [ $? -eq 0 ]
check "auto-ro-still-there" [ -e /sys/block/md9/md/array_state ]
check "auto-ro-back-readonly" grep -q 'readonly\|read-auto' /sys/block/md9/md/array_state
q_pw 'Auto-ro pass' --disk /dev/vda --disk /dev/vdb verify admin --password-stdin >/dev/null 2>&1
check "auto-ro-verify" [ $? -eq 0 ]
# Mounted elsewhere: refused, saying where.
mount -t ext3 -o ro,noload /dev/md9 /mnt/x
q_pw 'Refused pass' --disk /dev/vda passwd admin --password-stdin >/tmp/out 2>&1
rc=$?
cat /tmp/out
check "mounted-refused-75" [ $rc -eq 75 ]
check "mounted-says-where" grep -q 'mounted at /mnt/x' /tmp/out
umount /mnt/x
mdadm --stop /dev/md9 >/dev/null 2>&1
echo 0 >/sys/module/md_mod/parameters/start_ro
check "auto-ro-hash" [ "$(member_hash /dev/vdb1)" = "$(member_hash /dev/vda1)" ]

# --- A filesystem that needs e2fsck: writes refused, reads work, nothing changed.
mdadm --assemble --run /dev/md50 /dev/vda1 /dev/vdb1 >/dev/null 2>&1
/bin/tune2fs -E force_fsck /dev/md50 >/dev/null 2>&1
mdadm --stop /dev/md50 >/dev/null 2>&1
before=$(member_hash /dev/vda1)
q_pw 'Fsck pass' --disk /dev/vda --disk /dev/vdb passwd admin --password-stdin >/tmp/out 2>&1
rc=$?
cat /tmp/out
check "needs-fsck-refused" [ $rc -eq 65 ]
check "needs-fsck-unchanged" [ "$(member_hash /dev/vda1)" = "$before" ]
qrescue --disk /dev/vda --disk /dev/vdb status >/dev/null 2>&1
check "needs-fsck-read-works" [ $? -eq 0 ]
check "needs-fsck-nothing-left" nothing_left
mdadm --assemble --run /dev/md50 /dev/vda1 /dev/vdb1 >/dev/null 2>&1
/bin/e2fsck -fy /dev/md50 >/dev/null 2>&1
mdadm --stop /dev/md50 >/dev/null 2>&1

# --- Not a QNAP disk; no mdadm.
qrescue --disk /dev/vde status >/tmp/out 2>&1
rc=$?
cat /tmp/out
check "vde-66" [ $rc -eq 66 ]
check "vde-one-line" [ "$(wc -l </tmp/out)" -eq 1 ]
q_pw 'x-Pa55word' --disk /dev/vde1 passwd admin --password-stdin >/dev/null 2>&1
check "vde1-passwd-66" [ $? -eq 66 ]
mv /bin/mdadm /bin/mdadm.off
qrescue --disk auto status >/tmp/out 2>&1
rc=$?
mv /bin/mdadm.off /bin/mdadm
cat /tmp/out
check "no-mdadm-69" [ $rc -eq 69 ]
check "no-mdadm-names-package" grep -q 'install the mdadm package' /tmp/out
qrescue --disk auto status >/tmp/out 2>&1
check "auto-two-arrays-refused" [ $? -eq 2 ]

# --- An array not shut down cleanly (a resync interrupted): writes refused, reads work,
# nothing changed. Re-created over the same members, the ext3 at offset 0 stays readable.
echo 1 >/proc/sys/dev/raid/speed_limit_min
echo 1 >/proc/sys/dev/raid/speed_limit_max
mdadm --create /dev/md60 --run --metadata=1.0 --level=1 --raid-devices=2 /dev/vdc1 /dev/vdd1 >/dev/null 2>&1
sleep 1
mdadm --stop /dev/md60 >/dev/null 2>&1
echo 1000 >/proc/sys/dev/raid/speed_limit_min
echo 200000 >/proc/sys/dev/raid/speed_limit_max
mdadm --examine /dev/vdc1 | grep -i 'resync\|state :' | sed 's/^/VMTEST: unclean: /'
sum_c=$(sha256sum </dev/vdc1)
sum_d=$(sha256sum </dev/vdd1)
q_pw 'Unclean pass' --disk /dev/vdc --disk /dev/vdd passwd admin --password-stdin >/tmp/out 2>&1
rc=$?
cat /tmp/out
check "unclean-refused" [ $rc -eq 2 ]
check "unclean-says-so" grep -q 'not shut down cleanly' /tmp/out
qrescue --disk /dev/vdc --disk /dev/vdd status >/dev/null 2>&1
check "unclean-read-works" [ $? -eq 0 ]
check "unclean-c-byte-identical" [ "$(sha256sum </dev/vdc1)" = "$sum_c" ]
check "unclean-d-byte-identical" [ "$(sha256sum </dev/vdd1)" = "$sum_d" ]
check "unclean-nothing-left" nothing_left

# --- Done when: with only the 1.0 pair left, `--disk auto passwd --password-stdin`.
mdadm --zero-superblock /dev/vdc1 /dev/vdd1
q_pw 'Final pass 1' --disk auto passwd admin --password-stdin 2>&1
check "auto-passwd" [ $? -eq 0 ]
check "auto-nothing-left" nothing_left
HF=$(member_hash /dev/vda1)
check "auto-members-agree" [ "$(member_hash /dev/vdb1)" = "$HF" ]
check "auto-fsck" fsck_clean /dev/vda1 /dev/vdb1
q_pw 'Final pass 1' --disk auto verify admin --password-stdin >/dev/null 2>&1
check "auto-verify" [ $? -eq 0 ]
# A PC with no QNAP disk left: one line, exit 66.
mdadm --zero-superblock /dev/vda1 /dev/vdb1
qrescue disks >/tmp/out 2>&1
rc=$?
cat /tmp/out
check "no-qnap-66" [ $rc -eq 66 ]
check "no-qnap-one-line" [ "$(wc -l </tmp/out)" -eq 1 ]
check "final-nothing-left" nothing_left
echo "VMTEST-DONE"
poweroff -f
