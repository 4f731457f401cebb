"""Tests for fangpin.textnorm (FEEDS.md: messy spreadsheet text — full-width chars, spaces, middle dots)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangpin.issues import FangpinValueError
from fangpin.textnorm import (
    MIDDLE_DOT,
    clean_name,
    is_cjk_char,
    normalize_phone,
    strip_all_space,
    to_halfwidth,
)


# --- to_halfwidth (FEEDS.md: full-width digits ０-９, Ｘ, full-width spaces) -----------------------------------------
def test_feeds_halfwidth_maps_fullwidth_ascii_range():
    assert to_halfwidth("０１２３４５６７８９") == "0123456789"
    assert to_halfwidth("ＡＢＣｘＸ！～") == "ABCxX!~"
    assert to_halfwidth("\u3000") == " "
    assert to_halfwidth("张三") == "张三"


@given(st.text())
def test_feeds_halfwidth_output_has_no_fullwidth_ascii(s):
    out = to_halfwidth(s)
    assert len(out) == len(s)
    assert not any(0xFF01 <= ord(c) <= 0xFF5E or c == "\u3000" for c in out)


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_feeds_halfwidth_roundtrip_of_ascii(s):
    full = "".join(chr(ord(c) + 0xFEE0) for c in s)
    assert to_halfwidth(full) == s


# --- strip_all_space -------------------------------------------------------------------------------------------------
def test_feeds_strip_all_space_removes_tabs_nbsp_ideographic_and_zero_width():
    assert strip_all_space(" 4101\t02 19\u00a090\u300001\u200b01\u200c12\u200d3\ufeff4 \n") == "410102199001011234"


@given(st.text())
def test_feeds_strip_all_space_leaves_no_space(s):
    out = strip_all_space(s)
    assert not any(c.isspace() for c in out)
    assert not any(c in "\u200b\u200c\u200d\ufeff" for c in out)
    assert strip_all_space(out) == out


# --- is_cjk_char -----------------------------------------------------------------------------------------------------
def test_is_cjk_char():
    assert is_cjk_char("张")
    assert is_cjk_char("\u3400")  # extension A
    assert is_cjk_char("\U00020000")  # extension B
    assert is_cjk_char("\uf900")  # compatibility ideograph
    assert not is_cjk_char("a")
    assert not is_cjk_char("·")
    assert not is_cjk_char("张三")
    assert not is_cjk_char("")


# --- clean_name (FEEDS.md: names with spaces, full-width spaces, middle dot for minority names) -----------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张 三", "张三"),
        ("张　三", "张三"),
        (" 张\t三 ", "张三"),
        ("张\u00a0三", "张三"),
        ("张\u200b三", "张三"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽‧买买提", "阿依古丽·买买提"),
        ("阿依古丽･买买提", "阿依古丽·买买提"),
        ("阿依古丽．买买提", "阿依古丽·买买提"),
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("阿依古丽··买买提", "阿依古丽·买买提"),
        ("阿依古丽. · 买买提", "阿依古丽·买买提"),
        ("·阿依古丽·买买提·", "阿依古丽·买买提"),
        ("ＡＢＣ", "ABC"),
        ("Ｊｏｈｎ　Ｓｍｉｔｈ", "JohnSmith"),
        ("", ""),
        ("   ", ""),
        ("\u3000", ""),
        (None, ""),
    ],
)
def test_feeds_clean_name_examples(raw, expected):
    assert clean_name(raw) == expected


def test_feeds_clean_name_keeps_ordinary_and_compatibility_cjk_unchanged():
    # No NFKC/NFC: U+F900 (a compatibility ideograph) would be folded to U+8C48 by normalisation.
    assert clean_name("\uf900三") == "\uf900三"
    assert clean_name("𠀀明") == "𠀀明"
    assert clean_name("曾单解区") == "曾单解区"


def test_feeds_clean_name_dot_between_latin_is_not_a_middle_dot():
    assert clean_name("J.Smith") == "J.Smith"
    assert clean_name("J..Smith") == "J.Smith"


_NAME_CHARS = st.sampled_from(
    list("张三李四阿依古丽买买提曾单解区〇AbcXyz019")
    + [" ", "\u3000", "\t", "\u00a0", "\u200b", ".", "·", "•", "・", "‧", "･", "．", "Ａ", "ｘ", "１", "-", "'"]
    + ["\uf900", "\U00020000"]
)


@given(st.text(alphabet=_NAME_CHARS, max_size=20))
def test_feeds_clean_name_is_idempotent(raw):
    once = clean_name(raw)
    assert clean_name(once) == once
    assert not any(c.isspace() for c in once)
    assert not once.startswith((".", MIDDLE_DOT)) and not once.endswith((".", MIDDLE_DOT))
    assert MIDDLE_DOT * 2 not in once and ".." not in once


@given(st.text())
def test_feeds_clean_name_is_idempotent_on_arbitrary_text(raw):
    once = clean_name(raw)
    assert clean_name(once) == once


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=6))
def test_feeds_clean_name_passes_plain_cjk_unchanged(raw):
    assert clean_name(raw) == raw


# --- normalize_phone (FEEDS.md §A 联系电话, §C phone) -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0871-1234567", "08711234567"),
        ("(0871)1234567", "08711234567"),
        ("（0871）1234567", "08711234567"),
        ("+86 871 1234567", "08711234567"),
        ("'13812345678", "13812345678"),
        (13812345678, "13812345678"),
        (13812345678.0, "13812345678"),
        ("", None),
        ("  ", None),
        (None, None),
        (float("nan"), None),
    ],
)
def test_feeds_normalize_phone_examples(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["0871-1234567转8001", "138/139", "abc", "13812345678.5", 1.5])
def test_feeds_normalize_phone_rejects_non_digits(raw):
    with pytest.raises(FangpinValueError) as exc:
        normalize_phone(raw)
    assert exc.value.issue.code == "phone_bad_chars"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_feeds_normalize_phone_mobile_variants_agree(mobile):
    full = "".join(chr(ord(c) + 0xFEE0) for c in mobile)
    spaced = f"{mobile[:3]} {mobile[3:7]}\t{mobile[7:]}"
    for variant in (mobile, full, spaced, "+86" + mobile, "0086" + mobile, "86" + mobile):
        assert normalize_phone(variant) == mobile
