"""Synthetic department feeds (FEEDS.md §B, POLICY.md §6) generated from the synthetic county's truth.

``write_feeds(truth_dir, out_dir, seed=...)`` writes one batch file per feed and month:
``out_dir/<feed_key>/<feed_key>_<YYYY-MM>.<csv|xlsx>`` (a month without any record gets no file), and the
evaluation truth ``out_dir/_truth/feed_rows.parquet`` (one row per data row written) plus
``out_dir/_truth/feed_files.parquet`` (one row per file: format, encoding, header row, file-level messes).

Only registry months are used (truth ``month_index`` >= 0; the warm-up year is ignored except to cumulate medical
costs inside a calendar year). Events of persons with ``in_registry`` false are not written (the only rows for
people outside the registry are the deliberate "outsider" rows below).

Content rules (FEEDS.md §B columns; POLICY.md §6 says what each department shares)
-------------------------------------------------------------------------------------
* ``medical`` (医保): every medical event's total cost and compliant out-of-pocket cost (``oop``) are spread evenly
  over the event's ``months``. Split of the rest (assumptions): out-of-policy self-pay = 4–15 % of (total − oop);
  大病保险 = 15–35 % of the insurers' share when the event's total ≥ 20,000; 医疗救助 = 10–30 % of the insurers' share
  for formerly-poor households (3 % chance of a small one otherwise); 基本医保 = the remainder. The monthly push
  (统计截止日期 = month end) lists every person whose *calendar-year* cumulative 个人自付合计 is ≥ 3,000 yuan (the
  department's own floor, below every POLICY.md §6 trigger, so the platform applies the real trigger), until the
  person dies / leaves. Amounts are cumulative; 年度累计总费用 = 基本医保 + 大病 + 救助 + 个人自付合计 exactly (cents),
  政策范围内个人自付 (= cumulative oop) ≤ 个人自付合计.
* ``public_security`` (公安): exits in the window: death → 死亡; moved_out / household_moved → 迁出 with
  迁入地行政区划代码 a village code of another county (60 % same province, 40 % 广东/浙江/江苏); entries: birth →
  出生 (date = birth date), spouse_in → 迁入 (迁入地 = own village). Event date: a day in the event month;
  reported in that month (30 %: the next month).
* ``civil_affairs`` (民政), per household, with dibao standard S = policy ``dibao_standard_rural_year`` (region,
  month): eligible when pc12 < S. Households eligible in the first month with take-up are existing recipients
  (no row). Take-up propensity 70 % (fixed per household). 新增 低保 after 2 consecutive eligible months plus an
  approval lag of 1–2 months; 特困 instead of 低保 for one-person households whose member is ≥ 60. 退出 after 3
  consecutive months with pc12 > 1.1 S, or when the household disappears. 变更 when S changes (January) and the
  recomputed amount differs. 月救助金额: 低保 = max(S − pc12, 0.3 S) / 12 × size; 特困 = 1.3 S / 12 × size (yuan,
  rounded); blank for 退出 and 低保边缘 (the column's "empty = nothing paid"). 低保边缘: 3 consecutive months with
  S ≤ pc12 < 1.5 S, take-up 30 %, 新增 / 退出 (when above 1.5 S for 3 months or moving to 低保). 临时救助 (新增, one-off
  amount 1,000–5,000, collapsed house 5,000–10,000, rounded to 100): 50 % of shocks that are deaths, severe/
  collapsed disaster damage or medical shocks with cost ≥ 8,000, if pc12 < 2 S that month; 1–2 months later.
  Row identity: the household head, or the first other living member when the head has died / left.
* ``disability`` (残联): disability shocks → 新办 1–3 months later (grade 1–4 p = .12/.22/.30/.36, category
  1/2/4/5/6 like the generator; drawn here, the registry's own draw is not in the truth); deaths of disabled
  people → 注销 1–2 months after; grade changes of people disabled at the start (0.15 %/month) → 变更 (±1 grade).
  残疾人证号 = 18-digit ID + category + grade (POLICY.md §12).
* ``disaster`` (应急管理): shocks kind=disaster: 灾种 = subtype, 房屋损毁程度 = damage, 农作物绝收面积(亩) = crop_mu,
  直接经济损失(元) = cost, 伤亡人数 = casualties; identity = household head; reported in the disaster month.
* ``housing`` (住建): guarantee_events housing_unsafe → appraisal 0–1 months after: D if the same month's disaster
  damage is 倒塌 (是否倒损 是), else C (30 % D for 严重损坏); re-appraisal B when the house is safe again; routine
  A (85 %) / B appraisals of 0.2 % of households a month. Identity = household head.
* ``employment`` (人社): employment_events (失业登记 月收入 0; 务工中断 月收入 0 in 60 %, else 300–1,500 odd jobs);
  公益岗位聘用 for members aged 25–59 of formerly-poor households (0.15 %/month, 月收入 500–1,000 by 50) and
  公益岗位退岗 6–12 months later (same 月收入).
* ``education`` (教育): guarantee_events dropout → 辍学 (25 % 疑似辍学) in the start month, 复学 in the end month;
  学校 from the township name (…中心小学 for ages < 12, …中学 otherwise), 年级 from the age. Children aged 7–15
  who move away (moved_out / household_moved) are reported 疑似辍学 0–1 months after (a false alarm to resolve
  against the 公安 迁出 row; true dropouts are rare in the generator).
* ``water`` (水利): village_events → 行政区划代码 · 事件 · 开始日期 · 结束日期 (start + 30 × duration days; blank when
  still going on at the end of the window) · 影响户数. No personal identity.

Messes (FEEDS.md "Real government spreadsheets are messy"), every rate seeded by ``(seed, feed, month)``
-----------------------------------------------------------------------------------------------------
File level (tags in feed_files.parquet and the summary, counted per file): format rotates xlsx → CSV UTF-8 →
CSV UTF-8 with BOM → CSV GB18030 by (feed index + month) (``format_*``); ``title_rows`` 70 % (two title rows in
30 % of those; ``title_merged`` when xlsx); ``totals_row`` 40 % ("合计" in the first column, sums of amount columns,
"共N条" otherwise); ``blank_rows`` 30 % (1–2 blank rows between data rows); ``extra_column`` 30 % (序号 in front
and/or 备注 at the end); ``shuffled_columns`` 25 %; date style per file (``date_iso`` 35 %, ``date_slash`` 20 %,
``date_compact`` 15 %, ``date_zh`` 15 %, ``date_serial`` 15 % = Excel serial numbers (a number cell in xlsx, digits
in CSV); in xlsx a further 20 % ``date_cell`` = real date cells); amount style per file (``amount_thousands``
20 %, ``amount_yuan`` 15 %, both 10 %; text cells in xlsx); ``amount_blank_zero`` 30 % of medical files (zero
大病/救助 left blank).
Row level (tags in feed_rows.messes, counted per row), identity feeds only: one ID mess per row: ``id_lowercase_x``
(half of the IDs ending in X), ``id_fullwidth`` 3 %, ``id_space`` 2 %, ``id_tab`` 1.5 %, ``id_15_digit`` 3 % (born
1900–1999), lost digits 1.5 % (``id_number_cell``: a float cell in xlsx; ``id_scientific_text``: "5.30521E+17" in
CSV) → expected reject ``id_lost_digits``; ``no_id`` 3 % (empty ID, name + sex + birth date + village filled), of
which ``name_homophone`` 35 % (a given-name character swapped for another with the same toneless pinyin) and
``birth_day_month_swapped`` 20 %. Names: ``name_spaces`` 3 %, ``name_fullwidth_space`` 2 %, ``name_middle_dot``
whenever the true name has "·". Extra rows: ``outsider`` ~2 % (+1 with 15 % per file): valid IDs of other counties,
plausible names (10 % minority style with "·"), villages of other counties → expected reject ``not_in_registry``;
``duplicate`` ~2 % (+1 with 15 % per file): an exact copy of an accepted row placed later → expected reject
``duplicate_in_batch`` with duplicate_of_row = the first row's number (an importer may equally collapse it).
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["FEED_KEYS", "FEED_COLUMNS", "MESS_TAGS", "write_feeds"]

FEED_KEYS = ("civil_affairs", "medical", "education", "housing", "water", "employment", "disaster", "disability",
             "public_security")
IDENTITY = ["姓名", "证件号码", "性别", "出生日期", "行政区划代码"]
_FIELDS = {
    "civil_affairs": ["救助类型", "变动类型", "变动日期", "月救助金额"],
    "medical": ["统计截止日期", "年度累计总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "政策范围内个人自付",
                "个人自付合计"],
    "education": ["学校", "年级", "状态", "日期"],
    "housing": ["鉴定日期", "危房等级", "是否倒损"],
    "water": ["行政区划代码", "事件", "开始日期", "结束日期", "影响户数"],
    "employment": ["事件", "日期", "月收入"],
    "disaster": ["灾种", "受灾日期", "房屋损毁程度", "农作物绝收面积(亩)", "直接经济损失(元)", "伤亡人数"],
    "disability": ["残疾人证号", "残疾类别", "残疾等级", "发证日期", "变动类型"],
    "public_security": ["事件", "日期", "迁入地行政区划代码"],
}
# Required headers per feed (FEEDS.md §B). The importer defines its own contracts; this is the generator's view.
FEED_COLUMNS: dict[str, list[str]] = {k: (v if k == "water" else IDENTITY + v) for k, v in _FIELDS.items()}

_DATE_COLS = {"出生日期", "变动日期", "统计截止日期", "日期", "鉴定日期", "开始日期", "结束日期", "受灾日期", "发证日期"}
_AMOUNT_COLS = {"月救助金额", "年度累计总费用", "基本医保支付", "大病保险支付", "医疗救助支付", "政策范围内个人自付", "个人自付合计",
                "直接经济损失(元)", "月收入"}
_NUMBER_COLS = {"影响户数", "伤亡人数", "农作物绝收面积(亩)", "残疾类别", "残疾等级"}

_DEPT = {"civil_affairs": ("民政局", "社会救助对象变动名单"), "medical": ("医疗保障局", "高额医疗费用人员名单"),
         "education": ("教育体育局", "控辍保学学生变动名单"), "housing": ("住房和城乡建设局", "农村房屋安全鉴定结果"),
         "water": ("水务局", "农村供水问题台账"), "employment": ("人力资源和社会保障局", "就业失业及公益岗位变动名单"),
         "disaster": ("应急管理局", "自然灾害受灾户名单"), "disability": ("残疾人联合会", "残疾人证变动名单"),
         "public_security": ("公安局", "户籍人口变动名单")}

FILE_TAGS = ("format_xlsx", "format_csv_utf8", "format_csv_utf8_bom", "format_csv_gb18030", "title_rows",
             "title_merged", "totals_row", "blank_rows", "extra_column", "shuffled_columns", "date_slash",
             "date_compact", "date_zh", "date_serial", "date_cell", "amount_thousands", "amount_yuan",
             "amount_blank_zero")
ROW_TAGS = ("id_lowercase_x", "id_fullwidth", "id_space", "id_tab", "id_15_digit", "id_number_cell",
            "id_scientific_text", "no_id", "name_homophone", "birth_day_month_swapped", "name_spaces",
            "name_fullwidth_space", "name_middle_dot", "outsider", "duplicate")
MESS_TAGS = FILE_TAGS + ROW_TAGS
_FORMATS = ("xlsx", "csv_utf8", "csv_utf8_bom", "csv_gb18030")
_EXCEL_EPOCH = date(1899, 12, 30)
_MED_FLOOR = 3000.0  # department's reporting floor for cumulative self-pay (assumption, below POLICY.md §6 triggers)
_FULLWIDTH = str.maketrans({**{str(i): chr(0xFF10 + i) for i in range(10)}, "X": "Ｘ"})


# ---------------------------------------------------------------------------------------------------------------
# Truth access


class _People:
    """Person columns as numpy arrays indexed by position; lookup by person_id via searchsorted."""

    def __init__(self, truth_dir: Path):
        cols = ["person_id", "household_id", "village", "id_number", "name", "sex", "birth_date", "in_registry",
                "disability_grade", "disability_category", "entry_month", "entry_kind", "exit_month", "exit_reason"]
        t = pq.read_table(truth_dir / "persons.parquet", columns=cols)
        order = np.argsort(np.asarray(t.column("person_id")), kind="stable")
        self.pid = np.asarray(t.column("person_id"))[order]
        self.hh = np.asarray(t.column("household_id"))[order]
        self.village = np.asarray(t.column("village").to_pylist(), dtype=object)[order]
        self.idn = np.asarray(t.column("id_number").to_pylist(), dtype=object)[order]
        self.name = np.asarray(t.column("name").to_pylist(), dtype=object)[order]
        self.male = (np.asarray(t.column("sex").to_pylist(), dtype=object) == "男")[order]
        self.birth = np.asarray(t.column("birth_date").cast(pa.date32())).astype("datetime64[D]")[order]
        self.in_reg = np.asarray(t.column("in_registry"))[order]
        self.dgrade = np.asarray(t.column("disability_grade"))[order]
        self.dcat = np.asarray(t.column("disability_category"))[order]
        self.entry_m = np.asarray(t.column("entry_month"))[order]
        self.entry_kind = np.asarray(t.column("entry_kind").to_pylist(), dtype=object)[order]
        self.exit_m = np.asarray(t.column("exit_month"))[order]
        self.exit_reason = np.asarray(t.column("exit_reason").to_pylist(), dtype=object)[order]
        # members by household (for applicant substitution)
        self.by_hh = np.argsort(self.hh, kind="stable")
        self.hh_sorted = self.hh[self.by_hh]

    def idx(self, person_id) -> np.ndarray:
        pid = np.asarray(person_id, dtype=np.int64)
        i = np.searchsorted(self.pid, pid)
        i = np.minimum(i, len(self.pid) - 1)
        return np.where(self.pid[i] == pid, i, -1)

    def alive_at(self, i: int, t: int) -> bool:
        """In the registry and not yet gone at registry month t."""
        if i < 0 or not self.in_reg[i]:
            return False
        if self.entry_m[i] > t:
            return False
        return not (0 <= self.exit_m[i] <= t)

    def members(self, hh_id: int) -> np.ndarray:
        a = np.searchsorted(self.hh_sorted, hh_id)
        b = np.searchsorted(self.hh_sorted, hh_id, side="right")
        return self.by_hh[a:b]


class _Households:
    def __init__(self, truth_dir: Path):
        t = pq.read_table(truth_dir / "households.parquet",
                          columns=["household_id", "village", "formerly_poor", "head_person_id", "in_registry"])
        order = np.argsort(np.asarray(t.column("household_id")), kind="stable")
        self.hid = np.asarray(t.column("household_id"))[order]
        self.village = np.asarray(t.column("village").to_pylist(), dtype=object)[order]
        self.fp = np.asarray(t.column("formerly_poor"))[order]
        self.head = np.asarray(t.column("head_person_id"))[order]
        self.in_reg = np.asarray(t.column("in_registry"))[order]

    def idx(self, hh_id) -> np.ndarray:
        h = np.asarray(hh_id, dtype=np.int64)
        i = np.minimum(np.searchsorted(self.hid, h), len(self.hid) - 1)
        return np.where(self.hid[i] == h, i, -1)


@dataclass
class _Rec:
    """One department record before rendering: who (person index or -1) and canonical field values."""

    person: int
    hh_id: int
    village: str
    fields: dict[str, Any]


@dataclass
class _Ctx:
    truth_dir: Path
    people: _People
    hhs: _Households
    months: list[date]  # first day of each registry month
    region: str
    rng: np.random.Generator
    records: dict[str, dict[int, list[_Rec]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))

    @property
    def M(self) -> int:
        return len(self.months)

    def day_in(self, t: int, rng: np.random.Generator | None = None) -> date:
        r = rng or self.rng
        return self.months[t] + timedelta(days=int(r.integers(0, 28)))

    def month_end(self, t: int) -> date:
        m = self.months[t]
        nxt = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
        return nxt - timedelta(days=1)

    def add(self, feed: str, t: int, person: int, fields: dict, hh_id: int | None = None, village: str | None = None):
        if not 0 <= t < self.M:
            return
        p = self.people
        if person >= 0:
            hh_id = int(p.hh[person]) if hh_id is None else hh_id
            village = p.village[person] if village is None else village
        self.records[feed][t].append(_Rec(person, int(hh_id if hh_id is not None else -1), village or "", fields))

    def applicant(self, hh_id: int, t: int) -> int:
        """Household head, or the first other member still present at month t (civil affairs applicant)."""
        h = self.hhs.idx(hh_id)
        if h < 0:
            return -1
        p = self.people
        head = p.idx(self.hhs.head[h]) if self.hhs.head[h] >= 0 else -1
        if head >= 0 and p.alive_at(int(head), t):
            return int(head)
        for i in p.members(hh_id):
            if p.alive_at(int(i), t):
                return int(i)
        return int(head)


def _read(truth_dir: Path, name: str, columns: list[str] | None = None) -> pa.Table | None:
    path = truth_dir / f"{name}.parquet"
    if not path.exists():
        return None
    return pq.read_table(path, columns=columns)


def _cols(t: pa.Table | None, *names: str) -> list[np.ndarray]:
    out = []
    for n in names:
        col = t.column(n)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out.append(np.asarray(col.to_pylist(), dtype=object))
        elif pa.types.is_date(col.type):
            out.append(np.asarray(col.cast(pa.date32())).astype("datetime64[D]"))
        else:
            out.append(np.asarray(col))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Record builders, one per feed (rules in the module docstring)


def _build_medical(c: _Ctx) -> None:
    t = _read(c.truth_dir, "medical_events")
    if t is None or t.num_rows == 0:
        return
    pid, mi, total, oop, k = _cols(t, "person_id", "month_index", "total_cost", "oop", "months")
    p, rng = c.people, c.rng
    pi = p.idx(pid)
    keep = (pi >= 0) & p.in_reg[np.maximum(pi, 0)]
    pi, mi, total, oop, k = pi[keep], mi[keep], total[keep], oop[keep], np.maximum(k[keep], 1)
    n = len(pi)
    extra = (total - oop) * rng.uniform(0.04, 0.15, n)
    self_total = oop + extra
    ins = total - self_total
    hi = c.hhs.idx(p.hh[pi])
    fp = np.where(hi >= 0, c.hhs.fp[np.maximum(hi, 0)], False)
    crit = np.where(total >= 20000, ins * rng.uniform(0.15, 0.35, n), 0.0)
    assist = np.where(fp, ins * rng.uniform(0.10, 0.30, n), np.where(rng.random(n) < 0.03, ins * 0.05, 0.0))
    basic = ins - crit - assist
    comps = np.stack([basic, crit, assist, oop, self_total], axis=1)  # yearly components
    start_y = c.months[0].year
    # absolute calendar month of registry month t: year*12 + month-1
    abs0 = start_y * 12 + c.months[0].month - 1
    cum: dict[tuple[int, int], np.ndarray] = {}
    for j in range(n):
        for d in range(int(k[j])):
            a = abs0 + int(mi[j]) + d
            y, mo = divmod(a, 12)
            arr = cum.setdefault((int(pi[j]), y), np.zeros((12, 5)))
            arr[mo] += comps[j] / k[j]
    by_month: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
    for (i, y), arr in cum.items():
        cs = np.cumsum(arr, axis=0)
        for mo in range(12):
            t_reg = y * 12 + mo - abs0
            if not 0 <= t_reg < c.M or cs[mo, 4] < _MED_FLOOR:
                continue
            if 0 <= p.exit_m[i] < t_reg:
                continue
            by_month[t_reg].append((i, cs[mo]))
    for t_reg in sorted(by_month):
        for i, v in sorted(by_month[t_reg], key=lambda x: x[0]):
            b, cr, a, pol, st = (round(float(x), 2) for x in v)
            pol = min(pol, st)
            c.add("medical", t_reg, i, {
                "统计截止日期": c.month_end(t_reg), "年度累计总费用": round(b + cr + a + st, 2), "基本医保支付": b,
                "大病保险支付": cr, "医疗救助支付": a, "政策范围内个人自付": pol, "个人自付合计": st})


@lru_cache(maxsize=8)
def _other_villages(region: str, seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(same-province other-county villages, migrant-destination villages) — small seeded samples."""
    from fangpin.registry import regions

    t = regions.catalogue()
    t = t.filter(pc.equal(t.column("level"), 5))
    codes = t.column("code")
    rng = np.random.default_rng([seed, 99])
    same = t.filter(pc.and_(pc.starts_with(codes, region[:2]), pc.invert(pc.starts_with(codes, region))))
    far = t.filter(pc.or_(pc.or_(pc.starts_with(codes, "44"), pc.starts_with(codes, "33")),
                          pc.starts_with(codes, "32")))
    out = []
    for tab in (same, far):
        cs = tab.column("code")
        n = len(cs)
        pick = np.sort(rng.choice(n, min(200, n), replace=False)) if n else []
        out.append(tuple(cs[int(i)].as_py() for i in pick))
    return out[0], out[1]


