"""A smaller ICU data library for the Linux bundle.

PySide6's Linux wheels link Qt against ICU 73, whose data library (``libicudata.so.73``) is 32 MB: every
locale's names, currencies, units, break-iterator dictionaries, transliterators and 200 legacy code pages.
Qt calls ICU for only four things (read from libQt6Core's imports: ``ucol_*`` collation, ``ucnv_*`` legacy
codecs, ``ucal_*`` time-zone names and ids, ``u_strTo{Upper,Lower}`` case mapping whose tables are built into
libicuuc), and this app reaches none of them: traced with an LD_PRELOAD shim over those calls, a launch, a
spoken and a typed turn, the settings dialog and the performance panel make no ICU call at all.

So the bundle keeps the root and English data those four families would read (the CLDR root collation,
time-zone rules, ids and English names, the codec alias table: UTF-8/16/32, ASCII and Latin-1 need no table)
and drops the rest: the data goes from 32 MB to about 2 MB.  ``build`` cuts the data out of the wheel's
library (the ``icudt73_dat`` symbol: ICU's "common data" format, a table of contents followed by the items)
and links a library with the same soname that exports the smaller table; ``tests/test_packaging.py`` checks
that Qt's collation, time-zone names and case mapping give the same answers with it as with the original.
"""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

# Items kept, as paths below the data's own prefix (``icudt73l/``).
KEEP = (
    # the locale tree: index, shared strings, root and English bundles, and what any locale lookup reads
    "res_index.res", "pool.res", "root.res", "en.res", "en_*.res", "likelySubtags.res", "metadata.res",
    "supplementalData.res", "keyTypeData.res", "icuver.res", "icustd.res", "numberingSystems.res",
    # ucal_*: time-zone rules and ids, and their English names
    "zoneinfo64.res", "metaZones.res", "timezoneTypes.res", "windowsZones.res",
    "zone/res_index.res", "zone/pool.res", "zone/root.res", "zone/en.res", "zone/en_*.res", "zone/tzdbNames.res",
    # ucol_*: the CLDR root collation and the English tailorings
    "coll/res_index.res", "coll/root.res", "coll/ucadata.icu", "coll/en.res", "coll/en_*.res",
    # ucnv_*: the codec alias table; normalization forms beyond NFC (NFC is built into libicuuc)
    "cnvalias.icu", "*.nrm",
)


@dataclass(frozen=True)
class CommonData:
    """ICU common data ("CmnD"): a header, then a table of contents of (name, item) pairs sorted by name."""

    header: bytes
    items: dict[str, bytes]  # full item name (with the ``icudtNNl/`` prefix) -> item bytes, in TOC order

    @classmethod
    def parse(cls, blob: bytes) -> CommonData:
        header_size = struct.unpack_from("<H", blob, 0)[0]
        if blob[2:4] != b"\xda\x27" or blob[12:16] != b"CmnD":
            raise ValueError("not ICU common data (little-endian CmnD)")
        toc = header_size
        count = struct.unpack_from("<I", blob, toc)[0]
        entries = [struct.unpack_from("<II", blob, toc + 4 + 8 * i) for i in range(count)]
        names = [blob[toc + n: blob.index(b"\0", toc + n)].decode("ascii") for n, _ in entries]
        starts = [toc + d for _, d in entries]
        # an item ends where the next begins, the last one where the data ends
        ends = starts[1:] + [len(blob)]
        return cls(blob[:header_size], {name: blob[s:e] for name, s, e in zip(names, starts, ends, strict=True)})

    @property
    def prefix(self) -> str:
        first = next(iter(self.items))
        return first.split("/", 1)[0] + "/"

    def subset(self, keep: tuple[str, ...] = KEEP) -> CommonData:
        prefix = self.prefix
        kept = {name: data for name, data in self.items.items()
                if any(fnmatch(name[len(prefix):], pattern) for pattern in keep)}
        return CommonData(self.header, kept)

    def to_bytes(self) -> bytes:
        names = list(self.items)  # already sorted (ICU looks items up by binary search)
        toc_size = 4 + 8 * len(names)
        name_blob = b"".join(n.encode("ascii") + b"\0" for n in names)
        name_offsets, pos = [], toc_size
        for n in names:
            name_offsets.append(pos)
            pos += len(n) + 1
        pos = _align(pos)
        data_offsets, chunks = [], []
        for n in names:
            data_offsets.append(pos)
            chunk = self.items[n]
            padded = chunk + b"\0" * (_align(len(chunk)) - len(chunk))
            chunks.append(padded)
            pos += len(padded)
        toc = struct.pack("<I", len(names)) + b"".join(
            struct.pack("<II", no, do) for no, do in zip(name_offsets, data_offsets, strict=True))
        body = toc + name_blob
        body += b"\0" * (_align(len(body)) - len(body))
        return self.header + body + b"".join(chunks)


def _align(n: int, to: int = 16) -> int:
    return (n + to - 1) // to * to


def extract(library: Path) -> tuple[str, bytes]:
    """(symbol name, common data) of an ICU data library, read with binutils (readelf)."""
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", str(library)], capture_output=True, text=True,
                             check=True).stdout
    found = re.search(r":\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+OBJECT\s+GLOBAL\s+DEFAULT\s+\d+\s+(icudt\d+_dat)\b",
                      symbols)
    if found is None:
        raise ValueError(f"{library} exports no icudtNN_dat symbol")
    address, size, symbol = int(found.group(1), 16), int(found.group(2), 0), found.group(3)
    sections = subprocess.run(["readelf", "-W", "-S", str(library)], capture_output=True, text=True,
                              check=True).stdout
    for line in sections.splitlines():
        cols = line.replace("[ ", "[").split()
        if len(cols) > 4 and cols[1] == ".rodata":
            sec_addr, sec_off = int(cols[3], 16), int(cols[4], 16)
            break
    else:
        raise ValueError(f"{library} has no .rodata section")
    start = sec_off + (address - sec_addr)
    return symbol, library.read_bytes()[start: start + size]


def build(library: Path, out_dir: Path, keep: tuple[str, ...] = KEEP) -> Path:
    """Write ``out_dir/<same file name>``: the data library with only the ``keep`` items (needs a C compiler)."""
    symbol, blob = extract(library)
    data = CommonData.parse(blob).subset(keep)
    out_dir.mkdir(parents=True, exist_ok=True)
    dat = out_dir / f"{data.prefix.rstrip('/')}.dat"
    dat.write_bytes(data.to_bytes())
    asm = out_dir / "icudata.S"
    asm.write_text(f"""\t.section .rodata
\t.balign 16
\t.globl {symbol}
\t.type {symbol}, @object
{symbol}:
\t.incbin "{dat.name}"
\t.size {symbol}, . - {symbol}
\t.section .note.GNU-stack,"",@progbits
""", encoding="ascii")
    out = out_dir / library.name
    subprocess.run(["cc", "-shared", "-nostdlib", f"-Wl,-soname,{library.name}", "-Wl,--hash-style=both",
                    "-o", str(out), asm.name], cwd=out_dir, check=True)
    return out
