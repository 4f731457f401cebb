"""Cell value parsers for imported spreadsheets (see FEEDS.md, "Real government spreadsheets are messy").

Every parser takes a raw cell value as returned by :mod:`fangpin.exchange.tabular` (``str``, ``int``, ``float``,
``bool``, ``datetime.date``/``datetime.datetime`` or ``None``) and either returns a clean Python value or raises
:class:`fangpin.issues.FangpinValueError` carrying an :class:`~fangpin.issues.Issue` whose message (Chinese first,
then English) tells a non-programmer what is wrong and what to write instead.

Decisions:

* Amounts are :class:`decimal.Decimal` quantized to 0.01 (ROUND_HALF_UP), never ``float``: money must add up
  exactly in reports. Floats coming from Excel are converted through ``repr`` so 0.1 stays 0.1.
* Blank values (``None``, empty or whitespace-only strings) raise ``value.empty`` in every parser except
  :func:`parse_amount` (which follows its ``empty_is_zero`` flag). Callers handling optional columns test
  :func:`is_blank` first.
* ``bool`` cells are never accepted as numbers or dates (``bool`` is a subclass of ``int`` in Python).
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fangpin.issues import FangpinValueError, issue
from fangpin.textnorm import strip_all_space as _strip_all_space
from fangpin.textnorm import to_halfwidth as _to_halfwidth

__all__ = [
    "is_blank",
    "parse_date",
    "parse_period",
    "parse_amount",
    "parse_int",
    "parse_choice",
    "parse_yes_no",
    "parse_sex",
    "parse_text",
]

# --------------------------------------------------------------------------------------------------------------
# Text helpers: fangpin.textnorm (full-width → half-width, remove every kind of whitespace incl. zero-width).

_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u180e"  # zero-width characters, invisible in Excel


def _clean_str(s: str) -> str:
    """Strip surrounding whitespace (incl. full-width and zero-width spaces)."""
    return s.strip().strip(_INVISIBLE).strip()


def _show(v: Any) -> str:
    """Render the offending value for a message, shortened."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        text = str(int(v))
    elif isinstance(v, (datetime, date)):
        text = v.isoformat()
    else:
        text = str(v)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= 40 else text[:37] + "..."


def _field(field_zh: str | None) -> tuple[str, str]:
    if field_zh:
        return f"“{field_zh}”", f"'{field_zh}'"
    return "", ""


def _fail(code: str, zh: str, en: str) -> FangpinValueError:
    return FangpinValueError(issue(code, zh, en))


def is_blank(v: Any) -> bool:
    """True for ``None`` and strings that are empty after removing all whitespace (NaN is *not* blank)."""
    if v is None:
        return True
    if isinstance(v, str):
        return _strip_all_space(v) == ""
    return False  # NaN is not blank: it is rejected as an invalid value


def _empty(field_zh: str | None, what_zh: str, what_en: str) -> FangpinValueError:
    fz, fe = _field(field_zh)
    return _fail(
        "value.empty",
        f"{fz}没有填写，请填写{what_zh}",
        f"{fe + ' ' if fe else ''}is empty; please fill in {what_en}",
    )


# --------------------------------------------------------------------------------------------------------------
# Dates

_EXCEL_EPOCH = date(1899, 12, 30)  # serial 61 and above: epoch + serial days
_MIN_YEAR, _MAX_YEAR = 1900, 2100
_MAX_SERIAL = (date(_MAX_YEAR, 12, 31) - _EXCEL_EPOCH).days  # 73415

_TIME_TAIL_RE = re.compile(r"^(?P<d>.+?)(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE_SEP_RE = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$")
_DATE_ZH_RE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_DATE_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL_RE = re.compile(r"^\d{1,5}(?:\.\d+)?$")

_DATE_FORMATS_ZH = "2024-03-05、2024/3/5、20240305 或 2024年3月5日"
_DATE_FORMATS_EN = "2024-03-05, 2024/3/5, 20240305 or 2024年3月5日"


def _bad_date(v: Any, field_zh: str | None) -> FangpinValueError:
    fz, fe = _field(field_zh)
    return _fail(
        "date.unrecognized",
        f"{fz}日期无法识别：“{_show(v)}”，请写成 {_DATE_FORMATS_ZH}",
        f"{fe + ' ' if fe else ''}date not recognized: '{_show(v)}'; write it as {_DATE_FORMATS_EN}",
    )


