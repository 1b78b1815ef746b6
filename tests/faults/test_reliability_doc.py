"""docs/reliability.md is rendered from the rows the fault tests record."""

from tests.faults.reliability import ITEMS, Row, render, write_reliability_doc


def test_rows_become_the_table_in_item_order(tmp_path):
    rows = [Row(4, "a 1 GiB body", "stopped at 4 MB", 1, 0.71, 0.6, 64.2),
            Row(1, "default endpoint", "connects over wss://", 0, 0.5, 0.4, 61.0),
            Row(11, "bad setting", "refused", 2, None, None, None)]
    text = render(rows)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| # | fault | what the app does | exit |")
    assert [line.split("|")[1].strip() for line in table[1:]] == ["1", "4", "11"]
    assert "| 4 | a 1 GiB body | stopped at 4 MB | 1 | 0.71 | 0.60 | 64 |" in text
    assert "| 11 | bad setting | refused | 2 | - | - | - |" in text
    assert "Largest peak RSS of any faulty run: **64 MB**" in text
    assert all(what in text for what in ITEMS.values())
    path = write_reliability_doc(rows, tmp_path / "docs" / "reliability.md")
    assert path.read_text() == text
