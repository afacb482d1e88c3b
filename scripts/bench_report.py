#!/usr/bin/env python3
"""Runs the whole-process benchmarks and writes docs/benchmarks.md (called by scripts/bench.sh,
which builds the binaries and the in-process hash figures first).

Whole-process timings are interleaved (qrescue, chpasswd, qrescue, ...) with the root restored
from a pristine copy before every run, so drift and caches hit both alike."""

import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
import crypt  # noqa: E402  (deprecated in 3.11, still the glibc/libxcrypt oracle)

VERSION = sys.argv[1]
QUICK = os.environ.get("QUICK") == "1"
BIN = os.path.abspath(f"dist/qrescue-{VERSION}-x86_64")
SIZES = [100, 1000, 10000] if QUICK else [100, 1000, 10000, 100000]
RUNS = 3 if QUICK else 15
IDLE_SECONDS = 5 if QUICK else 60
HASH = crypt.crypt("Old-Password-1", "$6$benchsaltbenchs")
PW = "Bench-New-Password-7"


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def make_root(path, n):
    etc = os.path.join(path, "etc")
    os.makedirs(etc)
    with open(os.path.join(etc, "passwd"), "w") as p, open(os.path.join(etc, "shadow"), "w") as s:
        p.write("root:x:0:0:root:/root:/bin/sh\n")
        s.write("root:*:19000:0:99999:7:::\n")
        for i in range(n):
            p.write(f"user{i:06d}:x:{1000 + i}:100:User {i}:/share/homes/user{i:06d}:/bin/sh\n")
            s.write(f"user{i:06d}:{HASH}:19000:0:99999:7:::\n")
    os.chmod(os.path.join(etc, "shadow"), 0o600)
    with open(os.path.join(etc, "group"), "w") as g:
        g.write("root:x:0:\nadministrators:x:0:\neveryone:x:100:\n")


def restore(pristine, root):
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(pristine, root, symlinks=True)


def timed(cmd, stdin):
    t = time.perf_counter()
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{cmd}: exit {r.returncode}: {r.stderr}")
    return dt


def passwd_vs_chpasswd():
    rows = []
    for n in SIZES:
        work = tempfile.mkdtemp(prefix="qrescue-bench-")
        pristine, root = os.path.join(work, "pristine"), os.path.join(work, "root")
        make_root(pristine, n)
        user = f"user{n // 2:06d}"
        q = [BIN, "--root", root, "passwd", user, "--password-stdin", "--scheme", "sha512"]
        c = ["chpasswd", "-R", root, "-c", "SHA512", "-s", "5000"]
        tq, tc = [], []
        for i in range(RUNS + 1):
            order = [("q", q, PW + "\n"), ("c", c, f"{user}:{PW}\n")]
            if i % 2:
                order.reverse()
            for name, cmd, stdin in order:
                restore(pristine, root)
                dt = timed(cmd, stdin)
                if i > 0:  # the first round warms the page cache
                    (tq if name == "q" else tc).append(dt)
            # Both really changed the password (an oracle, not a timing).
        restore(pristine, root)
        timed(q, PW + "\n")
        line = [l for l in open(os.path.join(root, "etc/shadow")) if l.startswith(user + ":")][0]
        h = line.split(":")[1]
        assert crypt.crypt(PW, h) == h, "qrescue's hash does not verify"
        shutil.rmtree(work)
        mq, mc = statistics.median(tq), statistics.median(tc)
        rows.append((n, mq * 1000, mc * 1000, mq / mc, statistics.pstdev(tq) * 1000, statistics.pstdev(tc) * 1000))
        print(f"passwd vs chpasswd, {n} users: {mq*1000:.2f} ms vs {mc*1000:.2f} ms", file=sys.stderr)
    return rows


def startup():
    work = tempfile.mkdtemp(prefix="qrescue-bench-")
    make_root(work, 10000)
    out = os.path.join(work, "h.json")
    sh(f"hyperfine -N --warmup 3 --runs {10 if QUICK else 50} --export-json {out} "
       f"'{BIN} --root {work} status user005000'")
    r = json.load(open(out))["results"][0]
    shutil.rmtree(work)
    return r["mean"] * 1000, r["stddev"] * 1000


