"""Tests for fangpin.ids: resident IDs per GB 11643-1999 and POLICY.md §12, import rules per FEEDS.md.

All example numbers are constructed here with check_digit(); none belongs to a real person.
"""
from __future__ import annotations

import time
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fangpin.issues import FangpinValueError, Issue
from fangpin.ids import (
    CHECK_CHARS,
    WEIGHTS,
    IdInfo,
    check_digit,
    convert_15_to_18,
    make_ids,
    mask_id,
    normalize_id_text,
    normalize_sex,
    parse_id,
    sex_matches,
)

TODAY = date(2025, 6, 30)


def make18(first17: str) -> str:
    return first17 + check_digit(first17)


def code_of(raw, **kw) -> str:
    with pytest.raises(FangpinValueError) as exc:
        parse_id(raw, today=kw.pop("today", TODAY), **kw)
    assert isinstance(exc.value.issue, Issue)
    assert str(exc.value) == f"{exc.value.issue.zh} / {exc.value.issue.en}"
    return exc.value.issue.code


# Constructed examples (fictitious): Kunming Wuhua district 530102, born 1990-03-07.
MALE = make18("53010219900307123")  # 17th digit 3: odd -> male
FEMALE = make18("53010219900307124")  # 17th digit 4: even -> female
ID_X = next(make18(f"5301021985010100{i}") for i in range(10) if check_digit(f"5301021985010100{i}") == "X")

# Strategy: a random valid person (POLICY.md §12: area + YYYYMMDD + seq + check).
areas = st.integers(min_value=100000, max_value=999999)
births = st.dates(min_value=date(1890, 1, 1), max_value=TODAY)
seqs = st.integers(min_value=0, max_value=999)


@st.composite
def valid_ids(draw):
    area, birth, seq = draw(areas), draw(births), draw(seqs)
    return make18(f"{area:06d}{birth:%Y%m%d}{seq:03d}"), area, birth, seq


