"""The Linux bundle's smaller ICU data (packaging/icu.py): the format survives the cut, and Qt answers the same
with the subset as with the full data for what the subset keeps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import icu
import pytest

PROBE = r"""
import json
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone
words = ["zebra", "Apple", "apple", "Émile", "eagle", "Zoë", "10", "9", "co-op", "coop"]
collator = QCollator(QLocale("en_US"))
tz = QTimeZone(b"Europe/Berlin")
en = QLocale("en_US")
print(json.dumps({
    "sorted": sorted(words, key=collator.sortKey),
    "zone": [tz.displayName(QTimeZone.TimeType.StandardTime, getattr(QTimeZone.NameType, n), en)
             for n in ("LongName", "ShortName", "OffsetName")],
    "turkish_upper": QLocale("tr_TR").toUpper("istanbul"),
    "codecs": [QStringDecoder(name).isValid() for name in ("UTF-8", "UTF-16LE", "ISO-8859-1")],
}))
"""


def icu_data_library() -> Path:
    if not sys.platform.startswith("linux"):
        pytest.skip("only the Linux PySide6 wheels carry ICU (macOS and Windows Qt use the system's)")
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 install has no libicudata")
    if shutil.which("readelf") is None:
        pytest.skip("binutils' readelf is not installed")
    return found[0]


def test_common_data_survives_a_round_trip_and_the_cut_keeps_root_english_and_the_tables():
    _symbol, blob = icu.extract(icu_data_library())
    data = icu.CommonData.parse(blob)
    again = icu.CommonData.parse(data.to_bytes())
    assert list(again.items) == list(data.items)
    assert all(again.items[k][:len(v)] == v for k, v in data.items.items())
    kept = data.subset()
    names = {n.split("/", 1)[1] for n in kept.items}
    assert {"root.res", "en.res", "coll/ucadata.icu", "zoneinfo64.res", "cnvalias.icu"} <= names
    assert not {n for n in names if n.startswith(("brkitr/", "translit/", "unit/", "curr/", "lang/"))}
    assert not {n for n in names if n.endswith(".cnv") or n.startswith("de")}
    assert len(kept.to_bytes()) < len(blob) / 8


def test_qt_answers_the_same_with_the_smaller_data(tmp_path):
    library = icu_data_library()
    if shutil.which("cc") is None:
        pytest.skip("no C compiler to link the smaller data library")
    small = icu.build(library, tmp_path)

    def probe(preload: Path | None) -> dict:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        if preload is not None:
            env["LD_PRELOAD"] = str(preload)  # same soname: Qt's ICU binds to it
        out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    full, subset = probe(None), probe(small)
    assert subset == full
    assert full["turkish_upper"] == "İSTANBUL" and full["zone"][0] == "Central European Standard Time"
