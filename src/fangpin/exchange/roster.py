"""Roster import (基础数据库): the four FEEDS.md §A files, all or nothing, with a per-row report.

* Every file is read with the messy-file reader (title rows, totals rows, GB18030, xlsx …).
* Every row is validated; any error rejects the whole batch — nothing is written — and the report
  lists each problem (file, row, column, value, reason in Chinese and English). Sensitive values
  (ID numbers, phones) are masked in the report.
* A batch is identified by the content hash of its files: importing the same files again changes
  nothing. Different files with the same facts add no versions either: a version row is appended
  only when a value differs from the current one (history is never overwritten, models.py).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import Engine, select

from fangpin import codes, ids
from fangpin.db import bulk_insert, next_id, reset_sequence, upgrade
from fangpin.exchange.tabular import ColumnSpec, FileRejected, read_table
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
from fangpin.registry import regions
from fangpin.registry.models import (
    GuaranteeStatus,
    Household,
    HouseholdVersion,
    ImportBatch,
    IncomeRecord,
    MemberVersion,
    Person,
    Region,
)
from fangpin.registry.service import (current_guarantees, current_households_by_id, current_income_by_household,
                                      current_members_by_person, existing_hh_nos, guarantees_by_household_date)
from fangpin.security.crypto import PURPOSE_ID, keyring
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE
from fangpin.textnorm import clean_name, normalize_phone

C = ColumnSpec
# FEEDS.md §A — canonical headers with the aliases seen in practice.
ROSTER_FILES: dict[str, dict[str, Any]] = {
    "households": {
        "names": ("households", "户表", "户信息", "household"),
        "columns": [
            C("户编号", True, ("户码", "户号", "户编码")),
            C("行政区划代码", True, ("区划代码", "村代码", "行政区划", "所在村代码")),
            C("户类型", True, ("户类别", "户属性")),
            C("是否易地搬迁", False, ("易地搬迁", "是否易地扶贫搬迁", "易地搬迁户")),
            C("联系电话", False, ("电话", "手机号码", "联系方式")),
            C("户主证件号码", False, ("户主身份证号", "户主身份证号码")),
        ],
    },
    "members": {
        "names": ("members", "成员表", "家庭成员", "member"),
        "columns": [
            C("户编号", True, ("户码", "户号", "户编码")),
            C("姓名", True),
            C("证件号码", True, ("身份证号", "身份证号码", "公民身份号码", "证件号")),
            C("性别", False),
            C("出生日期", False),
            C("与户主关系", True, ("与户主的关系",)),
            C("民族", False),
            C("文化程度", False),
            C("在校生情况", False, ("在校生状况",)),
            C("健康状况", False),
            C("劳动技能", False),
            C("务工月数", False, ("务工时间（月）", "务工时间(月)")),
            C("参加基本医疗保险", False, ("是否参加基本医疗保险", "参加城乡居民基本医疗保险")),
            C("参加基本养老保险", False, ("是否参加基本养老保险", "参加城乡居民基本养老保险")),
            C("残疾等级", False),
        ],
    },
    "income": {
        "names": ("income", "收支表", "收入", "收支"),
        "columns": [
            C("户编号", True, ("户码", "户号", "户编码")),
            C("期间", True, ("年月", "统计期间", "年度")),
            C("工资性收入", True),
            C("生产经营性收入", True),
            C("财产性收入", True),
            C("转移性收入", True),
            C("生产经营性支出", True),
            C("理赔收入", False),
            C("合规自付医疗支出", False),
            C("教育支出", False),
        ],
    },
    "guarantees": {
        "names": ("guarantees", "三保障及饮水", "三保障", "guarantee"),
        "columns": [
            C("户编号", True, ("户码", "户号", "户编码")),
            C("日期", True, ("核查日期", "统计日期")),
            C("住房安全", True),
            C("义务教育辍学", True, ("义务教育阶段辍学",)),
            C("饮水安全", True),
            C("有成员未参加医保", True, ("有成员未参加基本医疗保险",)),
        ],
    },
}
REQUIRED_FILES = ("households", "members")
SENSITIVE = {"证件号码", "户主证件号码", "联系电话"}
EXTS = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")


@dataclass
class RowError:
    file: str
    row: int
    column: str
    value: str
    code: str
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "column": self.column, "value": self.value, "code": self.code,
                "reason": f"{self.reason_zh} / {self.reason_en}", "reason_zh": self.reason_zh, "reason_en": self.reason_en}


@dataclass
class RosterReport:
    status: str = "pending"  # committed | rejected | unchanged
    batch_id: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    message_zh: str = ""
    message_en: str = ""

    def as_dict(self) -> dict:
        return {
            "status": self.status, "batch_id": self.batch_id, "files": self.files, "rows": self.rows,
            "accepted": sum(self.rows.values()) if self.status in ("committed", "unchanged") else 0,
            "rejected_rows": len({(e.file, e.row) for e in self.errors}),
            "errors": [e.as_dict() for e in self.errors], "warnings": [w.as_dict() for w in self.warnings],
            "skipped": self.skipped, "extra_columns": self.extra_columns, "written": self.written,
            "message": f"{self.message_zh} / {self.message_en}",
        }


def find_files(directory: Path) -> dict[str, Path]:
    """Map each roster role to a file in ``directory`` by its name (English or Chinese)."""
    found: dict[str, Path] = {}
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in EXTS)
    for role, spec in ROSTER_FILES.items():
        for p in files:
            stem = p.stem.lower()
            if any(stem == n or stem.startswith(n) or n in stem for n in spec["names"]):
                if role not in found and p not in found.values():
                    found[role] = p
    return found


def _display(column: str, value: Any) -> str:
    if value is None:
        return ""
    s = str(value)
    if column in SENSITIVE:
        return ids.mask_id(s) if column != "联系电话" else (s[:3] + "****" + s[-2:] if len(s) > 5 else "****")
    return s[:80]


class _Rows:
    """Collects per-row errors while parsing one file."""

    def __init__(self, report: RosterReport, file: str):
        self.report = report
        self.file = file

    def err(self, row: int, column: str, value: Any, code: str, zh: str, en: str) -> None:
        self.report.errors.append(RowError(self.file, row, column, _display(column, value), code, zh, en))

    def warn(self, row: int, column: str, value: Any, code: str, zh: str, en: str) -> None:
        self.report.warnings.append(RowError(self.file, row, column, _display(column, value), code, zh, en))

    def parse(self, row: int, column: str, value: Any, fn, *a, **kw):
        try:
            return fn(value, *a, **kw)
        except FangpinValueError as e:
            self.err(row, column, value, e.issue.code, e.issue.zh, e.issue.en)
            return _BAD


_BAD = object()


def _code(rows: _Rows, row: int, column: str, value: Any, list_name: str, strict: bool) -> str | None:
    """Canonical Chinese name from a code list; unknown → error (strict) or warning (kept as given)."""
    if is_blank(value):
        return None
    c = codes.lookup(list_name, value)
    if c is not None:
        return c.zh
    allowed = "、".join(x.zh for x in codes.load_code_lists()[list_name])
    if strict:
        rows.err(row, column, value, "code.unknown", f"“{column}”的值不在代码表中，可填：{allowed}",
                 f"'{column}' is not in the code list; allowed: {allowed}")
        return None
    rows.warn(row, column, value, "code.unlisted", f"“{column}”的值不在代码表中，已按原值保存",
              f"'{column}' is not in our code list; kept as given")
    return parse_text(value, 20)


def import_roster(engine: Engine, source: Path | dict[str, Path], *, valid_from: date | None = None,
                  recorded_at: datetime | None = None,
                  progress: Callable[[float, str], None] | None = None) -> RosterReport:
    """Import the roster files (a directory, or {role: path}); all or nothing.

    ``progress(fraction, stage)`` (optional) is told how far the import is: stages read, validate, write."""
    tick = progress or (lambda f, s: None)
    tick(0.0, "read")
    upgrade(engine)
    report = RosterReport()
    paths = find_files(source) if isinstance(source, Path) else dict(source)
    missing = [r for r in REQUIRED_FILES if r not in paths]
    if missing:
        report.status = "rejected"
        names = "、".join(f"{r}（{ROSTER_FILES[r]['names'][1]}）" for r in missing)
        report.message_zh = f"缺少花名册文件：{names}"
        report.message_en = f"missing roster file(s): {', '.join(missing)}"
        return report
    valid_from = valid_from or date.today()
    recorded_at = recorded_at or datetime.now().replace(microsecond=0)
    blobs = {}
    for role, p in paths.items():
        blobs[role] = Path(p).read_bytes()
        report.files[role] = Path(p).name
    digest = hashlib.sha256()
    for role in sorted(blobs):
        digest.update(role.encode())
        digest.update(hashlib.sha256(blobs[role]).digest())
    sha = digest.hexdigest()

    tables = {}
    for role, blob in blobs.items():
        try:
            tables[role] = read_table(blob, columns=ROSTER_FILES[role]["columns"], filename=report.files[role])
        except FileRejected as e:
            report.status = "rejected"
            report.errors.append(RowError(report.files[role], 0, "", "", e.issue.code, e.issue.zh, e.issue.en))
            report.message_zh = f"文件“{report.files[role]}”无法导入：{e.issue.zh}"
            report.message_en = f"file '{report.files[role]}' cannot be imported: {e.issue.en}"
            return report
        t = tables[role]
        report.rows[role] = len(t.rows)
        report.skipped += [{"file": report.files[role], "row": r, "reason": why} for r, why in t.skipped]
        if t.extra_columns:
            report.extra_columns[report.files[role]] = list(t.extra_columns)

    with engine.connect() as conn:
        if conn.execute(select(ImportBatch.id).where(ImportBatch.kind == "roster", ImportBatch.content_sha256 == sha)).first():
            report.status = "unchanged"
            report.message_zh = "这批文件此前已导入，未做任何更改"
            report.message_en = "these files were imported before; nothing changed"
            return report

    tick(0.2, "validate")
    hh_rows = _validate_households(report, tables["households"])
    mem_rows = _validate_members(report, tables["members"], valid_from)
    inc_rows = _validate_income(report, tables["income"]) if "income" in tables else []
    gua_rows = _validate_guarantees(report, tables["guarantees"]) if "guarantees" in tables else []
    _cross_checks(engine, report, hh_rows, mem_rows, inc_rows, gua_rows)
    if report.errors:
        report.status = "rejected"
        n = len({(e.file, e.row) for e in report.errors})
        report.message_zh = f"发现 {len(report.errors)} 处错误（{n} 行），整批未导入，请按报告修改后重新上传"
        report.message_en = f"{len(report.errors)} problem(s) in {n} row(s); nothing was imported — fix them and upload again"
        return report
    tick(0.6, "write")
    _write(engine, report, sha, valid_from, recorded_at, hh_rows, mem_rows, inc_rows, gua_rows)
    return report


def _validate_households(report: RosterReport, table) -> list[dict]:
    rows = _Rows(report, report.files["households"])
    out = []
    seen: dict[str, int] = {}
    for r in table.rows:
        v = r.values
        n = r.row_number
        hh_no = rows.parse(n, "户编号", v["户编号"], parse_text, 40)
        if hh_no is not _BAD:
            if hh_no in seen:
                rows.err(n, "户编号", hh_no, "roster.duplicate_household",
                         f"户编号重复（与第 {seen[hh_no]} 行相同）", f"duplicate household number (same as row {seen[hh_no]})")
            seen[hh_no] = n
        code = rows.parse(n, "行政区划代码", v["行政区划代码"], _region_code)
        hh_type = _code(rows, n, "户类型", v["户类型"], "household_types", strict=True)
        reloc = False if is_blank(v.get("是否易地搬迁")) else rows.parse(n, "是否易地搬迁", v["是否易地搬迁"], parse_yes_no)
        phone = None
        if not is_blank(v.get("联系电话")):
            phone = rows.parse(n, "联系电话", v["联系电话"], normalize_phone)
        head = None
        if not is_blank(v.get("户主证件号码")):
            head = rows.parse(n, "户主证件号码", v["户主证件号码"], _id, regions.is_known_area)
            if head is not _BAD:
                for w in head.warnings:
                    rows.warn(n, "户主证件号码", head.number, w.code, w.zh, w.en)
                head = head.number
        if hh_type is None and not is_blank(v["户类型"]):
            continue
        out.append({"row": n, "hh_no": hh_no, "region_code": code, "hh_type": hh_type, "relocated": reloc,
                    "phone": phone, "head_id_number": head})
    return out


def _region_code(value: Any) -> str:
    s = parse_text(value, 20)
    s = "".join(ch for ch in s if not ch.isspace())
    if len(s) != 12 or not s.isdigit():
        raise FangpinValueError(_issue("region.bad_code", "行政区划代码应为12位数字（县6位+乡镇3位+村3位）",
                                       "the division code must have 12 digits (county 6 + township 3 + village 3)"))
    return s


def _issue(code, zh, en):
    from fangpin.issues import issue

    return issue(code, zh, en)


def _id(value: Any, known_area) -> ids.IdInfo:
    return ids.parse_id(ids.normalize_id_text(value), known_area=known_area)


def _validate_members(report: RosterReport, table, valid_from: date) -> list[dict]:
    rows = _Rows(report, report.files["members"])
    out = []
    seen: dict[str, int] = {}
    for r in table.rows:
        v = r.values
        n = r.row_number
        hh_no = rows.parse(n, "户编号", v["户编号"], parse_text, 40)
        name = clean_name(v["姓名"])
        if not name:
            rows.err(n, "姓名", v["姓名"], "value.empty", "姓名不能为空", "name is empty")
        info = rows.parse(n, "证件号码", v["证件号码"], _id, regions.is_known_area)
        if info is not _BAD:
            for w in info.warnings:
                rows.warn(n, "证件号码", info.number, w.code, w.zh, w.en)
            if info.number in seen:
                rows.err(n, "证件号码", info.number, "roster.duplicate_person",
                         f"同一证件号码重复出现（与第 {seen[info.number]} 行相同）",
                         f"the same ID number appears twice (same as row {seen[info.number]})")
            seen[info.number] = n
            if info.birth_date > valid_from:
                rows.err(n, "证件号码", info.number, "id_born_after_as_of", "出生日期晚于导入生效日期",
                         "born after the roster's effective date")
        sex = None if is_blank(v.get("性别")) else rows.parse(n, "性别", v["性别"], parse_sex)
        birth = None if is_blank(v.get("出生日期")) else rows.parse(n, "出生日期", v["出生日期"], parse_date)
        if info is not _BAD:
            # GB 11643: the ID carries birth date and sex (POLICY.md §12)
            if sex not in (None, _BAD) and sex != info.sex:
                rows.err(n, "性别", sex, "id_sex_mismatch", "性别与证件号码第17位不符",
                         "sex does not match the 17th digit of the ID number")
            if birth not in (None, _BAD) and birth != info.birth_date:
                rows.err(n, "出生日期", birth, "id_birth_mismatch", "出生日期与证件号码不符",
                         "birth date does not match the ID number")
            sex = info.sex if sex in (None, _BAD) else sex
            birth = info.birth_date if birth in (None, _BAD) else birth
        relation = _code(rows, n, "与户主关系", v["与户主关系"], "relation_to_head", strict=False)
        if relation is None and not is_blank(v["与户主关系"]):
            pass
        elif relation is None:
            rows.err(n, "与户主关系", v["与户主关系"], "value.empty", "与户主关系不能为空", "relation to head is empty")
        grade = None
        if not is_blank(v.get("残疾等级")):
            g = rows.parse(n, "残疾等级", v["残疾等级"], _grade)
            grade = None if g is _BAD else g
        cat = None
        if info is not _BAD and info.disability_grade is not None:
            if grade is not None and grade != info.disability_grade:
                rows.err(n, "残疾等级", grade, "disability_grade_mismatch", "残疾等级与残疾人证号不符",
                         "disability grade differs from the disability certificate number")
            grade = info.disability_grade
            cat = info.disability_category
        months = None
        if not is_blank(v.get("务工月数")):
            m = rows.parse(n, "务工月数", v["务工月数"], parse_int, min=0, max=12)
            months = None if m is _BAD else m
        med = None if is_blank(v.get("参加基本医疗保险")) else rows.parse(n, "参加基本医疗保险", v["参加基本医疗保险"], parse_yes_no)
        pen = None if is_blank(v.get("参加基本养老保险")) else rows.parse(n, "参加基本养老保险", v["参加基本养老保险"], parse_yes_no)
        out.append({
            "row": n, "hh_no": hh_no, "name": name, "id_number": None if info is _BAD else info.number,
            "sex": sex, "birth_date": birth, "relation": relation,
            "ethnicity": _code(rows, n, "民族", v.get("民族"), "ethnicity", strict=True),
            "education": _code(rows, n, "文化程度", v.get("文化程度"), "education", strict=False),
            "schooling": _code(rows, n, "在校生情况", v.get("在校生情况"), "schooling", strict=False),
            "health": _code(rows, n, "健康状况", v.get("健康状况"), "health", strict=True),
            "labour_skill": _code(rows, n, "劳动技能", v.get("劳动技能"), "labour_skill", strict=True),
            "migrant_months": months, "med_insured": None if med is _BAD else med,
            "pension_insured": None if pen is _BAD else pen, "disability_grade": grade, "disability_category": cat,
        })
    return out


def _grade(value: Any) -> int:
    s = str(value).strip().replace("级", "")
    for k, d in {"一": "1", "二": "2", "三": "3", "四": "4"}.items():
        s = s.replace(k, d)
    return parse_int(s, min=1, max=4)


_INCOME_COLS = {"工资性收入": "wage", "生产经营性收入": "business", "财产性收入": "property", "转移性收入": "transfer",
                "生产经营性支出": "business_cost", "理赔收入": "claims", "合规自付医疗支出": "medical_oop",
                "教育支出": "education_cost"}


def _validate_income(report: RosterReport, table) -> list[dict]:
    rows = _Rows(report, report.files["income"])
    out = []
    seen: dict[tuple, int] = {}
    for r in table.rows:
        v = r.values
        n = r.row_number
        hh_no = rows.parse(n, "户编号", v["户编号"], parse_text, 40)
        per = rows.parse(n, "期间", v["期间"], parse_period)
        rec = {"row": n, "hh_no": hh_no}
        if per is not _BAD:
            rec["period"], rec["period_start"], rec["period_end"] = per
            key = (hh_no, rec["period"])
            if key in seen:
                rows.err(n, "期间", rec["period"], "roster.duplicate_period", f"同一户同一期间重复（与第 {seen[key]} 行相同）",
                         f"the same household and period appear twice (same as row {seen[key]})")
            seen[key] = n
        for col, attr in _INCOME_COLS.items():
            a = rows.parse(n, col, v.get(col), parse_amount, empty_is_zero=True)
            if a is _BAD:
                continue
            if a < 0 and attr != "business":
                rows.err(n, col, a, "amount.negative", f"“{col}”不能为负数", f"'{col}' cannot be negative")
            rec[attr] = float(a if isinstance(a, Decimal) else Decimal(a))
        out.append(rec)
    return out


_SAFE = {"安全": True, "不安全": False, "是": True, "否": False}


def _validate_guarantees(report: RosterReport, table) -> list[dict]:
    rows = _Rows(report, report.files["guarantees"])
    out = []
    for r in table.rows:
        v = r.values
        n = r.row_number
        rec = {"row": n, "hh_no": rows.parse(n, "户编号", v["户编号"], parse_text, 40),
               "status_date": rows.parse(n, "日期", v["日期"], parse_date)}
        h = rows.parse(n, "住房安全", v["住房安全"], parse_choice, {"安全": "安全", "不安全": "不安全"}, field_zh="住房安全")
        w = rows.parse(n, "饮水安全", v["饮水安全"], parse_choice, {"安全": "安全", "不安全": "不安全"}, field_zh="饮水安全")
        rec["housing_safe"] = None if h is _BAD else h == "安全"
        rec["water_safe"] = None if w is _BAD else w == "安全"
        rec["dropout"] = rows.parse(n, "义务教育辍学", v["义务教育辍学"], parse_yes_no)
        rec["uninsured_member"] = rows.parse(n, "有成员未参加医保", v["有成员未参加医保"], parse_yes_no)
        out.append(rec)
    return out


def _cross_checks(engine, report, hh_rows, mem_rows, inc_rows, gua_rows) -> None:
    """References between files and against the registry (FEEDS.md §A)."""
    in_file = {h["hh_no"] for h in hh_rows if h["hh_no"] is not _BAD}
    # only the household numbers this roster names are looked up (by the unique index), not the whole registry
    named = {r["hh_no"] for rows_ in (hh_rows, mem_rows, inc_rows, gua_rows) for r in rows_
             if isinstance(r["hh_no"], str)}
    with engine.connect() as conn:
        in_db = existing_hh_nos(conn, named)
    known = in_file | in_db
    for role, rows_ in (("members", mem_rows), ("income", inc_rows), ("guarantees", gua_rows)):
        r = _Rows(report, report.files.get(role, role))
        for m in rows_:
            if m["hh_no"] is not _BAD and m["hh_no"] not in known:
                r.err(m["row"], "户编号", m["hh_no"], "roster.unknown_household", "户编号在户表和系统中都不存在",
                      "household number is neither in the households file nor in the registry")
    # every household listed needs a head among the members given (or already registered)
    heads = {m["hh_no"] for m in mem_rows if m.get("relation") == "户主"}
    members_of = {}
    for m in mem_rows:
        members_of.setdefault(m["hh_no"], []).append(m)
    r = _Rows(report, report.files["households"])
    for h in hh_rows:
        if h["hh_no"] in (None, _BAD):
            continue
        if h["hh_no"] not in members_of and h["hh_no"] not in in_db:
            r.err(h["row"], "户编号", h["hh_no"], "roster.household_without_members", "该户在成员表中没有成员",
                  "this household has no members in the members file")
        elif h["hh_no"] in members_of and h["hh_no"] not in heads:
            r.warn(h["row"], "户编号", h["hh_no"], "roster.no_head", "成员表中该户没有“户主”", "no member is marked as head")
        if h["head_id_number"] and h["hh_no"] in members_of and \
                h["head_id_number"] not in {m["id_number"] for m in members_of[h["hh_no"]]}:
            r.warn(h["row"], "户主证件号码", h["head_id_number"], "roster.head_not_member",
                   "户主证件号码不在该户成员中", "the head's ID number is not among the household's members")
        code = h["region_code"]
        if code is not _BAD and code not in regions.known_codes():
            if code[:6] + "000000" in regions.known_codes():
                r.warn(h["row"], "行政区划代码", code, "region.unknown_village",
                       "村级代码不在区划库（2023）中，已按新代码登记", "village code not in the 2023 catalogue; registered as new")
            else:
                r.warn(h["row"], "行政区划代码", code, "region.unknown_county",
                       "县级代码不在区划库（2023）中，已按新代码登记", "county code not in the 2023 catalogue; registered as new")


_HH_PLAIN = ("region_code", "hh_type", "relocated")  # phone and head ID are stored encrypted (fangpin.security)
_MV_ATTRS = ("name", "sex", "birth_date", "relation", "ethnicity", "education", "schooling", "health", "labour_skill",
             "migrant_months", "med_insured", "pension_insured", "disability_grade", "disability_category")
_INC_ATTRS = tuple(_INCOME_COLS.values())
_G_ATTRS = ("housing_safe", "dropout", "water_safe", "uninsured_member")


def _write(engine, report, sha, valid_from, recorded_at, hh_rows, mem_rows, inc_rows, gua_rows) -> None:
    written = {"household": 0, "household_version": 0, "person": 0, "member_version": 0, "income_record": 0,
               "guarantee_status": 0, "region": 0}
    with engine.begin() as conn:
        batch_id = conn.execute(ImportBatch.__table__.insert().returning(ImportBatch.id), {
            "kind": "roster", "content_sha256": sha, "files": sorted(report.files.values()), "status": "committed",
            "valid_from": valid_from, "started_at": recorded_at, "rows_total": sum(report.rows.values()),
            "rows_accepted": sum(report.rows.values()), "rows_rejected": 0,
        }).scalar_one()
        # regions: load the counties the roster uses from the catalogue; unknown codes are registered
        counties = sorted({h["region_code"][:6] for h in hh_rows})
        known = regions.known_codes()
        written["region"] += regions.load_into_db(conn, [c for c in counties if c + "000000" in known])
        codes_ = {h["region_code"] for h in hh_rows}
        wanted = sorted(codes_ | {p for p in map(regions.parent_of, codes_) if p})  # the roster's codes + parents
        have = set()
        for i in range(0, len(wanted), 500):
            have |= set(conn.execute(select(Region.code).where(Region.code.in_(wanted[i:i + 500]))).scalars())
        new_regions = []
        for h in hh_rows:
            code = h["region_code"]
            if code not in have:
                have.add(code)
                parent = regions.parent_of(code)
                new_regions.append((code, regions.level_of(code), f"（未登记区划 {code}）",
                                    parent if parent in have else None, "roster"))
        written["region"] += bulk_insert(conn, Region.__table__, ["code", "level", "name", "parent_code", "source"], new_regions)

        # households of the households file (new ones inserted) and those the other files name that are already
        # registered (_cross_checks refused any other): a member, income or 三保障 row may update a registered
        # household the households file does not list
        hh_ids, written["household"] = _identities(
            conn, Household, "hh_no", [h["hh_no"] for h in hh_rows]
            + [r["hh_no"] for rows_ in (mem_rows, inc_rows, gua_rows) for r in rows_], recorded_at)
        kr = keyring()
        # current state of this roster's households/persons only, by key (issue 8: cost follows the file)
        cur = current_households_by_id(conn, hh_ids.values())
        hv = []
        for h in hh_rows:
            hid = hh_ids[h["hh_no"]]
            c = cur.get(hid)
            if c is not None and c.active and all(getattr(c, a) == h[a] for a in _HH_PLAIN) \
                    and kr.decrypt(c.phone_enc, P_PHONE) == h["phone"] \
                    and kr.decrypt(c.head_id_enc, P_HEAD_ID) == h["head_id_number"]:
                continue
            hv.append((hid, valid_from, recorded_at, batch_id, *(h[a] for a in _HH_PLAIN),
                       kr.encrypt(h["phone"], P_PHONE), kr.encrypt(h["head_id_number"], P_HEAD_ID),
                       kr.blind(h["head_id_number"], PURPOSE_ID), True))
        written["household_version"] = bulk_insert(conn, HouseholdVersion.__table__,
                                                   ["household_id", "valid_from", "recorded_at", "batch_id",
                                                    *_HH_PLAIN, "phone_enc", "head_id_enc", "head_id_bidx",
                                                    "active"], hv)

        pid_of, written["person"] = _person_identities(conn, kr, [m["id_number"] for m in mem_rows], recorded_at)
        curm = current_members_by_person(conn, pid_of.values())
        mv = []
        for m in mem_rows:
            pid = pid_of[m["id_number"]]
            hid = hh_ids[m["hh_no"]]
            c = curm.get(pid)
            if c is not None and c.active and c.household_id == hid and all(getattr(c, a) == m[a] for a in _MV_ATTRS):
                continue
            mv.append((pid, hid, valid_from, recorded_at, batch_id, True, *(m[a] for a in _MV_ATTRS)))
        written["member_version"] = bulk_insert(conn, MemberVersion.__table__,
                                                ["person_id", "household_id", "valid_from", "recorded_at", "batch_id",
                                                 "active", *_MV_ATTRS], mv)

        curi = current_income_by_household(conn, {hh_ids[i["hh_no"]] for i in inc_rows})
        iv = []
        for i in inc_rows:
            hid = hh_ids[i["hh_no"]]
            c = curi.get((hid, i["period"]))
            if c is not None and all(abs(float(getattr(c, a)) - i.get(a, 0.0)) < 0.005 for a in _INC_ATTRS):
                continue
            iv.append((hid, i["period"], i["period_start"], i["period_end"], recorded_at, batch_id,
                       *(i.get(a, 0.0) for a in _INC_ATTRS)))
        written["income_record"] = bulk_insert(conn, IncomeRecord.__table__,
                                               ["household_id", "period", "period_start", "period_end", "recorded_at",
                                                "batch_id", *_INC_ATTRS], iv)
        gs = GuaranteeStatus.__table__
        existing = guarantees_by_household_date(conn, {hh_ids[g["hh_no"]] for g in gua_rows})
        gv = []
        for g in gua_rows:
            hid = hh_ids[g["hh_no"]]
            c = existing.get((hid, g["status_date"]))
            if c is not None and all(getattr(c, a) == g[a] for a in _G_ATTRS):
                continue
            gv.append((hid, g["status_date"], recorded_at, batch_id, *(g[a] for a in _G_ATTRS)))
        written["guarantee_status"] = bulk_insert(conn, gs, ["household_id", "status_date", "recorded_at", "batch_id",
                                                             *_G_ATTRS], gv)
        report.written = written
        report.status = "committed"
        report.batch_id = batch_id
        from sqlalchemy import update

        conn.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(
            finished_at=datetime.now().replace(microsecond=0), report={"written": written, "warnings": len(report.warnings)}))
    report.message_zh = f"导入成功：{sum(report.rows.values())} 行，新增记录 {sum(written.values())} 条"
    report.message_en = f"imported {sum(report.rows.values())} rows; {sum(written.values())} new records"


def _identities(conn, model, key: str, keys: list[str], created_at: datetime) -> tuple[dict[str, int], int]:
    """Ids of the identity rows (household by 户编号, person by ID number) for ``keys``; the missing ones are
    inserted with explicit ids. Looks up only the keys of this batch, not the whole registry."""
    col = getattr(model, key)
    ids: dict[str, int] = {}
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), 500):
        ids.update(conn.execute(select(col, model.id).where(col.in_(wanted[i:i + 500]))).all())
    new = [k for k in wanted if k not in ids]
    first = next_id(conn, model.__table__)
    for n, k in enumerate(new):
        ids[k] = first + n
    written = bulk_insert(conn, model.__table__, ["id", key, "created_at"], ((ids[k], k, created_at) for k in new))
    reset_sequence(conn, model.__table__)
    return ids, written


def _person_identities(conn, kr, keys: list[str], created_at: datetime) -> tuple[dict[str, int], int]:
    """Person ids for the ID numbers of this batch, found by blind index (under every known key, so a key
    rotation in progress does not create duplicates); missing persons are inserted encrypted."""
    ids: dict[str, int] = {}
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), 500):
        back = kr.blind_map(wanted[i:i + 500], PURPOSE_ID)
        for bidx, pid in conn.execute(select(Person.id_number_bidx, Person.id)
                                      .where(Person.id_number_bidx.in_(list(back)))).all():
            ids[back[bidx]] = pid
    new = [k for k in wanted if k not in ids]
    first = next_id(conn, Person.__table__)
    for n, k in enumerate(new):
        ids[k] = first + n
    enc = kr.encrypt_many(new, P_PERSON_ID)
    bidx = kr.blind_many(new, PURPOSE_ID)
    written = bulk_insert(conn, Person.__table__, ["id", "id_number_enc", "id_number_bidx", "created_at"],
                          ((ids[k], enc[n], bidx[n], created_at) for n, k in enumerate(new)))
    reset_sequence(conn, Person.__table__)
    return ids, written


__all__ = ["import_roster", "RosterReport", "ROSTER_FILES", "find_files", "current_guarantees"]