# --- GB 11643-1999 check digit ---------------------------------------------------------------------------------------
def test_gb11643_weights_and_check_chars():
    assert WEIGHTS == (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert CHECK_CHARS == "10X98765432"
    # ISO 7064 MOD 11-2: weight i = 2**(17-i) mod 11
    assert WEIGHTS == tuple(pow(2, 17 - i, 11) for i in range(17))


def test_gb11643_check_digit_known_examples():
    # Hand-computed weighted sums (fictitious numbers): 167 % 11 = 2 -> "X"; 195 % 11 = 8 -> "4"; 224 % 11 = 4 -> "8".
    assert check_digit("11010519491231002") == "X"
    assert check_digit("44052418800101001") == "4"
    assert check_digit("53010219900307123") == "8"
    for first17 in ("44052418800101001", "53010219900307123", "00000000000000000"):
        total = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
        assert check_digit(first17) == "10X98765432"[total % 11]
    assert check_digit("00000000000000000") == "1"
    assert ID_X.endswith("X")


def test_gb11643_check_digit_rejects_bad_input():
    with pytest.raises(FangpinValueError):
        check_digit("1234")
    with pytest.raises(FangpinValueError):
        check_digit("1234567890123456X")


# --- parse_id basics -------------------------------------------------------------------------------------------------
def test_gb11643_parse_valid_18_digit():
    info = parse_id(MALE, today=TODAY)
    assert info == IdInfo(
        number=MALE, kind="resident18", area_code="530102", birth_date=date(1990, 3, 7), sex="男",
        disability_category=None, disability_grade=None, warnings=(),
    )
    assert parse_id(FEMALE, today=TODAY).sex == "女"
    assert parse_id(ID_X, today=TODAY).number == ID_X


@given(valid_ids())
def test_gb11643_generated_ids_parse_and_roundtrip(case):
    number, area, birth, seq = case
    info = parse_id(number, today=TODAY)
    assert info.number == number
    assert info.kind == "resident18"
    assert info.area_code == f"{area:06d}"
    assert info.birth_date == birth
    assert info.sex == ("男" if seq % 2 == 1 else "女")
    assert parse_id(info.number, today=TODAY) == info


@given(valid_ids(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_gb11643_any_single_digit_change_is_detected(case, pos, new):
    number = case[0]
    assume(number[pos] != new)
    mutated = number[:pos] + new + number[pos + 1 :]
    code = code_of(mutated)
    if new == "X" and pos < 17:
        assert code == "id_bad_chars"  # X is only valid as the check char
    else:
        assert code in {"id_bad_checksum", "id_bad_birth_date"}


def test_gb11643_checksum_message_does_not_leak_expected_char():
    bad = MALE[:17] + ("0" if MALE[17] != "0" else "1")
    with pytest.raises(FangpinValueError) as exc:
        parse_id(bad, today=TODAY)
    assert exc.value.issue.code == "id_bad_checksum"
    assert MALE[17] not in (exc.value.issue.zh + exc.value.issue.en).replace("18", "")


# --- 15 -> 18 (POLICY.md §12, GB 11643-1999) --------------------------------------------------------------------------
def test_policy12_convert_15_to_18():
    assert convert_15_to_18("530102900307123") == MALE
    with pytest.raises(FangpinValueError):
        convert_15_to_18("53010290030712")


@given(areas, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), seqs)
def test_policy12_15_digit_id_is_same_person_as_18_digit_form(area, birth, seq):
    id15 = f"{area:06d}{birth:%y%m%d}{seq:03d}"
    info15 = parse_id(id15, today=TODAY)
    info18 = parse_id(convert_15_to_18(id15), today=TODAY)
    assert info15.kind == "resident15"
    assert info15.number == info18.number == make18(f"{area:06d}{birth:%Y%m%d}{seq:03d}")
    assert info15.birth_date == info18.birth_date == birth
    assert info15.sex == info18.sex == ("男" if seq % 2 == 1 else "女")


def test_policy12_15_digit_id_with_x_is_rejected():
    assert code_of("53010290030712X") == "id_bad_chars"


# --- normalisation (FEEDS.md: lowercase x, full-width digits, spaces or tabs inside) -----------------------------------
def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in s)


def test_feeds_id_normalisation_variants_agree():
    variants = [
        ID_X,
        ID_X.lower(),
        _fullwidth(ID_X),
        _fullwidth(ID_X.lower()),
        " " + ID_X[:6] + " " + ID_X[6:14] + "\t" + ID_X[14:] + " ",
        ID_X[:6] + "\u3000" + ID_X[6:],
        ID_X[:6] + "\u00a0" + ID_X[6:] + "\u200b",
        "'" + ID_X,
        "＇" + ID_X.lower(),
    ]
    for v in variants:
        assert normalize_id_text(v) == ID_X
        assert parse_id(v, today=TODAY).number == ID_X


@given(valid_ids(), st.lists(st.sampled_from([" ", "\t", "\u3000"]), min_size=18, max_size=18), st.booleans())
def test_feeds_id_inner_whitespace_and_fullwidth_normalise(case, seps, full):
    number = case[0]
    chars = _fullwidth(number.lower()) if full else number.lower()
    text = "".join(c + sep for c, sep in zip(chars, seps))
    assert parse_id(text, today=TODAY).number == number


def test_feeds_id_int_is_accepted():
    assert normalize_id_text(int(MALE)) == MALE
    assert parse_id(int(MALE), today=TODAY).number == MALE
    assert parse_id(np.int64(int(MALE)), today=TODAY).number == MALE


# --- numbers that lost digits (FEEDS.md: "4.10102E+17 has lost digits: reject the row, do not guess") -----------------
@pytest.mark.parametrize(
    "raw",
    ["4.10102E+17", "4.10102e17", "4.10102E17", " 4.10102E+17 ", "４．１０１０２Ｅ＋１７", 4.10102e17, float(MALE),
     "410102199003071234.0", "4.10102199003071E+17"],
)
def test_feeds_id_stored_as_number_is_lost_digits(raw):
    with pytest.raises(FangpinValueError) as exc:
        normalize_id_text(raw)
    assert exc.value.issue.code == "id_lost_digits"
    assert "text" in exc.value.issue.en and "文本" in exc.value.issue.zh
    assert code_of(raw) == "id_lost_digits"


def test_feeds_exact_15_digit_float_is_accepted():
    id15 = "530102900307123"
    assert normalize_id_text(float(id15)) == id15
    assert normalize_id_text(id15 + ".0") == id15
    info = parse_id(float(id15), today=TODAY)
    assert info.kind == "resident15" and info.number == MALE


def test_feeds_empty_ids():
    assert normalize_id_text(None) is None
    assert normalize_id_text("") is None
    assert normalize_id_text(" \t\u3000") is None
    assert normalize_id_text(float("nan")) is None
    for raw in (None, "", "   ", "'", float("nan")):
        assert code_of(raw) == "id_empty"


# --- structural errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["53010219900307-123", "5301021990030712３a", "X30102199003071230", "53010219900X071230",
                                 "5301021990030712X3", "53010219900307123４５X", 3.5, True])
