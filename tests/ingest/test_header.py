"""Header rows: wide or huge ones give short errors; repeated names nobody reads are no error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import xlsxwriter

from engine.errors import InputError
from engine.ingest.recipients import load_recipients

A, B = "13800138000", "13900139000"
MESSAGE_MAX = 1024


def refusal(path: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        load_recipients(path, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_header_of_100k_columns_without_the_mobile_column_is_named_in_a_short_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + "," * 99_999 + "\n")
    text = refusal(path)
    assert (
        text == f"{path}: column 'mobile' not found (columns: 'c0', 'c1', 'c2', 'c3', 'c4' and 99,995 more)"
    )


def test_a_huge_header_cell_is_cut_short_and_a_number_in_it_masked(tmp_path: Path) -> None:
    path = tmp_path / "oneline.csv"
    path.write_text(f"{'x' * 24} {A} {'y' * 5_000_000}\n")  # one line of 5 MB, no separator
    text = refusal(path)
    assert len(text) <= MESSAGE_MAX and "column 'mobile' not found (columns: 'xxxxx" in text
    assert not re.search("[0-9]{5}", text), "a number cut by the limit must still be masked"


def test_the_same_column_thousands_of_times_is_a_short_message(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text(",".join(["mobile"] * 50_000) + f"\n{A}\n")
    text = refusal(path)
    assert len(text) <= MESSAGE_MAX
    assert "column 'mobile' is in the header 50000 times (columns 1, 2, 3, 4, 5 and 49,995 more)" in text


def test_repeated_names_the_campaign_does_not_read_are_no_error(tmp_path: Path) -> None:
    """The CSV header ``note, note `` clashed once trimmed (polars refused it as malformed), and a column
    after them is still read by its own name."""
    csv = tmp_path / "r.csv"
    csv.write_text(f"note,mobile, note ,,,name\nx,{A},y,,,n1\n")
    book = tmp_path / "r.xlsx"
    with xlsxwriter.Workbook(book) as workbook:
        sheet = workbook.add_worksheet("s")
        for column, value in enumerate(["note", "mobile", "note ", None, None, "name"]):
            if value is not None:
                sheet.write(0, column, value)
        sheet.write_row(1, 0, ["x", A, "y", None, None, "n1"])
    for path in (csv, book):
        r = load_recipients(path, param_columns=["name"])
        assert r.frame.to_dicts() == [{"mobile": A, "name": "n1"}], path.name
