#!/usr/bin/env python3
"""Power cuts on a real kernel: the host side of scripts/vm-powercut.sh.

  powercut_check.py prepare WORK        the QTS 4 root (five store files), an ext2/ext3/ext4
                                        image of it per file system, the button capture
  powercut_check.py check WORK CONSOLE CASE...
        CASE is NAME:FSTYPE:LAYOUT:BINARY:EXPECT. LAYOUT single: one file system; split:
        /etc on one, /mnt/HDA_ROOT on another, the two halves of one logged device. EXPECT
        pass, or fail=SYMPTOM for a mutant. For each case the guest ran passwd, restore and
        a journalled watch replay on WORK/NAME.img through dm-log-writes (log in
        WORK/NAME.log) and printed on CONSOLE what it saw after each step (lines
        `PC NAME VIEW|RC|JOURNAL …`). Every prefix of the log ending at a FLUSH, a FUA or a
        mark is a state a power cut can leave; each is replayed onto a copy of the base image,
        fsck'd (the journal replayed as the kernel would) and checked:
          - the file system is consistent (`e2fsck -fn` clean after recovery);
          - before an operation reported success, every store file is its complete old or
            complete new version, with its mode; after, every one is the new version;
          - every backup set with a manifest is intact (files, sizes, sha256), and the backup
            of every completed operation is there;
          - `qrescue status` (which rolls back an interrupted change from its intent record)
            then leaves the store set all old or all new (all new once success was reported);
          - the button journal holds every record the watcher had reported (the guest marks
            the log after each record's log line), in order, with one torn last line at most;
          - no lock file or lock pid file of the dead run is left after recovery.
        A case expected to pass must have no failing state; a mutant (EXPECT fail=SYMPTOM)
        must have at least one whose problems include SYMPTOM. Exit 1 otherwise.
"""

import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import log_writes  # noqa: E402

STATE = "mnt/HDA_ROOT/.config/qrescue/"
JOURNAL = STATE + "button.jsonl"
ROTATED = STATE + "button.jsonl.1"
OPS = ("op1", "op2", "op3")  # passwd, restore, watch (as the guest's init runs them)
IMAGE_MB = 16

# The QTS 4 fixture of tests/common/fixture.rs: runtime copies in /etc beside the persistent
# files in /mnt/HDA_ROOT/.config (reached through the absolute /etc/config symlink).
PASSWD = """admin:x:0:0:administrator:/share/homes/admin:/bin/sh
guest:x:65534:65534:guest:/tmp:/bin/sh
# a comment the tools must keep
httpdusr:!:99:0:Apache httpd user:/tmp:/bin/sh

bob:x:1000:100:Bob,,,:/share/homes/bob:/bin/sh
carol:x:1001:100:Carol:/share/homes/carol:/bin/sh
"""
SHADOW = """admin:$1$$CoERg7ynjYLsj2j4glJ34.:14233:0:99999:7:::
guest:$1$$ysap7EeB9ODCrO46Psdbq/:14233:0:99999:7:::
httpdusr:!:14233:0:99999:7:::
bob:$6$bobsalt$gsDYPSzijjpeyq447FRMNQRQJk8ORwtmVxYMV24tnGHuhhg27SktU4IDhopvaMqQnJiXDoY10TXhjjEuqAm6K.:19000:0:99999:7:::
carol:!$6$c$lockedhash:19000:0:99999:7:::
"""
GROUP = """administrators:x:0:admin,bob
everyone:x:100:admin,guest,bob,carol
guest:x:65534:guest
"""
SMBPASSWD = """admin:0:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:209C6174DA490CAEB422F3FA5A7AE634:[U          ]:LCT-5A8D1F2B:
guest:65534:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NDU        ]:LCT-5A8D1F2B:
bob:1000:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-5A8D1F2B:
"""
SMB_CONF = """[global]
   workgroup = NAS
   passdb backend = smbpasswd
   smb passwd file = /etc/config/smbpasswd
[Public]
   path = /share/Public
"""
ULINUX = "[System]\nModel = TS-453D\nVersion = 4.5.4\nServer Name = NAS-TEST\n"


