"""Resident identity numbers, GB 11643-1999 (POLICY.md §12) and 20-digit disability certificates.

Structure (GB 11643-1999): 6-digit area code + YYYYMMDD birth date + 3-digit sequence (odd = male) + check char.
Check char: weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 over the first 17 digits, ``"10X98765432"[sum % 11]``.
Old 15-digit IDs (area + YYMMDD + sequence, born 19YY) convert by inserting "19" and appending the check char.
A disability certificate (残疾人证号, 20 digits) is the 18-digit ID + category (1–7) + grade (1–4) (POLICY.md §12).
An unknown area code is a soft warning, never a rejection (POLICY.md §12: retired codes on older people's IDs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from numbers import Integral
from typing import Callable, Literal

import numpy as np

from fangpin.issues import FangpinValueError, Issue, issue
from fangpin.textnorm import strip_all_space, to_halfwidth

__all__ = [
    "WEIGHTS",
    "CHECK_CHARS",
    "MIN_BIRTH_DATE",
    "IdInfo",
    "normalize_id_text",
    "check_digit",
    "convert_15_to_18",
    "parse_id",
    "normalize_sex",
    "sex_matches",
    "make_ids",
    "mask_id",
]

# GB 11643-1999 §8.2 (ISO 7064 MOD 11-2): weight of position i is 2**(17-i) mod 11.
WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Plausibility bound on birth dates (brief for POLICY.md §12 parsing): nobody alive was born before 1890.
MIN_BIRTH_DATE = date(1890, 1, 1)

_WEIGHTS_NP = np.array(WEIGHTS, dtype=np.int64)

Kind = Literal["resident18", "resident15", "disability20"]


# --- issues (bilingual, FEEDS.md "reject with a clear per-row reason") -----------------------------------------------
def _err(code: str, zh: str, en: str) -> FangpinValueError:
    return FangpinValueError(issue(code, zh, en))


def _empty() -> FangpinValueError:
    return _err("id_empty", "证件号码为空", "The ID number is empty")


def _lost_digits() -> FangpinValueError:
    # FEEDS.md: "an ID shown as 4.10102E+17 has lost digits: reject the row, do not guess".
    return _err(
        "id_lost_digits",
        "证件号码被存成了数字，已丢失位数（例如显示为 4.10102E+17），无法恢复。请将该列设为文本格式后重新导出。",
        "The ID number was stored as a number and has lost digits (e.g. shown as 4.10102E+17); it cannot be "
        "recovered. Re-export the column as text.",
    )


def _bad_chars() -> FangpinValueError:
    return _err(
        "id_bad_chars",
        "证件号码含有非法字符：只能是数字，校验位 X 只能在第 18 位",
        "The ID number contains invalid characters: only digits are allowed, and X only as the 18th (check) character",
    )


def _bad_length(n: int) -> FangpinValueError:
    return _err(
        "id_bad_length",
        f"证件号码位数不对（{n} 位）：应为 18 位身份证号、15 位旧身份证号或 20 位残疾人证号",
        f"The ID number has the wrong length ({n}): expected an 18-digit resident ID, a 15-digit old ID or a "
        "20-digit disability certificate number",
    )


def _bad_checksum() -> FangpinValueError:
    # Deliberately does not say which check char was expected (would help forge numbers / leak data).
    return _err(
        "id_bad_checksum",
        "身份证号码校验位不正确，可能有录入错误",
        "The check digit of the ID number does not match; the number is probably mistyped",
    )


def _bad_birth_date() -> FangpinValueError:
    return _err(
        "id_bad_birth_date",
        "身份证号码中的出生日期无效（不是真实日期、晚于今天或早于 1890 年）",
        "The birth date inside the ID number is invalid (not a real date, in the future, or before 1890)",
    )


def _bad_disability_suffix() -> FangpinValueError:
    return _err(
        "id_bad_disability_suffix",
        "残疾人证号第 19 位应为残疾类别（1–7），第 20 位应为残疾等级（1–4）",
        "In a disability certificate number digit 19 must be the category (1–7) and digit 20 the grade (1–4)",
    )


def _unknown_area(area: str) -> Issue:
    return issue(
        "id_unknown_area",
        f"身份证号码的地区码 {area} 不在现行行政区划代码中（可能是已撤销的旧代码），请核实",
        f"The area code {area} of the ID number is not a current division code (possibly a retired code); please check",
    )


# --- normalisation ---------------------------------------------------------------------------------------------------
_SCI_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$", re.ASCII)
_DOT_ZERO_RE = re.compile(r"^(\d+)\.0*$", re.ASCII)
# Excel's 15-significant-digit limit: an ID that went through a number keeps at most 15 digits intact.
_EXCEL_EXACT_DIGITS = 15


def _from_integral_float(digits: str) -> str:
    if len(digits.lstrip("-")) > _EXCEL_EXACT_DIGITS:
        raise _lost_digits()
    return digits


def normalize_id_text(raw: object) -> str | None:
    """Normalise an ID cell to text (FEEDS.md identity-column rules); no validation of structure.

    - ``None``/blank/NaN -> ``None``; ``int`` -> ``str(int)``;
    - ``float`` that is an exact integer with ≤15 digits (Excel keeps 15 digits exactly: old IDs) -> that integer;
      any other integral float, or a string in scientific notation ("4.10102E+17", "4.10102e17", also full-width)
      or "<16+ digits>.0" -> ``FangpinValueError`` issue ``id_lost_digits`` (FEEDS.md: do not guess);
    - strings: full-width -> half-width, all whitespace removed (spaces, tabs, U+3000, NBSP, zero-width),
      a leading apostrophe (Excel text marker) removed, "x" -> "X".
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise _bad_chars()
    if isinstance(raw, Integral):
        return str(int(raw))
    if isinstance(raw, float):
        if raw != raw:  # NaN: an empty cell as delivered by some readers
            return None
        if raw in (float("inf"), float("-inf")) or not raw.is_integer():
            raise _bad_chars()
        return _from_integral_float(str(int(raw)))
    if isinstance(raw, Decimal):
        if raw.is_nan():
            return None
        if raw != raw.to_integral_value():
            raise _bad_chars()
        return str(int(raw))
    s = strip_all_space(to_halfwidth(str(raw)))
    s = s.lstrip("'\u2018\u2019")
    if not s:
        return None
    if _SCI_RE.match(s):
        raise _lost_digits()
    m = _DOT_ZERO_RE.match(s)
    if m:  # "410102199001011.0": a number written back as text
        return _from_integral_float(m.group(1))
    return s.replace("x", "X")


