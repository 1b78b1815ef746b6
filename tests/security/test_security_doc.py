"""docs/security.md is rendered from the rows the security tests record."""

from tests.security.threats import Row, render, write_security_doc


def test_rows_become_the_threat_table_in_area_order(tmp_path):
    rows = [Row("terminal", "your terminal", "ESC sequences | OSC 52", "stripped", "test_a.py::t", "0 ESC printed"),
            Row("text on screen", "the window", "<img src=file:///dev/zero>", "plain text", "test_b.py::t", "12 ms")]
    text = render(rows)
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0] == "| area | asset | threat | defence | test | measured |"
    assert [line.split("|")[1].strip() for line in table[1:]] == ["text on screen", "terminal"]
    assert "ESC sequences \\| OSC 52" in text  # a cell cannot break the table
    path = write_security_doc(rows, tmp_path / "docs" / "security.md")
    assert path.read_text() == text