def _build_public_security(c: _Ctx, seed: int) -> None:
    p, rng = c.people, c.rng
    same, far = _other_villages(c.region, seed)
    ex = np.flatnonzero(p.in_reg & (p.exit_m >= 0) & np.isin(p.exit_reason, ["death", "moved_out", "household_moved"]))
    for i in ex:
        t = int(p.exit_m[i])
        d = max(c.day_in(t), p.birth[i].astype(object))
        rep = t + int(rng.random() < 0.3)
        if p.exit_reason[i] == "death":
            c.add("public_security", rep, int(i), {"事件": "死亡", "日期": d, "迁入地行政区划代码": None})
        else:
            pool = same if (rng.random() < 0.6 and same) else (far or same)
            dest = pool[int(rng.integers(len(pool)))] if pool else None
            c.add("public_security", rep, int(i), {"事件": "迁出", "日期": d, "迁入地行政区划代码": dest})
    en = np.flatnonzero(p.in_reg & (p.entry_m >= 0) & np.isin(p.entry_kind, ["birth", "spouse_in"]))
    for i in en:
        t = int(p.entry_m[i])
        rep = t + int(rng.random() < 0.3)
        if p.entry_kind[i] == "birth":
            c.add("public_security", rep, int(i), {"事件": "出生", "日期": p.birth[i].astype(object),
                                                   "迁入地行政区划代码": None})
        else:
            c.add("public_security", rep, int(i), {"事件": "迁入", "日期": c.day_in(t),
                                                   "迁入地行政区划代码": p.village[i]})


