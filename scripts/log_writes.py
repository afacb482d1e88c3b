#!/usr/bin/env python3
"""Read and replay a dm-log-writes log (Linux drivers/md/dm-log-writes.c).

Written from the format in the kernel's Documentation/admin-guide/device-mapper/log-writes.rst
and the structures it describes. All integers are little-endian. The log device holds:

  block 0 (one "sector" of the data device's logical block size, usually 512 bytes):
      struct log_write_super { le64 magic = 0x6a736677736872; le64 version = 1;
                               le64 nr_entries; le32 sectorsize; }
  then, from byte `sectorsize` on, nr_entries entries back to back, each:
      one sectorsize block:  struct log_write_entry { le64 sector; le64 nr_sectors;
                                                      le64 flags; le64 data_len; }
                             followed, for a MARK, by data_len bytes of its name
      for a write (not DISCARD, not MARK): nr_sectors * sectorsize bytes of the data written
  flags: FLUSH 1 (a REQ_PREFLUSH), FUA 2, DISCARD 4, MARK 8, METADATA 16. `sector` and
  `nr_sectors` count sectorsize units of the data device.

The target logs a write only once a FLUSH (or its own FUA) has made it durable, in completion
order, so every prefix of the log is a state the disk could be left in by a power cut, and a
prefix ending at a FLUSH, a FUA or a mark is one the kernel had promised. A mark (`dmsetup
message DEV 0 mark NAME`) lands after everything that was durable when it was sent.

  log_writes.py list LOG                 one line per entry
  log_writes.py replay LOG DEV [MARK]    apply the writes to DEV (an image copy of the data
                                         device as it was when logging began), up to MARK
"""

import struct
import sys

MAGIC = 0x6A736677736872
VERSION = 1
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
SUPER = struct.Struct("<QQQI")
ENTRY = struct.Struct("<QQQQ")


class Entry:
    """One log entry: a write (with where its data lies in the log), a discard or a mark."""

    __slots__ = ("index", "sector", "nr_sectors", "flags", "mark", "data_offset")

    def __init__(self, index, sector, nr_sectors, flags, mark, data_offset):
        self.index = index
        self.sector = sector
        self.nr_sectors = nr_sectors
        self.flags = flags
        self.mark = mark
        self.data_offset = data_offset

    def describe(self):
        names = [n for n, bit in (("FLUSH", FLUSH), ("FUA", FUA), ("DISCARD", DISCARD),
                                  ("MARK", MARK), ("META", METADATA)) if self.flags & bit]
        what = f"mark {self.mark}" if self.mark is not None else \
            f"sector {self.sector} +{self.nr_sectors}"
        return f"{self.index:6} {'|'.join(names) or '-':16} {what}"


class Log:
    """A log file opened for reading; `entries` in log order."""

    def __init__(self, path):
        self.f = open(path, "rb")
        head = self.f.read(SUPER.size)
        magic, version, nr_entries, sectorsize = SUPER.unpack(head)
        if magic != MAGIC or version != VERSION:
            raise SystemExit(f"{path}: not a dm-log-writes log (magic {magic:#x}, "
                             f"version {version})")
        self.sectorsize = sectorsize
        self.entries = []
        pos = sectorsize
        for i in range(nr_entries):
            self.f.seek(pos)
            block = self.f.read(sectorsize)
            if len(block) < sectorsize:
                raise SystemExit(f"{path}: entry {i} of {nr_entries} is past the end")
            sector, nr_sectors, flags, data_len = ENTRY.unpack_from(block)
            pos += sectorsize
            mark = None
            data_offset = None
            if flags & MARK:
                mark = block[ENTRY.size:ENTRY.size + data_len].decode("utf-8", "replace")
            elif not flags & DISCARD:
                data_offset = pos
                pos += nr_sectors * sectorsize
            self.entries.append(Entry(i, sector, nr_sectors, flags, mark, data_offset))

    def apply(self, entry, dev):
        """Apply one write or discard (zeroed: its contents are undefined) to an open file."""
        if entry.mark is not None or entry.nr_sectors == 0:
            return False
        length = entry.nr_sectors * self.sectorsize
        if entry.flags & DISCARD:
            data = bytes(length)
        else:
            self.f.seek(entry.data_offset)
            data = self.f.read(length)
            if len(data) != length:
                raise SystemExit(f"entry {entry.index}: data cut short")
        dev.seek(entry.sector * self.sectorsize)
        dev.write(data)
        return True


def main(argv):
    if len(argv) >= 2 and argv[0] == "list":
        log = Log(argv[1])
        print(f"sectorsize {log.sectorsize}, {len(log.entries)} entries")
        for e in log.entries:
            print(e.describe())
        return 0
    if len(argv) in (3, 4) and argv[0] == "replay":
        log = Log(argv[1])
        end = argv[3] if len(argv) == 4 else None
        with open(argv[2], "r+b") as dev:
            for e in log.entries:
                if end is not None and e.mark == end:
                    return 0
                log.apply(e, dev)
        if end is not None:
            raise SystemExit(f"no mark {end} in the log")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