def _make_date(y: int, m: int, d: int, v: Any, field_zh: str | None) -> date:
    fz, fe = _field(field_zh)
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        raise _fail(
            "date.out_of_range",
            f"{fz}日期年份不合理：“{_show(v)}”（应在{_MIN_YEAR}年至{_MAX_YEAR}年之间）",
            f"{fe + ' ' if fe else ''}implausible year in date '{_show(v)}' (must be {_MIN_YEAR}-{_MAX_YEAR})",
        )
    try:
        return date(y, m, d)
    except ValueError:
        raise _fail(
            "date.invalid",
            f"{fz}日期不存在：“{_show(v)}”（请检查月份和日期，例如2月没有30日）",
            f"{fe + ' ' if fe else ''}no such date: '{_show(v)}' (check month and day, e.g. February has no 30th)",
        ) from None


def _from_serial(serial: float, v: Any, field_zh: str | None) -> date:
    """Excel 1900 date system, including Lotus' fictitious 1900-02-29 (serial 60)."""
    fz, fe = _field(field_zh)
    day = int(math.floor(serial))
    if not 1 <= day <= _MAX_SERIAL:
        raise _bad_date(v, field_zh)
    if day == 60:
        raise _fail(
            "date.invalid",
            f"{fz}日期不存在：Excel 序号 60 表示1900年2月29日，这一天并不存在",
            f"{fe + ' ' if fe else ''}no such date: Excel serial 60 stands for 1900-02-29, which does not exist",
        )
    if day < 60:
        return date(1899, 12, 31) + timedelta(days=day)
    return _EXCEL_EPOCH + timedelta(days=day)