def _build_civil_affairs(c: _Ctx) -> None:
    from fangpin.policy import load_parameters

    pset = load_parameters()
    M = c.M
    S = np.array([float(pset.get("dibao_standard_rural_year", c.region, m).value) for m in c.months])
    p, hhs = c.people, c.hhs
    sh = _read(c.truth_dir, "shocks", ["household_id", "month_index", "kind", "cost", "damage"])
    shocks_by_hh: dict[int, list[tuple[int, str, float, str]]] = defaultdict(list)
    if sh is not None:
        h_, m_, k_, cost_, dmg_ = _cols(sh, "household_id", "month_index", "kind", "cost", "damage")
        big = (m_ >= 0) & ((k_ == "death") | ((k_ == "disaster") & np.isin(dmg_, ["严重损坏", "倒塌"]))
                           | (np.isin(k_, ["serious_illness", "accident", "chronic_illness"]) & (cost_ >= 8000)))
        for h, m, k, co, dm in zip(h_[big], m_[big], k_[big], cost_[big], dmg_[big]):
            shocks_by_hh[int(h)].append((int(m), str(k), float(co), str(dm)))
    pf = pq.ParquetFile(c.truth_dir / "household_month.parquet")
    carry: pa.Table | None = None
    rng = c.rng
    for batch in pf.iter_batches(batch_size=max(M * 20_000, 1), columns=["household_id", "exists", "size", "pc12"]):
        tab = pa.Table.from_batches([batch])
        if carry is not None:
            tab = pa.concat_tables([carry, tab])
        hid = np.asarray(tab.column("household_id"))
        last = hid[-1]
        cut = int(np.searchsorted(hid, last)) if np.all(hid[:-1] <= hid[1:]) else len(hid)
        if cut == len(hid) or cut == 0:
            cut = len(hid) - (len(hid) % M)
        carry = tab.slice(cut)
        _civil_block(c, tab.slice(0, cut), S, shocks_by_hh, rng)
    if carry is not None and carry.num_rows:
        _civil_block(c, carry, S, shocks_by_hh, rng)