def prepare(work):
    root = os.path.join(work, "root")
    cfg = os.path.join(root, "mnt/HDA_ROOT/.config")
    os.makedirs(cfg)
    os.makedirs(os.path.join(root, "etc"))
    files = [("passwd", PASSWD, 0o644), ("shadow", SHADOW, 0o600), ("group", GROUP, 0o644),
             ("smbpasswd", SMBPASSWD, 0o600), ("smb.conf", SMB_CONF, 0o644),
             ("uLinux.conf", ULINUX, 0o644)]
    for name, text, mode in files:
        for d in [cfg] + ([os.path.join(root, "etc")]
                          if name in ("passwd", "shadow", "group") else []):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write(text)
            os.chmod(p, mode)
    os.symlink("/mnt/HDA_ROOT/.config", os.path.join(root, "etc/config"))
    os.symlink("config/smb.conf", os.path.join(root, "etc/smb.conf"))
    for fs in ("ext2", "ext3", "ext4"):
        mkfs(os.path.join(work, f"base-single-{fs}.img"), fs, root)
    # split: /etc on one file system, /mnt/HDA_ROOT (the persistent .config, qrescue's state
    # directory) on another, as on a QTS box; both halves of one logged device.
    top = os.path.join(work, "split-top")
    os.makedirs(os.path.join(top, "mnt/HDA_ROOT"))
    shutil.copytree(os.path.join(root, "etc"), os.path.join(top, "etc"), symlinks=True)
    for fs in ("ext3", "ext4"):
        a, b = (os.path.join(work, f"split-{x}.img") for x in "ab")
        mkfs(a, fs, top)
        mkfs(b, fs, os.path.join(root, "mnt/HDA_ROOT"))
        with open(os.path.join(work, f"base-split-{fs}.img"), "wb") as out:
            for x in (a, b):
                with open(x, "rb") as f:
                    shutil.copyfileobj(f, out)
                os.unlink(x)
    with open(os.path.join(work, "capture.bin"), "wb") as f:
        f.write(capture())


def mkfs(img, fs, tree):
    with open(img, "wb") as f:
        f.truncate(IMAGE_MB << 20)
    subprocess.run(["mke2fs", "-q", "-F", "-t", fs, "-d", tree, img, f"{IMAGE_MB}M"],
                   check=True)


def parts(layout):
    """(offset in the image, size, where its root goes in the tree) of each file system."""
    size = IMAGE_MB << 20
    if layout == "split":
        return [(0, size, ""), (size, size, "mnt/HDA_ROOT")]
    return [(0, size, "")]


