"""Export the registry's current state as the four roster files of FEEDS.md §A (户表, 成员表, 收支表, 三保障及饮水).

``write_roster(engine, out_dir, truth_dir=None, fmt="csv", messy=False)`` writes ``households.<ext>``,
``members.<ext>``, ``income.<ext>`` and ``guarantees.<ext>`` (``ext`` = csv in UTF-8, or xlsx) and returns
``{file name: data rows}``.

What is exported (the latest version per entity, read with :mod:`fangpin.registry.service`):
* households: the latest household version, active ones only;
* members: the latest member version of each person, active ones whose household is exported;
* income: the latest recorded figures per (household, period) of the exported households, 期间 = YYYY-MM or YYYY;
* guarantees: the latest 三保障及饮水 status per exported household.

The database is read with SQLAlchemy Core, streamed (``yield_per``), and files are written row by row
(xlsx in xlsxwriter's constant-memory mode).

``messy=True`` applies a few of the FEEDS.md messes, every row staying valid: a title row above the header, a
totals row "合计" at the bottom, full-width digits in ~3 % of the ID cells (证件号码 / 户主证件号码) and dates
written as 2024年3月5日 or 2024/3/5 (one style per file). The randomness is seeded from ``truth_dir/params.json``
(the synth seed) when given, else from a constant, so the output is deterministic.
"""
from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from sqlalchemy import Engine, and_, select

from fangpin.security.crypto import keyring
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE
from fangpin.registry.service import current_guarantees, current_households, current_income, current_members

__all__ = ["ROSTER_COLUMNS", "write_roster"]

ROSTER_COLUMNS: dict[str, list[str]] = {
    "households": ["户编号", "行政区划代码", "户类型", "是否易地搬迁", "联系电话", "户主证件号码"],
    "members": ["户编号", "姓名", "证件号码", "性别", "出生日期", "与户主关系", "民族", "文化程度", "在校生情况", "健康状况",
                "劳动技能", "务工月数", "参加基本医疗保险", "参加基本养老保险", "残疾等级"],
    "income": ["户编号", "期间", "工资性收入", "生产经营性收入", "财产性收入", "转移性收入", "生产经营性支出", "理赔收入",
               "合规自付医疗支出", "教育支出"],
    "guarantees": ["户编号", "日期", "住房安全", "义务教育辍学", "饮水安全", "有成员未参加医保"],
}
_TITLES = {"households": "户表", "members": "成员表", "income": "收支表", "guarantees": "三保障及饮水情况表"}
_ID_COLS = {"证件号码", "户主证件号码"}
_DATE_COLS = {"出生日期", "日期"}
_AMOUNT_COLS = set(ROSTER_COLUMNS["income"][2:])
_FULLWIDTH = str.maketrans({**{str(i): chr(0xFF10 + i) for i in range(10)}, "X": "Ｘ"})
_CHUNK = 5000


def _yn(v: Any) -> str:
    return "是" if v else "否"


def _active_households():
    return current_households().subquery()


def _households(conn) -> Iterator[list[Any]]:
    h = _active_households()
    q = select(h.c.hh_no, h.c.region_code, h.c.hh_type, h.c.relocated, h.c.phone_enc, h.c.head_id_enc) \
        .where(h.c.active.is_(True)).order_by(h.c.hh_no)
    kr = keyring()  # the roster files are a delivery of plaintext, as the county's would be (FEEDS.md §A)
    for r in conn.execution_options(yield_per=_CHUNK).execute(q):
        yield [r.hh_no, r.region_code, r.hh_type, _yn(r.relocated), kr.decrypt(r.phone_enc, P_PHONE),
               kr.decrypt(r.head_id_enc, P_HEAD_ID)]


def _members(conn) -> Iterator[list[Any]]:
    h = _active_households()
    m = current_members().subquery()
    q = (select(h.c.hh_no, m).join(h, and_(h.c.household_id == m.c.household_id, h.c.active.is_(True)))
         .where(m.c.active.is_(True)).order_by(h.c.hh_no, m.c.person_id))
    kr = keyring()
    for r in conn.execution_options(yield_per=_CHUNK).execute(q):
        yield [r.hh_no, r.name, kr.decrypt(r.id_number_enc, P_PERSON_ID), r.sex, r.birth_date, r.relation, r.ethnicity, r.education, r.schooling,
               r.health, r.labour_skill, r.migrant_months, _yn(r.med_insured), _yn(r.pension_insured),
               r.disability_grade]