def _civil_block(c: _Ctx, tab: pa.Table, S: np.ndarray, shocks_by_hh, rng) -> None:
    M = c.M
    n = tab.num_rows // M
    if n == 0:
        return
    hid = np.asarray(tab.column("household_id")).reshape(n, M)[:, 0]
    exists = np.asarray(tab.column("exists")).reshape(n, M)
    size = np.asarray(tab.column("size")).reshape(n, M)
    pc12 = np.asarray(tab.column("pc12")).reshape(n, M)
    p, hhs = c.people, c.hhs
    hi = hhs.idx(hid)
    in_reg = np.where(hi >= 0, hhs.in_reg[np.maximum(hi, 0)], False)
    head = p.idx(np.where(hi >= 0, hhs.head[np.maximum(hi, 0)], -1))
    head_birth_y = np.where(head >= 0, p.birth[np.maximum(head, 0)].astype("datetime64[Y]").astype(int) + 1970, 1980)
    takeup = rng.random(n)
    edge_take = rng.random(n)
    on = np.zeros(n, dtype=object)  # "" | 低保 | 特困
    on[:] = ""
    amount = np.zeros(n)
    pending = np.full(n, -1)
    run_el = np.zeros(n, dtype=int)
    run_above = np.zeros(n, dtype=int)
    edge = np.zeros(n, dtype=bool)
    run_edge = np.zeros(n, dtype=int)
    run_edge_out = np.zeros(n, dtype=int)

    def kind_amount(j, t):
        age = c.months[t].year - head_birth_y[j]
        sz = max(int(size[j, t]), 1)
        if sz == 1 and age >= 60:
            return "特困", float(round(1.3 * S[t] / 12 * sz))
        return "低保", float(round(max(S[t] - pc12[j, t], 0.3 * S[t]) / 12 * sz))

    def emit(j, t, typ, change, amt):
        who = c.applicant(int(hid[j]), t)
        if who < 0:
            return
        c.add("civil_affairs", t, who, {"救助类型": typ, "变动类型": change, "变动日期": c.day_in(t, rng),
                                        "月救助金额": amt}, hh_id=int(hid[j]))

    for t in range(c.M):
        ex = exists[:, t] & in_reg
        elig = ex & (pc12[:, t] < S[t])
        run_el = np.where(elig, run_el + 1, 0)
        above = ex & (pc12[:, t] > 1.1 * S[t])
        run_above = np.where(above, run_above + 1, 0)
        band = ex & (pc12[:, t] >= S[t]) & (pc12[:, t] < 1.5 * S[t])
        run_edge = np.where(band, run_edge + 1, 0)
        run_edge_out = np.where(ex & (pc12[:, t] >= 1.5 * S[t]), run_edge_out + 1, 0)
        if t == 0:  # existing recipients: no row
            for j in np.flatnonzero(elig & (takeup < 0.7)):
                on[j], amount[j] = kind_amount(j, 0)
            edge[:] = band & (edge_take < 0.3)
            continue
        # exits
        for j in np.flatnonzero((on != "") & (~ex | (run_above >= 3))):
            emit(j, t, on[j], "退出", None)
            on[j], amount[j] = "", 0.0
        for j in np.flatnonzero(edge & (~ex | (run_edge_out >= 3))):
            emit(j, t, "低保边缘", "退出", None)
            edge[j] = False
        # approvals that were pending
        for j in np.flatnonzero(pending == t):
            pending[j] = -1
            if on[j] == "" and ex[j] and pc12[j, t] < 1.1 * S[t]:
                on[j], amount[j] = kind_amount(j, t)
                emit(j, t, on[j], "新增", amount[j])
                if edge[j]:
                    emit(j, t, "低保边缘", "退出", None)
                    edge[j] = False
        # applications
        for j in np.flatnonzero((on == "") & (pending < 0) & (run_el == 2) & (takeup < 0.7)):
            pending[j] = t + int(rng.integers(1, 3))
        for j in np.flatnonzero(~edge & (on == "") & (run_edge == 3) & (edge_take < 0.3)):
            edge[j] = True
            emit(j, t, "低保边缘", "新增", None)
        # yearly standard change → recompute
        if S[t] != S[t - 1]:
            for j in np.flatnonzero(on != ""):
                typ, amt = kind_amount(j, t)
                if amt != amount[j] or typ != on[j]:
                    on[j], amount[j] = typ, amt
                    emit(j, t, typ, "变更", amt)
    # temporary assistance
    for j in range(n):
        for m, k, co, dm in shocks_by_hh.get(int(hid[j]), ()):
            if not (0 <= m < M) or not exists[j, m] or not in_reg[j] or pc12[j, m] >= 2 * S[m]:
                continue
            if rng.random() >= 0.5:
                continue
            t = m + int(rng.integers(1, 3))
            if t >= M:
                continue
            amt = float(rng.integers(50, 101) * 100) if dm == "倒塌" else float(rng.integers(10, 51) * 100)
            emit(j, t, "临时救助", "新增", amt)


def _draw_disability(rng, n=1):
    g = rng.choice([1, 2, 3, 4], n, p=[0.12, 0.22, 0.30, 0.36])
    cat = rng.choice([1, 2, 4, 5, 6], n, p=[0.15, 0.25, 0.4, 0.1, 0.1])
    return g, cat


def _cert(idn: str, cat: int, grade: int) -> str:
    return f"{idn}{int(cat)}{int(grade)}"