def capture():
    """The watch_cli.rs capture in x86_64's 24-byte input_event layout: a short press, a
    basic-reset hold with bounce, an advanced-reset hold, a lone bounce, a press never
    released (8 journal records)."""
    t0 = 1_700_000_000_000

    def rec(ms, kind, code, value):
        return struct.pack("<qqHHi", ms // 1000, ms % 1000 * 1000, kind, code, value)

    def edge(ms, value, code=0x198):
        return rec(ms, 1, code, value) + rec(ms, 0, 0, 0)

    v = edge(t0, 1) + edge(t0 + 100, 1, 116) + edge(t0 + 200, 2) + edge(t0 + 300, 0, 116)
    v += edge(t0 + 500, 0)
    t = t0 + 60_000
    v += edge(t, 1) + edge(t + 5, 0) + edge(t + 12, 1) + edge(t + 3200, 0)
    t = t0 + 120_000
    v += edge(t, 1) + edge(t + 10_500, 0)
    t = t0 + 180_000
    v += edge(t, 1) + edge(t + 8, 0)
    t = t0 + 240_000
    v += edge(t, 1) + rec(t + 4000, 0, 0, 0)
    return v


# ---------------------------------------------------------------------------------------------
# What the guest saw

class Seen:
    """The guest's console lines for one case."""

    def __init__(self, console, name):
        self.views = {}     # op -> {path: (mode, sha256)}
        self.rc = {}        # op -> exit status
        self.journal = []   # the journal's lines at the end, rotated file first
        self.ended = False
        self.status = ""    # dm-log-writes' status line at the end
        for line in console:
            parts = line.rstrip("\n").split(" ", 3)
            if len(parts) < 3 or parts[0] != "PC" or parts[1] != name:
                continue
            kind, rest = parts[2], parts[3] if len(parts) > 3 else ""
            if kind == "VIEW":
                op, mode, sha, path = rest.split(" ", 3)
                self.views.setdefault(op, {})[path] = (int(mode, 8), sha)
            elif kind == "RC":
                op, rc = rest.split()
                self.rc[op] = int(rc)
            elif kind == "JOURNAL":
                self.journal.append(rest.split(" ", 1)[1])
            elif kind == "STATUS":
                self.status = rest
            elif kind == "END":
                self.ended = True


# What a run leaves beside a store for a moment: commonio's lock (NAME.lock), its pid file
# (NAME.PID), the previous version (NAME-) and the temp file (NAME+).
LOCKISH = re.compile(r"\.(lock|[0-9]+)$")
# qrescue stages each new version in a scratch file named in its intent record before it
# exists (NAME.qrescue-<hex>.tmp), then links it to NAME+: transient, like NAME+.
SCRATCH = re.compile(r"\.qrescue-[0-9a-f]+\.tmp$")


def is_store(path):
    base = os.path.basename(path)
    return not (path.startswith(STATE) or path.startswith("lost+found/") or
                base.endswith(("-", "+")) or LOCKISH.search(base) or SCRATCH.search(base))


def stores(view):
    return {p: v for p, v in view.items() if is_store(p)}


# ---------------------------------------------------------------------------------------------
# One crash state

def snapshot(top):
    """{relative path: (mode, sha256)} of the regular files under top, and the journal's
    bytes."""
    out, journal = {}, {}
    for d, _, files in os.walk(top):
        for n in files:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            rel = os.path.relpath(p, top)
            with open(p, "rb") as f:
                data = f.read()
            out[rel] = (os.stat(p).st_mode & 0o7777, hashlib.sha256(data).hexdigest())
            if rel in (JOURNAL, ROTATED):
                journal[rel] = data
            elif rel.startswith(STATE + "backups/") and rel.endswith("/manifest.json"):
                journal[rel] = data
    return out, journal


# The kernel keeps the superblock's free block and inode totals only approximately (the
# group descriptors are exact): e2fsck -f always corrects them, also after a clean unmount.
BENIGN = re.compile(r"^Free (blocks|inodes) count wrong \(")


def fsck(img, journalled):
    """Recover as mount would (journal replay), then require a clean file system: on a
    journalled one nothing may need repair but the superblock's free totals. A file system
    without a journal may need repairs after a power cut: those are allowed."""
    r = subprocess.run(["e2fsck", "-fy", img], capture_output=True, text=True)
    problems = []
    if r.returncode not in (0, 1):
        problems.append(f"e2fsck -fy exit {r.returncode}: {r.stdout.strip()[-300:]}")
    elif journalled:
        # e2fsck prints each problem, then "Fix? yes" (or Clear?, Salvage?…) on its own line.
        lines = r.stdout.splitlines()
        repairs = [lines[i - 1] for i, x in enumerate(lines) if i and x.endswith("? yes")]
        repairs = [x for x in repairs if not BENIGN.match(x)]
        if repairs:
            problems.append("e2fsck had to repair a journalled file system: "
                            + " / ".join(repairs[:3]))
    r = subprocess.run(["e2fsck", "-fn", img], capture_output=True, text=True)
    if r.returncode != 0:
        problems.append(f"e2fsck -fn after recovery: exit {r.returncode}")
    return problems


def backups_ok(snap, extra, want):
    """Every set with a manifest is complete; every file of `want` (the backup files of
    completed operations, path -> (mode, sha)) is there unchanged."""
    import json
    problems = []
    for rel, data in extra.items():
        if not rel.endswith("/manifest.json"):
            continue
        d = os.path.dirname(rel)
        try:
            m = json.loads(data)
        except ValueError:
            problems.append(f"{rel}: unreadable manifest")
            continue
        for f in m["files"]:
            got = snap.get(f"{d}/{f['stored_as']}")
            if got is None or got[1] != f["sha256"]:
                problems.append(f"backup {m['id']}: {f['stored_as']} missing or not as in "
                                "its manifest")
    for p, (_, sha) in want.items():
        if snap.get(p, (0, None))[1] != sha:
            problems.append(f"backup file {p} of a completed change is "
                            f"{'missing' if p not in snap else 'changed'}")
    return problems


def journal_ok(extra, expected, reported):
    """The complete lines (rotated file, then current) are the first n expected ones with
    n >= reported; at most a torn tail, itself the start of the next expected line."""
    rot, cur = extra.get(ROTATED, b""), extra.get(JOURNAL, b"")
    if rot and not rot.endswith(b"\n"):
        return [f"{ROTATED} ends with a torn line"]
    lines = (rot + cur).split(b"\n")
    torn = lines.pop()
    lines = [x.decode("utf-8", "replace") for x in lines]
    exp = expected
    problems = []
    if lines != exp[:len(lines)]:
        problems.append(f"journal lines differ from the records written "
                        f"({len(lines)} lines)")
    elif len(lines) < reported:
        problems.append(f"[unkept-record] journal holds {len(lines)} records, {reported} "
                        "had been reported written")
    if torn and not (len(lines) < len(exp) and
                     exp[len(lines)].encode().startswith(torn)):
        problems.append(f"journal tail is not a torn record: {torn[:40]!r}")
    return problems


def check_state(ctx, img, marks):
    """Problems of one crash state (the replayed image img, after the marks seen)."""
    seen, fstype, binary = ctx["seen"], ctx["fstype"], ctx["binary"]
    problems = []
    with tempfile.TemporaryDirectory(dir=ctx["tmp"]) as t:
        out = os.path.join(t, "root")
        os.mkdir(out)
        with open(img, "rb") as f:
            for i, (offset, size, under) in enumerate(parts(ctx["layout"])):
                part = os.path.join(t, f"fs{i}.img")
                f.seek(offset)
                with open(part, "wb") as p:
                    p.write(f.read(size))
                problems += fsck(part, fstype != "ext2")
                dest = os.path.join(out, under)
                os.makedirs(dest, exist_ok=True)
                r = subprocess.run(["debugfs", "-R", f"rdump / {dest}", part],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    return problems + [f"debugfs rdump: {r.stderr.strip()[-200:]}"]
        snap, extra = snapshot(out)
        started = [op for op in OPS if f"{op}-start" in marks]
        done = [op for op in OPS if f"{op}-done" in marks]
        prev = "base"
        for op in OPS:
            if op in done:
                prev = op
        current = started[-1] if started and started[-1] not in done else None
        old = stores(seen.views[prev])
        new = stores(seen.views[current]) if current else old
        what = f"during {current}" if current else f"after {prev}"
        st = stores(snap)
        if set(st) != set(old) | set(new):
            problems.append(f"{what}: store files {sorted(set(st) ^ (set(old) | set(new)))} "
                            "appeared or vanished")
        for p in old:
            got = st.get(p)
            if got is None:
                continue
            if got not in (old[p], new.get(p)):
                problems.append(f"{what}: {p} is " + (
                    f"[not-new] not the new version (mode {got[0]:o})" if old == new else
                    f"neither the old nor the new version (mode {got[0]:o})"))
        # The backups of completed operations.
        want = {}
        for op in done:
            want.update({p: v for p, v in seen.views[op].items()
                         if p.startswith(STATE + "backups/")})
        problems += [f"{what}: {x}" for x in backups_ok(snap, extra, want)]
        if "op3-start" in marks:
            reported = sum(1 for m in marks if m.startswith("op3-rec"))
            problems += [f"{what}: {x}" for x in journal_ok(extra, seen.journal, reported)]
        elif JOURNAL in extra or ROTATED in extra:
            problems.append(f"{what}: a journal before the watcher ran")
        # Recovery, as the next qrescue run does it after the reboot: in a pid namespace of
        # its own, so no process named by a lock file of the guest's run exists.
        r = subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "--", binary,
                            "--root", out, "--json", "status"], capture_output=True, text=True)
        if r.returncode != 0:
            problems.append(f"{what}: qrescue status exit {r.returncode}: "
                            f"{r.stderr.strip()[-200:]}")
        after = snapshot(out)[0]
        rec = stores(after)
        # (lckpwdf's /etc/.pwd.lock stays, empty, as glibc's does: status itself takes it.)
        left = sorted(p for p in after if LOCKISH.search(p) and not p.startswith(STATE)
                      and not p.endswith("/.pwd.lock"))
        if left:
            problems.append(f"{what}: lock files of the dead run left after recovery: {left}")
        scratch = sorted(p for p in after if SCRATCH.search(p) or p.endswith("+"))
        if scratch:
            problems.append(f"{what}: staging files of the dead run left after recovery: "
                            f"{scratch}")
        if current:
            if rec != old and rec != new:
                mixed = sorted(p for p in new if rec.get(p) != new[p])
                problems.append(f"{what}: after recovery the stores are neither all old nor "
                                f"all new (not new: {mixed})")
        elif rec != old:
            problems.append(f"{what}: [not-new] after recovery the stores are not the new "
                            f"versions ({sorted(p for p in old if rec.get(p) != old[p])})")
    return problems


