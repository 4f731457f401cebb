"""Synthetic department feeds (FEEDS.md §B messes, POLICY.md §6 content) and the roster export (FEEDS.md §A)."""
from __future__ import annotations

import collections
import hashlib
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from fangpin.db import make_engine
from fangpin.exchange.tabular import ColumnSpec, read_table
from fangpin.exchange.values import is_blank, parse_amount, parse_date
from fangpin.ids import normalize_id_text, parse_id
from fangpin.issues import FangpinValueError
from fangpin.registry.service import current_guarantees, current_households, current_income, current_members
from fangpin.synth.feeds import FEED_COLUMNS, FEED_KEYS, MESS_TAGS, write_feeds
from fangpin.synth.roster import ROSTER_COLUMNS, write_roster
from fangpin.synth.run import SynthParams, run


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    d = tmp_path_factory.mktemp("feeds")
    e = make_engine(f"sqlite:///{d}/x.db")
    run(e, SynthParams(households=3000, months=24, seed=3), d / "truth")
    summary = write_feeds(d / "truth", d / "feeds", seed=3)
    rows = pq.read_table(d / "feeds" / "_truth" / "feed_rows.parquet").to_pylist()
    return e, d, summary, rows


def _spec(feed):
    return [ColumnSpec(c, True) for c in FEED_COLUMNS[feed]]


def _id_code(raw) -> str:
    try:
        parse_id(normalize_id_text(raw))
        return "ok"
    except FangpinValueError as e:
        return e.issue.code


def test_feeds_md_every_mess_tag_appears(county):
    _, _, summary, _ = county
    seen = collections.Counter()
    for feed in FEED_KEYS:
        seen.update(summary[feed]["messes"])
    assert [t for t in MESS_TAGS if not seen[t]] == []


def test_feeds_md_b_all_nine_feeds_written_with_truth_rows(county):
    _, d, summary, rows = county
    per_feed = collections.Counter(r["feed"] for r in rows)
    for feed in FEED_KEYS:
        assert summary[feed]["rows"] == per_feed[feed]
        assert summary[feed]["files"] == len(list((d / "feeds" / feed).glob(f"{feed}_*.*")))
    for feed in ("medical", "public_security", "civil_affairs", "disability", "housing", "employment"):
        assert summary[feed]["rows"] > 0, feed


