"""Tests for fangpin.exchange.tabular: messy government spreadsheets (FEEDS.md)."""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangpin.exchange.tabular import (
    ColumnSpec,
    FileRejected,
    SourceRow,
    Table,
    iter_rows,
    read_table,
)

TITLE = "某某县2024年10月高额医疗费用人员名单"

COLUMNS = [
    ColumnSpec("姓名", True),
    ColumnSpec("证件号码", True, ("身份证号", "身份证号码", "公民身份号码")),
    ColumnSpec("统计截止日期", False, ("截止日期",)),
    ColumnSpec("年度累计总费用", False),
    ColumnSpec("联系电话", False),
]


def _messy_xlsx(path: str) -> None:
    """FEEDS.md messes: merged title, blank row, totals row, IDs as numbers, Excel serial date, dirty header."""
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("名单")
    ws.merge_range("A1:E1", TITLE)  # Excel row 1 (merged title)
    ws.write("A2", "填报单位：某某县医保局")  # Excel row 2 (sub-title)
    # Excel row 3: header with "*" marker, spaces, newline, alias and an unknown extra column
    ws.write_row("A3", ["序号", "* 姓 名", "身份证\n号码", "截止日期（必填）", "年度累计\n总费用"])
    ws.write_row("A4", [1, "张 三", "410102199003071234", "2024-10-31", 123456.5])  # Excel row 4
    ws.write("A5", 2)  # Excel row 5: ID stored as a number that lost digits (4.10102E+17)
    ws.write("B5", "李四")
    ws.write_number("C5", 4.10102e17)
    ws.write_number("D5", 45596)  # Excel serial for 2024-10-31
    ws.write("E5", "1,234元")
    # Excel row 6: blank
    ws.write_row("A7", [3, "王·五", None, None, None])  # Excel row 7
    ws.write_number("C7", 410102900307123)  # 15-digit old ID as a number
    ws.write_datetime("D7", dt.datetime(2024, 10, 31), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_row("A8", ["合 计", None, None, None, 999])  # Excel row 8: totals
    # Excel rows 9, 10: blank after the totals row
    ws.write("A11", "填表人：赵六")  # Excel row 11: footer
    wb.close()


@pytest.fixture()
def messy_xlsx(tmp_path) -> str:
    p = str(tmp_path / "高额医疗费用.xlsx")
    _messy_xlsx(p)
    return p


def _by_name(t: Table) -> dict[str, SourceRow]:
    return {r.values["姓名"]: r for r in t.rows}


def test_xlsx_title_rows_and_dirty_header_feeds_md(messy_xlsx):
    t = read_table(messy_xlsx, columns=COLUMNS)
    assert t.format == "xlsx"
    assert t.sheet == "名单"
    assert t.header_row == 3
    assert t.encoding is None
    assert t.columns == ["姓名", "证件号码", "统计截止日期", "年度累计总费用"]
    assert t.extra_columns == ["序号"]


def test_xlsx_row_numbers_match_excel_rows_feeds_md(messy_xlsx):
    t = read_table(messy_xlsx, columns=COLUMNS)
    assert [r.row_number for r in t.rows] == [4, 5, 7]
    rows = _by_name(t)
    assert rows["张 三"].row_number == 4
    assert rows["李四"].row_number == 5
    assert rows["王·五"].row_number == 7


def test_xlsx_blank_totals_and_footer_rows_are_reported_feeds_md(messy_xlsx):
    t = read_table(messy_xlsx, columns=COLUMNS)
    assert (6, "blank") in t.skipped
    assert (8, "totals") in t.skipped
    assert (11, "footer") in t.skipped
    assert not any(r.row_number in (6, 8, 11) for r in t.rows)


def test_xlsx_values_stay_raw_numbers_not_strings_feeds_md(messy_xlsx):
    rows = _by_name(read_table(messy_xlsx, columns=COLUMNS))
    zhang, li, wang = rows["张 三"], rows["李四"], rows["王·五"]
    assert zhang.values["证件号码"] == "410102199003071234"
    # An ID stored as a number must stay a number so the ID parser can reject it (FEEDS.md: lost digits).
    assert isinstance(li.values["证件号码"], float) and li.values["证件号码"] == 4.10102e17
    assert isinstance(wang.values["证件号码"], (int, float)) and wang.values["证件号码"] == 410102900307123
    assert li.values["统计截止日期"] == 45596  # Excel serial (number cell without date format)
    assert wang.values["统计截止日期"] in (dt.date(2024, 10, 31), dt.datetime(2024, 10, 31))
    assert zhang.values["年度累计总费用"] == 123456.5
    assert li.values["年度累计总费用"] == "1,234元"


def test_absent_optional_column_is_present_as_none(messy_xlsx):
    t = read_table(messy_xlsx, columns=COLUMNS)
    for r in t.rows:
        assert "联系电话" in r.values and r.values["联系电话"] is None
        assert set(r.values) == {c.name for c in COLUMNS}
    assert _by_name(t)["王·五"].values["年度累计总费用"] is None


def test_read_from_bytes_and_file_object(messy_xlsx):
    data = open(messy_xlsx, "rb").read()
    t1 = read_table(data, columns=COLUMNS)
    t2 = read_table(io.BytesIO(data), columns=COLUMNS, filename="x.xlsx")
    assert [r.values for r in t1.rows] == [r.values for r in t2.rows]
    assert len(t1.rows) == 3


def test_xlsx_with_csv_extension_is_detected_by_magic_bytes(messy_xlsx, tmp_path):
    p = tmp_path / "actually_excel.csv"
    p.write_bytes(open(messy_xlsx, "rb").read())
    t = read_table(str(p), columns=COLUMNS)
    assert t.format == "xlsx" and len(t.rows) == 3


def test_iter_rows_streaming_variant(messy_xlsx):
    stream = iter_rows(messy_xlsx, columns=COLUMNS)
    assert stream.header_row == 3
    rows = list(stream)
    assert [r.row_number for r in rows] == [4, 5, 7]
    assert (8, "totals") in stream.skipped


def test_missing_required_column_rejected_says_which_feeds_md(tmp_path):
    p = str(tmp_path / "m.xlsx")
    wb = xlsxwriter.Workbook(p)
    ws = wb.add_worksheet()
    ws.write("A1", TITLE)
    ws.write_row("A2", ["姓名", "性别", "电话"])
    ws.write_row("A3", ["张三", "男", "1380000"])
    wb.close()
    with pytest.raises(FileRejected) as ei:
        read_table(p, columns=COLUMNS)
    iss = ei.value.issue
    assert iss.code == "file.missing_columns"
    assert "证件号码" in iss.zh and "证件号码" in iss.en
    assert "缺少" in iss.zh and "Missing" in iss.en
    assert "性别" in iss.zh  # headers found are listed
    assert "姓名" not in iss.zh.split("。")[0]  # only the missing one is named as missing


def test_duplicate_columns_rejected(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("姓名,证件号码,身份证号\n张三,1,2\n", encoding="utf-8")
    with pytest.raises(FileRejected) as ei:
        read_table(str(p), columns=COLUMNS)
    assert ei.value.issue.code == "file.duplicate_columns"
    assert "证件号码" in ei.value.issue.zh and "B" in ei.value.issue.zh and "C" in ei.value.issue.zh


def test_gb18030_csv_with_title_rows_feeds_md(tmp_path):
    text = (
        f"{TITLE},,,\n"
        "填报单位：某某县民政局,,,\n"
        "姓名,证件号码,截止日期,备注\n"
        "张三,41010219900307123x,2024/3/5,\n"
        ",,,\n"
        "欧阳·娜娜,４１０１０２１９９００３０７１２３４,20240305,少数民族\n"
        "合计,2人,,\n"
    )
    p = tmp_path / "gb.csv"
    p.write_bytes(text.encode("gb18030"))
    t = read_table(str(p), columns=COLUMNS)
    assert t.format == "csv"
    assert t.encoding == "gb18030"
    assert t.header_row == 3
    assert t.extra_columns == ["备注"]
    assert [r.row_number for r in t.rows] == [4, 6]
    assert t.rows[1].values["姓名"] == "欧阳·娜娜"
    assert t.rows[1].values["证件号码"] == "４１０１０２１９９００３０７１２３４"
    assert t.skipped == [(5, "blank"), (7, "totals")]


def test_utf8_bom_csv(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeff姓名,证件号码\n 张三 ,=\"410102199003071234\"\n".encode("utf-8"))
    t = read_table(str(p), columns=COLUMNS)
    assert t.encoding == "utf-8-sig"
    assert t.columns == ["姓名", "证件号码"]
    assert t.rows[0].values["姓名"] == "张三"  # surrounding whitespace stripped
    assert t.rows[0].values["证件号码"] == "410102199003071234"  # Excel ="..." text trick unwrapped
    assert t.rows[0].row_number == 2


def test_plain_utf8_tab_and_semicolon_csv(tmp_path):
    for delim, name in (("\t", "t.txt"), (";", "s.csv")):
        p = tmp_path / name
        p.write_text(f"姓名{delim}证件号码{delim}年度累计总费用\n张三{delim}1{delim}1,234.50\n", encoding="utf-8")
        t = read_table(str(p), columns=COLUMNS)
        assert t.encoding == "utf-8"
        assert t.rows[0].values == {
            "姓名": "张三", "证件号码": "1", "年度累计总费用": "1,234.50", "统计截止日期": None, "联系电话": None,
        }


def test_utf16_csv_from_excel_unicode_text(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_bytes("姓名\t证件号码\r\n张三\t1\r\n".encode("utf-16"))
    t = read_table(str(p), columns=COLUMNS)
    assert t.encoding == "utf-16" and t.rows[0].values["姓名"] == "张三"


def test_csv_quoted_newline_counts_as_one_excel_row(tmp_path):
    p = tmp_path / "nl.csv"
    p.write_text('姓名,证件号码\n"张\n三",1\n李四,2\n', encoding="utf-8")
    t = read_table(str(p), columns=COLUMNS)
    assert [r.row_number for r in t.rows] == [2, 3]


def test_header_with_fullwidth_star_and_required_suffix(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("＊姓名（必填）,公民身份号码*\n张三,1\n", encoding="utf-8")
    t = read_table(str(p), columns=COLUMNS)
    assert t.columns == ["姓名", "证件号码"]


def test_repeated_header_row_is_skipped(tmp_path):
    p = tmp_path / "rep.csv"
    p.write_text("姓名,身份证号\n张三,1\n姓名,身份证号\n李四,2\n", encoding="utf-8")
    t = read_table(str(p), columns=COLUMNS)
    assert [r.row_number for r in t.rows] == [2, 4]
    assert t.skipped == [(3, "header")]


def test_totals_variants_feeds_md(tmp_path):
    p = tmp_path / "tot.csv"
    p.write_text(
        "序号,姓名,证件号码\n1,张三,1\n,小计,\n2,李四,2\n,,合计：2人\n总计,,\n", encoding="utf-8"
    )
    t = read_table(str(p), columns=COLUMNS)
    assert [r.row_number for r in t.rows] == [2, 4]
    assert t.skipped == [(3, "totals"), (5, "totals"), (6, "totals")]


def test_header_not_within_scan_limit(tmp_path):
    p = tmp_path / "far.csv"
    p.write_text("标题\n" * 40 + "姓名,证件号码\n张三,1\n", encoding="utf-8")
    with pytest.raises(FileRejected) as ei:
        read_table(str(p), columns=COLUMNS)
    assert ei.value.issue.code in ("file.no_header", "file.missing_columns")
    assert read_table(str(p), columns=COLUMNS, max_header_scan=50).header_row == 41


def test_second_sheet_used_when_first_is_instructions(tmp_path):
    p = str(tmp_path / "two.xlsx")
    wb = xlsxwriter.Workbook(p)
    wb.add_worksheet("填表说明").write("A1", "请按模板填写")
    ws = wb.add_worksheet("数据")
    ws.write_row("A1", ["姓名", "证件号码"])
    ws.write_row("A2", ["张三", "1"])
    wb.close()
    t = read_table(p, columns=COLUMNS)
    assert t.sheet == "数据" and t.rows[0].row_number == 2
    assert read_table(p, columns=COLUMNS, sheet="数据").sheet == "数据"
    assert read_table(p, columns=COLUMNS, sheet=1).sheet == "数据"
    with pytest.raises(FileRejected) as ei:
        read_table(p, columns=COLUMNS, sheet="不存在")
    assert ei.value.issue.code == "file.sheet_not_found" and "数据" in ei.value.issue.zh
    with pytest.raises(FileRejected):
        read_table(p, columns=COLUMNS, sheet=0)


def test_vertically_merged_data_cells_are_filled_down(tmp_path):
    p = str(tmp_path / "merged.xlsx")
    wb = xlsxwriter.Workbook(p)
    ws = wb.add_worksheet()
    ws.merge_range("A1:C1", TITLE)
    ws.write_row("A2", ["户编号", "姓名", "证件号码"])
    ws.merge_range("A3:A4", "H001")
    ws.write_row("B3", ["张三", "1"])
    ws.write_row("B4", ["李四", "2"])
    wb.close()
    cols = [ColumnSpec("户编号", True), *COLUMNS]
    t = read_table(p, columns=cols)
    assert [r.values["户编号"] for r in t.rows] == ["H001", "H001"]
    assert [r.row_number for r in t.rows] == [3, 4]


def test_data_starting_below_empty_rows_and_columns_keeps_excel_row_numbers(tmp_path):
    p = str(tmp_path / "offset.xlsx")
    wb = xlsxwriter.Workbook(p)
    ws = wb.add_worksheet()
    ws.write_row("C5", ["姓名", "证件号码"])
    ws.write_row("C6", ["张三", "1"])
    wb.close()
    t = read_table(p, columns=COLUMNS)
    assert t.header_row == 5 and t.rows[0].row_number == 6 and t.rows[0].values["姓名"] == "张三"


# ---------------------------------------------------------------------------------------------------------------
# Rejections: never a traceback


def test_truncated_xlsx_rejected(messy_xlsx):
    data = open(messy_xlsx, "rb").read()
    with pytest.raises(FileRejected) as ei:
        read_table(data[: len(data) // 2], columns=COLUMNS)
    assert ei.value.issue.code == "file.damaged"
    assert "损坏" in ei.value.issue.zh


def test_random_bytes_rejected():
    data = os.urandom(4096)
    with pytest.raises(FileRejected):
        read_table(data, columns=COLUMNS)


def test_empty_file_rejected(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes(b"")
    with pytest.raises(FileRejected) as ei:
        read_table(str(p), columns=COLUMNS)
    assert ei.value.issue.code == "file.empty"


def test_missing_path_rejected(tmp_path):
    with pytest.raises(FileRejected) as ei:
        read_table(str(tmp_path / "nope.xlsx"), columns=COLUMNS)
    assert ei.value.issue.code == "file.not_found"


def test_html_disguised_as_xls_rejected():
    data = "<html><body><table><tr><td>姓名</td></tr></table></body></html>".encode()
    with pytest.raises(FileRejected) as ei:
        read_table(data, columns=COLUMNS, filename="导出.xls")
    assert ei.value.issue.code == "file.html"


def test_word_document_and_pdf_rejected():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    with pytest.raises(FileRejected) as ei:
        read_table(buf.getvalue(), columns=COLUMNS)
    assert ei.value.issue.code == "file.not_tabular"
    with pytest.raises(FileRejected):
        read_table(b"%PDF-1.4 ...", columns=COLUMNS)


def test_garbage_named_xlsx_reported_as_damaged_workbook():
    with pytest.raises(FileRejected) as ei:
        read_table(b"\x80\xff" * 50, columns=COLUMNS, filename="名单.xlsx")
    assert ei.value.issue.code == "file.damaged" and ".xlsx" in ei.value.issue.zh


def test_csv_named_xls_is_accepted(tmp_path):
    p = tmp_path / "系统导出.xls"
    p.write_bytes("姓名,证件号码\n张三,1\n".encode("gb18030"))
    t = read_table(str(p), columns=COLUMNS)
    assert t.format == "csv" and t.rows[0].values["姓名"] == "张三"


def test_fake_ole_xls_rejected():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2000)
    with pytest.raises(FileRejected):
        read_table(data, columns=COLUMNS)


def test_undecodable_text_rejected():
    # Invalid in UTF-8 and in GB18030 (0x80 and 0xFF are not valid GB18030 lead bytes)
    data = "姓名,证件号码\n".encode() + b"\x80\xff\x80\xff\n"
    with pytest.raises(FileRejected) as ei:
        read_table(data, columns=COLUMNS)
    assert ei.value.issue.code == "file.encoding"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_only_ever_reject_or_return_a_table(data):
    try:
        t = read_table(data, columns=COLUMNS)
    except FileRejected as e:
        assert e.issue.zh and e.issue.en
    else:
        assert isinstance(t, Table)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10_000), st.binary(max_size=64))
def test_corrupted_xlsx_only_ever_reject_or_return_a_table(messy_xlsx_bytes, cut, junk):
    data = messy_xlsx_bytes
    cut = cut % len(data)
    mutated = data[:cut] + junk + data[cut + len(junk):]
    try:
        t = read_table(mutated, columns=COLUMNS)
    except FileRejected:
        pass
    else:
        assert isinstance(t, Table)


@pytest.fixture(scope="module")
def messy_xlsx_bytes(tmp_path_factory) -> bytes:
    p = str(tmp_path_factory.mktemp("x") / "m.xlsx")
    _messy_xlsx(p)
    return open(p, "rb").read()


@given(
    st.lists(
        st.lists(st.text(alphabet=st.sampled_from('ab,"\n \t合计张三1'), max_size=6), min_size=2, max_size=2),
        max_size=8,
    )
)
@settings(max_examples=200, deadline=None)
def test_random_csv_bodies_never_crash(body):
    lines = ["姓名,证件号码"]
    for a, b in body:
        lines.append(f"{a},{b}")
    data = "\n".join(lines).encode("utf-8")
    try:
        t = read_table(data, columns=COLUMNS)
    except FileRejected:
        return
    for r in t.rows:
        assert r.row_number >= 2
    numbers = [r.row_number for r in t.rows] + [n for n, _ in t.skipped]
    assert len(numbers) == len(set(numbers))


def test_zip_with_unsupported_version_rejected_not_crash(messy_xlsx_bytes):
    # zipfile raises NotImplementedError for "version needed to extract" > 6.3 (found by fuzzing)
    data = bytearray(messy_xlsx_bytes)
    cd = data.index(b"PK\x01\x02")
    data[cd + 6] = 82
    with pytest.raises(FileRejected) as ei:
        read_table(bytes(data), columns=COLUMNS)
    assert ei.value.issue.code == "file.damaged"


def test_seeded_byte_flips_in_xlsx_only_reject_or_return_a_table(messy_xlsx_bytes):
    import random

    rnd = random.Random(20241031)
    for _ in range(300):
        data = bytearray(messy_xlsx_bytes)
        for _ in range(rnd.randint(1, 20)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            data = data[: rnd.randint(1, len(data))]
        try:
            t = read_table(bytes(data), columns=COLUMNS, filename=rnd.choice([None, "a.xlsx", "a.csv"]))
        except FileRejected as e:
            assert e.issue.zh and e.issue.en
        else:
            assert isinstance(t, Table)
