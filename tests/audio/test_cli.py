"""`gemini-codegen audio ...` and the audio flags of `run`."""

from __future__ import annotations

import json

import pytest

from desktop.cli import main


def test_vad_prints_segments_as_json(fixtures_dir, manifest, capsys):
    assert main(["audio", "vad", str(fixtures_dir / "resume_noisy.wav"), "--mode", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    start, end = manifest["resume_noisy.wav"]["speech"]
    assert out["denoise"] == "webrtc" and out["mode"] == 3
    assert abs(out["segments"][0]["start"] - start) <= 0.1 and abs(out["segments"][-1]["end"] - end) <= 0.3


def test_vad_text_output_and_no_speech(fixtures_dir, capsys):
    assert main(["audio", "vad", str(fixtures_dir / "noise_only_3s.wav"), "--denoise", "off"]) == 0
    assert capsys.readouterr().out.strip() == "no speech found"


def test_vad_bad_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"not a wav")
    assert main(["audio", "vad", str(bad)]) == 2  # bad input
    err = capsys.readouterr().err
    assert "is not a WAV file" in err and len(err.strip().splitlines()) == 1


def test_bench_json(capsys):
    assert main(["audio", "bench", "--seconds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for stage in ("framing", "denoise.webrtc", "denoise.off", "level", "vad", "encode", "pipeline.webrtc",
                  "chain.webrtc"):
        assert out["rtf"][stage] >= 0
    assert out["rtf"]["pipeline.webrtc"] < 0.5  # generous: the goal (< 0.01) is the benchmark's business


def test_devices_lists_the_virtual_microphone(pulse, capsys):
    assert main(["audio", "devices"]) == 0
    out = capsys.readouterr().out
    assert "input devices:" in out and "output devices:" in out and "*" in out
    assert main(["audio", "devices", "--json"]) == 0
    devices = json.loads(capsys.readouterr().out)
    assert any(d["default_input"] and d["inputs"] > 0 for d in devices)


def test_check_reports_level_noise_and_advice(pulse, fixtures_dir, capsys):
    player = pulse.play(fixtures_dir / "create_pr_noisy.wav")
    try:
        assert main(["audio", "check", "--seconds", "2", "--json"]) == 0
    finally:
        player.kill()
        player.wait(5)
    report = json.loads(capsys.readouterr().out)
    assert report["seconds"] == pytest.approx(2.0)
    assert report["speech_dbfs"] > report["noise_floor_dbfs"]
    assert report["advice"]


def test_check_rejects_a_silly_duration(capsys):
    assert main(["audio", "check", "--seconds", "0"]) == 2
    assert "--seconds" in capsys.readouterr().err


def test_run_accepts_denoise_and_vad_mode(fixtures_dir, capsys):
    code = main(["run", "--offline", "--fast", "--json", "--denoise", "off", "--vad-mode", "3",
                 "--wav", str(fixtures_dir / "list_runs.wav")])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert code == 0 and lines[-1]["ok"] is True


def test_run_rejects_a_bad_vad_mode(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--offline", "--wav", "x.wav", "--vad-mode", "9"])
    assert exc.value.code == 2
