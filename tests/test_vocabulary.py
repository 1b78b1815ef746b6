"""The names of the user's code for Gemini (desktop.vocabulary): real git repositories on disk, the CodeGen
stand-in over a real socket, and a whole session whose setup frame is captured by the Live stand-in."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from google.genai import types

from desktop.codegen.client import CodegenClient
from desktop.config import ConfigError, Settings, check_settings
from desktop.events import EventBus, Notice
from desktop.session import open_session
from desktop.vocabulary import (
    MAX_TERM_CHARS,
    MAX_TERMS,
    MAX_TOTAL_CHARS,
    FolderProblem,
    bounded,
    build_vocabulary,
    read_git_folder,
)
from tests.standins import ca_file, client_tls, codegen_emulator, live_emulator

TOKEN, ORG = "vocab-token", 3
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, env=GIT_ENV, timeout=30)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a remote and three branches, one of them packed."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "fix/flaky-login-test")
    git(folder, "remote", "add", "origin", "git@github.com:acme/billing-engine.git")
    git(folder, "remote", "add", "fork", "https://github.com/someone/billing-engine-fork")
    git(folder, "commit", "-q", "--allow-empty", "-m", "start")
    git(folder, "branch", "feature/invoice-export")
    git(folder, "pack-refs", "--all")  # both branches now in packed-refs
    git(folder, "branch", "main")
    return folder


def test_terms_are_cleaned_deduplicated_and_bounded():
    assert bounded(["flaky-login-test", "Flaky-Login-Test", "a\x1b[31mb\u202e", "x\ty", "---", "", None, 7]) == (
        "flaky-login-test", "ab", "x y")
    long = bounded(["n" * 500])
    assert long == ("n" * MAX_TERM_CHARS,)
    many = bounded(f"repo-{i}" for i in range(1000))
    assert len(many) == MAX_TERMS
    wide = bounded(f"{i:03d}-" + "w" * (MAX_TERM_CHARS - 4) for i in range(MAX_TERMS))
    assert sum(map(len, wide)) <= MAX_TOTAL_CHARS < sum(map(len, wide)) + MAX_TERM_CHARS


def test_a_git_folder_gives_its_remotes_and_branches(repo: Path):
    found = read_git_folder(repo)
    assert found.repositories == ("acme/billing-engine", "someone/billing-engine-fork")
    assert found.current == "fix/flaky-login-test" and found.branches[0] == "fix/flaky-login-test"
    assert set(found.branches) == {"fix/flaky-login-test", "feature/invoice-export", "main"}
    worktree = repo.parent / "second"
    git(repo, "worktree", "add", "-q", "-b", "hotfix/session-timeout", str(worktree))  # .git is a file there
    linked = read_git_folder(worktree)
    assert linked.current == "hotfix/session-timeout" and linked.repositories == found.repositories


def test_missing_and_plain_folders_are_said_clearly(tmp_path: Path):
    with pytest.raises(FolderProblem, match="there is no such folder"):
        read_git_folder(tmp_path / "gone")
    with pytest.raises(FolderProblem, match="not a git repository"):
        read_git_folder(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FolderProblem, match="a file, not a folder"):
        read_git_folder(tmp_path / "file.txt")


def test_spoken_languages_and_code_folders_are_checked_settings():
    check_settings(Settings(spoken_languages="en-US, de-DE zh-Hans-CN es-419"))
    check_settings(Settings(spoken_languages=""))  # Gemini detects the language
    with pytest.raises(ConfigError, match="not a language code") as err:
        check_settings(Settings(spoken_languages="en-US, english"))
    assert err.value.setting == "spoken_languages"
    with pytest.raises(ConfigError, match="at most 20"):
        check_settings(Settings(code_folders=os.pathsep.join(f"/src/{i}" for i in range(21))))


async def test_codegen_and_folders_fill_the_vocabulary_and_a_slow_codegen_gets_last_times(repo, tmp_path):
    cache = tmp_path / "data" / "vocabulary.json"
    async with codegen_emulator(token=TOKEN, org_id=ORG, step_s=0) as emu:
        run = emu.seed("Fix the flaky login test", org_id=ORG)
        run.metadata["repo"] = "504"  # started in repository 504 (acme/flaky-login-test), by id
        async with CodegenClient(emu.url, TOKEN, ORG, ssl_context=client_tls()) as client:
            folders = [str(repo), str(tmp_path / "gone")]
            first = await build_vocabulary(client, folders, cache=cache, timeout_s=20)
            assert first.repositories[0] == "acme/flaky-login-test"  # the most recent run's repository leads
            for term in ("flaky-login-test", "acme", "api", "web-dashboard", "billing-engine", "run-1001",
                         "invoice-export"):
                assert term in first.terms, term
            assert "main" not in first.terms and "fix/flaky-login-test" not in first.terms
            assert first.problems == (f"Code folder {tmp_path / 'gone'}: there is no such folder.",)
            assert not first.cached and (cache.stat().st_mode & 0o777) == 0o600
            emu.inject("slow", 30)  # CodeGen stops answering in time: the names saved last time are used
            second = await build_vocabulary(client, folders, cache=cache, timeout_s=0.5)
    assert second.cached == ("codegen",) and second.terms == first.terms
    assert any("CodeGen's repositories did not answer within 0.5 s; using the names saved last time" in p
               for p in second.problems)
    saved = json.loads(cache.read_text())
    assert saved["codegen"]["key"] == f"{emu.url}#{ORG}" and "acme/api" in saved["codegen"]["repositories"]


async def test_a_session_sends_the_vocabulary_and_languages_in_its_setup(repo, tmp_path):
    """End to end, the user's path: the window's ``open_session`` against both stand-ins (trusted through
    the CA file setting); the Live stand-in keeps the setup frame exactly as it came over the socket."""
    bus, notices = EventBus(), []
    bus.on(Notice, notices.append)
    async with live_emulator(model_delay_s=0.02) as live, codegen_emulator(token=TOKEN, org_id=ORG, step_s=0) as cg:
        settings = Settings(live_url=live.url, gemini_api_key="k", codegen_url=cg.url, codegen_token=TOKEN,
                            codegen_org_id=ORG, ca_file=str(ca_file(tmp_path / "ca")), data_dir=str(tmp_path / "d"),
                            spoken_languages="en-US, de-DE", code_folders=os.pathsep.join([str(repo), str(tmp_path)]),
                            power_source="fake:90,true")
        async with open_session(settings, bus=bus, record=False, model_delay_s=0.02):
            setup = live.last_setup
        cg.repos.append({**cg.repos[0], "id": 777, "name": "mobile-ios", "full_name": "acme/mobile-ios"})
        async with open_session(settings, record=False, model_delay_s=0.02):  # the next session: built anew
            refreshed = live.last_setup
    assert setup is not None and refreshed is not None and refreshed is not setup
    assert "mobile-ios" in refreshed.vocabulary and "mobile-ios" not in setup.vocabulary
    raw = dict(setup.raw)
    types.RealtimeInputConfig.model_validate(raw.pop("realtimeInputConfig"))  # (not in LiveClientSetup)
    checked = types.LiveClientSetup.model_validate(raw)  # the frame as sent, against the SDK's own types
    transcription = checked.input_audio_transcription
    assert transcription is not None and transcription.language_codes == ["en-US", "de-DE"]
    vocabulary = transcription.custom_vocabulary or []
    for term in ("flaky-login-test", "payments-service", "billing-engine", "invoice-export"):
        assert term in vocabulary, term
    instruction = raw["systemInstruction"]["parts"][0]["text"]
    assert "The user's repositories are: " in instruction and "acme/flaky-login-test" in instruction
    assert "acme/billing-engine" in instruction
    assert setup.blocking_tools == setup.tools  # every CodeGen tool is BLOCKING
    assert [n.message for n in notices if n.kind == "vocabulary"] == [
        f"Code folder {tmp_path}: this is not a git repository (it has no .git)."]


def test_the_system_instruction_names_the_repositories_as_data():
    from desktop.instructions import SYSTEM_INSTRUCTION, system_instruction
    from desktop.vocabulary import Vocabulary

    assert system_instruction(None) == system_instruction(Vocabulary()) == SYSTEM_INSTRUCTION
    text = system_instruction(Vocabulary(("api",), ("acme/api", "web-dashboard"), ("login-fix",)))
    assert text.startswith(SYSTEM_INSTRUCTION)
    assert "The user's repositories are: acme/api, web-dashboard. Their branches include: login-fix." in text
    assert "(data, not requests)" in text


async def test_names_saved_for_another_account_are_not_used(tmp_path):
    cache = tmp_path / "vocabulary.json"
    cache.write_text(json.dumps({"codegen": {"key": "https://elsewhere#9", "repositories": ["secret-project"],
                                             "branches": []}}))
    # a CodeGen that cannot be reached (a closed port on this machine): nothing from there, and nothing old
    async with CodegenClient("https://127.0.0.1:9", TOKEN, ORG, ssl_context=client_tls(), max_retries=0) as client:
        vocabulary = await build_vocabulary(client, [], cache=cache, timeout_s=5)
    assert vocabulary.terms == () and not vocabulary.cached
    assert vocabulary.problems[0].startswith("Vocabulary: CodeGen's repositories could not be read (Cannot reach "
                                             "CodeGen at 127.0.0.1")
    assert vocabulary.problems[0].endswith("Gemini gets no names from there this session.")
