#!/usr/bin/env python3
"""Binary parts of qrescue's QPKG build, for scripts/build-qpkg.sh (Python stdlib only).

  qpkgtool.py icons OUTDIR NAME
      NAME.gif (64x64), NAME_80.gif (80x80), NAME_gray.gif (64x64, the disabled look):
      small GIF89a icons, drawn here so that no image blobs live in the repository.
  qpkgtool.py elfcheck ARCH FILE
      FILE is a statically linked ELF executable for the QNAP package arch ARCH.
  qpkgtool.py assemble --header TEMPLATE --control control.tar --data data.tar.gz
                       --name N --display-name D --version V --arch A --out FILE
      Writes the package: header script (padded to a multiple of 512 bytes) | control.tar |
      data.tar.gz | 100-byte trailer. The layout and where it comes from (QDK's qbuild and
      qpkg_encrypt.c) are described in docs/qpkg-format.md.
  qpkgtool.py qdk-read PKG [--extract DIR]
      Reads PKG the way QDK's qbuild does (docs/qpkg-format.md, "How QDK reads a package"):
      the content size from the header's script_len/offset lines, the name and version
      through the control line that "qbuild --query" rewrites, the 100-byte tail; with
      --extract, the control files and data.tar.gz as "qbuild --extract" gets them. Prints
      key=value lines; exits 1 when QDK would not recognise the package.

Everything is a pure function of the inputs: the same inputs give the same bytes.
"""

import argparse
import math
import os
import re
import struct
import sys

# ---------------------------------------------------------------------------------------
# Icons


def _gif(width, height, pixels, palette):
    """A GIF89a image; palette index 0 is transparent.

    The LZW stream uses 9-bit codes only: a clear code after every 250 literal codes keeps
    the decoder's table below 512 entries, so the code width never changes. That wastes a
    little space (an icon is a few kB) but leaves no room for the classic off-by-one in
    variable-width LZW encoders.
    """
    assert len(palette) == 4 and len(pixels) == width * height
    out = bytearray(b"GIF89a")
    # Logical screen: global colour table of 2^(1+1) = 4 entries, 8-bit colour resolution.
    out += struct.pack("<HHBBB", width, height, 0x80 | 0x70 | 0x01, 0, 0)
    for rgb in palette:
        out += bytes(rgb)
    # Graphic control extension: transparent colour index 0.
    out += b"\x21\xf9\x04\x01\x00\x00\x00\x00"
    # Image descriptor (no local colour table, not interlaced).
    out += b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    min_code_size = 8
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    codes = [clear]
    for i, p in enumerate(pixels):
        if i and i % 250 == 0:
            codes.append(clear)
        codes.append(p)
    codes.append(end)
    bits = 0
    nbits = 0
    stream = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += 9
        while nbits >= 8:
            stream.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        stream.append(bits & 0xFF)
    out.append(min_code_size)
    for i in range(0, len(stream), 255):
        chunk = stream[i : i + 255]
        out.append(len(chunk))
        out += chunk
    out += b"\x00\x3b"
    return bytes(out)


def _draw_icon(size):
    """Palette indices of a rounded tile carrying a power/reset symbol."""
    tile, symbol = 1, 2
    margin = size * 0.06
    corner = size * 0.18
    centre = size / 2
    ring = size * 0.24
    stroke = size * 0.085
    pixels = []
    for y in range(size):
        for x in range(size):
            px, py = x + 0.5, y + 0.5
            dx = max(margin + corner - px, 0.0, px - (size - margin - corner))
            dy = max(margin + corner - py, 0.0, py - (size - margin - corner))
            if not (margin <= px <= size - margin and margin <= py <= size - margin):
                pixels.append(0)
                continue
            if dx * dx + dy * dy > corner * corner:
                pixels.append(0)
                continue
            cy = centre + size * 0.03
            dist = math.hypot(px - centre, py - cy)
            angle = math.degrees(math.atan2(px - centre, cy - py))  # 0 = straight up
            on_ring = abs(dist - ring) <= stroke / 2 and abs(angle) > 38
            on_bar = abs(px - centre) <= stroke / 2 and cy - ring - stroke * 0.9 <= py <= cy - ring * 0.15
            pixels.append(symbol if on_ring or on_bar else tile)
    return pixels


