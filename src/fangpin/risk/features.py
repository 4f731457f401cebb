"""Model features: the monitoring engine's one SQL feature definition (sql/features.sql) evaluated for many as-of
dates at once (a household × month panel), plus a few numeric transforms done in Python. No feature is computed
from anything but the engine's output, so the engine's no-look-ahead guarantee (test_monitoring.py) carries over;
tests/integration/test_risk.py checks it again for the model matrix.

Each feature belongs to one official risk type (POLICY.md §7) or to the shared ``收入`` (income level / trend)
group; per-household contributions are summed per risk type to explain a score (``RISK_GROUPS``).
"""
from __future__ import annotations

from datetime import date
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.policy import ParameterSet, load_parameters

INCOME_GROUP = "收入"  # not a risk type: income level and trend (what every risk type acts through)

# feature → official risk type (POLICY.md §7); INCOME_GROUP = shared income features
RISK_GROUPS: dict[str, str] = {
    # 因病 — serious/chronic illness, out-of-pocket spending (POLICY.md §3 sudden-hardship test, §6 医保)
    "n_serious_ill": "因病", "n_chronic": "因病", "oop_share": "因病", "claims_12m": "因病", "ref_gap": "因病",
    "dept_med_oop_12m": "因病", "r_spend_rigid": "因病", "r_dept_med": "因病", "new_serious_ill_6m": "因病",
    # 因残 — disability (POLICY.md §6 残联)
    "n_disabled": "因残", "n_severe_disabled": "因残", "dept_disability_6m": "因残", "r_dept_disability": "因残",
    "new_disabled_6m": "因残",
    # 缺劳动力 — labour capacity, age, deaths (POLICY.md §6 公安, §7)
    "n_labour": "缺劳动力", "n_weak_labour": "缺劳动力", "n_skilled": "缺劳动力", "n_elderly": "缺劳动力",
    "head_age": "缺劳动力", "dept_death_6m": "缺劳动力", "member_exits_6m": "缺劳动力", "labour_share": "缺劳动力",
    "r_dept_death": "缺劳动力",
    # 因务工就业不稳 — migrant work, job loss (POLICY.md §6 人社)
    "n_migrant": "因务工就业不稳", "dept_job_loss_6m": "因务工就业不稳", "r_dept_job": "因务工就业不稳",
    # 因学 — schooling costs
    "n_students_post": "因学", "edu_12m": "因学", "r_school_cost": "因学", "students_term_ahead": "因学",
    # 因产业项目失败 — business (farming, herding, own-account) income fell ≥ BUSINESS_FALL in the last 3 months vs
    # the same 3 months a year before (income records; POLICY.md §7): evidence / trigger of the type (model.py).
    # The ratio itself (business_yoy_3m) and the business share of net income (business_share) are computed but
    # not model features: a year-on-year window needs 15 months of records, so in the default split's training
    # months it is missing and at test time present — that shift cost AUC (docs/RISK.md round w9)
    "business_fall_yoy": "因产业项目失败",
    # 因自然灾害 — disaster feed (POLICY.md §6 应急管理)
    "dept_disaster_6m": "因自然灾害", "dept_disaster_loss_6m": "因自然灾害", "r_dept_disaster": "因自然灾害",
    # guarantees (POLICY.md §7 names)
    "housing_unsafe": "住房出现安全问题", "dept_house_cd_6m": "住房出现安全问题", "r_g_housing": "住房出现安全问题",
    "r_dept_housing": "住房出现安全问题",
    "dropout": "义务教育阶段适龄儿童少年失学辍学", "dept_dropout_6m": "义务教育阶段适龄儿童少年失学辍学",
    "r_g_dropout": "义务教育阶段适龄儿童少年失学辍学", "r_dept_dropout": "义务教育阶段适龄儿童少年失学辍学",
    "water_unsafe": "饮水安全问题", "dept_water_6m": "饮水安全问题", "r_g_water": "饮水安全问题",
    "r_dept_water": "饮水安全问题",
    "n_not_insured": "家庭成员未参加基本医疗保险", "uninsured_member": "家庭成员未参加基本医疗保险",
    "r_g_insurance": "家庭成员未参加基本医疗保险",
    # shared income level / trend / household make-up
    "size": INCOME_GROUP, "n_children": INCOME_GROUP, "n_compulsory_age": INCOME_GROUP, "formerly_poor": INCOME_GROUP,
    "relocated": INCOME_GROUP, "income_source_code": INCOME_GROUP, "income_months": INCOME_GROUP,
    "pc_gap": INCOME_GROUP, "pc_prev_gap": INCOME_GROUP, "income_drop_ratio": INCOME_GROUP,
    "income_trend_3m": INCOME_GROUP, "months_since_income": INCOME_GROUP, "member_changes_6m": INCOME_GROUP,
    "r_inc_line": INCOME_GROUP, "r_inc_drop": INCOME_GROUP, "r_g_insurance_any": INCOME_GROUP,
}
BUSINESS_FALL = 0.4  # business income fall (year on year, last 3 months) read as a business failure (assumption)
RISK_TYPES = sorted({g for g in RISK_GROUPS.values() if g != INCOME_GROUP})