def test_gb11643_bad_chars(raw):
    assert code_of(raw) == "id_bad_chars"


@pytest.mark.parametrize("raw", ["5301021990030712", "53010219900307123", "5301021990030712345", "1", "5" * 21])
def test_gb11643_bad_length(raw):
    assert code_of(raw) == "id_bad_length"


def test_gb11643_feb29_on_non_leap_year_is_bad_birth_date():
    assert code_of(make18("53010220230229123")) == "id_bad_birth_date"
    assert code_of(make18("53010219000229123")) == "id_bad_birth_date"  # 1900 is not a leap year
    assert parse_id(make18("53010220000229123"), today=TODAY).birth_date == date(2000, 2, 29)
    assert code_of("530102230229123") == "id_bad_birth_date"  # 15-digit, 1923 not leap


@pytest.mark.parametrize("first17", ["53010219901301123", "53010219900100123", "53010219900432123",
                                     "53010218891231123", "53010220250701123"])
def test_gb11643_impossible_birth_dates(first17):
    # month 13, day 0, Apr 32, before 1890-01-01, after `today`
    assert code_of(make18(first17)) == "id_bad_birth_date"


def test_gb11643_birth_date_bounds_inclusive():
    assert parse_id(make18("53010218900101123"), today=TODAY).birth_date == date(1890, 1, 1)
    assert parse_id(make18("53010220250630123"), today=TODAY).birth_date == TODAY


# --- unknown area code is a warning (POLICY.md §12) ------------------------------------------------------------------
def test_policy12_unknown_area_is_warning_not_error():
    known = {"530102"}
    info = parse_id(MALE, today=TODAY, known_area=known.__contains__)
    assert info.warnings == ()
    retired = make18("53210219500101123")
    info = parse_id(retired, today=TODAY, known_area=known.__contains__)
    assert info.number == retired
    assert [w.code for w in info.warnings] == ["id_unknown_area"]
    assert "532102" in info.warnings[0].zh and "532102" in info.warnings[0].en


def test_policy12_area_lookup_keyerror_is_only_a_warning():
    # POLICY.md §12 pitfall: python-stdnum raised KeyError on one code.
    def lookup(code: str) -> bool:
        raise KeyError(code)

    info = parse_id(MALE, today=TODAY, known_area=lookup)
    assert [w.code for w in info.warnings] == ["id_unknown_area"]


# --- 20-digit disability certificate (POLICY.md §12) -----------------------------------------------------------------
@given(valid_ids(), st.integers(min_value=1, max_value=7), st.integers(min_value=1, max_value=4))
def test_policy12_disability_certificate_parses_category_and_grade(case, category, grade):
    number = case[0]
    info = parse_id(f"{number}{category}{grade}".lower(), today=TODAY)
    assert info.kind == "disability20"
    assert info.number == number
    assert (info.disability_category, info.disability_grade) == (category, grade)
    assert info.birth_date == case[2]


@pytest.mark.parametrize("suffix", ["01", "81", "91", "10", "15", "19", "00"])
def test_policy12_disability_certificate_bad_suffix(suffix):
    assert code_of(MALE + suffix) == "id_bad_disability_suffix"