def test_feeds_md_every_file_readable_and_row_numbers_match_truth(county):
    """Every file reads with read_table; each truth row is a SourceRow with the same row_number, and the ID cell
    parses (or fails with the expected reason code) after normalize_id_text (POLICY.md §12)."""
    _, d, _, rows = county
    by_file = collections.defaultdict(list)
    for r in rows:
        by_file[r["file"]].append(r)
    checked = 0
    for rel, truth in by_file.items():
        feed = truth[0]["feed"]
        table = read_table(d / "feeds" / rel, columns=_spec(feed))
        got = {sr.row_number: sr for sr in table.rows}
        assert sorted(got) == sorted(r["row_number"] for r in truth), rel
        if feed == "water":
            continue
        for r in truth[:: max(1, len(truth) // 25)] + [r for r in truth if r["expected"] == "reject"]:
            sr = got[r["row_number"]]
            code = _id_code(sr.values["证件号码"])
            tags = r["messes"].split(",")
            if r["reject_reason_code"] == "id_lost_digits":
                assert code == "id_lost_digits", (rel, r)
            elif "no_id" in tags:
                assert code == "id_empty", (rel, r)
                assert sr.values["姓名"] and sr.values["出生日期"] and sr.values["行政区划代码"]
            else:
                assert code == "ok", (rel, r, sr.values["证件号码"])
            checked += 1
    assert checked > 100


def test_feeds_md_ids_resolve_to_the_true_person(county):
    _, d, _, rows = county
    persons = pq.read_table(d / "truth" / "persons.parquet", columns=["person_id", "id_number"]).to_pylist()
    idn = {p["person_id"]: p["id_number"] for p in persons}
    sample = [r for r in rows if r["feed"] == "medical" and r["person_id"] >= 0 and r["expected"] == "accept"
              and "no_id" not in r["messes"]][:400]
    files = collections.defaultdict(list)
    for r in sample:
        files[r["file"]].append(r)
    for rel, truth in files.items():
        got = {sr.row_number: sr for sr in read_table(d / "feeds" / rel, columns=_spec("medical")).rows}
        for r in truth:
            assert parse_id(got[r["row_number"]].values["证件号码"]).number == idn[r["person_id"]]


def test_policy_6_medical_amounts_are_consistent(county):
    """Total = insurers + total self-pay; policy-range self-pay ≤ total self-pay (cumulative in the year)."""
    _, d, _, rows = county
    files = sorted({r["file"] for r in rows if r["feed"] == "medical"})[:8]
    n = 0
    for rel in files:
        for sr in read_table(d / "feeds" / rel, columns=_spec("medical")).rows:
            v = sr.values
            amt = {k: parse_amount(v[k], empty_is_zero=True) for k in
                   ("年度累计总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "政策范围内个人自付", "个人自付合计")}
            assert amt["年度累计总费用"] == amt["基本医保支付"] + amt["大病保险支付"] + amt["医疗救助支付"] + amt["个人自付合计"]
            assert amt["政策范围内个人自付"] <= amt["个人自付合计"]
            assert amt["个人自付合计"] >= Decimal("3000")
            cutoff = parse_date(v["统计截止日期"])
            assert (cutoff + timedelta(days=1)).day == 1  # 统计截止日期 is a month end
            n += 1
    assert n > 0


def test_feeds_md_dates_parse_in_every_style(county):
    _, d, _, rows = county
    date_cols = {"出生日期", "变动日期", "统计截止日期", "日期", "鉴定日期", "开始日期", "受灾日期", "发证日期"}
    for rel in sorted({r["file"] for r in rows})[::5]:
        feed = rel.split("/")[0]
        for sr in read_table(d / "feeds" / rel, columns=_spec(feed)).rows:
            for k in date_cols & set(sr.values):
                if not is_blank(sr.values[k]):
                    assert isinstance(parse_date(sr.values[k]), date)


def test_feeds_md_duplicates_point_at_an_earlier_row_of_the_same_person(county):
    _, _, _, rows = county
    index = {(r["file"], r["row_number"]): r for r in rows}
    dups = [r for r in rows if r["duplicate_of_row"] != -1]
    assert dups
    for r in dups:
        orig = index[(r["file"], r["duplicate_of_row"])]
        assert orig["row_number"] < r["row_number"]
        assert orig["person_id"] == r["person_id"]
        assert r["expected"] == "reject" and r["reject_reason_code"] == "duplicate_in_batch"


def test_feeds_md_outsiders_have_valid_ids_from_other_counties(county):
    _, _, _, rows = county
    out = [r for r in rows if "outsider" in r["messes"].split(",")]
    assert out and all(r["person_id"] == -1 and r["reject_reason_code"] == "not_in_registry" for r in out)
    assert all(not r["village"].startswith("530521") for r in out)


def test_write_feeds_is_deterministic_for_a_seed(county, tmp_path):
    _, d, _, _ = county
    write_feeds(d / "truth", tmp_path / "again", seed=3)
    csvs = sorted(p.relative_to(d / "feeds") for p in (d / "feeds").rglob("*.csv"))
    assert csvs
    for rel in csvs:
        a = hashlib.sha256((d / "feeds" / rel).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "again" / rel).read_bytes()).hexdigest()
        assert a == b, rel
    t1 = pq.read_table(d / "feeds" / "_truth" / "feed_rows.parquet")
    t2 = pq.read_table(tmp_path / "again" / "_truth" / "feed_rows.parquet")
    assert t1.equals(t2)


def _db_counts(engine) -> dict[str, int]:
    h = current_households().subquery()
    active = select(h.c.household_id).where(h.c.active.is_(True)).subquery()
    m = current_members().subquery()
    i = current_income().subquery()
    g = current_guarantees().subquery()
    with engine.connect() as c:
        return {
            "households": c.execute(select(func.count()).select_from(active)).scalar(),
            "members": c.execute(select(func.count()).select_from(m).where(
                m.c.active.is_(True), m.c.household_id.in_(select(active.c.household_id)))).scalar(),
            "income": c.execute(select(func.count()).select_from(i).where(
                i.c.household_id.in_(select(active.c.household_id)))).scalar(),
            "guarantees": c.execute(select(func.count()).select_from(g).where(
                g.c.household_id.in_(select(active.c.household_id)))).scalar(),
        }


@pytest.mark.parametrize("fmt,messy", [("csv", False), ("csv", True), ("xlsx", True)])
def test_feeds_md_a_roster_round_trip_row_counts(county, tmp_path, fmt, messy):
    e, d, _, _ = county
    res = write_roster(e, tmp_path, truth_dir=d / "truth", fmt=fmt, messy=messy)
    counts = _db_counts(e)
    for name, cols in ROSTER_COLUMNS.items():
        table = read_table(tmp_path / f"{name}.{fmt}", columns=[ColumnSpec(c, True) for c in cols])
        assert len(table.rows) == counts[name] == res[f"{name}.{fmt}"], name
        if messy:
            assert any(reason == "totals" for _, reason in table.skipped)
            assert table.header_row == 2
        if name == "members":
            for sr in table.rows[:200]:
                parse_id(sr.values["证件号码"])
                parse_date(sr.values["出生日期"])
