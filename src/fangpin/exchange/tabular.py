"""Read a messy CSV / XLSX / XLS file into rows keyed by canonical column names (FEEDS.md).

What this module accepts and normalises (FEEDS.md, "Real government spreadsheets are messy"):

* title rows above the header (incl. merged title cells) — the header row is found by scanning;
* header cells with spaces, newlines, full-width characters, a leading ``*``/``＊`` "required" marker, a trailing
  ``(必填)``; alias names (e.g. 身份证号 for 证件号码); any column order;
* unknown extra columns — ignored, listed in :attr:`Table.extra_columns`;
* blank rows, totals rows (合计/总计/小计/共计), footers (填表人：… / 以下空白) and repeated header rows — skipped
  and listed in :attr:`Table.skipped`, never silently dropped;
* CSV in UTF-8 (with or without BOM), GB18030 or UTF-16 (BOM), comma / tab / semicolon separated;
* XLSX / XLSM / XLS / ODS read with python-calamine; the format is detected from the file's magic bytes, not its
  extension. Vertically merged cells in the data area are filled down (the value the user sees in each row).

Anything unreadable (truncated, encrypted, not a table, a web page saved as ".xls", missing required columns,
duplicated columns) raises :class:`FileRejected` with a Chinese + English message saying what to fix.

Row numbers: :attr:`SourceRow.row_number` is the 1-based row the user sees in Excel/WPS. For CSV this is the
record number, which equals the line number unless a quoted cell contains line breaks (Excel shows such a record
as one row).

Cell values are returned raw: ``str`` (surrounding whitespace stripped; empty → ``None``), ``int``, ``float``,
``bool``, ``datetime.date``/``datetime.datetime``/``datetime.time``/``datetime.timedelta`` (as calamine gives
them) or ``None``. Numbers are never turned into strings: the ID parser must be able to tell that an ID was stored
as a number (and lost digits). CSV cells are always strings; the Excel "keep as text" trick ``="0123"`` is
unwrapped to ``0123``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import python_calamine

from fangpin.exchange.values import _INVISIBLE, _clean_str
from fangpin.issues import Issue, issue
from fangpin.textnorm import strip_all_space as _strip_all_space
from fangpin.textnorm import to_halfwidth as _to_halfwidth

__all__ = ["ColumnSpec", "SourceRow", "Table", "TableStream", "FileRejected", "read_table", "iter_rows"]


class FileRejected(Exception):
    """The whole file cannot be imported; ``issue`` says why and what to fix (zh + en)."""

    def __init__(self, issue: Issue):
        super().__init__(f"{issue.zh} / {issue.en}")
        self.issue = issue


def _reject(code: str, zh: str, en: str) -> FileRejected:
    return FileRejected(issue(code, zh, en))


@dataclass
class ColumnSpec:
    """An expected column: canonical Chinese header ``name`` plus accepted ``aliases``."""

    name: str
    required: bool
    aliases: tuple[str, ...] = ()


@dataclass
class SourceRow:
    """One data row. ``values`` has a key for every expected column (absent optional columns → ``None``)."""

    row_number: int
    values: dict[str, Any]


@dataclass
class Table:
    columns: list[str]  # canonical names of the expected columns found in the header, in file order
    rows: list[SourceRow]
    skipped: list[tuple[int, str]]  # (row_number, reason) with reason in "blank" | "totals" | "footer" | "header"
    extra_columns: list[str]  # normalised headers of unknown columns (ignored)
    encoding: str | None  # CSV only: "utf-8-sig" | "utf-8" | "gb18030" | "utf-16"
    sheet: str | None  # workbook only: name of the sheet read
    header_row: int  # 1-based row number of the header
    format: str  # "csv" | "xlsx" | "xls" | "ods"


# --------------------------------------------------------------------------------------------------------------
# Header normalisation and matching

_REQUIRED_SUFFIXES = ("(必填)", "(必填项)", "(选填)", "(可选)", "[必填]", "【必填】", "*")


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _norm_header(v: Any) -> str:
    """FEEDS.md: headers with spaces/newlines, full-width characters, "*" markers and "(必填)" suffixes."""
    s = _strip_all_space(_to_halfwidth(_cell_text(v)))
    changed = True
    while changed and s:
        changed = False
        if s.startswith("*"):
            s, changed = s[1:], True
        for suf in _REQUIRED_SUFFIXES:
            if s.endswith(suf) and len(s) > len(suf):
                s, changed = s[: -len(suf)], True
    return s


def _col_letter(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


@dataclass
class _HeaderMatch:
    row_index: int  # index into the scanned rows
    row_number: int
    positions: dict[str, int]  # canonical name -> column index (first occurrence)
    duplicates: dict[str, list[tuple[int, str]]]  # canonical name -> [(col index, header text), ...]
    extra: list[str]
    found: list[str]  # all non-empty normalised headers, for messages

    def missing(self, columns: list[ColumnSpec]) -> list[str]:
        return [c.name for c in columns if c.required and c.name not in self.positions]


def _match_header(cells: list[Any], row_index: int, row_number: int, lookup: dict[str, str]) -> _HeaderMatch:
    positions: dict[str, int] = {}
    seen: dict[str, list[tuple[int, str]]] = {}
    extra: list[str] = []
    found: list[str] = []
    for i, raw in enumerate(cells):
        h = _norm_header(raw)
        if not h:
            continue
        found.append(h)
        canon = lookup.get(h)
        if canon is None:
            if h not in extra:
                extra.append(h)
            continue
        seen.setdefault(canon, []).append((i, h))
        positions.setdefault(canon, i)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    return _HeaderMatch(row_index, row_number, positions, dups, extra, found)


def _build_lookup(columns: list[ColumnSpec]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for spec in columns:
        for name in (spec.name, *spec.aliases):
            key = _norm_header(name)
            other = lookup.get(key)
            if other is not None and other != spec.name:
                raise ValueError(f"header {name!r} is claimed by both {other!r} and {spec.name!r}")
            lookup[key] = spec.name
    return lookup


def _find_header(
    scanned: list[tuple[int, list[Any]]], columns: list[ColumnSpec], lookup: dict[str, str]
) -> tuple[_HeaderMatch | None, _HeaderMatch | None]:
    """Return (header, best partial match). The header is the first row containing every required column."""
    best: _HeaderMatch | None = None
    best_score = (-1, -1)
    for idx, (row_number, cells) in enumerate(scanned):
        m = _match_header(cells, idx, row_number, lookup)
        if not m.missing(columns):
            return m, m
        score = (len(m.positions), len(m.found))
        if score > best_score:
            best, best_score = m, score
    return None, best


def _missing_columns_error(
    columns: list[ColumnSpec], best: _HeaderMatch | None, scanned_rows: int
) -> FileRejected:
    if best is None or not best.found:
        missing = [c.name for c in columns if c.required]
        return _reject(
            "file.no_header",
            f"在文件前{scanned_rows}行中找不到表头。必须包含的列：{'、'.join(missing)}。请使用标准模板，表头放在数据上方一行",
            f"No header row found in the first {scanned_rows} rows. Required columns: {', '.join(missing)}. "
            "Please use the standard template with one header row above the data",
        )
    missing = best.missing(columns)
    shown = best.found[:30]
    more = "…" if len(best.found) > 30 else ""
    return _reject(
        "file.missing_columns",
        f"缺少必填列：{'、'.join(missing)}。第{best.row_number}行的表头为：{'、'.join(shown)}{more}。"
        "请补上缺少的列，或把表头改成模板中的名称",
        f"Missing required column(s): {', '.join(missing)}. Headers found in row {best.row_number}: "
        f"{', '.join(shown)}{more}. Add the missing column(s) or rename the headers to the template names",
    )


def _duplicate_columns_error(m: _HeaderMatch) -> FileRejected:
    parts_zh, parts_en = [], []
    for canon, occ in m.duplicates.items():
        where = "、".join(f"{_col_letter(i)}列“{h}”" for i, h in occ)
        parts_zh.append(f"“{canon}”出现了{len(occ)}次（{where}）")
        parts_en.append(f"'{canon}' appears {len(occ)} times (" + ", ".join(
            f"column {_col_letter(i)} '{h}'" for i, h in occ) + ")")
    return _reject(
        "file.duplicate_columns",
        f"第{m.row_number}行表头有重复的列：{'；'.join(parts_zh)}。请删除多余的列，只保留一列",
        f"Duplicate columns in header row {m.row_number}: {'; '.join(parts_en)}. Delete the extra column(s)",
    )


# --------------------------------------------------------------------------------------------------------------
# Row classification

_TOTAL_WORDS = frozenset({"合计", "总计", "小计", "共计", "总合计"})
_FOOTER_PREFIXES = (
    "填表人", "制表人", "审核人", "审批人", "负责人", "单位负责人", "填报人", "经办人", "统计人",
    "制表日期", "填表日期", "填报日期", "制表时间", "填报时间", "填报单位", "制表单位", "以下空白", "以下无数据",
    "注:", "备注:", "说明:", "注1", "注：",
)

_FOOTER_FIRST_CHARS = frozenset(p[0] for p in _FOOTER_PREFIXES) | {"＊"}


def _clean_value(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if s and s[0] not in _INVISIBLE and s[-1] not in _INVISIBLE:  # fast path
            return s
        s = _clean_str(v)
        return s if s else None
    return v


def _is_blank_cell(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, str):
        return not v.strip().strip(_INVISIBLE).strip()
    return False


def _non_empty(cells: list[Any]) -> list[Any]:
    out = []
    for c in cells:
        if c is None:
            continue
        if c.__class__ is str and (
            not c
            or (
                (c[0].isspace() or c[0] in _INVISIBLE or c[-1].isspace() or c[-1] in _INVISIBLE)
                and not c.strip().strip(_INVISIBLE).strip()
            )
        ):
            continue
        out.append(c)
    return out


def _is_totals(non_empty: list[Any]) -> bool:
    """FEEDS.md: a totals row ("合计") at the bottom. Checked on the first three non-empty cells."""
    for c in non_empty[:3]:
        if isinstance(c, str) and "计" in c:  # every totals word contains 计 (fast path)
            s = _strip_all_space(_to_halfwidth(c))
            if s in _TOTAL_WORDS or s.startswith("合计"):
                return True
    return False


def _is_footer(non_empty: list[Any]) -> bool:
    first = non_empty[0]
    if not isinstance(first, str):
        return False
    head = first.strip()[:1]
    if not head or head not in _FOOTER_FIRST_CHARS:
        return False
    s = _strip_all_space(_to_halfwidth(first))
    return s.startswith(_FOOTER_PREFIXES)


# --------------------------------------------------------------------------------------------------------------
# Raw sources: each yields (row_number, cells)

_MAGIC_REJECT = (
    (b"%PDF", "PDF 文件", "a PDF file"),
    (b"\x89PNG", "图片（PNG）", "an image (PNG)"),
    (b"\xff\xd8\xff", "图片（JPEG）", "an image (JPEG)"),
    (b"GIF8", "图片（GIF）", "an image (GIF)"),
    (b"Rar!", "RAR 压缩包", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包", "a 7z archive"),
    (b"\x1f\x8b", "gzip 压缩包", "a gzip archive"),
    (b"{\\rtf", "RTF 文档", "an RTF document"),
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"


def _not_a_table(what_zh: str, what_en: str) -> FileRejected:
    return _reject(
        "file.not_tabular",
        f"该文件是{what_zh}，不是表格。请上传 Excel（.xlsx）或 CSV 文件",
        f"This file is {what_en}, not a spreadsheet. Please upload an Excel (.xlsx) or CSV file",
    )


def _damaged(detail: str = "") -> FileRejected:
    d = f" ({detail})" if detail else ""
    return _reject(
        "file.damaged",
        "文件已损坏或不完整，无法读取。请用 Excel/WPS 打开确认能正常显示，另存为 .xlsx 后重新上传",
        f"The file is damaged or incomplete and cannot be read{d}. Open it in Excel/WPS to check it, "
        "save it as .xlsx and upload it again",
    )


def _decode_text(data: bytes) -> tuple[str, str]:
    """FEEDS.md: CSV in UTF-8 or GB18030. BOM → utf-8-sig / utf-16; else strict UTF-8; else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise _encoding_error() from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _encoding_error() from None
    if b"\x00" in data[:65536]:
        raise _not_a_table("二进制文件", "a binary file")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise _encoding_error() from None


