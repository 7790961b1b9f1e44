"""Recipient ingest: CSV encodings, xlsx sheets and cells, counts, dedup, suppression, every InputError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter

from engine.errors import InputError
from engine.ingest import csv_text
from engine.ingest.recipients import Recipients, load_recipients, load_suppression
from engine.ingest.spec import ParamRule

A, B, C = "13800138000", "13900139000", "15000150000"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def workbook(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """Cells: str and numbers as typed values; ("=formula", cached) tuples as formula cells."""
    with xlsxwriter.Workbook(path) as book:
        for name, rows in sheets.items():
            sheet = book.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    if isinstance(cell, tuple):
                        sheet.write_formula(r, c, cell[0], None, cell[1])
                    elif cell is not None:
                        sheet.write(r, c, cell)
    return path


def counts(r: Recipients) -> tuple[int, ...]:
    return (r.rows, r.imported, r.invalid, r.duplicates, r.suppressed, r.accepted)


# -- CSV ------------------------------------------------------------------------------------------------


def test_csv_counts_dedup_first_occurrence_and_suppression(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.csv",
        "mobile,name,amount,unused\n"
        f"{A},张三,100,x\n"
        "12345,bad,1,x\n"
        f"+86 {A[:3]} {A[3:7]} {A[7:]},李四,200,x\n"  # duplicate of A: the first row wins
        f"{B},王五,,x\n"
        "\n"  # a blank line is not a row
        f"0086{C},赵六,300,x\n"
        ",no number,4,x\n"
        f"{B},again,5,x\n",
    )
    r = load_recipients(path, param_columns=["name", "amount"], suppressed={f"+86{C}"})
    assert counts(r) == (7, 3, 2, 2, 1, 2)
    assert r.frame.to_dicts() == [
        {"mobile": A, "name": "张三", "amount": "100"},
        {"mobile": B, "name": "王五", "amount": ""},
    ]
    assert [(s.row, s.value) for s in r.invalid_samples] == [(3, "*****"), (8, "")]
    assert str(r.invalid_samples[0]) == "row 3 '*****'"
    assert r.counts["accepted"] == 2


def test_csv_keeps_text_as_written(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", f"mobile,code,big\n{A},00123,12345678901234567890\n")
    r = load_recipients(path, param_columns=["code", "big"])
    assert r.frame.row(0) == (A, "00123", "12345678901234567890")


@pytest.mark.parametrize(
    ("encoding", "prefix", "separator"),
    [
        ("utf-8", "", ","),
        ("utf-8", "\ufeff", ","),  # Excel's "CSV UTF-8"
        ("gbk", "", ","),  # Excel's "CSV" on a Chinese Windows
        ("gb18030", "", ";"),
        ("utf-16", "", "\t"),  # Excel's "Unicode text"
    ],
)
def test_csv_encodings(tmp_path: Path, encoding: str, prefix: str, separator: str) -> None:
    rows = [["手机号码", "姓名"], [A, "张三"], [f"+86{B}", "欧阳娜娜"]]
    text = prefix + "".join(separator.join(row) + "\r\n" for row in rows)
    r = load_recipients(
        write(tmp_path / "r.csv", text, encoding), mobile_column="手机号码", param_columns=["姓名"]
    )
    assert r.frame.to_dicts() == [{"mobile": A, "姓名": "张三"}, {"mobile": B, "姓名": "欧阳娜娜"}]


def test_gbk_beyond_the_first_megabytes_is_detected(tmp_path: Path) -> None:
    ascii_rows = "".join(f"{13000000000 + i},n{i}\n" for i in range(400_000))
    path = tmp_path / "r.csv"
    path.write_bytes(f"mobile,name\n{ascii_rows}{A},张三\n".encode("gbk"))
    r = load_recipients(path, param_columns=["name"])
    assert r.frame["name"][-1] == "张三"


@pytest.mark.parametrize("cut", [1, 2], ids=["after-1-byte", "after-2-bytes"])
def test_utf8_character_split_across_read_chunks_is_still_utf8(tmp_path: Path, cut: int) -> None:
    """ASCII chunks are only checked, not decoded: a character cut at a chunk's end must still join the
    next one, and a file whose character never completes is not UTF-8."""
    filler = f"{B},y\n".encode()
    rows = b"mobile,name\n" + filler * ((csv_text._CHUNK - 100) // len(filler))
    head = rows + f"{A},".encode()
    head += b"x" * (csv_text._CHUNK - cut - len(head))  # 张 starts ``cut`` bytes before the chunk ends
    name = "张三".encode()
    path = tmp_path / "r.csv"
    path.write_bytes(head + name + b"\n" + filler * 1000)
    r = load_recipients(path, param_columns=["name"])
    assert r.frame.filter(pl.col("mobile") == A)["name"].item().endswith("张三")
    # not UTF-8: the character's first bytes, a whole chunk of ASCII, then the bytes that would complete it
    ascii_chunk = b"\n" + b"y" * (csv_text._CHUNK - 1)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(head + name[:cut] + ascii_chunk + name[cut:] + b"\n")
    assert csv_text._detect_encoding(broken) == "gb18030"


def test_a_file_name_is_never_a_glob_pattern(tmp_path: Path) -> None:
    """polars reads a path as a pattern by default: ``r[1].csv`` would have been the file ``r1.csv``."""
    write(tmp_path / "r1.csv", f"mobile,name\n{B},other file\n")
    r = load_recipients(write(tmp_path / "r[1].csv", f"mobile,name\n{A},x\n"), param_columns=["name"])
    assert r.frame.to_dicts() == [{"mobile": A, "name": "x"}]


def test_mobile_column_as_parameter_gets_the_normalised_number(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", f"phone,name\n+86 {A},x\n")
    r = load_recipients(path, mobile_column="phone", param_columns=["phone", "name"])
    assert r.frame.to_dicts() == [{"mobile": A, "phone": A, "name": "x"}]


# -- xlsx -----------------------------------------------------------------------------------------------


def test_xlsx_sheets_formulas_and_number_cells(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "r.xlsx",
        {
            "一月": [
                ["mobile", "name", "amount"],
                [13800138000, "张三", 12.5],  # a number cell
                [('="139"&"00139000"', B), "formula", 100],  # a formula cell, read as its value
                [None, None, None],  # an empty row is not a row
                [f"+86 {C}", "text", ""],
            ],
            "empty": [],
            "二月": [["mobile", "name", "amount"], [13800138000.0, "dup", 1], ["123", "bad", 2]],
        },
    )
    r = load_recipients(path, param_columns=["name", "amount"])
    assert counts(r) == (5, 3, 1, 1, 0, 3)
    assert r.frame.to_dicts() == [
        {"mobile": A, "name": "张三", "amount": "12.5"},
        {"mobile": B, "name": "formula", "amount": "100"},
        {"mobile": C, "name": "text", "amount": ""},
    ]
    assert str(r.invalid_samples[0]) == "sheet '二月' row 3 '***'"
    assert load_recipients(path, sheet="二月").imported == 1
    assert load_recipients(path, sheet=3).imported == 1
    assert load_recipients(path, sheet=None).imported == 3


def test_xlsx_float_column(tmp_path: Path) -> None:
    rows: list[list[Any]] = [["mobile"], *([13800138000.0 + i] for i in range(3))]
    r = load_recipients(workbook(tmp_path / "r.xlsx", {"s": rows}))
    assert r.frame["mobile"].to_list() == [A, "13800138001", "13800138002"]


# -- errors ---------------------------------------------------------------------------------------------


def _csv(text: str) -> Callable[[Path], Path]:
    return lambda d: write(d / "bad.csv", text)


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / "bad.csv").write_bytes(data)
        return d / "bad.csv"

    return make


def _corrupt(d: Path) -> Path:
    return write(d / "bad.xlsx", "PK\x03\x04 not really a zip")


def _directory(d: Path) -> Path:
    (d / "bad.csv").mkdir()
    return d / "bad.csv"


def _loop(d: Path) -> Path:
    (d / "bad.csv").symlink_to(d / "bad.csv")
    return d / "bad.csv"


TWICE = "column 'mobile' is in the header 2 times (columns 1 and 3); keep one"


ERRORS: list[tuple[str, Callable[[Path], Path], dict[str, Any], str]] = [
    ("missing", lambda d: d / "bad.csv", {}, "no such file"),
    ("empty", _csv(""), {}, "the file is empty"),
    ("blank lines", _csv("\n\n"), {}, "no header row"),
    ("extension", lambda d: write(d / "bad.pdf", "x"), {}, "unsupported file type '.pdf'"),
    ("no header", _csv(f"{A},张三\n{B},李四\n"), {}, "no header row (the first row holds a phone number)"),
    (
        "mobile column",
        _csv(f"phone,name\n{A},x\n"),
        {},
        "column 'mobile' not found (columns: 'phone', 'name')",
    ),
    (
        "param column",
        _csv(f"mobile,name\n{A},x\n"),
        {"param_columns": ["amount"]},
        "column 'amount' not found",
    ),
    ("header only", _csv("mobile,name\n"), {}, "has a header but no data rows"),
    (
        "no valid",
        _csv("mobile\n123\nabc\n"),
        {},
        "no valid mobile number in column 'mobile' (first bad rows: row 2",
    ),
    (
        "huge cell",
        _csv(f"mobile,name\n{A},x\n{B},{'y' * 1001}\n"),
        {"param_columns": ["name"]},
        "row 3, column 'name'",
    ),
    ("unclosed quote", _csv(f'mobile\n{A}\n"{B}\n' + f"{C}\n" * 100), {}, "row 3: unexpected end of data"),
    ("ragged", _csv(f"mobile\n{A}\n{B},extra\n"), {}, "malformed CSV: row 3 has 2 fields, the header 1"),
    ("encoding", _bytes(b"mobile\n\xff\xff\n"), {}, "not UTF-8, GBK/GB18030 or UTF-16 text (byte 7)"),
    ("corrupt xlsx", _corrupt, {}, "unreadable xlsx file"),
    (
        "xlsx size",
        lambda d: workbook(d / "bad.xlsx", {"s": [["mobile"], [A]]}),
        {"max_xlsx_mb": 0.001},
        "MB limit",
    ),
    (
        "no sheet",
        lambda d: workbook(d / "bad.xlsx", {"s": [["mobile"], [A]]}),
        {"sheet": "x"},
        "no sheet 'x'",
    ),
    (
        "sheet 0",
        lambda d: workbook(d / "bad.xlsx", {"s": [["mobile"], [A]]}),
        {"sheet": 0},
        "numbers start at 1",
    ),
    ("all empty", lambda d: workbook(d / "bad.xlsx", {"s": []}), {}, "every sheet is empty"),
    (
        "sheet column",
        lambda d: workbook(d / "bad.xlsx", {"a": [["mobile"], [A]], "b": [["tel"], [B]]}),
        {},
        "sheet 'b': column 'mobile' not found (columns: 'tel')",
    ),
    ("mobile twice", _csv(f"mobile,name,mobile\n{A},x,{B}\n"), {}, TWICE),
    ("mobile twice once trimmed", _csv(f"mobile,name, mobile \n{A},x,{B}\n"), {}, TWICE),
    (
        "mobile twice xlsx",
        lambda d: workbook(d / "bad.xlsx", {"s": [["mobile", "x", "mobile"], [A, 1, B]]}),
        {},
        TWICE,
    ),
    (
        "parameter three times",
        _csv(f"name,mobile,name,name\n{A},x,y,z\n"),
        {"param_columns": ["name"]},
        "column 'name' is in the header 3 times (columns 1, 3 and 4)",
    ),
    (
        "utf-16 without bom",
        _bytes(f"mobile,name\n{A},张三\n".encode("utf-16-le")),
        {},
        "UTF-16 (little-endian) text without a byte-order mark",
    ),
    ("utf-16-be without bom", _bytes(f"mobile\n{A}\n".encode("utf-16-be")), {}, "UTF-16 (big-endian)"),
    ("nul bytes", _bytes(b"mobile\n\x00\x00\x00\x00\x01\x02" * 10), {}, "holds NUL bytes"),
    ("directory", _directory, {}, "is a directory, not a file"),
    ("symlink loop", _loop, {}, "cannot read the file: Too many levels of symbolic links"),
    ("name too long", lambda d: d / f"{'x' * 300}.csv", {}, "cannot read the file: File name too long"),
]


@pytest.mark.parametrize(("make", "kwargs", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_input_errors_name_file_row_and_column(
    tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, Any], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError) as caught:
        load_recipients(path, **kwargs)
    text = str(caught.value)
    assert path.name in text and message in text and "\n" not in text


def test_a_missing_column_error_masks_numbers_in_the_header_cells(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", f"联系人{A}的电话,name\n{B},x\n")
    with pytest.raises(InputError) as caught:
        load_recipients(path)
    text = str(caught.value)
    assert "column 'mobile' not found" in text and A not in text and f"{A[:3]}****{A[-4:]}" in text


def test_a_long_digit_string_is_an_invalid_number_not_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", f"mobile\n{A}\n{'1' * 30}\n1.3800138E+10\n{'9' * 400}\n")
    r = load_recipients(path)
    assert (r.counts["invalid"], r.counts["duplicates"], r.frame["mobile"].to_list()) == (2, 1, [A])


SMS_RULE = ParamRule("name", "smart.sms_params", 1, 20, frozenset(".。'<>{}"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", "row 3, column 'name': contains '.', which smart.sms_params does not allow"),
        ("", "row 3, column 'name': has 0 characters; smart.sms_params allows 1-20"),
        ("x" * 21, "has 21 characters; smart.sms_params allows 1-20"),
    ],
)
def test_param_rules_apply_to_sent_rows(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path / "r.csv", f"mobile,name\n{A},ok\n{B},{value}\nbad,{value}\n{A},{value}\n")
    with pytest.raises(InputError, match=message):
        load_recipients(path, param_columns=["name"], param_rules=[SMS_RULE])
    # the same value on an invalid, duplicate or suppressed row is never sent, so it is no error
    r = load_recipients(path, param_columns=["name"], param_rules=[SMS_RULE], suppressed={B})
    assert r.accepted == 1


# -- suppression ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"{A}\n+86 {B}\n\nnot a number\n",
        f"mobile\n{A}\n0086{B}\n",
        f"name,mobile\nx,{A}\ny,{B}\n",
        f"\ufeff号码\n{A}\n{B}\n",
    ],
)
def test_load_suppression(tmp_path: Path, text: str) -> None:
    assert load_suppression(write(tmp_path / "optout.txt", text)) == {A, B}


def test_suppression_csv_without_mobile_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="column 'mobile' not found"):
        load_suppression(write(tmp_path / "optout.csv", f"name,tel\nx,{A}\n"))


def test_frame_dtypes(tmp_path: Path) -> None:
    r = load_recipients(write(tmp_path / "r.csv", f"mobile,n\n{A},\n"), param_columns=["n"])
    assert r.frame.schema == pl.Schema({"mobile": pl.Utf8, "n": pl.Utf8})


async def test_runs_off_the_event_loop(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", f"mobile\n+86 {A}\n")
    r = await asyncio.to_thread(load_recipients, path)
    assert r.frame["mobile"].to_list() == [A]