def cmd_icons(args):
    colour = [(0, 0, 0), (0x17, 0x6B, 0xB8), (0xFF, 0xFF, 0xFF), (0, 0, 0)]
    grey = [(0, 0, 0), (0x8C, 0x8C, 0x8C), (0xF2, 0xF2, 0xF2), (0, 0, 0)]
    os.makedirs(args.outdir, exist_ok=True)
    for suffix, size, palette in (("", 64, colour), ("_80", 80, colour), ("_gray", 64, grey)):
        path = os.path.join(args.outdir, f"{args.name}{suffix}.gif")
        with open(path, "wb") as f:
            f.write(_gif(size, size, _draw_icon(size), palette))


# ---------------------------------------------------------------------------------------
# ELF check

# The arch table, cross/targets.tsv (its header describes the columns): one dict per arch
# qrescue packages (rust_target not "-"), by QNAP package arch, in the table's order.
TARGETS_TSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "cross", "targets.tsv")


def _load_targets(path=TARGETS_TSV):
    rows = {}
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    head = next(line for line in lines if line.startswith("#qnap_arch\t"))
    names = head[1:].split("\t")
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        row = dict(zip(names, line.split("\t")))
        if len(row) != len(names):
            sys.exit(f"{path}: not {len(names)} columns: {line!r}")
        if row["rust_target"] != "-":
            rows[row["qnap_arch"]] = row
    return rows


TARGETS = _load_targets()
# QNAP package arch -> (ELF class, e_machine, newest allowed ARM Tag_CPU_arch or None)
# Tag_CPU_arch values (ARM ELF ABI addenda): 4 v5TE, 5 v5TEJ, 10 v7.
ARCHES = {
    arch: ({"32": 1, "64": 2}[t["elf_class"]], int(t["e_machine"]),
           None if t["arm_max"] == "-" else int(t["arm_max"]))
    for arch, t in TARGETS.items()
}
ARM_ARCH_NAMES = {0: "pre-v4", 1: "v4", 2: "v4T", 3: "v5T", 4: "v5TE", 5: "v5TEJ", 6: "v6", 7: "v6KZ",
                  8: "v6T2", 9: "v6K", 10: "v7", 11: "v6-M", 12: "v6S-M", 13: "v7E-M", 14: "v8"}