def _encoding_error() -> FileRejected:
    return _reject(
        "file.encoding",
        "无法识别文件的文字编码（既不是 UTF-8 也不是 GB18030/GBK）。请用 Excel/WPS 打开后另存为 .xlsx，"
        "或另存为“CSV UTF-8”",
        "Cannot determine the text encoding (neither UTF-8 nor GB18030/GBK). Open the file in Excel/WPS and "
        "save it as .xlsx or as 'CSV UTF-8'",
    )


def _unwrap_csv_cell(s: str) -> str:
    # Excel "keep as text" trick: ="0123" → 0123
    if len(s) >= 3 and s.startswith('="') and s.endswith('"'):
        return s[2:-1]
    return s


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    unwrap = '="' in text
    n = 0
    try:
        for rec in reader:
            n += 1
            yield n, ([_unwrap_csv_cell(c) for c in rec] if unwrap else rec)
    except csv.Error as e:
        raise _reject(
            "file.csv_malformed",
            f"CSV 文件第{n + 1}条记录格式错误（可能有未配对的引号）。请用 Excel/WPS 打开检查后另存",
            f"Malformed CSV near record {n + 1} ({e}); probably an unbalanced quote. Open the file in Excel/WPS, "
            "check it and save it again",
        ) from None


def _calamine_error(e: BaseException) -> FileRejected:
    if isinstance(e, python_calamine.PasswordError) or "password" in str(e).lower() or "encrypt" in str(e).lower():
        return _reject(
            "file.encrypted",
            "文件设置了打开密码，无法读取。请取消密码后重新上传",
            "The file is password protected. Remove the password and upload it again",
        )
    return _damaged(str(e)[:200])