def _build_disability(c: _Ctx) -> None:
    p, rng = c.people, c.rng
    sh = _read(c.truth_dir, "shocks", ["person_id", "month_index", "kind"])
    new_dis: dict[int, tuple[int, int, date]] = {}
    if sh is not None:
        pid, mi, k = _cols(sh, "person_id", "month_index", "kind")
        sel = (k == "disability") & (mi >= 0) & (pid >= 0)
        for i, m in zip(p.idx(pid[sel]), mi[sel]):
            if i < 0 or not p.in_reg[i]:
                continue
            g, cat = _draw_disability(rng)
            t = int(m) + int(rng.integers(1, 4))
            d = c.day_in(min(t, c.M - 1))
            if t < c.M and not (0 <= p.exit_m[i] < t):
                new_dis[int(i)] = (int(cat[0]), int(g[0]), d)
                c.add("disability", t, int(i), {"残疾人证号": _cert(p.idn[i], cat[0], g[0]), "残疾类别": int(cat[0]),
                                                "残疾等级": int(g[0]), "发证日期": d, "变动类型": "新办"})
    # deaths of disabled persons → 注销
    dead = np.flatnonzero(p.in_reg & (p.exit_reason == "death") & (p.exit_m >= 0))
    for i in dead:
        if p.dgrade[i] > 0:
            cat, g = int(p.dcat[i]) or 4, int(p.dgrade[i])
            issued = date(int(rng.integers(2005, c.months[0].year)), int(rng.integers(1, 13)), int(rng.integers(1, 29)))
        elif int(i) in new_dis:
            cat, g, issued = new_dis[int(i)]
        else:
            continue
        t = int(p.exit_m[i]) + int(rng.integers(1, 3))
        c.add("disability", t, int(i), {"残疾人证号": _cert(p.idn[i], cat, g), "残疾类别": cat, "残疾等级": g,
                                        "发证日期": issued, "变动类型": "注销"})
    # grade changes of people disabled at the start
    dis0 = np.flatnonzero(p.in_reg & (p.dgrade > 0) & (p.entry_m < 0))
    if len(dis0):
        hit = rng.random((len(dis0), c.M)) < 0.0015
        for a, t in zip(*np.nonzero(hit)):
            i = dis0[a]
            if 0 <= p.exit_m[i] <= t:
                continue
            g0 = int(p.dgrade[i])
            g = g0 - 1 if g0 == 4 or (g0 > 1 and rng.random() < 0.5) else g0 + 1
            cat = int(p.dcat[i]) or 4
            c.add("disability", int(t), int(i), {"残疾人证号": _cert(p.idn[i], cat, g), "残疾类别": cat, "残疾等级": g,
                                                 "发证日期": c.day_in(int(t)), "变动类型": "变更"})


def _head(c: _Ctx, hh_id: int) -> int:
    h = c.hhs.idx(hh_id)
    if h < 0 or c.hhs.head[h] < 0:
        return -1
    return int(c.people.idx(c.hhs.head[h]))


def _build_disaster_housing(c: _Ctx) -> None:
    rng = c.rng
    sh = _read(c.truth_dir, "shocks")
    damage_at: dict[tuple[int, int], str] = {}
    if sh is not None:
        h, mi, k, sub, dmg, crop, cost, cas = _cols(sh, "household_id", "month_index", "kind", "subtype", "damage",
                                                   "crop_mu", "cost", "casualties")
        sel = np.flatnonzero((k == "disaster") & (mi >= 0))
        for j in sel:
            damage_at[(int(h[j]), int(mi[j]))] = str(dmg[j])
            who = _head(c, int(h[j]))
            if who < 0 or not c.people.in_reg[who]:
                continue
            c.add("disaster", int(mi[j]), who, {
                "灾种": str(sub[j]) or "其他", "受灾日期": c.day_in(int(mi[j])), "房屋损毁程度": str(dmg[j]) or "无",
                "农作物绝收面积(亩)": round(float(crop[j]), 1), "直接经济损失(元)": round(float(cost[j]), 2),
                "伤亡人数": int(cas[j])}, hh_id=int(h[j]))
    ge = _read(c.truth_dir, "guarantee_events")
    if ge is not None:
        h, k, s, e = _cols(ge, "household_id", "kind", "start_month_index", "end_month_index")
        for j in np.flatnonzero(k == "housing_unsafe"):
            who = _head(c, int(h[j]))
            if who < 0 or not c.people.in_reg[who]:
                continue
            if s[j] >= 0:
                dm = damage_at.get((int(h[j]), int(s[j])), "")
                grade = "D" if dm == "倒塌" or (dm == "严重损坏" and rng.random() < 0.3) else "C"
                t = int(s[j]) + int(rng.integers(0, 2))
                c.add("housing", t, who, {"鉴定日期": c.day_in(min(t, c.M - 1)), "危房等级": grade,
                                          "是否倒损": "是" if dm == "倒塌" else "否"}, hh_id=int(h[j]))
            if 0 <= e[j] < c.M:
                c.add("housing", int(e[j]), who, {"鉴定日期": c.day_in(int(e[j])), "危房等级": "B", "是否倒损": "否"},
                      hh_id=int(h[j]))
    hhs = c.hhs
    cand = np.flatnonzero(hhs.in_reg & (hhs.head >= 0))
    for t in range(c.M):
        n = rng.poisson(0.002 * len(cand))
        for j in np.sort(rng.choice(cand, min(n, len(cand)), replace=False)) if n else []:
            who = int(c.people.idx(hhs.head[j]))
            if who < 0 or not c.people.alive_at(who, t):
                continue
            c.add("housing", t, who, {"鉴定日期": c.day_in(t), "危房等级": "A" if rng.random() < 0.85 else "B",
                                      "是否倒损": "否"}, hh_id=int(hhs.hid[j]))


def _build_employment(c: _Ctx) -> None:
    p, rng = c.people, c.rng
    ev = _read(c.truth_dir, "employment_events")
    if ev is not None:
        pid, mi, e = _cols(ev, "person_id", "month_index", "event")
        sel = mi >= 0
        for i, m, k in zip(p.idx(pid[sel]), mi[sel], e[sel]):
            if i < 0 or not p.in_reg[i]:
                continue
            inc = 0.0 if k == "失业登记" or rng.random() < 0.6 else float(rng.integers(30, 151) * 10)
            c.add("employment", int(m), int(i), {"事件": str(k), "日期": c.day_in(int(m)), "月收入": inc})
    hi = c.hhs.idx(p.hh)
    fp = np.where(hi >= 0, c.hhs.fp[np.maximum(hi, 0)], False)
    age0 = c.months[0].year - (p.birth.astype("datetime64[Y]").astype(int) + 1970)
    cand = np.flatnonzero(fp & p.in_reg & (p.entry_m < 0) & (age0 >= 25) & (age0 < 60))
    if len(cand) == 0:
        return
    hire_t = np.full(len(cand), c.M)
    hit = rng.random((len(cand), c.M)) < 0.0015
    any_hit = hit.any(axis=1)
    hire_t[any_hit] = hit[any_hit].argmax(axis=1)
    for a in np.flatnonzero(any_hit):
        i, t = int(cand[a]), int(hire_t[a])
        if not p.alive_at(i, t):
            continue
        wage = float(rng.integers(10, 21) * 50)
        c.add("employment", t, i, {"事件": "公益岗位聘用", "日期": c.day_in(t), "月收入": wage})
        end = t + int(rng.integers(6, 13))
        if end < c.M and p.alive_at(i, end):
            c.add("employment", end, i, {"事件": "公益岗位退岗", "日期": c.day_in(end), "月收入": wage})


_GRADES = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级", "七年级", "八年级", "九年级"]


@lru_cache(maxsize=4096)
def _township_name(code12: str) -> str:
    names = _region_names()
    return names.get(code12[:9] + "000", "") or names.get(code12[:6] + "000000", "") or "城关镇"


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    from fangpin.registry import regions

    t = regions.catalogue()
    t = t.filter(pc.is_in(t.column("level"), pa.array([3, 4], pa.int8())))
    return dict(zip(t.column("code").to_pylist(), t.column("name").to_pylist()))