def _uleb(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _arm_cpu_arch(data, is64, sections):
    """Tag_CPU_arch from the .ARM.attributes section, or None when there is none."""
    for name, offset, size in sections:
        if name != ".ARM.attributes":
            continue
        buf = data[offset : offset + size]
        if not buf or buf[0] != ord("A"):
            return None
        pos = 1
        while pos < len(buf):
            (sub_len,) = struct.unpack_from("<I", buf, pos)
            vendor_end = buf.index(0, pos + 4)
            if buf[pos + 4 : vendor_end] == b"aeabi":
                p = vendor_end + 1
                while p < pos + sub_len:
                    tag, q = _uleb(buf, p)
                    (size_,) = struct.unpack_from("<I", buf, q)
                    if tag == 1:  # Tag_File: attributes of the whole file
                        a, stop = q + 4, p + size_
                        while a < stop:
                            t, a = _uleb(buf, a)
                            if t == 6:
                                return _uleb(buf, a)[0]
                            if t in (4, 5, 67) or (t > 32 and t % 2 == 1):
                                a = buf.index(0, a) + 1  # NUL-terminated string
                            elif t == 32:
                                _, a = _uleb(buf, a)
                                a = buf.index(0, a) + 1
                            else:
                                _, a = _uleb(buf, a)
                    p += size_
            pos += sub_len
    return None


def cmd_elfcheck(args):
    want_class, want_machine, max_arm_arch = ARCHES[args.arch]
    with open(args.file, "rb") as f:
        data = f.read()

    def fail(msg):
        sys.exit(f"{args.file}: {msg} (package arch {args.arch})")

    if data[:4] != b"\x7fELF":
        fail("not an ELF file")
    ei_class, ei_data = data[4], data[5]
    if ei_data != 1:
        fail("not little-endian")
    if ei_class != want_class:
        fail(f"ELF class {32 if ei_class == 1 else 64}-bit, expected {32 if want_class == 1 else 64}-bit")
    is64 = ei_class == 2
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_machine != want_machine:
        fail(f"ELF machine {e_machine}, expected {want_machine}")
    if e_type not in (2, 3):  # ET_EXEC, or ET_DYN for static-pie
        fail(f"not an executable (ELF type {e_type})")
    if is64:
        phoff, shoff = struct.unpack_from("<QQ", data, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 54)
    else:
        phoff, shoff = struct.unpack_from("<II", data, 28)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 42)
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == 3:  # PT_INTERP: needs a dynamic loader, which QTS may not have
            fail("dynamically linked; QNAP packages need a static binary")
    if max_arm_arch is not None:
        sections = []
        if shoff and shnum and shstrndx < shnum:
            def sect(i):
                base = shoff + i * shentsize
                if is64:
                    name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", data, base)
                else:
                    name, _, _, _, off, size = struct.unpack_from("<IIIIII", data, base)
                return name, off, size
            _, str_off, str_size = sect(shstrndx)
            names = data[str_off : str_off + str_size]
            for i in range(shnum):
                name, off, size = sect(i)
                sections.append((names[name : names.index(b"\0", name)].decode("latin-1"), off, size))
        cpu = _arm_cpu_arch(data, is64, sections)
        if cpu is None:
            print(f"{args.file}: warning: no ARM build attributes, cannot check the ARM generation", file=sys.stderr)
        elif cpu > max_arm_arch:
            fail(f"built for ARM {ARM_ARCH_NAMES.get(cpu, cpu)}; the CPUs of this package "
                 f"run code up to ARM {ARM_ARCH_NAMES[max_arm_arch]}")


# ---------------------------------------------------------------------------------------
# Package assembly

TRAILER_LEN = 100
MAGIC = b"QNAPQPKG  "
WORD = re.compile(r"^[A-Za-z0-9._+-]+$")


def _field(text, width, what):
    raw = text.encode("ascii")
    if len(raw) > width:
        sys.exit(f"{what} {text!r} is longer than the {width} bytes the trailer has for it")
    return raw.ljust(width, b" ")


def trailer(name, version, total_size):
    """The 100-byte trailer: model(10) reserved(30) checksum(10) firmware(10) name(20)
    version(10) magic(10); unused fields are spaces, as qbuild writes them."""
    tail = bytearray(_field("", 10, "model") + b" " * 50 + _field(name, 20, "QPKG_NAME")
                     + _field(version, 10, "QPKG_VER") + MAGIC)
    # qpkg_encrypt: the first 10 decimal digits of size * 3589 + 1000000000, at byte 40.
    tail[40:50] = str(total_size * 3589 + 1000000000)[:10].encode("ascii")
    assert len(tail) == TRAILER_LEN
    return bytes(tail)


def render_header(template, values):
    """The header script with its own length in script_len, padded to 512-byte blocks so
    that the data archive starts on a block boundary (the header reads it with bs=512)."""
    values = dict(values)
    script_len = 512
    for _ in range(10):
        values["SCRIPT_LEN"] = str(script_len)
        text = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], template)
        lines = text.splitlines()
        ends = [i for i, line in enumerate(lines) if line.startswith("exit 1")]
        if ends != [len(lines) - 1]:
            sys.exit("header template: the only line starting with 'exit 1' must be the last one")
        raw = text.encode("utf-8")
        pad = -len(raw) % 512
        if pad:
            raw += b"#" * (pad - 1) + b"\n"
        if len(raw) == script_len:
            return raw
        script_len = len(raw)
    sys.exit("header length does not settle")