def _is_calamine_failure(e: BaseException) -> bool:
    # pyo3 panics derive from BaseException; treat them as unreadable files, let Ctrl-C etc. through.
    return isinstance(e, Exception) or type(e).__name__ == "PanicException"


@dataclass
class _Source:
    format: str
    encoding: str | None
    sheet: str | None
    rows: Iterator[tuple[int, list[Any]]]
    scanned: list[tuple[int, list[Any]]]
    header: _HeaderMatch
    merged: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # row idx -> [(col, top row idx)]


def _scan(rows: Iterator[tuple[int, list[Any]]], n: int) -> list[tuple[int, list[Any]]]:
    out = []
    for item in rows:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _open_csv(data: bytes, columns: list[ColumnSpec], lookup: dict[str, str], max_scan: int) -> _Source:
    text, encoding = _decode_text(data)
    if not text.strip():
        raise _empty_file()
    first_lines = text[:65536]
    order = sorted((",", "\t", ";"), key=lambda d: -first_lines.count(d))
    order = [","] + [d for d in order if d != ","]  # comma first (the contract), then by frequency
    best: _HeaderMatch | None = None
    for delim in order:
        rows = _csv_rows(text, delim)
        scanned = _scan(rows, max_scan)
        header, partial = _find_header(scanned, columns, lookup)
        if header is not None:
            return _Source("csv", encoding, None, rows, scanned, header)
        if partial is not None and (best is None or len(partial.positions) > len(best.positions)):
            best = partial
    raise _missing_columns_error(columns, best, max_scan)


