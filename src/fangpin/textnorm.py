"""Text normalisation for messy government spreadsheets (FEEDS.md, "Real government spreadsheets are messy").

Deliberately *no* blanket NFKC/NFC: both fold CJK compatibility ideographs (U+F900..U+FAFF, U+2F800..) into
unified ones, which silently changes a person's name. Every folding done here is an explicit mapping.
"""
from __future__ import annotations

import re
from numbers import Integral

from fangpin.issues import FangpinValueError, issue

__all__ = [
    "to_halfwidth",
    "strip_all_space",
    "clean_name",
    "normalize_phone",
    "is_cjk_char",
    "MIDDLE_DOT",
]

# --- full-width -> half-width (FEEDS.md: full-width digits ０-９, Ｘ, full-width spaces) -----------------------------
# U+FF01..U+FF5E map onto U+0021..U+007E (offset 0xFEE0); U+3000 IDEOGRAPHIC SPACE -> U+0020.
_HALFWIDTH_TABLE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_HALFWIDTH_TABLE[0x3000] = 0x20


def to_halfwidth(s: str) -> str:
    """Map full-width ASCII (U+FF01..U+FF5E) to ASCII and U+3000 to a space; everything else unchanged."""
    return s.translate(_HALFWIDTH_TABLE)


# --- whitespace ------------------------------------------------------------------------------------------------------
# ``\s`` on str patterns matches exactly the characters for which ``str.isspace()`` is true (tab, NBSP U+00A0,
# U+2000..U+200A, U+3000, ...). Zero-width characters are not "space" for Python but are invisible in Excel,
# so they are added explicitly: U+200B..U+200D, U+2060 WORD JOINER, U+FEFF BOM/ZWNBSP, U+180E.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"
_ALL_SPACE_RE = re.compile(r"[\s" + _ZERO_WIDTH + r"]+")


def strip_all_space(s: str) -> str:
    """Remove every whitespace character (anywhere in the string), including NBSP, U+3000 and zero-width chars."""
    return _ALL_SPACE_RE.sub("", s)


# --- CJK -------------------------------------------------------------------------------------------------------------
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x3007, 0x3007),  # 〇 IDEOGRAPHIC NUMBER ZERO (used in names)
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2EE5F),  # Extensions C, D, E, F, I
    (0x2F800, 0x2FA1F),  # CJK Compatibility Ideographs Supplement
    (0x30000, 0x323AF),  # Extensions G, H
)


def is_cjk_char(ch: str) -> bool:
    """True if ``ch`` is a single CJK ideograph (unified, extensions, compatibility, or 〇)."""
    if not isinstance(ch, str) or len(ch) != 1:
        return False
    cp = ord(ch)
    for lo, hi in _CJK_RANGES:
        if lo <= cp <= hi:
            return True
    return False


# --- names -----------------------------------------------------------------------------------------------------------
MIDDLE_DOT = "\u00b7"  # "·" separator in transliterated minority names (FEEDS.md, e.g. 阿依古丽·买买提)

# Variants typed in place of U+00B7 (explicit mapping, not NFKC): • U+2022, ・ U+30FB, ‧ U+2027, ･ U+FF65,
# ． U+FF0E, ∙ U+2219, ⋅ U+22C5, ⸱ U+2E31, · U+0387 (Greek ano teleia, canonically equal to U+00B7), ㆍ U+318D.
_DOT_VARIANTS = "\u2022\u30fb\u2027\uff65\uff0e\u2219\u22c5\u2e31\u0387\u318d"
_DOT_TABLE = {ord(c): MIDDLE_DOT for c in _DOT_VARIANTS}
_DOT_RUN_RE = re.compile(r"[.\u00b7]+")


def clean_name(raw: object) -> str:
    """Clean a Chinese person name (FEEDS.md: spaces between characters, full-width spaces, middle dot).

    - full-width ASCII -> ASCII, then every whitespace removed ("张 三", "张　三" -> "张三");
    - middle-dot variants -> U+00B7; an ASCII "." between two CJK characters -> U+00B7;
    - runs of dots collapse to one; leading/trailing dots are stripped;
    - ``None`` or blank -> "". Ordinary CJK (and compatibility ideographs) pass unchanged: no NFKC.
    Idempotent: ``clean_name(clean_name(x)) == clean_name(x)``.
    """
    if raw is None:
        return ""
    s = str(raw).translate(_DOT_TABLE)  # before half-width so "．" is handled as a middle dot
    s = strip_all_space(to_halfwidth(s))
    if not s:
        return ""

    def _dot_run(m: re.Match[str]) -> str:
        run = m.group(0)
        if MIDDLE_DOT in run:
            return MIDDLE_DOT
        start, end = m.start(), m.end()
        if start > 0 and end < len(s) and is_cjk_char(s[start - 1]) and is_cjk_char(s[end]):
            return MIDDLE_DOT
        return "."

    s = _DOT_RUN_RE.sub(_dot_run, s)
    return s.strip("." + MIDDLE_DOT)


# --- phone numbers ---------------------------------------------------------------------------------------------------
_PHONE_SEPARATORS = re.compile(r"[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212()]")


def normalize_phone(raw: object) -> str | None:
    """Normalise a phone number to half-width digits (FEEDS.md §A 联系电话, §C phone).

    Removes whitespace, dashes and brackets, a leading Excel apostrophe, and the +86 / 0086 / 86 country prefix.
    Landlines keep their leading 0 ("0871-1234567" -> "08711234567"; "+86 871 1234567" -> "08711234567").
    ``None`` or blank -> ``None``. Anything left that is not a digit raises ``FangpinValueError``
    (issue ``phone_bad_chars``): we do not guess (e.g. "0871-1234567转8001" or two numbers in one cell).
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise FangpinValueError(_phone_bad())
    if isinstance(raw, Integral):
        s = str(int(raw))
    elif isinstance(raw, float):
        if raw != raw:  # NaN: an empty cell as delivered by some readers
            return None
        if not raw.is_integer():  # a fraction or infinity is not a phone number
            raise FangpinValueError(_phone_bad())
        s = str(int(raw))
    else:
        s = str(raw)
    s = strip_all_space(to_halfwidth(s))
    s = s.lstrip("'\u2018\u2019")
    s = _PHONE_SEPARATORS.sub("", s)
    if not s:
        return None
    international = False
    if s.startswith("+86"):
        s, international = s[3:], True
    elif s.startswith("0086"):
        s, international = s[4:], True
    elif s.startswith("86") and len(s) == 13 and s[2] == "1":  # 86 + 11-digit mobile
        s, international = s[2:], True
    if not s.isdigit() or not s.isascii():
        raise FangpinValueError(_phone_bad())
    if international and not s.startswith(("0", "1")):
        s = "0" + s  # international format drops the trunk prefix of the area code
    return s


def _phone_bad():
    return issue(
        "phone_bad_chars",
        "联系电话含有数字以外的内容，无法识别为一个电话号码",
        "The phone number contains characters other than digits and cannot be read as one phone number",
    )