def check_case(args):
    work, console, spec = args
    name, fstype, layout, binary, expect = spec.split(":")
    with open(console, errors="replace") as f:
        seen = Seen(f, name)
    expect, _, symptom = expect.partition("=")
    res = {"name": name, "fstype": f"{fstype} {layout}", "expect": expect, "states": 0,
           "images": 0, "failing": 0, "caught": 0, "examples": [], "marks": 0}
    missing = [op for op in ("base",) + OPS if op not in seen.views]
    if not seen.ended or missing or any(seen.rc.get(op) != 0 for op in OPS):
        res["error"] = (f"the guest did not finish the case (views missing {missing}, "
                        f"exit codes {seen.rc})")
        return res
    if "logging_disabled" in seen.status:
        res["error"] = f"dm-log-writes stopped logging (log device full?): {seen.status}"
        return res
    log = log_writes.Log(os.path.join(work, f"{name}.log"))
    tmp = tempfile.mkdtemp(dir=work)
    ctx = {"seen": seen, "fstype": fstype, "layout": layout, "binary": binary, "tmp": tmp}
    scratch = os.path.join(tmp, "scratch.img")
    shutil.copyfile(os.path.join(work, f"base-{layout}-{fstype}.img"), scratch)
    marks = []
    images = set()  # versions of the image checked (a mark alone changes only the rules)
    version = 0
    last_checked = None

    def checkpoint():
        nonlocal last_checked
        key = (version, tuple(marks))
        if key == last_checked:
            return
        last_checked = key
        res["states"] += 1
        if version not in images:
            images.add(version)
            res["images"] += 1
        problems = check_state(ctx, scratch, set(marks))
        if problems:
            res["failing"] += 1
            res["caught"] += any(symptom in p for p in problems)
            if len(res["examples"]) < 4:
                res["examples"].append(f"state {res['states']} (log entry {e.index}, "
                                       f"after mark {marks[-1] if marks else '-'}): "
                                       + "; ".join(problems[:3]))

    with open(scratch, "r+b") as dev:
        for e in log.entries:
            if e.flags & log_writes.FLUSH and e.nr_sectors:
                # A flush carrying data: the state once the preflush completed, before it.
                dev.flush()
                checkpoint()
            if log.apply(e, dev):
                version += 1
            if e.mark is not None:
                res["marks"] += 1
                if e.mark != "dm-log-writes-end":
                    marks.append(e.mark)
            if e.flags & (log_writes.FLUSH | log_writes.FUA) or e.mark is not None:
                dev.flush()
                checkpoint()
    shutil.rmtree(tmp)
    res["entries"] = len(log.entries)
    return res