def _empty_file() -> FileRejected:
    return _reject("file.empty", "文件是空的，没有任何内容", "The file is empty")


def _calamine_rows(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
    # to_python(skip_empty_area=False) is documented to keep the empty rows/columns before the data, so list
    # index i is Excel row i + 1 (iter_rows() does not document its offset, so it is not used).
    try:
        data = sheet.to_python(skip_empty_area=False)
    except BaseException as e:
        if _is_calamine_failure(e):
            raise _calamine_error(e) from None
        raise
    for i, cells in enumerate(data):
        yield i + 1, cells


def _merged_fill_map(sheet: Any) -> dict[int, list[tuple[int, int]]]:
    """Vertically merged data cells: every row below the top-left cell shows the same value in Excel."""
    out: dict[int, list[tuple[int, int]]] = {}
    try:
        ranges = sheet.merged_cell_ranges or []
    except BaseException as e:  # not available for this format
        if _is_calamine_failure(e):
            return out
        raise
    for (r0, c0), (r1, _c1) in ranges:
        for r in range(r0 + 1, r1 + 1):
            out.setdefault(r + 1, []).append((c0, r0 + 1))  # keyed by 1-based row number
    return out


def _open_workbook(
    data: bytes | None,
    path: str | None,
    fmt: str,
    columns: list[ColumnSpec],
    lookup: dict[str, str],
    sheet: str | int | None,
    max_scan: int,
) -> _Source:
    try:
        wb = (
            python_calamine.CalamineWorkbook.from_path(path)
            if path is not None
            else python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data or b""))
        )
        metas = list(wb.sheets_metadata)
    except BaseException as e:
        if _is_calamine_failure(e):
            raise _calamine_error(e) from None
        raise
    names = [m.name for m in metas]
    if not names:
        raise _reject("file.no_sheet", "工作簿中没有任何工作表", "The workbook contains no worksheet")

    if sheet is None:
        candidates = [
            i for i, m in enumerate(metas)
            if str(m.typ).endswith("WorkSheet") and str(m.visible).endswith(".Visible")
        ] or list(range(len(names)))
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise _sheet_not_found(str(sheet), names)
        candidates = [sheet]
    else:
        want = _strip_all_space(_to_halfwidth(sheet))
        matches = [i for i, n in enumerate(names) if n == sheet] or [
            i for i, n in enumerate(names) if _strip_all_space(_to_halfwidth(n)) == want
        ]
        if not matches:
            raise _sheet_not_found(sheet, names)
        candidates = matches[:1]

    first_error: FileRejected | None = None
    for idx in candidates:
        try:
            sh = wb.get_sheet_by_index(idx)
        except BaseException as e:
            if _is_calamine_failure(e):
                raise _calamine_error(e) from None
            raise
        rows = _calamine_rows(sh)
        scanned = _scan(rows, max_scan)
        header, partial = _find_header(scanned, columns, lookup)
        if header is not None:
            return _Source(fmt, None, names[idx], rows, scanned, header, _merged_fill_map(sh))
        if first_error is None:
            if not scanned:
                first_error = _reject(
                    "file.empty_sheet",
                    f"工作表“{names[idx]}”是空的",
                    f"Worksheet '{names[idx]}' is empty",
                )
            else:
                first_error = _missing_columns_error(columns, partial, max_scan)
    assert first_error is not None
    if sheet is None and len(candidates) > 1:
        i = first_error.issue
        first_error = _reject(
            i.code,
            f"{i.zh}（已检查所有工作表：{'、'.join(names[c] for c in candidates)}）",
            f"{i.en} (all worksheets checked: {', '.join(names[c] for c in candidates)})",
        )
    raise first_error


