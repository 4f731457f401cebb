"""Tests for fangpin.exchange.values: cell value parsers (FEEDS.md: dates, amounts, choices)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fangpin.exchange.values import (
    is_blank,
    parse_amount,
    parse_choice,
    parse_date,
    parse_int,
    parse_period,
    parse_sex,
    parse_text,
    parse_yes_no,
)
from fangpin.issues import FangpinValueError

D = dt.date


def _code(fn, *a, **kw) -> str:
    with pytest.raises(FangpinValueError) as ei:
        fn(*a, **kw)
    iss = ei.value.issue
    assert iss.zh and iss.en and iss.code
    return iss.code


# --------------------------------------------------------------------------------------------------------------
# parse_date


@pytest.mark.parametrize(
    "raw",
    [
        "2024-03-05", "2024/3/5", "2024.3.5", "20240305", "2024年3月5日", "2024年03月05日", "2024年3月5号",
        "２０２４－０３－０５", "２０２４年３月５日", " 2024-03-05 ", "2024-03-05 00:00:00", "2024/3/5 10:30",
        "2024-03-05T00:00:00", "2024 年 3 月 5 日", 20240305, 20240305.0, 45356, 45356.0, 45356.75, "45356",
        dt.date(2024, 3, 5), dt.datetime(2024, 3, 5, 13, 45),
    ],
)
def test_parse_date_accepts_feeds_md_formats(raw):
    assert parse_date(raw) == D(2024, 3, 5)


def test_parse_date_excel_1900_serial_bug():
    assert parse_date(1) == D(1900, 1, 1)
    assert parse_date(59) == D(1900, 2, 28)
    assert parse_date(61) == D(1900, 3, 1)
    assert parse_date(25569) == D(1970, 1, 1)
    assert parse_date(73415) == D(2100, 12, 31)
    assert _code(parse_date, 60) == "date.invalid"  # 1900-02-29 does not exist


@pytest.mark.parametrize(
    "raw",
    ["2024-02-30", "2023-02-29", "2024-13-01", "2024年2月30日", "20240230", 20241301],
)
def test_parse_date_rejects_impossible_dates(raw):
    assert _code(parse_date, raw) == "date.invalid"


@pytest.mark.parametrize(
    "raw",
    ["abc", "3/5/2024", "24-3-5", "2024-03", "2024-03/05", 0, -5, 73416, 1e9, float("nan"), True, "1899-12-31"],
)
def test_parse_date_rejects_garbage(raw):
    assert _code(parse_date, raw) in ("date.unrecognized", "date.out_of_range")


def test_parse_date_blank_and_message_is_readable():
    assert _code(parse_date, None) == "value.empty"
    assert _code(parse_date, "  ") == "value.empty"
    with pytest.raises(FangpinValueError) as ei:
        parse_date("明天", field_zh="变动日期")
    assert "变动日期" in ei.value.issue.zh and "日期无法识别" in ei.value.issue.zh
    assert "明天" in str(ei.value)
    assert isinstance(ei.value, ValueError)


@given(st.dates(min_value=D(1900, 3, 1), max_value=D(2100, 12, 31)))
def test_parse_date_roundtrips_every_format(d):
    serial = (d - D(1899, 12, 30)).days
    for raw in (
        d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}年{d.month}月{d.day}日",
        d.strftime("%Y%m%d"), serial, float(serial), str(serial),
    ):
        assert parse_date(raw) == d


# --------------------------------------------------------------------------------------------------------------
# parse_period


@pytest.mark.parametrize(
    "raw", ["2024-03", "2024/3", "2024.3", "202403", "2024年3月", "2024年03月", "２０２４－０３", 202403,
            dt.date(2024, 3, 1), " 2024-3 "],
)
def test_parse_period_month(raw):
    assert parse_period(raw) == ("2024-03", D(2024, 3, 1), D(2024, 3, 31))


def test_parse_period_month_end_and_leap_year():
    assert parse_period("2024-02") == ("2024-02", D(2024, 2, 1), D(2024, 2, 29))
    assert parse_period("2023年2月")[2] == D(2023, 2, 28)
    assert parse_period("2024.10") == ("2024-10", D(2024, 10, 1), D(2024, 10, 31))


@pytest.mark.parametrize("raw", ["2024", "2024年", "2024年度", 2024, 2024.0, "２０２４"])
def test_parse_period_year(raw):
    assert parse_period(raw) == ("2024", D(2024, 1, 1), D(2024, 12, 31))


@pytest.mark.parametrize(
    "raw", ["2024-13", "2024-00", "24-03", "2024-03-05", "abc", 2024.1, dt.date(2024, 3, 5), True, 1800, ""],
)
def test_parse_period_rejects(raw):
    assert _code(parse_period, raw) in ("period.unrecognized", "value.empty")


def test_parse_period_float_message_explains_excel_number():
    with pytest.raises(FangpinValueError) as ei:
        parse_period(2024.1)
    assert "文本" in ei.value.issue.zh


# --------------------------------------------------------------------------------------------------------------
# parse_amount (Decimal quantized to 0.01)


@pytest.mark.parametrize(
    "raw,expected",
    [
        (1234, "1234.00"), (1234.5, "1234.50"), ("1,234.50", "1234.50"), ("1，234", "1234.00"),
        ("1234元", "1234.00"), ("￥1234", "1234.00"), ("¥1,234", "1234.00"), ("１２３４．５", "1234.50"),
        ("-200", "-200.00"), (" 12 ", "12.00"), ("1 234", "1234.00"), ("0.1", "0.10"), (0.1, "0.10"),
        ("12.345", "12.35"), (1234.5600000001, "1234.56"), ("1,234,567.89元", "1234567.89"), ("-0", "0.00"),
        ("－200元", "-200.00"), ("RMB100", "100.00"), (".5", "0.50"),
    ],
)
def test_parse_amount_accepts_feeds_md_formats(raw, expected):
    got = parse_amount(raw, empty_is_zero=False)
    assert isinstance(got, Decimal)
    assert got == Decimal(expected) and str(got) == expected


def test_parse_amount_empty_means_zero_only_where_the_column_says_so_feeds_md():
    for blank in (None, "", "  ", "\u3000"):
        assert parse_amount(blank, empty_is_zero=True) == Decimal("0.00")
        assert parse_amount(blank, empty_is_zero=False) is None


@pytest.mark.parametrize(
    "raw",
    ["abc", "12,5", "1,23", "1.2万", "1e3", "--5", "1.2.3", float("nan"), float("inf"), True, "元", "-", "12-",
     1e15, "99999999999999"],
)
def test_parse_amount_rejects(raw):
    assert _code(parse_amount, raw, empty_is_zero=True) in ("amount.unrecognized", "amount.too_large")


def test_parse_amount_message():
    with pytest.raises(FangpinValueError) as ei:
        parse_amount("一千", empty_is_zero=False, field_zh="月救助金额")
    assert "金额无法识别" in ei.value.issue.zh and "月救助金额" in ei.value.issue.zh


@given(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_parse_amount_roundtrips_grouped_text(d):
    text = f"{d:,.2f}"
    assert parse_amount(text, empty_is_zero=False) == d
    assert parse_amount(f"{text}元", empty_is_zero=False) == d


# --------------------------------------------------------------------------------------------------------------
# parse_int


@pytest.mark.parametrize("raw,expected", [(6, 6), (6.0, 6), ("6", 6), (" １２ ", 12), ("12.0", 12), ("-3", -3)])
def test_parse_int(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["6.5", 6.5, "abc", True, "1e3", float("inf")])
def test_parse_int_rejects(raw):
    assert _code(parse_int, raw) == "int.unrecognized"


def test_parse_int_range():
    assert parse_int("4", min=1, max=4) == 4
    assert _code(parse_int, 5, min=1, max=4) == "int.out_of_range"
    assert _code(parse_int, 0, min=1) == "int.out_of_range"
    assert _code(parse_int, 13, max=12, field_zh="务工月数") == "int.out_of_range"
    assert _code(parse_int, None) == "value.empty"


# --------------------------------------------------------------------------------------------------------------
# parse_choice / parse_yes_no / parse_sex / parse_text

HOUSEHOLD_TYPE = {"脱贫户": "脱贫户", "一般农户": "一般农户"}


def test_parse_choice_normalises_whitespace_and_fullwidth():
    assert parse_choice(" 脱贫 户\n", HOUSEHOLD_TYPE, field_zh="户类型") == "脱贫户"
    assert parse_choice("Ｙ", {"是": "是", "Y": "是"}, field_zh="x") == "是"
    assert parse_choice("y", {"是": "是", "Y": "是"}, field_zh="x") == "是"
    assert parse_choice(1.0, {"1": "一级"}, field_zh="残疾等级") == "一级"


def test_parse_choice_rejects_with_allowed_values():
    with pytest.raises(FangpinValueError) as ei:
        parse_choice("贫困户", HOUSEHOLD_TYPE, field_zh="户类型")
    iss = ei.value.issue
    assert iss.code == "choice.invalid"
    assert "户类型" in iss.zh and "脱贫户、一般农户" in iss.zh and "贫困户" in iss.zh
    assert _code(parse_choice, "", HOUSEHOLD_TYPE, field_zh="户类型") == "value.empty"


@pytest.mark.parametrize("raw", ["是", "Y", "y", "yes", "1", 1, 1.0, "true", "TRUE", True, " 是 ", "Ｙ"])
def test_parse_yes_no_true(raw):
    assert parse_yes_no(raw) is True


@pytest.mark.parametrize("raw", ["否", "N", "n", "no", "0", 0, "false", False])
def test_parse_yes_no_false(raw):
    assert parse_yes_no(raw) is False


@pytest.mark.parametrize("raw", ["有", "2", "maybe", None])
def test_parse_yes_no_rejects(raw):
    assert _code(parse_yes_no, raw) in ("choice.invalid", "value.empty")


@pytest.mark.parametrize(
    "raw,expected",
    [("男", "男"), ("女", "女"), ("M", "男"), ("f", "女"), (1, "男"), (2, "女"), ("2", "女"), (1.0, "男"),
     ("男性", "男"), (" 女 ", "女")],
)
def test_parse_sex_gb_t_2261_1(raw, expected):
    assert parse_sex(raw) == expected


@pytest.mark.parametrize("raw", [0, 9, "未知", True, "", "3"])
def test_parse_sex_rejects(raw):
    assert _code(parse_sex, raw) in ("choice.invalid", "value.empty")


def test_parse_text():
    assert parse_text("  某某村 ", 10) == "某某村"
    assert parse_text("第一行\n第二行", 20) == "第一行 第二行"
    assert parse_text(13800138000.0, 11) == "13800138000"
    assert parse_text(12, 5) == "12"
    assert parse_text(dt.date(2024, 3, 5), 10) == "2024-03-05"
    assert _code(parse_text, "a" * 11, 10) == "text.too_long"
    assert _code(parse_text, None, 10) == "value.empty"
    assert _code(parse_text, " \u3000", 10) == "value.empty"


def test_is_blank():
    assert is_blank(None) and is_blank("") and is_blank(" \t\n\u3000")
    assert not is_blank(0) and not is_blank("0") and not is_blank(False)
    assert not is_blank(float("nan"))


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats(), st.booleans(), st.none(), st.dates()))
def test_parsers_only_raise_fangpin_value_error(v):
    for fn in (
        parse_date, parse_period, lambda x: parse_amount(x, empty_is_zero=True), parse_int, parse_yes_no,
        parse_sex, lambda x: parse_text(x, 50),
    ):
        try:
            fn(v)
        except FangpinValueError as e:
            assert e.issue.zh and e.issue.en