def _build_education(c: _Ctx) -> None:
    p, rng = c.people, c.rng
    ge = _read(c.truth_dir, "guarantee_events")
    if ge is None:
        return
    pid, k, s, e = _cols(ge, "person_id", "kind", "start_month_index", "end_month_index")
    sel = (k == "dropout") & (pid >= 0)
    for i, s0, e0 in zip(p.idx(pid[sel]), s[sel], e[sel]):
        if i < 0 or not p.in_reg[i]:
            continue
        birth = p.birth[i].astype(object)
        town = _township_name(str(p.village[i]))

        def school(t):
            age = c.months[t].year - birth.year - ((c.months[t].month, 1) < (birth.month, birth.day))
            g = int(min(max(age - 5, 1), 9))
            return (town + ("中心小学" if g <= 6 else "中学")), _GRADES[g - 1]

        if s0 >= 0:
            sch, gr = school(int(s0))
            status = "疑似辍学" if rng.random() < 0.25 else "辍学"
            c.add("education", int(s0), int(i), {"学校": sch, "年级": gr, "状态": status, "日期": c.day_in(int(s0))})
        if 0 <= e0 < c.M:
            sch, gr = school(int(e0))
            c.add("education", int(e0), int(i), {"学校": sch, "年级": gr, "状态": "复学", "日期": c.day_in(int(e0))})
    # children of compulsory-school age who moved away stop coming to school: the school reports them as
    # 疑似辍学 (false alarms the platform must resolve against the 公安 迁出 rows)
    moved = np.flatnonzero(p.in_reg & (p.exit_m >= 0) & np.isin(p.exit_reason, ["moved_out", "household_moved"]))
    for i in moved:
        t = int(p.exit_m[i]) + int(rng.integers(0, 2))
        if t >= c.M:
            continue
        birth = p.birth[i].astype(object)
        age = c.months[t].year - birth.year - ((c.months[t].month, 1) < (birth.month, birth.day))
        if not 7 <= age <= 15:
            continue
        g = int(min(max(age - 5, 1), 9))
        c.add("education", t, int(i), {"学校": _township_name(str(p.village[i])) + ("中心小学" if g <= 6 else "中学"),
                                       "年级": _GRADES[g - 1], "状态": "疑似辍学", "日期": c.day_in(t)})


def _build_water(c: _Ctx) -> None:
    ve = _read(c.truth_dir, "village_events")
    if ve is None:
        return
    v, mi, ev, dur, aff = _cols(ve, "village", "month_index", "event", "duration_months", "affected_households")
    end_window = c.month_end(c.M - 1)
    for j in np.flatnonzero(mi >= 0):
        start = c.day_in(int(mi[j]))
        end = start + timedelta(days=30 * int(dur[j]))
        c.add("water", int(mi[j]), -1, {"行政区划代码": str(v[j]), "事件": str(ev[j]), "开始日期": start,
                                         "结束日期": end if end <= end_window else None, "影响户数": int(aff[j])},
              hh_id=-1, village=str(v[j]))


# ---------------------------------------------------------------------------------------------------------------
# Messes and rendering


@lru_cache(maxsize=1)
def _homophones() -> dict[str, tuple[str, ...]]:
    """Toneless pinyin → common given-name characters (ngender frequency table via fangpin.synth.names)."""
    from pypinyin import Style, pinyin

    from fangpin.synth.names import _load_charfreq

    codes, male, female = _load_charfreq()
    order = np.argsort(-(male + female), kind="stable")[:2500]
    out: dict[str, list[str]] = defaultdict(list)
    for cp in codes[order]:
        ch = chr(int(cp))
        py = pinyin(ch, style=Style.NORMAL, heteronym=False)[0][0]
        out[py].append(ch)
    return {k: tuple(v) for k, v in out.items() if len(v) > 1}


def _homophone_typo(name: str, rng) -> str | None:
    from pypinyin import Style, pinyin

    if "·" in name or len(name) < 2:
        return None
    table = _homophones()
    positions = list(range(1, len(name)))
    rng.shuffle(positions)
    for pos in positions:
        py = pinyin(name[pos], style=Style.NORMAL)[0][0]
        alts = [ch for ch in table.get(py, ()) if ch != name[pos]]
        if alts:
            return name[:pos] + alts[int(rng.integers(len(alts)))] + name[pos + 1:]
    return None


@dataclass
class _Row:
    cells: dict[str, Any]  # canonical column → canonical value (rendered later)
    person_id: int
    household_id: int
    village: str
    expected: str = "accept"
    reason: str = ""
    tags: list[str] = field(default_factory=list)
    dup_of: int = -1  # index into the row list of the original (resolved to a row number later)
    id_raw: Any = None  # the ID cell as written (override)
    birth_raw: date | None = None
    name_raw: str | None = None


class _Outsiders:
    """Valid IDs and names of people from other counties (FEEDS.md: rows for people not in the registry)."""

    def __init__(self, region: str, seed: int):
        same, far = _other_villages(region, seed)
        self.pool = same or far
        self.sampler = None

    def make(self, rng, n: int) -> list[tuple[str, str, bool, date, str]]:
        from fangpin import ids as ids_mod
        from fangpin.synth.names import default_sampler

        if n == 0 or not self.pool:
            return []
        if self.sampler is None:
            self.sampler = default_sampler()
        vill = [self.pool[int(i)] for i in rng.integers(0, len(self.pool), n)]
        male = rng.random(n) < 0.5
        days = rng.integers(0, (date(2005, 12, 31) - date(1950, 1, 1)).days, n)
        births = [date(1950, 1, 1) + timedelta(days=int(d)) for d in days]
        ymd = np.array([b.year * 10000 + b.month * 100 + b.day for b in births])
        seq = rng.integers(0, 500, n) * 2 + male.astype(int)
        idn = ids_mod.make_ids(np.array([int(v[:6]) for v in vill]), ymd, seq)
        minority = rng.random(n) < 0.1
        names = self.sampler.full_names(male, np.array([b.year for b in births]), rng, minority_mask=minority,
                                        minority_styles=np.full(n, "uyghur"))
        return [(str(idn[j]), str(names[j]), bool(male[j]), births[j], vill[j]) for j in range(n)]


def _apply_id_mess(row: _Row, idn: str, birth: date, rng, fmt: str) -> None:
    u = rng.random()
    if idn.endswith("X") and rng.random() < 0.5:
        row.id_raw, row.tags = idn[:-1] + "x", row.tags + ["id_lowercase_x"]
        return
    if u < 0.03:
        row.id_raw = None
        row.tags.append("no_id")
        r = rng.random()
        if r < 0.35:
            typo = _homophone_typo(row.name_raw or "", rng)
            if typo:
                row.name_raw = typo
                row.tags.append("name_homophone")
        elif r < 0.55 and birth.day <= 12 and birth.day != birth.month:
            row.birth_raw = date(birth.year, birth.day, birth.month)
            row.tags.append("birth_day_month_swapped")
    elif u < 0.06:
        row.id_raw = idn.translate(_FULLWIDTH)
        row.tags.append("id_fullwidth")
    elif u < 0.08:
        row.id_raw = f"{idn[:6]} {idn[6:14]} {idn[14:]}"
        row.tags.append("id_space")
    elif u < 0.095:
        row.id_raw = f"{idn[:6]}\t{idn[6:]}"
        row.tags.append("id_tab")
    elif u < 0.125 and 1900 <= birth.year <= 1999:
        row.id_raw = idn[:6] + idn[8:17]
        row.tags.append("id_15_digit")
    elif u < 0.14 and not idn.endswith("X"):
        row.expected, row.reason = "reject", "id_lost_digits"
        if fmt == "xlsx":
            row.id_raw = float(int(idn))
            row.tags.append("id_number_cell")
        else:
            row.id_raw = f"{int(idn):.5E}"
            row.tags.append("id_scientific_text")