def glibc_rate(setting):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 1.0:
        crypt.crypt("Correct-Horse-9", setting)
        n += 1
    return n / (time.perf_counter() - t0)


def read_tsv(path):
    if not os.path.exists(path):
        return {}
    rows = [l.rstrip("\n").split("\t") for l in open(path)][1:]
    return {r[0]: float(r[1]) for r in rows if len(r) >= 2}


def proc_status(pid):
    d = {}
    for l in open(f"/proc/{pid}/status"):
        k, _, v = l.partition(":")
        d[k] = v.strip()
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(st[11]) + int(st[12])  # utime + stime (fields 14, 15)
    return d, ticks


def event(ms, kind, code, value):
    return struct.pack("<qqHHi", ms // 1000, ms % 1000 * 1000, kind, code, value)


def watcher():
    work = tempfile.mkdtemp(prefix="qrescue-bench-")
    fifo = os.path.join(work, "button")
    os.mkfifo(fifo)
    p = subprocess.Popen([BIN, "--root", work, "watch", "--replay", fifo],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    w = open(fifo, "wb", buffering=0)
    time.sleep(1)
    s0, t0 = proc_status(p.pid)
    time.sleep(IDLE_SECONDS)
    s1, t1 = proc_status(p.pid)
    wake = (int(s1["voluntary_ctxt_switches"]) - int(s0["voluntary_ctxt_switches"])
            + int(s1["nonvoluntary_ctxt_switches"]) - int(s0["nonvoluntary_ctxt_switches"]))
    journal = os.path.join(work, "var/lib/qrescue/button.jsonl")
    lat = []
    for i in range(5 if QUICK else 20):
        now = int(time.monotonic() * 1000)
        w.write(event(now, 1, 0x198, 1) + event(now, 0, 0, 0))
        time.sleep(0.1)
        before = os.path.getsize(journal) if os.path.exists(journal) else 0
        now = int(time.monotonic() * 1000)
        t = time.perf_counter()
        w.write(event(now, 1, 0x198, 0) + event(now, 0, 0, 0))
        while not (os.path.exists(journal) and os.path.getsize(journal) > before):
            time.sleep(0.0002)
        lat.append((time.perf_counter() - t) * 1000)
        time.sleep(0.05)
    w.close()
    p.wait(timeout=10)
    shutil.rmtree(work)
    return {
        "rss_kib": int(s1["VmRSS"].split()[0]),
        "hwm_kib": int(s1["VmHWM"].split()[0]),
        "wakeups": wake,
        "cpu_ticks": t1 - t0,
        "latency_ms": statistics.median(lat),
        "latency_max_ms": max(lat),
    }


def main():
    pv = passwd_vs_chpasswd()
    st_mean, st_sd = startup()
    w = watcher()
    h_native = read_tsv("target/bench-hash-x86_64.tsv")
    h_arm = read_tsv("target/bench-hash-aarch64.tsv")
    g512, g256, gmd5 = glibc_rate("$6$saltsaltsaltsalt"), glibc_rate("$5$saltsaltsaltsalt"), glibc_rate("$1$saltsalt")
    sizes = [l.rstrip("\n").split("\t") for l in open("dist/sizes.tsv")][1:]
    bloat = open("target/bench-bloat.txt").read() if os.path.exists("target/bench-bloat.txt") else "(cargo bloat not run)\n"
    cpu = sh("grep -m1 'model name' /proc/cpuinfo").split(":", 1)[1].strip()
    chv = sh("chpasswd --help 2>&1 | head -0; dpkg-query -W -f '${Version}' passwd 2>/dev/null || true")

    md = []
    md.append("# Benchmarks\n")
    md.append(f"Generated by `scripts/bench.sh` on {time.strftime('%Y-%m-%d')}: {cpu}, "
              f"{os.cpu_count()} cores, Linux {platform.release()}, qrescue {VERSION} (static x86_64 "
              f"release binary from `scripts/build-release.sh`), shadow-utils {chv or '?'}. "
              "Timings are medians of interleaved runs on a shared machine: compare ratios, "
              "not absolute values across machines.\n")
    md.append("## 1. `passwd` vs shadow-utils `chpasswd`\n")
    md.append("One SHA-512-crypt (5,000 rounds) password change of the middle user of a root with N "
              "users (`/etc/passwd`, `/etc/shadow`, `/etc/group`), root restored before every run, "
              f"{RUNS} runs each, interleaved. qrescue also writes a backup set, an intent record, "
              "verifies by reading back, and fsyncs files and directories (9 fsyncs against chpasswd's 2 "
              "fsyncs and 2 fdatasyncs, `strace -c -f` on the 100-user root); chpasswd does none of the "
              "backup or verification.\n")
    md.append("| users | qrescue (ms) | chpasswd -R (ms) | ratio | sd q / c (ms) |")
    md.append("|---:|---:|---:|---:|---:|")
    for n, q, c, r, sq, sc in pv:
        md.append(f"| {n:,} | {q:.2f} | {c:.2f} | **{r:.2f}** | {sq:.2f} / {sc:.2f} |")
    md.append("\nCommands: `qrescue --root R passwd USER --password-stdin --scheme sha512` and "
              "`chpasswd -R R -c SHA512 -s 5000` with `USER:PASSWORD` on stdin.\n")
    md.append("## 2. Hash speed (hashes per second, one core)\n")
    md.append("| scheme | qrescue x86_64 | glibc/libxcrypt `crypt` (Python) | qrescue aarch64 under qemu-user (indicative only) |")
    md.append("|---|---:|---:|---:|")
    for key, g in [("sha512crypt-5000", g512), ("sha256crypt-5000", g256), ("md5crypt", gmd5),
                   ("descrypt-verify", None), ("nt-hash", None)]:
        gtxt = f"{g:,.0f}" if g else "–"
        md.append(f"| {key} | {h_native.get(key, 0):,.0f} | {gtxt} | {h_arm.get(key, 0):,.0f} |")
    md.append("\n`cargo bench --bench hash` (benches/hash.rs); the aarch64 column is the same bench "
              "binary cross-built and run under `qemu-aarch64 -cpu cortex-a53`: emulation speed, not a NAS's.\n")
    md.append("## 3. Binary size\n")
    md.append("| QNAP arch | target | bytes | KiB | ≤ 1 MiB |")
    md.append("|---|---|---:|---:|:---:|")
    for arch, target, b, _secs in sizes:
        b = int(b)
        md.append(f"| {arch} | {target} | {b:,} | {b/1024:.1f} | {'yes' if b <= 1048576 else 'no'} |")
    md.append("\nBiggest crates in the x86_64 binary (`cargo bloat --release --crates`):\n")
    md.append("```\n" + bloat.strip() + "\n```\n")
    md.append("## 4. Watcher cost\n")
    md.append(f"`qrescue watch --replay FIFO` with a writer attached and nothing written, measured from "
              f"`/proc/PID/status` and `/proc/PID/stat` over {IDLE_SECONDS} s idle:\n")
    md.append("| figure | value |")
    md.append("|---|---:|")
    md.append(f"| RSS (VmRSS) | {w['rss_kib']} KiB |")
    md.append(f"| peak RSS (VmHWM) | {w['hwm_kib']} KiB |")
    md.append(f"| context switches while idle (wakeups) | {w['wakeups']} |")
    md.append(f"| CPU time while idle | {w['cpu_ticks']} ticks |")
    md.append(f"| release edge written → fsynced journal line (median) | {w['latency_ms']:.1f} ms |")
    md.append(f"| same, worst of the runs | {w['latency_max_ms']:.1f} ms |")
    md.append("\nThe latency includes the 30 ms debounce window (a release becomes final only when "
              "no new press follows within it), then the journal write and fsync.\n")
    md.append("## 5. Startup\n")
    md.append(f"`qrescue --root R status user005000` on the 10,000-user root: **{st_mean:.2f} ms** "
              f"(sd {st_sd:.2f}), hyperfine -N.\n")
    open("docs/benchmarks.md", "w").write("\n".join(md) + "\n")


main()