# --- check digit and 15 -> 18 ----------------------------------------------------------------------------------------
def check_digit(first17: str) -> str:
    """GB 11643-1999 check char for the first 17 digits: ``"10X98765432"[sum(d_i * w_i) % 11]``."""
    if len(first17) != 17:
        raise _bad_length(len(first17))
    if not (first17.isascii() and first17.isdigit()):
        raise _bad_chars()
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def convert_15_to_18(id15: str) -> str:
    """Convert an old 15-digit ID to 18 digits: insert "19" after the 6-digit area, append the check digit
    (POLICY.md §12, GB 11643-1999). No date validation here; :func:`parse_id` does that."""
    if len(id15) != 15:
        raise _bad_length(len(id15))
    if not (id15.isascii() and id15.isdigit()):
        raise _bad_chars()
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + check_digit(first17)


# --- parsing ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdInfo:
    """A parsed identity number. ``number`` is always the normalised 18-digit resident ID."""

    number: str
    kind: Kind
    area_code: str
    birth_date: date
    sex: Literal["男", "女"]
    disability_category: int | None = None
    disability_grade: int | None = None
    warnings: tuple[Issue, ...] = ()


_ID_CHARS_RE = re.compile(r"^[0-9X]+$")


def parse_id(
    raw: object,
    *,
    today: date | None = None,
    known_area: Callable[[str], bool] | None = None,
) -> IdInfo:
    """Parse and validate a resident ID (18 or 15 digits) or a 20-digit disability certificate number.

    Raises ``FangpinValueError`` with issue code ``id_empty``, ``id_lost_digits``, ``id_bad_chars``,
    ``id_bad_length``, ``id_bad_checksum``, ``id_bad_birth_date`` or ``id_bad_disability_suffix``.
    ``known_area(area6)`` returning False (or raising LookupError, cf. the python-stdnum KeyError pitfall in
    POLICY.md §12) only adds the warning ``id_unknown_area``.
    """
    s = normalize_id_text(raw)
    if s is None:
        raise _empty()
    if not _ID_CHARS_RE.match(s):
        raise _bad_chars()
    n = len(s)
    if n not in (15, 18, 20):
        raise _bad_length(n)
    # X may only be the check char: position 18 of an 18-digit ID or of the ID part of a disability number.
    if "X" in s and (n == 15 or s.index("X") != 17 or s.count("X") != 1):
        raise _bad_chars()

    kind: Kind
    category = grade = None
    if n == 15:
        kind = "resident15"
        number = convert_15_to_18(s)
    else:
        kind = "resident18" if n == 18 else "disability20"
        number = s[:18]
        if check_digit(number[:17]) != number[17]:
            raise _bad_checksum()

    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _bad_birth_date() from None
    if birth < MIN_BIRTH_DATE or birth > (today or date.today()):
        raise _bad_birth_date()

    if n == 20:
        category, grade = int(s[18]), int(s[19])
        if not (1 <= category <= 7 and 1 <= grade <= 4):
            raise _bad_disability_suffix()

    area = number[:6]
    warnings: tuple[Issue, ...] = ()
    if known_area is not None:
        try:
            known = bool(known_area(area))
        except LookupError:
            known = False
        if not known:
            warnings = (_unknown_area(area),)

    return IdInfo(
        number=number,
        kind=kind,
        area_code=area,
        birth_date=birth,
        sex="男" if int(number[16]) % 2 == 1 else "女",
        disability_category=category,
        disability_grade=grade,
        warnings=warnings,
    )