def panel(snapshot: Snapshot, dates: Iterable[date], *, pset: ParameterSet | None = None,
          rules: E.RuleSet | None = None, overrides: dict | None = None, threads: int | None = None) -> pa.Table:
    """Engine features + rule flags for every (as_of, household) — one DuckDB query for all dates."""
    pset = pset or load_parameters()
    rules = rules or E.load_rules()
    ds = sorted(set(dates))
    return E.run_duckdb(snapshot, E.asof_table(ds), E.params_table(pset, E.provinces_in(snapshot), ds, overrides),
                        rules, threads=threads)


def _f(t: pa.Table, name: str) -> np.ndarray:
    col = t[name]
    if pa.types.is_boolean(col.type):
        return np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=float)
    return np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _eq(col, value: str) -> np.ndarray:
    """1.0 where a string column equals ``value`` (vectorised in Arrow; null → 0)."""
    return np.asarray(pc.fill_null(pc.equal(col, value), False).to_numpy(zero_copy_only=False), dtype=float)


def matrix(t: pa.Table, feature_names: list[str] | None = None, *, out: np.ndarray | None = None
           ) -> tuple[np.ndarray, list[str]]:
    """The model matrix (float, NaN = missing) from an engine panel; column order = ``feature_names``.
    ``out``: a C-ordered float64 buffer of at least ``len(t)`` rows to fill (the first ``len(t)`` rows are
    returned) — lets a caller stream a big panel through one reused buffer (risk/score.py) instead of allocating
    a matrix of every household."""
    line = _f(t, "monitoring_line")
    size = np.maximum(_f(t, "size"), 1)
    cols: dict[str, np.ndarray] = {}
    for n in ("size", "n_labour", "n_skilled", "n_weak_labour", "n_serious_ill", "n_chronic", "n_disabled",
              "n_severe_disabled", "n_migrant", "n_students_post", "n_compulsory_age", "n_elderly", "n_children",
              "n_not_insured", "income_months", "income_drop_ratio", "income_trend_3m", "months_since_income",
              "head_age", "member_changes_6m", "member_exits_6m", "new_serious_ill_6m", "new_disabled_6m",
              "dept_med_oop_12m", "dept_job_loss_6m",
              "dept_disaster_6m", "dept_disaster_loss_6m", "dept_house_cd_6m", "dept_dropout_6m",
              "dept_disability_6m", "dept_death_6m", "dept_water_6m", "claims_12m", "edu_12m",
              "housing_unsafe", "dropout", "water_unsafe", "uninsured_member", "relocated"):
        cols[n] = _f(t, n)
    # 户类型 脱贫户 (POLICY.md §2): formerly-poor households are the ones with a monthly income record
    cols["formerly_poor"] = _eq(t["hh_type"], "脱贫户")
    cols["income_source_code"] = _eq(t["income_source"], "yearly") + 2.0 * _eq(t["income_source"], "monthly")
    # income relative to the line in force (POLICY.md §3) so that a new line does not shift the feature scale
    cols["pc_gap"] = _f(t, "pc_net_12m") / line
    cols["pc_prev_gap"] = _f(t, "pc_net_prev_12m") / line
    cols["ref_gap"] = (_f(t, "pc_net_12m") - _f(t, "ref_pc_12m")) / line
    with np.errstate(invalid="ignore", divide="ignore"):
        net = _f(t, "net_12m")
        cols["oop_share"] = np.where(np.abs(net) > 0, _f(t, "oop_12m") / np.abs(net), np.nan)
    cols["labour_share"] = cols["n_labour"] / size
    # business net income: share of net income (12 months) and last 3 months vs the same 3 months a year before
    with np.errstate(invalid="ignore", divide="ignore"):
        cols["business_share"] = np.where(np.abs(net) > 0, _f(t, "business_12m") / np.abs(net), np.nan)
    cols["business_yoy_3m"] = _f(t, "business_yoy_3m")
    # a fall of ≥ BUSINESS_FALL year on year (NaN → no record → 0): evidence of 因产业项目失败 (risk/model.py TRIGGERS)
    cols["business_fall_yoy"] = np.nan_to_num(cols["business_yoy_3m"] <= -BUSINESS_FALL, nan=0.0).astype(float)
    # post-compulsory students × "the school year starts (September fees) within the next 6 months" — calendar
    # knowledge at as_of, not later data (因学, POLICY.md §7)
    month = np.asarray(pc.month(t["as_of"]).to_numpy(zero_copy_only=False), dtype=float)
    term_ahead = ((9 - month) % 12 >= 1) & ((9 - month) % 12 <= 6)
    cols["students_term_ahead"] = cols["n_students_post"] * term_ahead
    for c in t.column_names:
        if c.startswith("r_"):
            cols[c] = _f(t, c)
    names = feature_names or [n for n in cols if n in RISK_GROUPS]
    missing = [n for n in names if n not in cols]
    if missing:
        raise KeyError(f"features not in the engine output: {missing}")
    if out is None:
        return np.column_stack([cols[n] for n in names]), names
    X = out[:t.num_rows]
    for j, n in enumerate(names):
        X[:, j] = cols[n]
    return X, names