def cmd_assemble(args):
    for what, value in (("name", args.name), ("version", args.version), ("arch", args.arch)):
        if not WORD.match(value):
            sys.exit(f"{what} {value!r}: only letters, digits and . _ + - are allowed")
    if not re.match(r"^[A-Za-z0-9 ._+()-]+$", args.display_name):
        sys.exit(f"display name {args.display_name!r}: only letters, digits, blanks and . _ + ( ) - are allowed")
    with open(args.header, encoding="utf-8") as f:
        template = f.read()
    with open(args.control, "rb") as f:
        control = f.read()
    with open(args.data, "rb") as f:
        data = f.read()
    if len(control) % 512:
        sys.exit("control.tar is not a whole number of 512-byte tar blocks")
    if args.arch not in TARGETS:
        sys.exit(f"arch {args.arch!r} is not a packaged arch of {TARGETS_TSV} (known: {' '.join(TARGETS)})")
    target = TARGETS[args.arch]
    block_bytes = len(data) // 512 * 512
    header = render_header(template, {
        "NAME": args.name, "DISPLAY_NAME": args.display_name, "VERSION": args.version,
        "ARCH": args.arch, "UNAME_M": target["uname_m"],
        "PLATFORM_NOT": "" if target["platform_not"] == "-" else target["platform_not"],
        "CONTROL_LEN": str(len(control)), "DATA_LEN": str(len(data)),
        "DATA_BLOCKS": str(block_bytes // 512), "DATA_BLOCK_BYTES": str(block_bytes),
        "DATA_TAIL": str(len(data) - block_bytes),
    })
    body = header + control + data
    package = body + trailer(args.name, args.version, len(body) + TRAILER_LEN)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(package)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    print(f"script_len={len(header)} control={len(control)} data={len(data)} "
          f"trailer={TRAILER_LEN} total={len(package)}")


# ---------------------------------------------------------------------------------------
# Reading a package the way QDK's qbuild does (docs/qpkg-format.md, section 2, "How QDK
# reads a package"). The rules are restated from qbuild's behaviour, with its line numbers;
# the commands built here are run by /bin/sh, as qbuild evals its own.

QDK_TAIL_FLAG = "QNAPQPKG"


def qdk_header_lines(pkg):
    """The lines qbuild's readers look at: from line 1 to the first line that begins with
    "exit 1" (its sed ranges "1,/^exit 1/" ending in "q": qbuild:171-177, 1465-1472,
    1482-1501). None when no line begins with "exit 1"."""
    with open(pkg, "rb") as f:
        data = f.read()
    lines = []
    for raw in data.split(b"\n"):
        line = raw.decode("latin-1")
        lines.append(line)
        if line.startswith("exit 1"):
            return lines
    return None


def _sh(script):
    import subprocess
    r = subprocess.run(["/bin/sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.stdout.decode("latin-1")


def qdk_content_size(lines):
    """get_content_size (qbuild:167-179): the lines that begin with "script_len" or
    "offset", in order, each ended by ";", then "echo $offset"."""
    keep = [line + ";" for line in lines if line.startswith(("script_len", "offset"))]
    return _sh("\n".join(keep) + "\necho $offset").strip()


# The control line as "qbuild --query" finds it (qbuild:1490-1501): `if="${0}"` (or
# unquoted `if=${0}`), a space, then anything up to "v -C " (the tar verbose flag right
# before -C; "xzv -C" too). Greedy, as sed's BRE is.
_QUERY = [re.compile(r'if="\$\{0\}" (.*)(xz?)v -C .*'), re.compile(r"if=\$\{0\} (.*)(xz?)v -C .*")]
# "qbuild --extract" (qbuild:1462-1472): the line up to " -C" gets the target directory;
# a dd line with "of" has everything from "||" cut.
_EXTRACT = [
    (re.compile(r'if="\$\{0\}" (.* -C) .*'), "dir"),
    (re.compile(r'if="\$\{0\}" (.* of.*) \|\|.*'), "of"),
    (re.compile(r"if=\$\{0\} (.* -C) .*"), "dir"),
    (re.compile(r"if=\$\{0\} (.* of.*) \|\|.*"), "of"),
]


def qdk_query(lines, pkg, member="qpkg.cfg"):
    """qbuild --query: rewrite the control line to print MEMBER of control.tar.gz, keep the
    script_len line (with ";"), run them, keep the QPKG_/QDK_ lines (qbuild:1500-1507)."""
    import shlex
    out = []
    for line in lines:
        for rx in _QUERY:
            m = rx.search(line)
            if m:
                out.append(line[: m.start()] + f"2>/dev/null if={shlex.quote(pkg)} {m.group(1)}{m.group(2)} -O --no-anchor {member}")
                break
        if line.startswith("script_len"):
            out.append(line + ";")
    if not any(" -O --no-anchor " in line for line in out):
        return {}
    cfg = [line for line in _sh("\n".join(out)).splitlines() if line.startswith(("QPKG_", "QDK_"))]
    values = _sh("\n".join(cfg) + '\nprintf "%s\\n%s\\n" "$QPKG_NAME" "$QPKG_VER"').split("\n")
    return {"name": values[0], "version": values[1] if len(values) > 1 else ""}


def qdk_extract(lines, pkg, directory):
    """qbuild --extract: the rewritten dd lines and the script_len/offset lines, in header
    order, run with _EXTRACT_DIR set to DIRECTORY (qbuild:1462-1475)."""
    import shlex
    d = shlex.quote(directory)
    out = [f"_EXTRACT_DIR={d};"]
    for line in lines:
        for rx, kind in _EXTRACT:
            m = rx.search(line)
            if m:
                tail = f" {d} >/dev/null;" if kind == "dir" else ";"
                out.append(line[: m.start()] + f"2>/dev/null if={shlex.quote(pkg)} {m.group(1)}{tail}")
                break
        if line.startswith(("script_len", "offset")):
            out.append(line + ";")
    os.makedirs(directory, exist_ok=True)
    _sh(f"cd {d} && " + "\n".join(out))


def qdk_tail(pkg):
    """add_qpkg_tail (qbuild:1085-1107): model(10), 50 bytes (the checksum is written into
    bytes 40-49 later, qpkg_encrypt), name(20), version(10), flag "QNAPQPKG  "(10)."""
    with open(pkg, "rb") as f:
        f.seek(-TRAILER_LEN, os.SEEK_END)
        t = f.read(TRAILER_LEN).decode("latin-1")
    return {"name": t[60:80].rstrip(" "), "version": t[80:90].rstrip(" "), "flag": t[90:100].rstrip(" ")}


def cmd_qdk_read(args):
    lines = qdk_header_lines(args.pkg)
    if lines is None:
        print("header: no line begins with 'exit 1': QDK does not see a header")
        sys.exit(1)
    q = qdk_query(lines, args.pkg)
    t = qdk_tail(args.pkg)
    print(f"content_size={qdk_content_size(lines)}")
    print(f"query_name={q.get('name', '')}")
    print(f"query_version={q.get('version', '')}")
    print(f"tail_name={t['name']}")
    print(f"tail_version={t['version']}")
    print(f"tail_flag={t['flag']}")
    if args.extract:
        qdk_extract(lines, args.pkg, args.extract)
    if not q.get("name") or not q.get("version") or t["flag"] != QDK_TAIL_FLAG:
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("icons")
    p.add_argument("outdir")
    p.add_argument("name")
    p.set_defaults(func=cmd_icons)
    p = sub.add_parser("elfcheck")
    p.add_argument("arch", choices=sorted(ARCHES))
    p.add_argument("file")
    p.set_defaults(func=cmd_elfcheck)
    p = sub.add_parser("assemble")
    for opt in ("--header", "--control", "--data", "--name", "--display-name", "--version", "--arch", "--out"):
        p.add_argument(opt, required=True)
    p.set_defaults(func=cmd_assemble)
    p = sub.add_parser("qdk-read")
    p.add_argument("pkg")
    p.add_argument("--extract", metavar="DIR")
    p.set_defaults(func=cmd_qdk_read)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