def check(work, console, specs):
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(check_case, [(work, console, s) for s in specs]))
    ok = True
    total = 0
    for r in results:
        total += r["states"]
        if "error" in r:
            verdict, ok = "ERROR", False
        elif r["expect"] == "pass":
            verdict = "PASS" if r["failing"] == 0 else "FAIL"
        else:
            verdict = ("PASS (mutant caught)" if r["caught"] else
                       "FAIL (mutant not caught)" if not r["failing"] else
                       "FAIL (failed, but not with the expected symptom)")
        if not verdict.startswith("PASS"):
            ok = False
        print(f"powercut: {r['name']:22} {r['fstype']:11}: {verdict}; {r['states']} crash states "
              f"({r['images']} distinct images, {r.get('entries', 0)} log entries), "
              f"{r['failing']} failing" + (f" ({r['caught']} with the expected symptom)"
                                          if r["expect"] == "fail" else ""))
        if "error" in r:
            print(f"    {r['error']}")
        for x in r["examples"]:
            print(f"    {x}")
    print(f"powercut: {total} crash states checked in all")
    return 0 if ok else 1


def main(argv):
    if len(argv) == 2 and argv[0] == "prepare":
        prepare(argv[1])
        return 0
    if len(argv) >= 4 and argv[0] == "check":
        return check(argv[1], argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