def _sheet_not_found(name: str, names: list[str]) -> FileRejected:
    return _reject(
        "file.sheet_not_found",
        f"找不到工作表“{name}”。文件中的工作表有：{'、'.join(names)}",
        f"Worksheet '{name}' not found. The workbook has: {', '.join(names)}",
    )


# Zip-bomb guard (issue 7 §3): a workbook is a zip; a small file that expands hugely is refused before anything
# decompresses it. Real sheets compress 5–30×; DEFLATE tops out near 1030×, reached only by degenerate content.
MAX_UNZIPPED_BYTES = int(os.environ.get("FANGPIN_MAX_UNZIPPED_BYTES", str(2 << 30)))  # whole workbook, 2 GiB
MAX_ZIP_RATIO = 300  # an entry larger than BOMB_MIN_BYTES expanding more than this is a bomb
BOMB_MIN_BYTES = 32 << 20
MAX_ZIP_ENTRIES = 10_000


def _zip_bomb(infos: list[zipfile.ZipInfo]) -> FileRejected | None:
    total = sum(i.file_size for i in infos)
    worst = max(infos, key=lambda i: i.file_size / max(i.compress_size, 1), default=None)
    too_dense = worst is not None and worst.file_size > BOMB_MIN_BYTES and \
        worst.file_size / max(worst.compress_size, 1) > MAX_ZIP_RATIO
    if total <= MAX_UNZIPPED_BYTES and not too_dense and len(infos) <= MAX_ZIP_ENTRIES:
        return None
    mb = total / (1 << 20)
    return _reject(
        "file.zip_bomb",
        f"文件解压后过大或压缩比异常（解压后约 {mb:,.0f} MB，{len(infos)} 个部件），疑似“压缩炸弹”，已拒收。"
        "请确认文件来源，或把数据分成几个较小的文件上传",
        f"The workbook would expand to about {mb:,.0f} MB ({len(infos)} parts) or is compressed abnormally "
        "densely — a suspected zip bomb, refused. Check where the file came from, or split the data into smaller "
        "files",
    )


