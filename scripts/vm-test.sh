#!/usr/bin/env bash
# The reset-button watcher on a real Linux kernel: boot Debian's kernel under qemu (TCG,
# no KVM) with a busybox initramfs holding the static x86_64 qrescue and a virtual button
# (examples/uinput_button.rs, through the kernel's uinput module). The watcher starts
# before the device exists (so it must wait for it), then the button is held for 0.5 s,
# 3.5 s and 10.5 s; the journal must show one short, one basic-reset and one
# advanced-reset hold with those durations, and the threshold records. Then the same with a
# device named qnap8528 reporting BTN_2 (auto-detected), and the store watch must record a
# firmware-style reset made inside the guest as factory-default.
#
# Needs (installed by .ci/run): qemu-system-x86 linux-image-amd64 busybox-static cpio.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-unknown-linux-musl
# shellcheck source=scripts/vm-lib.sh
. scripts/vm-lib.sh
vm_qrescue uinput_button
bin=$VM_QRESCUE
button=target/$target/release/examples/uinput_button

vm_kernel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ir=$work/root
vm_root "$ir"
# /persist is a QTS-like root with credential stores (the store watch's ground).
mkdir -p "$ir/persist/etc/config"
printf 'admin:x:0:0:administrator:/share/homes/admin:/bin/sh\n' >"$ir/persist/etc/config/passwd"
# shellcheck disable=SC2016 # a crypt hash, not an expansion
printf 'admin:$6$qnapsalt$WkDga3ziBlGp0rWPPM4c1W1J7JPbiRhPvXFFlB/Btq/h9.3/27FegzCK1b9AyonSno/YPDIPMwrukoLRpuhc71:19000:0:99999:7:::\n' \
    >"$ir/persist/etc/config/shadow"
printf 'administrators:x:0:admin\n' >"$ir/persist/etc/config/group"
printf '[System]\nModel = TS-453D\n' >"$ir/persist/etc/config/uLinux.conf"
chmod 600 "$ir/persist/etc/config/shadow"
for f in passwd shadow group; do ln -s "/etc/config/$f" "$ir/persist/etc/$f"; done
cp "$bin" "$ir/bin/qrescue"
cp "$button" "$ir/bin/uinput_button"
# Debian builds evdev (the /dev/input/eventN nodes) and uinput as modules.
vm_modules "$ir" evdev uinput
cat >"$ir/init" <<'EOF'
#!/bin/sh
. /lib/vm-init.sh
echo "VMTEST: kernel $(uname -r)"
# The machine's own input devices (keyboard, power button) appear; none reports KEY_RESTART.
insmod /lib/mod/evdev.ko
# /persist is a QTS-like root: the journal goes to /persist/etc/config/qrescue/.
qrescue --root /persist watch --foreground >/tmp/watch.log 2>&1 &
WPID=$!
sleep 1
insmod /lib/mod/uinput.ko
uinput_button 500 3500 10500
# A firmware-style reset inside the guest: the factory $1$$ hash of admin, by rename.
echo 'admin:$1$$CoERg7ynjYLsj2j4glJ34.:19000:0:99999:7:::' >/persist/etc/config/shadow+
mv /persist/etc/config/shadow+ /persist/etc/config/shadow
sleep 2
kill -TERM $WPID
wait $WPID
echo "VMTEST: watch exit $?"
# The qnap8528 driver's device (IT8528 boards under Debian/TrueNAS): found by its name and
# BTN_2 with no --device or --key.
qrescue --root /persist watch --foreground --no-stores >/tmp/watch2.log 2>&1 &
WPID=$!
sleep 1
uinput_button --name qnap8528 --key 0x102 500 3500 10500
sleep 1
kill -TERM $WPID
wait $WPID
echo "VMTEST: watch2 exit $?"
echo "VMTEST-LOG-BEGIN"
cat /tmp/watch.log /tmp/watch2.log
echo "VMTEST-LOG-END"
echo "VMTEST-JOURNAL-BEGIN"
cat /persist/etc/config/qrescue/button.jsonl
echo "VMTEST-JOURNAL-END"
echo "VMTEST-CRED-BEGIN"
cat /persist/etc/config/qrescue/credentials.jsonl
echo "VMTEST-CRED-END"
qrescue --root /persist events
poweroff -f
EOF
chmod +x "$ir/init"
vm_initrd "$ir" "$work/initrd.gz"

echo "vm-test: booting $VM_KERNEL with $(du -h "$work/initrd.gz" | cut -f1) initramfs (TCG)"
t0=$(date +%s)
vm_boot "$work/initrd.gz" "$work/console.log" 300
echo "vm-test: guest ran $(($(date +%s) - t0)) s"
mkdir -p dist
cp "$work/console.log" dist/vm-test-console.log

python3 - "$work/console.log" <<'PY'
import json, sys
text = open(sys.argv[1], errors="replace").read()
def section(name):
    a, b = f"VMTEST-{name}-BEGIN\n", f"VMTEST-{name}-END"
    if a not in text or b not in text:
        sys.exit(f"vm-test: no {name} section in the console log:\n{text[-3000:]}")
    return text.split(a, 1)[1].split(b, 1)[0]
log, journal, cred = section("LOG"), section("JOURNAL"), section("CRED")
print(log)
problems = []
for w in ("watch", "watch2"):
    if f"VMTEST: {w} exit 0" not in text:
        problems.append(f"{w} did not exit 0 on SIGTERM")
if "no reset-button source found" not in log:
    problems.append("the watcher did not report the missing device before uinput was loaded")
recs = [json.loads(l) for l in journal.splitlines() if l.strip()]
want = [("short", 500), ("basic-reset", 3500), ("advanced-reset", 10500)]
for dev, code in (("qrescue virtual reset button", 0x198), ("qnap8528", 0x102)):
    mine = [r for r in recs if r.get("device_name") == dev]
    holds = [r for r in mine if r["event"] == "hold"]
    thr = [(r["class"]) for r in mine if r["event"] == "threshold"]
    if [h["class"] for h in holds] != [c for c, _ in want]:
        problems.append(f"{dev}: hold classes {[h['class'] for h in holds]} != {[c for c, _ in want]}")
    for h, (c, ms) in zip(holds, want):
        print(f"vm-test: {dev}: {c:15} asked {ms:6} ms, journal says {h['held_ms']:6} ms "
              f"({h['source']} {h['device']}, code {h['code']:#x})")
        # The kernel stamps each write; a TCG guest's sleep overshoots a little, never under.
        if not (ms - 20 <= h["held_ms"] <= ms + 1500):
            problems.append(f"{dev} {c}: held_ms {h['held_ms']} not within [{ms - 20}, {ms + 1500}]")
        if h["source"] != "evdev" or h["code"] != code:
            problems.append(f"unexpected source {h}")
    if thr != ["basic-reset", "basic-reset", "advanced-reset"]:
        problems.append(f"{dev}: threshold records {thr}")
creds = [json.loads(l) for l in cred.splitlines() if l.strip()]
print(f"vm-test: credential records {creds}")
if [(c["event"], c["user"], c.get("class"), c["seen"]) for c in creds] != [
        ("credential-change", "admin", "factory-default", "live")]:
    problems.append(f"store watch: expected one live factory-default change of admin, got {creds}")
if problems:
    sys.exit("vm-test: FAIL\n  " + "\n  ".join(problems))
print(f"vm-test: PASS ({len(recs)} journal records on a real kernel)")
PY