def _apply_name_mess(row: _Row, rng) -> None:
    name = row.name_raw or ""
    if "·" in name:
        row.tags.append("name_middle_dot")
    u = rng.random()
    if len(name) >= 2 and u < 0.03:
        row.name_raw = " ".join(name) if "·" not in name else name.replace("·", " · ")
        row.tags.append("name_spaces")
    elif len(name) >= 2 and u < 0.05:
        row.name_raw = name[0] + "\u3000" + name[1:]
        row.tags.append("name_fullwidth_space")


def _render_date(d: date | None, style: str, fmt: str) -> Any:
    if d is None:
        return None
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "compact":
        return f"{d.year}{d.month:02d}{d.day:02d}"
    if style == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "serial":
        s = (d - _EXCEL_EPOCH).days
        return s if fmt == "xlsx" else str(s)
    if style == "cell" and fmt == "xlsx":
        return datetime(d.year, d.month, d.day)
    return d.isoformat()


def _render_amount(v: float | None, style: str, fmt: str) -> Any:
    if v is None:
        return None
    if style == "thousands":
        return f"{v:,.2f}"
    if style == "yuan":
        return f"{v:.2f}元"
    if style == "both":
        return f"{v:,.2f}元"
    if fmt == "xlsx":
        return float(v)
    return f"{v:.2f}"


def _render_plain(v: Any, fmt: str) -> Any:
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v if fmt == "xlsx" else (str(v))
    return str(v)


class _Writer:
    def __init__(self, out_dir: Path, seed: int, region: str, people: _People, outsiders: _Outsiders):
        self.out_dir = out_dir
        self.seed = seed
        self.region = region
        self.people = people
        self.outsiders = outsiders
        self.truth_cols: dict[str, list] = defaultdict(list)
        self.file_cols: dict[str, list] = defaultdict(list)
        self.summary: dict[str, dict] = {}

    def write(self, feed: str, t: int, month: date, recs: list[_Rec]) -> None:
        fi = FEED_KEYS.index(feed)
        rng = np.random.default_rng([self.seed, fi, t])
        fmt = _FORMATS[(fi + t) % 4]
        ftags = ["format_" + fmt]
        p = self.people
        identity = feed != "water"
        cols = list(FEED_COLUMNS[feed])
        # ---- rows ----
        rows: list[_Row] = []
        for r in recs:
            cells = dict(r.fields)
            row = _Row(cells, int(p.pid[r.person]) if r.person >= 0 else -1, r.hh_id, r.village)
            if identity:
                i = r.person
                birth = p.birth[i].astype(object)
                cells.update({"姓名": p.name[i], "证件号码": p.idn[i], "性别": "男" if p.male[i] else "女",
                              "出生日期": birth, "行政区划代码": p.village[i]})
                row.name_raw = p.name[i]
                _apply_id_mess(row, p.idn[i], birth, rng, fmt)
                _apply_name_mess(row, rng)
            rows.append(row)
        if identity and rows:
            n_out = int(rng.binomial(len(rows), 0.02)) + int(rng.random() < 0.15)
            templates = [rows[int(j)] for j in rng.integers(0, len(rows), n_out)]
            for (idn, name, male, birth, vill), tmpl in zip(self.outsiders.make(rng, n_out), templates):
                cells = dict(tmpl.cells)
                cells.update({"姓名": name, "证件号码": idn, "性别": "男" if male else "女", "出生日期": birth,
                              "行政区划代码": vill})
                if "残疾人证号" in cells:
                    cells["残疾人证号"] = _cert(idn, cells["残疾类别"], cells["残疾等级"])
                if "迁入地行政区划代码" in cells and cells.get("事件") == "迁入":
                    cells["迁入地行政区划代码"] = vill
                row = _Row(cells, -1, -1, vill, "reject", "not_in_registry", ["outsider"], name_raw=name)
                if "·" in name:
                    row.tags.append("name_middle_dot")
                rows.insert(int(rng.integers(0, len(rows) + 1)), row)
        if rows:
            ok = [j for j, r in enumerate(rows) if r.expected == "accept" and "no_id" not in r.tags]
            n_dup = min(int(rng.binomial(len(rows), 0.02)) + int(rng.random() < 0.15), len(ok))
            for j in sorted(rng.choice(ok, n_dup, replace=False).tolist(), reverse=True) if n_dup else []:
                orig = rows[j]
                dup = _Row(dict(orig.cells), orig.person_id, orig.household_id, orig.village, "reject",
                           "duplicate_in_batch", list(orig.tags) + ["duplicate"], id_raw=orig.id_raw,
                           birth_raw=orig.birth_raw, name_raw=orig.name_raw)
                dup.dup_of = id(orig)
                rows.insert(int(rng.integers(j + 1, len(rows) + 1)), dup)
        # ---- file-level messes ----
        title_n = 0
        if rng.random() < 0.7:
            title_n = 2 if rng.random() < 0.3 else 1
            ftags.append("title_rows")
            if fmt == "xlsx":
                ftags.append("title_merged")
        extra_front = extra_back = False
        if rng.random() < 0.3:
            extra_front, extra_back = rng.random() < 0.5, rng.random() < 0.6
            if not (extra_front or extra_back):
                extra_back = True
            ftags.append("extra_column")
        if rng.random() < 0.25 and len(cols) > 1:
            perm = rng.permutation(len(cols))
            if list(perm) != list(range(len(cols))):
                cols = [cols[int(k)] for k in perm]
                ftags.append("shuffled_columns")
        header = (["序号"] if extra_front else []) + cols + (["备注"] if extra_back else [])
        totals = rng.random() < 0.4
        if totals:
            ftags.append("totals_row")
        n_blank = int(rng.integers(1, 3)) if rng.random() < 0.3 and len(rows) > 1 else 0
        blank_after = set(rng.choice(len(rows) - 1, min(n_blank, len(rows) - 1), replace=False).tolist()) \
            if n_blank else set()
        if blank_after:
            ftags.append("blank_rows")
        styles = ["iso", "slash", "compact", "zh", "serial"]
        dstyle = str(rng.choice(styles, p=[0.35, 0.2, 0.15, 0.15, 0.15]))
        if fmt == "xlsx" and rng.random() < 0.2:
            dstyle = "cell"
        if dstyle != "iso":
            ftags.append("date_" + dstyle)
        astyle = str(rng.choice(["plain", "thousands", "yuan", "both"], p=[0.55, 0.2, 0.15, 0.1]))
        has_amount = any(col in _AMOUNT_COLS for col in cols)
        if has_amount:
            if astyle in ("thousands", "both"):
                ftags.append("amount_thousands")
            if astyle in ("yuan", "both"):
                ftags.append("amount_yuan")
        blank_zero = feed == "medical" and rng.random() < 0.3
        if blank_zero:
            ftags.append("amount_blank_zero")
        # ---- lay out ----
        county = _region_names().get(self.region.ljust(12, "0")[:6] + "000000", "某某县")
        dept, what = _DEPT[feed]
        titles = [f"{county}{month.year}年{month.month}月{what}"] if title_n else []
        if title_n == 2:
            sent = month + timedelta(days=int(rng.integers(33, 45)))
            titles.append(f"填报单位：{county}{dept}    填报日期：{sent.year}年{sent.month}月{sent.day}日")
        grid: list[list[Any] | None] = []  # None = blank row
        row_numbers: list[int] = []
        rn = title_n + 1
        sums = Counter()
        by_obj: dict[int, int] = {}
        notes = ["", "", "已核实", "待核实", "电话联系不上", "已入户"]
        for j, r in enumerate(rows):
            rn += 1
            out = []
            for col in header:
                if col == "序号":
                    out.append(j + 1 if fmt == "xlsx" else str(j + 1))
                    continue
                if col == "备注":
                    out.append(notes[int(rng.integers(len(notes)))] or None)
                    continue
                v = r.cells.get(col)
                if col == "证件号码":
                    out.append(r.id_raw if (r.id_raw is not None or "no_id" in r.tags) else v)
                    if "no_id" in r.tags:
                        out[-1] = None
                elif col == "姓名":
                    out.append(r.name_raw if r.name_raw is not None else v)
                elif col == "出生日期":
                    out.append(_render_date(r.birth_raw or v, dstyle, fmt))
                elif col in _DATE_COLS:
                    out.append(_render_date(v, dstyle, fmt))
                elif col in _AMOUNT_COLS:
                    if v is not None:
                        sums[col] += v
                    if blank_zero and col in ("大病保险支付", "医疗救助支付") and not v:
                        out.append(None)
                    else:
                        out.append(_render_amount(v, astyle, fmt))
                elif col in _NUMBER_COLS:
                    if v is not None and col != "残疾类别" and col != "残疾等级":
                        sums[col] += v
                    out.append(_render_plain(v, fmt))
                else:
                    out.append(_render_plain(v, fmt))
            grid.append(out)
            row_numbers.append(rn)
            by_obj[id(r)] = rn
            if j in blank_after:
                grid.append(None)
                rn += 1
        if totals:
            tot = []
            for k, col in enumerate(header):
                if k == 0:
                    tot.append("合计")
                elif col in sums and col not in ("残疾类别", "残疾等级"):
                    v = round(sums[col], 2)
                    tot.append(_render_amount(v, astyle, fmt) if col in _AMOUNT_COLS else _render_plain(
                        round(v, 1) if isinstance(v, float) else v, fmt))
                elif col == "姓名" or (col == "行政区划代码" and feed == "water"):
                    tot.append(f"共{len(rows)}条")
                else:
                    tot.append(None)
            grid.append(tot)
        # ---- write ----
        ext = "xlsx" if fmt == "xlsx" else "csv"
        rel = f"{feed}/{feed}_{month.year:04d}-{month.month:02d}.{ext}"
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "xlsx":
            _write_xlsx(path, titles, header, grid)
        else:
            _write_csv(path, titles, header, grid, fmt)
        # ---- truth ----
        tc = self.truth_cols
        counts = self.summary.setdefault(feed, {"files": 0, "rows": 0, "messes": Counter()})
        counts["files"] += 1
        counts["rows"] += len(rows)
        for tag in ftags:
            counts["messes"][tag] += 1
        for r, num in zip(rows, row_numbers):
            tc["feed"].append(feed)
            tc["file"].append(rel)
            tc["row_number"].append(num)
            tc["person_id"].append(r.person_id)
            tc["household_id"].append(r.household_id)
            tc["village"].append(r.village)
            tc["expected"].append(r.expected)
            tc["reject_reason_code"].append(r.reason)
            tc["messes"].append(",".join(r.tags))
            tc["duplicate_of_row"].append(by_obj.get(r.dup_of, -1) if r.dup_of != -1 else -1)
            for tag in r.tags:
                counts["messes"][tag] += 1
        fc = self.file_cols
        fc["feed"].append(feed)
        fc["file"].append(rel)
        fc["month"].append(month)
        fc["format"].append(fmt)
        fc["header_row"].append(title_n + 1)
        fc["rows"].append(len(rows))
        fc["messes"].append(",".join(ftags))