def _zip_kind(data: bytes) -> str:
    """'xlsx' or 'ods' for a zip container, else raise FileRejected."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
    except Exception:  # zipfile raises many types on corrupt input (BadZipFile, NotImplementedError, ...)
        raise _damaged("zip container broken or truncated") from None
    bomb = _zip_bomb(infos)
    if bomb is not None:
        raise bomb
    if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
        if "xl/workbook.bin" in names and "xl/workbook.xml" not in names:
            return "xlsb"
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    if "word/document.xml" in names:
        raise _not_a_table("Word 文档", "a Word document")
    if "ppt/presentation.xml" in names:
        raise _not_a_table("PowerPoint 演示文稿", "a PowerPoint presentation")
    raise _not_a_table("压缩包（zip）", "a zip archive")


def _open(
    path_or_bytes: Any,
    filename: str | None,
    columns: list[ColumnSpec],
    sheet: str | int | None,
    max_header_scan: int,
) -> _Source:
    if not columns:
        raise ValueError("columns must not be empty")
    lookup = _build_lookup(columns)
    path: str | None = None
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(path_or_bytes)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        path = os.fspath(path_or_bytes)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _reject("file.not_found", f"找不到文件：{path}", f"File not found: {path}") from None
        except IsADirectoryError:
            raise _reject("file.not_found", f"这是一个文件夹，不是文件：{path}", f"Not a file: {path}") from None
        except OSError as e:
            raise _reject("file.unreadable", f"无法打开文件：{path}", f"Cannot open file {path}: {e}") from None
    elif hasattr(path_or_bytes, "read"):
        data = path_or_bytes.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise TypeError("path_or_bytes must be a path, bytes or a binary file object")
    if not data:
        raise _empty_file()

    head = data[:16]
    if head.startswith(_ZIP_MAGIC):
        kind = _zip_kind(data)
        if kind == "xlsb":
            return _open_workbook(data, None, "xlsb", columns, lookup, sheet, max_header_scan)
        return _open_workbook(data, None, kind, columns, lookup, sheet, max_header_scan)
    if head.startswith((b"PK\x05\x06", b"PK\x07\x08")):
        raise _damaged("empty or broken zip container")
    if head.startswith(_OLE_MAGIC):
        return _open_workbook(data, None, "xls", columns, lookup, sheet, max_header_scan)
    for magic, zh, en in _MAGIC_REJECT:
        if head.startswith(magic):
            raise _not_a_table(zh, en)
    stripped = data[:1024].lstrip(codecs.BOM_UTF8).lstrip()
    if stripped[:1] == b"<":
        low = stripped[:200].lower()
        if low.startswith((b"<html", b"<!doctype", b"<?xml", b"<table", b"<meta", b"<head")):
            raise _reject(
                "file.html",
                "该文件实际上是网页或 XML 格式（常见于系统导出的“.xls”文件），不是真正的 Excel 文件。"
                "请用 Excel/WPS 打开后“另存为” .xlsx 再上传",
                "This file is really a web page / XML spreadsheet (typical of system exports named '.xls'), "
                "not a real Excel file. Open it in Excel/WPS and 'Save As' .xlsx, then upload it again",
            )
    name = filename or path or ""
    ext = os.path.splitext(name)[1].lower()
    if ext in _EXCEL_EXTENSIONS:
        # Named like a workbook but not a zip/OLE container: accept it only if it really is a readable text table
        # (some systems export CSV as ".xls"); otherwise say the workbook is damaged rather than "bad encoding".
        try:
            return _open_csv(data, columns, lookup, max_header_scan)
        except FileRejected as e:
            if e.issue.code in ("file.missing_columns", "file.duplicate_columns"):
                raise
            raise _reject(
                "file.damaged",
                f"文件名是“{ext}”，但内容不是有效的 Excel 文件（可能已损坏或改过扩展名）。"
                "请用 Excel/WPS 打开确认后另存为 .xlsx 再上传",
                f"The file is named '{ext}' but is not a valid Excel workbook (damaged, or renamed). Open it in "
                "Excel/WPS, save it as .xlsx and upload it again",
            ) from None
    return _open_csv(data, columns, lookup, max_header_scan)


_EXCEL_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".et"})


# --------------------------------------------------------------------------------------------------------------
# Public API


class TableStream:
    """Streaming view of a file: metadata is available at once, rows are produced on iteration (single pass).

    :attr:`skipped` fills up while iterating. Reading errors met while iterating raise :class:`FileRejected`.
    """

    def __init__(self, src: _Source, columns: list[ColumnSpec]):
        h = src.header
        self.format: str = src.format
        self.encoding: str | None = src.encoding
        self.sheet: str | None = src.sheet
        self.header_row: int = h.row_number
        self.columns: list[str] = [name for name, _ in sorted(h.positions.items(), key=lambda kv: kv[1])]
        self.extra_columns: list[str] = list(h.extra)
        self.skipped: list[tuple[int, str]] = []
        self._src = src
        self._all_names = [c.name for c in columns]
        self._used = False

    def __iter__(self) -> Iterator[SourceRow]:
        if self._used:
            raise RuntimeError("TableStream can be iterated only once")
        self._used = True
        return self._generate()

    def _generate(self) -> Iterator[SourceRow]:
        src = self._src
        h = src.header
        positions = h.positions
        absent = [n for n in self._all_names if n not in positions]
        header_cells = src.scanned[h.row_index][1]
        header_norm = {i: _norm_header(header_cells[i]) for i in positions.values()}
        merged = src.merged
        top_values: dict[tuple[int, int], Any] = {}
        wanted_tops = {(top, col) for fills in merged.values() for col, top in fills}
        rest: Iterable[tuple[int, list[Any]]] = chain(src.scanned[h.row_index + 1:], src.rows)
        skipped = self.skipped
        for row_number, raw in rest:
            if wanted_tops:
                for col in range(len(raw)):
                    if (row_number, col) in wanted_tops:
                        top_values[(row_number, col)] = raw[col]
                fills = merged.get(row_number)
                if fills:
                    raw = list(raw)
                    for col, top in fills:
                        if col < len(raw) and _is_blank_cell(raw[col]) and (top, col) in top_values:
                            raw[col] = top_values[(top, col)]
                        elif col >= len(raw) and (top, col) in top_values:
                            raw.extend([None] * (col + 1 - len(raw)))
                            raw[col] = top_values[(top, col)]
            non_empty = _non_empty(raw)
            if not non_empty:
                skipped.append((row_number, "blank"))
                continue
            if _is_totals(non_empty):
                skipped.append((row_number, "totals"))
                continue
            if _is_footer(non_empty):
                skipped.append((row_number, "footer"))
                continue
            n = len(raw)
            values: dict[str, Any] = {}
            for name, i in positions.items():
                values[name] = _clean_value(raw[i]) if i < n else None
            if all(
                isinstance(raw[i] if i < n else None, str)
                and header_norm[i][:1] in raw[i]  # cheap pre-check before normalising
                and _norm_header(raw[i]) == header_norm[i]
                for i in header_norm
            ):
                skipped.append((row_number, "header"))  # header repeated (e.g. printed page headers)
                continue
            for name in absent:
                values[name] = None
            yield SourceRow(row_number, values)


def iter_rows(
    path_or_bytes: Any,
    *,
    columns: list[ColumnSpec],
    filename: str | None = None,
    sheet: str | int | None = None,
    max_header_scan: int = 30,
) -> TableStream:
    """Like :func:`read_table` but streaming: returns a :class:`TableStream` (iterate it once for the rows).

    Header problems raise :class:`FileRejected` immediately.
    """
    src = _open(path_or_bytes, filename, columns, sheet, max_header_scan)
    if src.header.duplicates:
        # Two columns that mean the same thing (e.g. 证件号码 and 身份证号): we cannot know which one to trust.
        # Duplicated *unknown* columns are harmless (ignored) and are only listed in extra_columns.
        raise _duplicate_columns_error(src.header)
    return TableStream(src, columns)


def read_table(
    path_or_bytes: Any,
    *,
    columns: list[ColumnSpec],
    filename: str | None = None,
    sheet: str | int | None = None,
    max_header_scan: int = 30,
) -> Table:
    """Read a CSV/TXT/XLSX/XLSM/XLS/ODS file (path, bytes or binary file object) into a :class:`Table`.

    ``filename`` is only informational (the format is detected from the content). ``sheet`` selects a worksheet by
    name or 0-based index; by default the first visible worksheet whose header contains every required column is
    used (so an instructions sheet in front of the data does not break the import). Raises :class:`FileRejected`.
    """
    stream = iter_rows(
        path_or_bytes, columns=columns, filename=filename, sheet=sheet, max_header_scan=max_header_scan
    )
    rows = list(stream)
    return Table(
        columns=stream.columns,
        rows=rows,
        skipped=stream.skipped,
        extra_columns=stream.extra_columns,
        encoding=stream.encoding,
        sheet=stream.sheet,
        header_row=stream.header_row,
        format=stream.format,
    )