def test_policy12_disability_certificate_checks_id_part():
    bad = MALE[:17] + ("0" if MALE[17] != "0" else "1")
    assert code_of(bad + "24") == "id_bad_checksum"
    assert parse_id(ID_X + "13", today=TODAY).number == ID_X
    assert code_of(ID_X + "X3") == "id_bad_chars"


# --- sex (GB 11643-1999: 17th digit odd = male; GB/T 2261.1 codes) -------------------------------------------------
def test_gb11643_sex_matches():
    m, f = parse_id(MALE, today=TODAY), parse_id(FEMALE, today=TODAY)
    assert sex_matches(m, "男") and sex_matches(m, " 男 ") and sex_matches(m, "M") and sex_matches(m, 1)
    assert not sex_matches(m, "女") and not sex_matches(m, None) and not sex_matches(m, "未知")
    assert sex_matches(f, "女") and sex_matches(f, "female") and sex_matches(f, "２")
    assert normalize_sex("未说明") is None


# --- make_ids (vectorised generator for the synthetic population) -----------------------------------------------------
_DAY0 = date(1890, 1, 1)
_NDAYS = (TODAY - _DAY0).days


def _yyyymmdd(day_offsets: np.ndarray) -> np.ndarray:
    d = np.datetime64(_DAY0) + day_offsets.astype("timedelta64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + dd


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=60).flatmap(lambda n: st.tuples(
    hnp.arrays(np.int64, n, elements=st.integers(100000, 999999)),
    hnp.arrays(np.int64, n, elements=st.integers(0, _NDAYS)),
    hnp.arrays(np.int64, n, elements=st.integers(0, 999)),
)))
def test_gb11643_make_ids_always_parse_and_sex_parity(arrays):
    area, offsets, seq = arrays
    birth = _yyyymmdd(offsets)
    ids = make_ids(area, birth, seq)
    assert ids.shape == area.shape and ids.dtype == np.dtype("<U18")
    for i, number in enumerate(ids):
        first17 = f"{area[i]:06d}{birth[i]:08d}{seq[i]:03d}"
        assert number == first17 + check_digit(first17)
        info = parse_id(number, today=TODAY)
        assert info.birth_date == _DAY0 + timedelta(days=int(offsets[i]))
        assert info.sex == ("男" if seq[i] % 2 == 1 else "女")


def test_gb11643_make_ids_rejects_bad_input():
    one = np.array([530102])
    with pytest.raises(ValueError):
        make_ids(one, np.array([20230229]), np.array([1]))  # not a real date
    with pytest.raises(ValueError):
        make_ids(one, np.array([18891231]), np.array([1]))  # before 1890
    with pytest.raises(ValueError):
        make_ids(np.array([12345]), np.array([19900101]), np.array([1]))
    with pytest.raises(ValueError):
        make_ids(one, np.array([19900101]), np.array([1000]))
    assert make_ids(np.array([], np.int64), np.array([], np.int64), np.array([], np.int64)).shape == (0,)


def test_gb11643_make_ids_one_million_all_valid():
    """Vectorised generation at scale (speed is measured in benchmarks, never asserted here)."""
    rng = np.random.default_rng(11643)
    n = 1_000_000
    area = rng.integers(100000, 1000000, n)
    birth = _yyyymmdd(rng.integers(0, _NDAYS + 1, n))
    seq = rng.integers(0, 1000, n)
    ids = make_ids(area, birth, seq)
    assert len(ids) == n
    sample = rng.integers(0, n, 200)
    for i in sample:
        assert parse_id(ids[i], today=TODAY).number == ids[i]


# --- masking ---------------------------------------------------------------------------------------------------------
def test_mask_id_keeps_first_and_last_four():
    assert mask_id(MALE) == MALE[:4] + "*" * 10 + MALE[-4:]
    assert mask_id(ID_X) == ID_X[:4] + "**********" + ID_X[-4:]
    assert mask_id("12345678") == "********"
    assert mask_id(None) == ""
    assert len(mask_id(MALE + "24")) == 20
