"""A full offline session is recorded, and the configured secrets never reach the database files."""

from __future__ import annotations

from pathlib import Path

from audio.sources import WavSource
from desktop.config import Settings
from desktop.events import EventBus, TurnFinished
from desktop.session import open_session
from desktop.simulated_user import speak_frames
from desktop.state.store import DB_NAME, Store

GEMINI_KEY = "AIzaTEST-secret-gemini-key-0123456789"
CODEGEN_TOKEN = "cg-TEST-secret-token-9876543210"


async def test_full_session_records_turns_and_no_secret(tmp_path: Path, fixtures_dir: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(offline=True, gemini_api_key=GEMINI_KEY, codegen_token=CODEGEN_TOKEN,
                        codegen_org_id=1, data_dir=str(data))
    bus = EventBus()
    finished: list[TurnFinished] = []
    bus.subscribe(lambda ev: finished.append(ev) if isinstance(ev, TurnFinished) else None)
    async with open_session(settings, bus=bus, model_delay_s=0.05) as session:
        engine = session.engine
        await speak_frames(engine, WavSource(fixtures_dir / "status.wav").frames, realtime=False)
        assert await engine.wait_turn(30) is not None
        # the user reads a secret aloud / types it: it is still kept out of the file
        await engine.send_text(f"my keys are {GEMINI_KEY} and {CODEGEN_TOKEN}")
        assert await engine.wait_turn(30) is not None
    assert len(finished) == 2

    db = data / DB_NAME
    with Store.open(db) as store:
        turns = store.turns.history()
        assert len(turns) == 2
        assert "[secret]" in turns[0].user_text
    for path in (db, db.with_name(DB_NAME + "-wal")):
        if path.exists():
            raw = path.read_bytes()
            for secret in settings.secrets():
                assert secret.encode() not in raw, f"{secret[:6]}... found in {path.name}"


async def test_record_false_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(offline=True, data_dir=str(tmp_path / "data"))
    async with open_session(settings, model_delay_s=0.05, record=False) as session:
        engine = session.engine
        await engine.send_text("hello")
        await engine.wait_turn(30)
    assert not (tmp_path / "data").exists()