# --- sex -------------------------------------------------------------------------------------------------------------
# GB/T 2261.1-2003: 1 = male, 2 = female (0 unknown, 9 unspecified -> None).
_SEX_MAP = {
    "男": "男", "男性": "男", "1": "男", "m": "男", "male": "男",
    "女": "女", "女性": "女", "2": "女", "f": "女", "female": "女",
}


def normalize_sex(raw: object) -> str | None:
    """Return "男"/"女" from common spellings (男, 男性, M, male, GB/T 2261.1 code 1/2); None if blank/unknown."""
    if raw is None:
        return None
    s = strip_all_space(to_halfwidth(str(raw))).lower()
    return _SEX_MAP.get(s)


def sex_matches(info: IdInfo, sex: object) -> bool:
    """True if the stated ``sex`` agrees with the ID (17th digit odd = male, GB 11643-1999).

    An unrecognised or blank ``sex`` is not a match (returns False); callers wanting "unknown" use
    :func:`normalize_sex` first."""
    return normalize_sex(sex) == info.sex


# --- vectorised generator (synthetic population) ---------------------------------------------------------------------
# Lookup tables over the chunks of the 17 digits: area[0:2], area[2:6], birth[0:4] (year), birth[4:8] (month+day),
# seq[0:3]. For each chunk: its zero-padded text (numpy unicode) and its weighted GB 11643-1999 partial sum.
# Integer division is slow in numpy, so only 3 divmods per id are done; the rest is ``np.take`` on small tables.
_CHUNKS = ((0, 2), (2, 4), (6, 4), (10, 4), (14, 3))  # (start position in the 17 digits, width)


def _chunk_tables(start: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    values = np.arange(10**width, dtype=np.int64)
    digits = (values[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10
    text = np.char.zfill(values.astype(f"<U{width}"), width)
    return text, digits @ _WEIGHTS_NP[start : start + width]


_CHUNK_TABLES = tuple(_chunk_tables(start, width) for start, width in _CHUNKS)
_CHECK_TEXT = np.array(list(CHECK_CHARS), dtype="<U1")
_ID_RECORD = np.dtype([(f"c{i}", f"<U{width}") for i, (_, width) in enumerate(_CHUNKS)] + [("check", "<U1")])
assert _ID_RECORD.itemsize == np.dtype("<U18").itemsize


def make_ids(area_codes: np.ndarray, birth_yyyymmdd: np.ndarray, seq3: np.ndarray) -> np.ndarray:
    """Vectorised GB 11643-1999 18-digit IDs (dtype ``<U18``) with correct check chars, no per-element loop.

    ``area_codes``: 6-digit ints (100000..999999); ``birth_yyyymmdd``: real calendar dates from 1890-01-01 as
    YYYYMMDD ints; ``seq3``: 0..999, odd = male. Inputs broadcast to a common 1-D shape. Raises ``ValueError``
    on out-of-range input (so every output passes :func:`parse_id` for a ``today`` after the birth dates).
    """
    area, birth, seq = np.broadcast_arrays(
        np.asarray(area_codes, dtype=np.int64),
        np.asarray(birth_yyyymmdd, dtype=np.int64),
        np.asarray(seq3, dtype=np.int64),
    )
    area, birth, seq = area.ravel(), birth.ravel(), seq.ravel()
    n = area.shape[0]
    if n == 0:
        return np.empty(0, dtype="<U18")
    if area.min() < 100000 or area.max() > 999999:
        raise ValueError("area codes must be 6-digit integers (GB 11643-1999)")
    if seq.min() < 0 or seq.max() > 999:
        raise ValueError("sequence numbers must be in 0..999 (GB 11643-1999)")
    year, monthday = np.divmod(birth, 10000)
    month, day = np.divmod(monthday, 100)
    if year.min() < MIN_BIRTH_DATE.year or year.max() > 9999 or month.min() < 1 or month.max() > 12 or day.min() < 1:
        raise ValueError("birth dates must be real YYYYMMDD dates from 1890-01-01")
    ym = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    as_day = ym.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    if not np.array_equal(as_day.astype("datetime64[M]"), ym):
        raise ValueError("birth dates must be real calendar dates (e.g. no Feb 29 in a non-leap year)")

    area_hi, area_lo = np.divmod(area, 10000)
    chunks = (area_hi, area_lo, year, monthday, seq)
    out = np.empty(n, dtype=_ID_RECORD)  # packed chunks, reinterpreted as '<U18' at the end
    total = np.zeros(n, dtype=np.int64)
    for i, (values, (text, sums)) in enumerate(zip(chunks, _CHUNK_TABLES)):
        out[f"c{i}"] = np.take(text, values)
        total += np.take(sums, values)
    out["check"] = np.take(_CHECK_TEXT, total % 11)
    return out.view("<U18")


# --- display ---------------------------------------------------------------------------------------------------------
def mask_id(number: object) -> str:
    """Mask an ID for display/logs: keep the first 4 and last 4 characters ("5301**********123X").

    Strings of 8 characters or fewer are fully masked (nothing would be hidden otherwise). ``None`` -> "".
    """
    if number is None:
        return ""
    s = str(number).strip()
    if len(s) <= 8:
        return "*" * len(s)
    return s[:4] + "*" * (len(s) - 8) + s[-4:]
