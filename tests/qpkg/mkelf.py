#!/usr/bin/env python3
"""Stand-in "binaries" for the QPKG tests: minimal ELF files that pass (or, on purpose,
fail) scripts/build-qpkg.sh's ELF check for arches we cannot build or run here.

  mkelf.py OUT ARCH [--cpu-arch N] [--interp]

ARCH: x86_64 | arm_64 | arm. --cpu-arch N adds an .ARM.attributes section with
Tag_CPU_arch = N (4 = ARMv5TE, 10 = ARMv7); --interp adds a PT_INTERP program header
(a dynamically linked executable). The files never run: packages built from them are
used for structure checks and the wrong-CPU refusal of the installer.
"""

import argparse
import struct


def attributes(cpu_arch):
    # Tag_CPU_name (5) "stub", Tag_CPU_arch (6) as ULEB128 (values < 128).
    attrs = b"\x05stub\x00" + bytes([6, cpu_arch])
    file_sub = bytes([1]) + struct.pack("<I", 5 + len(attrs)) + attrs
    vendor = b"aeabi\x00" + file_sub
    return b"A" + struct.pack("<I", 4 + len(vendor)) + vendor


def build(arch, cpu_arch, interp):
    is64 = arch in ("x86_64", "arm_64")
    machine = {"x86_64": 62, "arm_64": 183, "arm": 40}[arch]
    ehsize, phentsize, shentsize = (64, 56, 64) if is64 else (52, 32, 40)
    body = bytearray(b"stub program for the qrescue QPKG tests (" + arch.encode() + b")\n")
    phdrs = b""
    phnum = 0
    if interp:
        interp_off = ehsize + phentsize + len(body)
        path = b"/lib/ld-musl.so.1\x00"
        if is64:
            phdrs = struct.pack("<IIQQQQQQ", 3, 4, interp_off, 0, 0, len(path), len(path), 1)
        else:
            phdrs = struct.pack("<IIIIIIII", 3, interp_off, 0, 0, len(path), len(path), 4, 1)
        body += path
        phnum = 1
    sections = b""
    shnum = shstrndx = 0
    shoff = 0
    if cpu_arch is not None:
        data_off = ehsize + len(phdrs) + len(body)
        attr = attributes(cpu_arch)
        names = b"\x00.shstrtab\x00.ARM.attributes\x00"
        blob = attr + names
        body += blob
        shoff = data_off + len(blob)
        fmt = "<IIQQQQIIQQ" if is64 else "<IIIIIIIIII"
        null = struct.pack(fmt, *([0] * 10))
        strtab = struct.pack(fmt, 1, 3, 0, 0, data_off + len(attr), len(names), 0, 0, 1, 0)
        attrsec = struct.pack(fmt, 11, 0x70000003, 0, 0, data_off, len(attr), 0, 0, 1, 0)
        sections = null + strtab + attrsec
        shnum, shstrndx = 3, 1
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1, 0]) + b"\x00" * 8
    phoff = ehsize if phnum else 0
    if is64:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, phoff, shoff, 0,
                                     ehsize, phentsize, phnum, shentsize, shnum, shstrndx)
    else:
        flags = 0x05000000 if arch == "arm" else 0
        header = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, 0, phoff, shoff, flags,
                                     ehsize, phentsize, phnum, shentsize, shnum, shstrndx)
    assert len(header) == ehsize
    return header + phdrs + bytes(body) + sections


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("arch", choices=["x86_64", "arm_64", "arm"])
    parser.add_argument("--cpu-arch", type=int)
    parser.add_argument("--interp", action="store_true")
    args = parser.parse_args()
    with open(args.out, "wb") as f:
        f.write(build(args.arch, args.cpu_arch, args.interp))


if __name__ == "__main__":
    main()