def source_columns(t: pa.Table) -> list[str]:
    """The panel columns ``matrix`` reads (to take a subset of rows without copying every feature column)."""
    fixed = {"monitoring_line", "size", "n_labour", "n_skilled", "n_weak_labour", "n_serious_ill", "n_chronic",
             "n_disabled", "n_severe_disabled", "n_migrant", "n_students_post", "n_compulsory_age", "n_elderly",
             "n_children", "n_not_insured", "income_months", "income_drop_ratio", "income_trend_3m",
             "months_since_income", "head_age", "member_changes_6m", "member_exits_6m", "new_serious_ill_6m",
             "new_disabled_6m", "dept_med_oop_12m", "dept_job_loss_6m", "dept_disaster_6m", "dept_disaster_loss_6m",
             "dept_house_cd_6m", "dept_dropout_6m", "dept_disability_6m", "dept_death_6m", "dept_water_6m",
             "claims_12m", "edu_12m", "housing_unsafe", "dropout", "water_unsafe", "uninsured_member", "relocated",
             "hh_type", "income_source", "pc_net_12m", "pc_net_prev_12m", "ref_pc_12m", "net_12m", "oop_12m",
             "business_12m", "business_yoy_3m", "as_of"}
    return [c for c in t.column_names if c in fixed or c.startswith("r_")]


__all__ = ["panel", "matrix", "source_columns", "RISK_GROUPS", "RISK_TYPES", "INCOME_GROUP"]
