"""The estimated price: the dated default table, the settings file's [prices] table over it (a bad value is
named and keeps its default, never a crash), the cost meter's session and day totals."""

from __future__ import annotations

import tomllib

import pytest

from desktop.config import load_settings, save_settings
from desktop.cost_meter import CostMeter, cost_line
from desktop.events import CostUpdate, EventBus, UsageReported
from desktop.live.usage import Usage
from desktop.pricing import DEFAULT_DATE, DEFAULT_PRICES, DEFAULT_SOURCE, dollars, parse_prices, tokens
from desktop.state.usage import local_day


def test_the_default_table_is_dated_and_prices_each_modality_and_side():
    assert DEFAULT_PRICES.date == DEFAULT_DATE and DEFAULT_SOURCE.startswith("https://ai.google.dev/")
    minute = Usage({"audio": 1500, "text": 1000}, {"audio": 1500, "thoughts": 1000})  # a minute of audio each way
    expected = (1500 * 3.0 + 1000 * 0.5 + 1500 * 12.0 + 1000 * 2.0) / 1e6
    assert DEFAULT_PRICES.estimate(minute) == pytest.approx(expected)
    # a part of no named modality is priced at the (costlier) audio rate: the estimate errs high
    assert DEFAULT_PRICES.estimate(Usage({"unspecified": 10**6})) == pytest.approx(3.0)
    assert DEFAULT_PRICES.estimate(Usage({"document": 10**6})) == pytest.approx(0.5)


def test_settings_file_prices_override_the_defaults_and_survive_a_save(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('vad_mode = 2\n[prices]\ndate = "2027-01-15"\nsource = "my invoice"\n'
                    'audio = { input = 4.0, output = 16.0 }\n', encoding="utf-8")
    settings = load_settings(env={}, path=path, use_keyring=False)
    assert not settings.file_problems
    assert settings.prices.date == "2027-01-15" and settings.prices.rate("audio", "response") == 16.0
    assert settings.prices.rate("text", "prompt") == 0.5  # not named: the default
    save_settings(settings.replace(vad_mode=1), path)
    saved = tomllib.loads(path.read_text(encoding="utf-8"))
    assert saved["vad_mode"] == 1
    assert saved["prices"] == {"date": "2027-01-15", "source": "my invoice", "audio": {"input": 4.0, "output": 16.0}}


BAD = [
    ('[prices]\naudio = { input = "cheap" }\n', "audio.input: expected a number"),
    ("[prices]\naudio = { output = -1 }\n", "audio.output: -1 is outside 0..1000"),
    ("[prices]\ntext = { input = inf }\n", "text.input: inf is outside"),
    ("[prices]\ntext = { input = 1e9 }\n", "is outside 0..1000"),
    ("[prices]\ntext = 5\n", "text must be a table"),
    ("[prices]\nsmell = { input = 1 }\n", "unknown entry 'smell'"),
    ("[prices]\naudio = { inptu = 1 }\n", "audio.inptu is not input or output"),
    ("[prices]\ndate = 2027-01-15\n", "date must be short text"),
    ('prices = "free"\n', "expected a table"),
]


@pytest.mark.parametrize("text, words", BAD, ids=[b[1] for b in BAD])
def test_a_bad_price_is_named_at_load_and_keeps_its_default(tmp_path, text, words):
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(env={}, path=path, use_keyring=False)
    assert len(settings.file_problems) == 1 and words in settings.file_problems[0], settings.file_problems
    assert str(path) in settings.file_problems[0] and "price table" in settings.file_problems[0]
    assert settings.prices.rates == DEFAULT_PRICES.rates


def test_parse_keeps_the_good_side_of_a_half_bad_entry():
    table, problems = parse_prices({"audio": {"input": 5, "output": "x"}}, "here")
    assert table.rates["audio"] == (5.0, 12.0) and len(problems) == 1


def test_the_meter_adds_reports_to_the_session_and_the_day_and_starts_a_new_day_with_the_date():
    bus, seen = EventBus(), []
    bus.on(CostUpdate, seen.append)
    now = [1_796_000_000.0]
    earlier_today = Usage({"audio": 1000}, {"audio": 1000})
    meter = CostMeter(bus, DEFAULT_PRICES, earlier_today, clock=lambda: now[0])
    meter.attach()
    assert meter.announce().today == earlier_today and meter.day == local_day(now[0])
    report = Usage({"audio": 100}, {"audio": 200})
    bus.emit(UsageReported(1, report, report, report))
    assert seen[-1].session == report and seen[-1].today == earlier_today + report
    now[0] += 2 * 86_400  # two days later, same session
    bus.emit(UsageReported(2, report, report, report + report))
    assert seen[-1].session == report + report and seen[-1].today == report and seen[-1].day == local_day(now[0])
    assert seen[-1].session_usd == pytest.approx(DEFAULT_PRICES.estimate(report + report))
    line = cost_line(seen[-1])
    assert line == "Estimated cost: this session 600 tokens ≈ $0.0054 · today 300 tokens ≈ $0.0027"


def test_numbers_are_shown_short():
    assert [tokens(n) for n in (950, 12_345, 4_100_000)] == ["950", "12.3k", "4.1M"]
    assert [dollars(x) for x in (0.00151, 0.123, 12.5)] == ["$0.0015", "$0.123", "$12.50"]
