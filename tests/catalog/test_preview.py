"""The tabular preview: every Chinese encoding read right, never more of a file than it needs."""
from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from catalog.preview import MESSAGES, PREVIEW_ROWS, csv_preview, encodings, preview_file, xlsx_preview

ROWS = [["乡镇", "户籍人口", "常住人口"], ["黄梅镇", "123456", "110000"], ["孔垄镇", "98765", "90000"],
        ["小池镇", "150000", "140000"]]


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode(encoding) + b"\r\n")
    return path


@pytest.mark.parametrize("encoding,label", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 (BOM)"), ("gbk", "GBK"),
                                            ("gb18030", "GB18030")])
def test_each_encoding_is_detected_and_read_without_mojibake(tmp_path, encoding, label):
    rows = [r[:] for r in ROWS]
    if encoding == "gb18030":
        rows.append(["㐀家村", "1", "2"])  # U+3400 is in GB18030 (four bytes) but not in GBK
    p = write_csv(tmp_path / "people.csv", rows, encoding)
    result = csv_preview(p)
    assert result.error is None
    assert result.encoding == label
    assert result.header == rows[0]  # no BOM left in the first cell
    assert result.rows == rows[1:]


def test_gbk_after_a_long_ascii_start_is_still_read_right(tmp_path):
    """The first 64 KiB decide nothing when they are ASCII: a strict read moves on to GBK."""
    start = "code,value\n" + "".join(f"{n:06d},{'x' * 2000}\n" for n in range(40))
    assert len(start) > 64 * 1024
    p = tmp_path / "late.csv"
    p.write_bytes(start.encode("ascii") + "黄梅镇,中文\n".encode("gbk"))
    assert encodings(start.encode("ascii")[:64 * 1024])[0] == "utf-8"
    result = csv_preview(p)
    assert result.encoding == "GBK"
    assert result.rows[-1] == ["黄梅镇", "中文"]


def test_a_big_file_is_streamed_and_only_the_first_rows_are_read(tmp_path):
    p = tmp_path / "big.csv"
    with open(p, "wb") as f:
        f.write("序号,名称\n".encode("gbk"))
        line = "{},黄梅县某某单位数据记录\n"
        for n in range(400_000):
            f.write(line.format(n).encode("gbk"))
    assert p.stat().st_size > 10_000_000
    tracemalloc.start()
    result = csv_preview(p)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.error is None and result.more
    assert len(result.rows) == PREVIEW_ROWS
    assert result.rows[-1] == [str(PREVIEW_ROWS - 1), "黄梅县某某单位数据记录"]
    assert peak < 2_000_000, peak  # the file is 13 MB; the preview reads a few buffers of it


def test_endless_rows_give_a_message_not_the_whole_file(tmp_path):
    p = tmp_path / "one-line.csv"
    with open(p, "wb") as f:
        for _ in range(800):
            f.write(b"a," * 5000)  # 8 MB without a line break
    result = csv_preview(p)
    assert result.error in (MESSAGES["too_long"], MESSAGES["broken"])
    assert not result.rows


def test_text_in_no_known_encoding_gives_a_message(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"a,b\n" + bytes(range(0x80, 0x100)) * 4)
    assert csv_preview(p).error == MESSAGES["encoding"]


def test_empty_and_missing_files(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert csv_preview(p).error == MESSAGES["empty"]
    assert preview_file(tmp_path / "gone.csv", "CSV").error == MESSAGES["missing"]


def workbook_bytes(rows: int) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["年份", "地区生产总值（亿元）"])
    for n in range(rows):
        ws.append([2000 + n, 100.5 + n])
    wb.create_sheet("第二页").append(["不显示"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_xlsx_first_sheet_first_rows(tmp_path):
    p = tmp_path / "gdp.xlsx"
    p.write_bytes(workbook_bytes(120))
    result = xlsx_preview(p)
    assert result.error is None and result.more
    assert result.header == ["年份", "地区生产总值（亿元）"]
    assert len(result.rows) == PREVIEW_ROWS
    assert result.rows[0] == ["2000", "100.5"]


def test_broken_xlsx_gives_a_message(tmp_path):
    p = tmp_path / "broken.xlsx"
    p.write_bytes(workbook_bytes(3)[:500])
    assert xlsx_preview(p).error == MESSAGES["broken"]
    q = tmp_path / "notbook.xlsx"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<not-a-workbook")
    q.write_bytes(buf.getvalue())
    assert xlsx_preview(q).error == MESSAGES["broken"]


def test_xlsx_with_a_huge_sheet_is_not_opened(tmp_path, monkeypatch):
    import catalog.preview as preview
    monkeypatch.setattr(preview, "MAX_XLSX_PART", 10_000)
    p = tmp_path / "big.xlsx"
    p.write_bytes(workbook_bytes(2000))
    assert xlsx_preview(p).error == MESSAGES["too_large"]