def _write_csv(path: Path, titles: list[str], header: list[str], grid: list, fmt: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    n = len(header)
    for t in titles:
        w.writerow([t] + [""] * (n - 1))
    w.writerow(header)
    for row in grid:
        if row is None:
            w.writerow([""] * n)
        else:
            w.writerow(["" if v is None else v for v in row])
    enc = {"csv_utf8": "utf-8", "csv_utf8_bom": "utf-8-sig", "csv_gb18030": "gb18030"}[fmt]
    path.write_bytes(buf.getvalue().encode(enc))


def _write_xlsx(path: Path, titles: list[str], header: list[str], grid: list) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": datetime(2024, 1, 1), "author": "fangpin synth"})
    ws = wb.add_worksheet("Sheet1")
    bold = wb.add_format({"bold": True, "align": "center"})
    dfmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    n = len(header)
    r = 0
    for t in titles:
        if n > 1:
            ws.merge_range(r, 0, r, n - 1, t, bold)
        else:
            ws.write_string(r, 0, t, bold)
        r += 1
    for k, h in enumerate(header):
        ws.write_string(r, k, h, bold)
    r += 1
    for row in grid:
        if row is not None:
            for k, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, datetime):
                    ws.write_datetime(r, k, v, dfmt)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    ws.write_number(r, k, v)
                else:
                    ws.write_string(r, k, str(v))
        r += 1
    wb.close()


# ---------------------------------------------------------------------------------------------------------------
# Entry point


def write_feeds(truth_dir: Path, out_dir: Path, *, seed: int) -> dict:
    """Write the nine department feeds (FEEDS.md §B) and the evaluation truth; return a summary per feed."""
    truth_dir, out_dir = Path(truth_dir), Path(out_dir)
    params = json.loads((truth_dir / "params.json").read_text())
    start = np.datetime64(params["start"], "M")
    months = [(start + k).astype("datetime64[D]").astype(object) for k in range(int(params["months"]))]
    region = str(params["region"])
    people = _People(truth_dir)
    hhs = _Households(truth_dir)
    builders = {
        "civil_affairs": lambda c: _build_civil_affairs(c),
        "medical": _build_medical,
        "education": _build_education,
        "housing": None,  # with disaster
        "water": _build_water,
        "employment": _build_employment,
        "disaster": _build_disaster_housing,
        "disability": _build_disability,
        "public_security": lambda c: _build_public_security(c, seed),
    }
    writer = _Writer(out_dir, seed, region, people, _Outsiders(region, seed))
    for fi, feed in enumerate(FEED_KEYS):
        b = builders[feed]
        if b is None:
            continue
        ctx = _Ctx(truth_dir, people, hhs, months, region, np.random.default_rng([seed, 1000 + fi]))
        b(ctx)
        for fk in sorted(ctx.records, key=FEED_KEYS.index):
            by_month = ctx.records[fk]
            for t in sorted(by_month):
                writer.write(fk, t, months[t], by_month[t])
            ctx.records[fk] = {}
    tdir = out_dir / "_truth"
    tdir.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("feed", pa.string()), ("file", pa.string()), ("row_number", pa.int64()),
                        ("person_id", pa.int64()), ("household_id", pa.int64()), ("village", pa.string()),
                        ("expected", pa.string()), ("reject_reason_code", pa.string()), ("messes", pa.string()),
                        ("duplicate_of_row", pa.int64())])
    pq.write_table(pa.table({k: writer.truth_cols.get(k, []) for k in schema.names}, schema=schema),
                   tdir / "feed_rows.parquet")
    fschema = pa.schema([("feed", pa.string()), ("file", pa.string()), ("month", pa.date32()),
                         ("format", pa.string()), ("header_row", pa.int64()), ("rows", pa.int64()),
                         ("messes", pa.string())])
    pq.write_table(pa.table({k: writer.file_cols.get(k, []) for k in fschema.names}, schema=fschema),
                   tdir / "feed_files.parquet")
    out = {}
    for feed in FEED_KEYS:
        s = writer.summary.get(feed, {"files": 0, "rows": 0, "messes": Counter()})
        out[feed] = {"files": s["files"], "rows": s["rows"], "messes": dict(sorted(s["messes"].items()))}
    return out