def parse_date(v: Any, *, field_zh: str | None = None) -> date:
    """Parse a date cell (FEEDS.md: dates as 2024-03-05, 2024/3/5, 20240305, 2024年3月5日, or Excel serials).

    Accepts ``date``/``datetime`` objects (time dropped), Excel serial numbers (1900 system; int/float or numeric
    string, 1900-01-01 .. 2100-12-31), 8-digit numbers ``20240305``, and strings ``2024-03-05``, ``2024/3/5``,
    ``2024.3.5``, ``20240305``, ``2024年3月5日`` (full-width digits allowed, optional trailing time such as
    ``00:00:00``). Impossible dates such as 2024-02-30 are rejected.
    """
    if isinstance(v, datetime):
        return _make_date(v.year, v.month, v.day, v, field_zh)
    if isinstance(v, date):
        return _make_date(v.year, v.month, v.day, v, field_zh)
    if is_blank(v):
        raise _empty(field_zh, "日期", "a date")
    if isinstance(v, bool):
        raise _bad_date(v, field_zh)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise _bad_date(v, field_zh)
        if float(v).is_integer() and 10_000_000 <= v <= 99_999_999:  # a date typed as the number 20240305
            n = int(v)
            return _make_date(n // 10000, n // 100 % 100, n % 100, v, field_zh)
        return _from_serial(float(v), v, field_zh)
    if not isinstance(v, str):
        raise _bad_date(v, field_zh)
    s = _clean_str(_to_halfwidth(v))
    m = _TIME_TAIL_RE.match(s)
    core = _strip_all_space(m.group("d")) if m else _strip_all_space(s)
    for rx in (_DATE_ZH_RE, _DATE_COMPACT_RE):
        mm = rx.match(core)
        if mm:
            return _make_date(int(mm.group(1)), int(mm.group(2)), int(mm.group(3)), v, field_zh)
    mm = _DATE_SEP_RE.match(core)
    if mm:
        return _make_date(int(mm.group(1)), int(mm.group(3)), int(mm.group(4)), v, field_zh)
    if _SERIAL_RE.match(core):
        return _from_serial(float(core), v, field_zh)
    raise _bad_date(v, field_zh)


# --------------------------------------------------------------------------------------------------------------
# Income periods (FEEDS.md A. income: period = YYYY-MM month or YYYY year)

_PERIOD_MONTH_RES = (
    re.compile(r"^(\d{4})[-/.](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月份?$"),
)
_PERIOD_YEAR_RE = re.compile(r"^(\d{4})(?:年度?)?$")


def _bad_period(v: Any, field_zh: str | None, extra_zh: str = "", extra_en: str = "") -> FangpinValueError:
    fz, fe = _field(field_zh)
    return _fail(
        "period.unrecognized",
        f"{fz}期间无法识别：“{_show(v)}”{extra_zh}，月份请写成 2024-03 或 2024年3月，全年请写成 2024",
        f"{fe + ' ' if fe else ''}period not recognized: '{_show(v)}'{extra_en}; write a month as 2024-03 "
        "or 2024年3月, a whole year as 2024",
    )


def _month_period(y: int, m: int, v: Any, field_zh: str | None) -> tuple[str, date, date]:
    if not (_MIN_YEAR <= y <= _MAX_YEAR and 1 <= m <= 12):
        raise _bad_period(v, field_zh)
    last = calendar.monthrange(y, m)[1]
    return f"{y:04d}-{m:02d}", date(y, m, 1), date(y, m, last)


def _year_period(y: int, v: Any, field_zh: str | None) -> tuple[str, date, date]:
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        raise _bad_period(v, field_zh)
    return f"{y:04d}", date(y, 1, 1), date(y, 12, 31)


def parse_period(v: Any, *, field_zh: str | None = None) -> tuple[str, date, date]:
    """Parse an income period into ``(key, first_day, last_day)``.

    ``"2024-03"``, ``"2024/3"``, ``"2024.3"``, ``"202403"``, ``"2024年3月"`` → ``("2024-03", 2024-03-01,
    2024-03-31)``; ``"2024"``, ``"2024年"``, ``"2024年度"``, ``2024`` → ``("2024", 2024-01-01, 2024-12-31)``.
    A date cell on the 1st of a month (what Excel makes of a typed "2024-03") is that month. A non-integral
    number such as 2024.1 is rejected: Excel stores "2024.10" as 2024.1, so the month cannot be known.
    """
    if isinstance(v, (date, datetime)):
        if v.day == 1:
            return _month_period(v.year, v.month, v, field_zh)
        raise _bad_period(v, field_zh, "（这是一个具体日期，不是月份）", " (this is a full date, not a month)")
    if is_blank(v):
        raise _empty(field_zh, "期间（如 2024-03 或 2024）", "a period (e.g. 2024-03 or 2024)")
    if isinstance(v, bool):
        raise _bad_period(v, field_zh)
    if isinstance(v, float):
        if not (math.isfinite(v) and v.is_integer()):
            raise _bad_period(
                v,
                field_zh,
                "（单元格是数字，2024.10 会被 Excel 变成 2024.1，请把单元格设为文本）",
                " (the cell is a number and Excel turns 2024.10 into 2024.1; format the cell as text)",
            )
        v_num: int | None = int(v)
    elif isinstance(v, int):
        v_num = v
    else:
        v_num = None
    if v_num is not None:
        s = str(v_num)
    elif isinstance(v, str):
        s = _strip_all_space(_to_halfwidth(v))
    else:
        raise _bad_period(v, field_zh)
    for rx in _PERIOD_MONTH_RES:
        m = rx.match(s)
        if m:
            return _month_period(int(m.group(1)), int(m.group(2)), v, field_zh)
    m = _PERIOD_YEAR_RE.match(s)
    if m:
        return _year_period(int(m.group(1)), v, field_zh)
    raise _bad_period(v, field_zh)


# --------------------------------------------------------------------------------------------------------------
# Amounts

_CENT = Decimal("0.01")
_MAX_AMOUNT = Decimal("1e12")  # one trillion yuan: anything larger is a typo or an ID pasted into the column
_PLAIN_NUM_RE = re.compile(r"^\d+(?:\.\d+)?$|^\.\d+$")  # sign and currency marks are removed before matching
_GROUPED_NUM_RE = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def _bad_amount(v: Any, field_zh: str | None) -> FangpinValueError:
    fz, fe = _field(field_zh)
    return _fail(
        "amount.unrecognized",
        f"{fz}金额无法识别：“{_show(v)}”，请只填写数字（单位：元），例如 1234.50 或 1,234.50",
        f"{fe + ' ' if fe else ''}amount not recognized: '{_show(v)}'; write a plain number in yuan, "
        "e.g. 1234.50 or 1,234.50",
    )


def _finish_amount(d: Decimal, v: Any, field_zh: str | None) -> Decimal:
    if not d.is_finite():
        raise _bad_amount(v, field_zh)
    if abs(d) >= _MAX_AMOUNT:
        fz, fe = _field(field_zh)
        raise _fail(
            "amount.too_large",
            f"{fz}金额过大：“{_show(v)}”，请检查是否填错了列或多写了位数",
            f"{fe + ' ' if fe else ''}amount too large: '{_show(v)}'; check for a wrong column or extra digits",
        )
    q = d.quantize(_CENT, rounding=ROUND_HALF_UP)
    return q if q != 0 else Decimal("0.00")  # normalise -0.00 to 0.00


def parse_amount(v: Any, *, empty_is_zero: bool, field_zh: str | None = None) -> Decimal | None:
    """Parse a money amount in yuan into a ``Decimal`` quantized to 0.01 (ROUND_HALF_UP).

    Accepts numbers and strings such as ``"1,234.50"``, ``"1，234"``, ``"1234元"``, ``"￥1234"``, ``"¥1,234"``,
    full-width digits, ``"-200"``, ``" 12 "`` (FEEDS.md: thousands separators, "元"). Thousands separators must
    group by three (``"12,5"`` is ambiguous and rejected). A blank cell gives ``Decimal("0.00")`` when
    ``empty_is_zero`` (FEEDS.md: "empty meaning zero only where the column says so"), else ``None``.
    NaN, infinity, scientific notation strings and "万" amounts are rejected.
    """
    if is_blank(v):
        return Decimal("0.00") if empty_is_zero else None
    if isinstance(v, bool):
        raise _bad_amount(v, field_zh)
    if isinstance(v, int):
        return _finish_amount(Decimal(v), v, field_zh)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _bad_amount(v, field_zh)
        return _finish_amount(Decimal(repr(v)), v, field_zh)
    if isinstance(v, Decimal):
        return _finish_amount(v, v, field_zh)
    if not isinstance(v, str):
        raise _bad_amount(v, field_zh)
    s = _strip_all_space(_to_halfwidth(v)).replace("\u2212", "-")
    neg = False
    if s.startswith("-"):
        neg, s = True, s[1:]
    for prefix in ("RMB", "￥", "¥"):
        if s.startswith(prefix):
            s = s[len(prefix):]
            break
    if s.endswith("元"):
        s = s[:-1]
    if not neg and s.startswith("-"):
        neg, s = True, s[1:]
    if _GROUPED_NUM_RE.match(s):
        s = s.replace(",", "")
    if not _PLAIN_NUM_RE.match(s):
        raise _bad_amount(v, field_zh)
    try:
        d = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex only lets plain decimals through
        raise _bad_amount(v, field_zh) from None
    return _finish_amount(-d if neg else d, v, field_zh)


# --------------------------------------------------------------------------------------------------------------
# Integers, choices, yes/no, sex, text


def parse_int(v: Any, *, min: int | None = None, max: int | None = None, field_zh: str | None = None) -> int:
    """Parse a whole number (int, integral float such as 6.0, or a string like "６" / " 12 " / "12.0")."""
    fz, fe = _field(field_zh)
    if is_blank(v):
        raise _empty(field_zh, "整数", "a whole number")

    def bad() -> FangpinValueError:
        return _fail(
            "int.unrecognized",
            f"{fz}应填写整数，实际为：“{_show(v)}”",
            f"{fe + ' ' if fe else ''}must be a whole number, got '{_show(v)}'",
        )

    if isinstance(v, bool):
        raise bad()
    if isinstance(v, int):
        n = v
    elif isinstance(v, float):
        if not (math.isfinite(v) and v.is_integer()):
            raise bad()
        n = int(v)
    elif isinstance(v, str):
        s = _strip_all_space(_to_halfwidth(v)).replace("\u2212", "-")
        m = re.match(r"^([-+]?\d{1,30})(?:\.0*)?$", s)  # more digits than any count: not a number (and int() of 4300+ digits raises)
        if not m:
            raise bad()
        n = int(m.group(1))
    else:
        raise bad()
    if (min is not None and n < min) or (max is not None and n > max):
        if min is not None and max is not None:
            rng_zh, rng_en = f"{min}到{max}之间", f"between {min} and {max}"
        elif min is not None:
            rng_zh, rng_en = f"不小于{min}", f"at least {min}"
        else:
            rng_zh, rng_en = f"不大于{max}", f"at most {max}"
        raise _fail(
            "int.out_of_range",
            f"{fz}数值超出范围：“{n}”，应{rng_zh}",
            f"{fe + ' ' if fe else ''}value {n} out of range; must be {rng_en}",
        )
    return n


def _choice_key(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return _strip_all_space(_to_halfwidth(str(v))).casefold()


def parse_choice(v: Any, mapping: dict[str, str], *, field_zh: str) -> str:
    """Map a cell onto one of the allowed values.

    ``mapping`` maps accepted spellings to canonical values, e.g. ``{"是": "是", "否": "否", "Y": "是",
    "N": "否"}``. Matching ignores all whitespace, full-width/half-width differences and ASCII case.
    """
    allowed = list(dict.fromkeys(mapping.values()))
    allowed_zh = "、".join(allowed)
    if is_blank(v):
        raise _fail(
            "value.empty",
            f"“{field_zh}”没有填写，只能填写：{allowed_zh}",
            f"'{field_zh}' is empty; allowed values: {', '.join(allowed)}",
        )
    key = _choice_key(v)
    for k, canon in mapping.items():
        if _choice_key(k) == key:
            return canon
    raise _choice_error(v, field_zh, mapping)


_YES_NO = {
    "是": "是", "否": "否", "Y": "是", "N": "否", "YES": "是", "NO": "否",
    "1": "是", "0": "否", "TRUE": "是", "FALSE": "否",
}


def parse_yes_no(v: Any, *, field_zh: str = "是/否") -> bool:
    """是/否, Y/N, yes/no, 1/0, true/false (any case, full-width allowed) and Excel TRUE/FALSE cells."""
    if isinstance(v, bool):
        return v
    return parse_choice(v, _YES_NO, field_zh=field_zh) == "是"


_SEX = {"男": "男", "女": "女", "男性": "男", "女性": "女", "M": "男", "F": "女", "1": "男", "2": "女"}


def parse_sex(v: Any, *, field_zh: str = "性别") -> str:
    """男/女 (also 男性/女性, M/F, and GB/T 2261.1 codes 1 = 男, 2 = 女). Codes 0/9 (unknown) are rejected."""
    if isinstance(v, bool):
        raise _choice_error(v, field_zh, _SEX)
    return parse_choice(v, _SEX, field_zh=field_zh)


def _choice_error(v: Any, field_zh: str, mapping: dict[str, str]) -> FangpinValueError:
    allowed = list(dict.fromkeys(mapping.values()))
    return _fail(
        "choice.invalid",
        f"“{field_zh}”填写的“{_show(v)}”不在可选范围内，只能填写：{'、'.join(allowed)}",
        f"'{field_zh}': '{_show(v)}' is not an allowed value; allowed: {', '.join(allowed)}",
    )


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


def parse_text(v: Any, max_len: int, *, field_zh: str | None = None) -> str:
    """Free text: surrounding whitespace stripped, control characters (newlines, tabs) turned into one space.

    Numbers become their plain text (13800138000.0 → "13800138000"), dates their ISO form. Longer than
    ``max_len`` characters → rejected.
    """
    fz, fe = _field(field_zh)
    if is_blank(v):
        raise _empty(field_zh, "内容", "a value")
    if isinstance(v, bool):
        s = "是" if v else "否"
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise _fail("text.invalid", f"{fz}内容无效：“{_show(v)}”", f"{fe + ' ' if fe else ''}invalid value")
        s = str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    elif isinstance(v, (datetime, date)):
        s = v.isoformat()
    else:
        s = str(v)
    s = _clean_str(_CONTROL_RE.sub(" ", s))
    if not s:
        raise _empty(field_zh, "内容", "a value")
    if len(s) > max_len:
        raise _fail(
            "text.too_long",
            f"{fz}内容过长：{len(s)}个字，最多{max_len}个字",
            f"{fe + ' ' if fe else ''}text too long: {len(s)} characters, at most {max_len}",
        )
    return s