def _income(conn) -> Iterator[list[Any]]:
    h = _active_households()
    i = current_income().subquery()
    q = (select(h.c.hh_no, i).join(h, and_(h.c.household_id == i.c.household_id, h.c.active.is_(True)))
         .order_by(h.c.hh_no, i.c.period_start, i.c.period))
    for r in conn.execution_options(yield_per=_CHUNK).execute(q):
        yield [r.hh_no, r.period, r.wage, r.business, r.property, r.transfer, r.business_cost, r.claims,
               r.medical_oop, r.education_cost]


def _guarantees(conn) -> Iterator[list[Any]]:
    h = _active_households()
    g = current_guarantees().subquery()
    q = (select(h.c.hh_no, g).join(h, and_(h.c.household_id == g.c.household_id, h.c.active.is_(True)))
         .order_by(h.c.hh_no))
    for r in conn.execution_options(yield_per=_CHUNK).execute(q):
        yield [r.hh_no, r.status_date, "安全" if r.housing_safe else "不安全", _yn(r.dropout),
               "安全" if r.water_safe else "不安全", _yn(r.uninsured_member)]


_SOURCES = {"households": _households, "members": _members, "income": _income, "guarantees": _guarantees}


class _Mess:
    """Per-file mess choices (FEEDS.md): title row, totals row, full-width IDs, date style."""

    def __init__(self, rng: np.random.Generator | None):
        self.rng = rng
        self.date_style = "iso" if rng is None else str(rng.choice(["zh", "slash"]))

    def date(self, v: date | None) -> str | None:
        if v is None:
            return None
        if isinstance(v, datetime):
            v = v.date()
        if self.date_style == "zh":
            return f"{v.year}年{v.month}月{v.day}日"
        if self.date_style == "slash":
            return f"{v.year}/{v.month}/{v.day}"
        return v.isoformat()

    def id(self, v: str | None) -> str | None:
        if v is None or self.rng is None or self.rng.random() >= 0.03:
            return v
        return v.translate(_FULLWIDTH)


def _cells(row: list[Any], header: list[str], mess: _Mess, fmt: str) -> list[Any]:
    out = []
    for col, v in zip(header, row):
        if v is None:
            out.append(None)
        elif col in _DATE_COLS:
            out.append(mess.date(v))
        elif col in _ID_COLS:
            out.append(mess.id(str(v)))
        elif col in _AMOUNT_COLS:
            out.append(float(v) if fmt == "xlsx" else f"{float(v):.2f}")
        elif isinstance(v, bool):
            out.append(_yn(v))
        elif isinstance(v, (int, float)):
            out.append(v if fmt == "xlsx" else str(v))
        else:
            out.append(str(v))
    return out


def write_roster(engine: Engine, out_dir: Path, *, truth_dir: Path | None = None, fmt: str = "csv",
                 messy: bool = False) -> dict:
    """Write the four FEEDS.md §A roster files of the registry's current state; return {file: data rows}."""
    if fmt not in ("csv", "xlsx"):
        raise ValueError("fmt must be 'csv' or 'xlsx'")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = 0
    if truth_dir is not None and (Path(truth_dir) / "params.json").exists():
        seed = int(json.loads((Path(truth_dir) / "params.json").read_text()).get("seed", 0))
    result: dict[str, int] = {}
    with engine.connect() as conn:
        for k, (name, header) in enumerate(ROSTER_COLUMNS.items()):
            rng = np.random.default_rng([seed, 77, k]) if messy else None
            mess = _Mess(rng)
            fname = f"{name}.{fmt}"
            rows = (_cells(r, header, mess, fmt) for r in _SOURCES[name](conn))
            title = f"建档立卡及监测对象{_TITLES[name]}" if messy else None
            n = (_write_csv if fmt == "csv" else _write_xlsx)(out_dir / fname, header, rows, title, messy)
            result[fname] = n
    return result


def _write_csv(path: Path, header: list[str], rows, title: str | None, totals: bool) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        if title:
            w.writerow([title] + [""] * (len(header) - 1))
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
            n += 1
        if totals:
            w.writerow(["合计", f"共{n}条"] + [""] * (len(header) - 2))
    return n


def _write_xlsx(path: Path, header: list[str], rows, title: str | None, totals: bool) -> int:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": datetime(2024, 1, 1), "author": "fangpin synth"})
    ws = wb.add_worksheet("Sheet1")
    r = 0
    if title:
        ws.merge_range(r, 0, r, len(header) - 1, title)
        r += 1
    for k, h in enumerate(header):
        ws.write_string(r, k, h)
    r += 1
    n = 0
    for row in rows:
        for k, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(r, k, v)
            else:
                ws.write_string(r, k, str(v))
        r += 1
        n += 1
    if totals:
        ws.write_string(r, 0, "合计")
        ws.write_string(r, 1, f"共{n}条")
    wb.close()
    return n
