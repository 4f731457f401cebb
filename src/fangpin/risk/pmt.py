"""Proxy-means test (PMT): per-capita net income estimated from household characteristics (issue 4 §5).

Most ordinary households (一般农户) have no income record in the registry (docs/SYNTH.md item 9: monthly income only
for formerly-poor households, a yearly survey for ~10 % of the others). The PMT estimates log per-capita net income
(家庭纯收入 ÷ 人口, POLICY.md §3) from the household's make-up with a prediction interval:

* point estimate: LightGBM regression (L2) on log income;
* 80 % interval: LightGBM quantile regression at 0.1 and 0.9;
* baseline: ordinary least squares on log income with the same characteristics (the classic PMT).

"Likely below the line — verify" is the rule PMT-LOW in rules.yaml: the engine reads the model output as the
optional snapshot-side table ``model_output`` (household_id, as_of, pmt_pc_income, pmt_pc_income_hi; registered
with ``engine.run_duckdb(..., extra_tables=...)`` or written next to the snapshot); the rule fires for a household
without an income record whose interval's *upper* bound is under the monitoring line (POLICY.md §3).

:func:`evaluate_income_model` cross-validates on any roster in the FEEDS.md §A layout that carries incomes.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

# LightGBM boosts from the OLS fit (init_score): small samples (a 10 % survey) stay close to the OLS PMT, larger
# ones pick up interactions (e.g. labour × illness) that a linear PMT misses.
PMT_PARAMS = {"learning_rate": 0.03, "num_leaves": 7, "min_data_in_leaf": 40, "feature_fraction": 0.9,
              "lambda_l2": 5.0, "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1}
PMT_ROUNDS = 150
FLOOR = 100.0  # yuan per person-year: log floor for zero/negative net incomes (assumption)

# characteristics shared by the snapshot path and the roster path (FEEDS.md §A members/households columns)
SNAPSHOT_FEATURES = ["size", "n_labour", "n_skilled", "n_weak_labour", "n_serious_ill", "n_chronic", "n_disabled",
                     "n_severe_disabled", "n_migrant", "n_students_post", "n_compulsory_age", "n_elderly",
                     "n_children", "n_not_insured", "head_age", "formerly_poor", "relocated", "labour_share",
                     "housing_unsafe", "water_unsafe"]


# ---------------------------------------------------------------------------------------------------------------
# models

@dataclass
class PMT:
    features: list[str]
    point: Any = None  # lightgbm.Booster
    lo: Any = None
    hi: Any = None
    ols_coef: np.ndarray | None = None
    ols_fill: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Per-capita income (yuan/person/year): point, 10 % and 90 % quantiles, and the OLS baseline."""
        base = _ols_design(X, self.ols_fill) @ self.ols_coef
        out = {"pc_income": np.exp(base + self.point.predict(X, raw_score=True)),
               "pc_income_lo": np.exp(base + self.lo.predict(X, raw_score=True)),
               "pc_income_hi": np.exp(base + self.hi.predict(X, raw_score=True)),
               "pc_income_ols": np.exp(base)}
        out["pc_income_lo"] = np.minimum(out["pc_income_lo"], out["pc_income"])
        out["pc_income_hi"] = np.maximum(out["pc_income_hi"], out["pc_income"])
        return out


def _ols_design(X: np.ndarray, fill: np.ndarray) -> np.ndarray:
    miss = np.isnan(X)
    Z = np.where(miss, fill[None, :], X)
    return np.column_stack([np.ones(len(X)), Z, miss.astype(float)])  # missing indicators (constant 0 if none)


def fit(X: np.ndarray, pc_income: np.ndarray, features: list[str], *, seed: int = 5) -> PMT:
    import lightgbm as lgb

    y = np.log(np.maximum(np.asarray(pc_income, float), FLOOR))
    base = dict(PMT_PARAMS, seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
    with np.errstate(all="ignore"):
        fill = np.nanmean(X, axis=0) if len(X) else np.zeros(X.shape[1])
    fill = np.where(np.isnan(fill), 0.0, fill)
    D = _ols_design(X, fill)
    coef, *_ = np.linalg.lstsq(D, y, rcond=None)
    init = D @ coef
    ds = lambda: lgb.Dataset(X, label=y, init_score=init, feature_name=features, free_raw_data=False)  # noqa: E731
    point = lgb.train(dict(base, objective="regression"), ds(), PMT_ROUNDS)
    lo = lgb.train(dict(base, objective="quantile", alpha=0.1), ds(), PMT_ROUNDS)
    hi = lgb.train(dict(base, objective="quantile", alpha=0.9), ds(), PMT_ROUNDS)
    return PMT(list(features), point, lo, hi, coef, fill, {"rows": int(len(y))})


def targeting_errors(true_income: np.ndarray, predicted: np.ndarray, coverage: float) -> tuple[float, float]:
    """(exclusion error, inclusion error) when the poorest ``coverage`` share by ``predicted`` is selected.

    exclusion = share of the truly poorest ``coverage`` share not selected; inclusion = share of the selected not
    truly in it. Ties are broken by position (stable sort)."""
    n = len(true_income)
    k = max(1, int(round(coverage * n)))
    truly = np.zeros(n, bool)
    truly[np.argsort(true_income, kind="stable")[:k]] = True
    sel = np.zeros(n, bool)
    sel[np.argsort(predicted, kind="stable")[:k]] = True
    both = (truly & sel).sum()
    return float(1 - both / truly.sum()), float(1 - both / sel.sum())


# ---------------------------------------------------------------------------------------------------------------
# snapshot path (engine panel → features)

def snapshot_matrix(panel: pa.Table) -> np.ndarray:
    from fangpin.risk.features import _f

    cols = {n: _f(panel, n) for n in SNAPSHOT_FEATURES if n in panel.column_names}
    cols["formerly_poor"] = np.array([v == "脱贫户" for v in panel["hh_type"].to_pylist()], float)
    cols["labour_share"] = _f(panel, "n_labour") / np.maximum(_f(panel, "size"), 1)
    return np.column_stack([cols[n] for n in SNAPSHOT_FEATURES])


def fit_on_panel(panel: pa.Table, *, seed: int = 5) -> PMT:
    """Train on the households of an engine panel that have an income record (income_source <> 'none')."""
    from fangpin.risk.features import _f

    X = snapshot_matrix(panel)
    has = np.array([s != "none" for s in panel["income_source"].to_pylist()]) & (_f(panel, "size") > 0)
    y = _f(panel, "pc_net_12m")
    return fit(X[has], y[has], SNAPSHOT_FEATURES, seed=seed)


def model_output(panel: pa.Table, pmt: PMT) -> pa.Table:
    """The ``model_output`` table the engine joins (household_id, as_of, pmt_pc_income, pmt_pc_income_hi)."""
    pr = pmt.predict(snapshot_matrix(panel))
    return pa.table({"household_id": panel["household_id"], "as_of": panel["as_of"],
                     "pmt_pc_income": pa.array(np.round(pr["pc_income"], 2)),
                     "pmt_pc_income_hi": pa.array(np.round(pr["pc_income_hi"], 2))})


# ---------------------------------------------------------------------------------------------------------------
# roster path (FEEDS.md §A files, any county)

def _s(v: Any) -> str:
    return "" if v is None else str(v).strip()


def _num(v: Any) -> float:
    from fangpin.exchange.values import is_blank, parse_amount

    if v is None or is_blank(v):
        return 0.0
    try:
        return float(parse_amount(v, empty_is_zero=True))
    except Exception:  # noqa: BLE001 — a malformed amount counts as missing, not as a crash
        return float("nan")


def _birth_year(v: Any) -> float:
    from fangpin.exchange.values import parse_date

    try:
        return float(parse_date(v).year)
    except Exception:  # noqa: BLE001
        return float("nan")


ROSTER_FEATURES = ["size", "n_labour", "n_skilled", "n_weak_labour", "n_no_labour", "n_serious_ill", "n_chronic",
                   "n_disabled", "n_severe_disabled", "n_migrant", "migrant_months", "n_students", "n_children",
                   "n_elderly", "n_not_insured", "n_pension", "head_age", "mean_age", "n_male", "n_edu_high",
                   "formerly_poor", "relocated", "labour_share", "housing_unsafe", "water_unsafe", "dropout",
                   "uninsured_member"]


def roster_households(roster_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(household numbers, feature matrix, per-capita net income (NaN = none), info) from a FEEDS.md §A roster.

    Income per household (FEEDS.md §A 收支表; POLICY.md §3 net = wages + business + property + transfers − business
    costs): with ≥ 6 monthly (YYYY-MM) records in the latest 12 months, their sum scaled to 12 months; otherwise
    the latest yearly (YYYY) record. Missing optional columns → NaN/0 features, never an error."""
    from fangpin.exchange.roster import ROSTER_FILES, find_files
    from fangpin.exchange.tabular import read_table
    from fangpin.exchange.values import parse_period

    files = find_files(Path(roster_dir))
    missing = [r for r in ("households", "members", "income") if r not in files]
    if missing:
        raise FileNotFoundError(f"roster {roster_dir}: missing {missing} (FEEDS.md §A)")
    tab = {r: read_table(p, columns=ROSTER_FILES[r]["columns"], filename=p.name) for r, p in files.items()}

    # income first: its latest period dates the ages
    monthly: dict[str, dict[str, float]] = defaultdict(dict)
    yearly: dict[str, dict[str, float]] = defaultdict(dict)
    latest = date(1900, 1, 1)
    bad_income = 0
    for row in tab["income"].rows:
        v = row.values
        hh = _s(v.get("户编号"))
        try:
            key, _, end = parse_period(v.get("期间"))
        except Exception:  # noqa: BLE001
            bad_income += 1
            continue
        net = (_num(v.get("工资性收入")) + _num(v.get("生产经营性收入")) + _num(v.get("财产性收入"))
               + _num(v.get("转移性收入")) - _num(v.get("生产经营性支出")))
        if not np.isfinite(net) or not hh:
            bad_income += 1
            continue
        (monthly if len(key) == 7 else yearly)[hh][key] = net
        latest = max(latest, end)
    ref_year = latest.year if latest.year > 1900 else date.today().year

    hh_info: dict[str, dict] = {}
    for row in tab["households"].rows:
        v = row.values
        hh = _s(v.get("户编号"))
        if hh:
            hh_info[hh] = {"formerly_poor": float(_s(v.get("户类型")) == "脱贫户"),
                           "relocated": float(_s(v.get("是否易地搬迁")) in ("是", "1", "True", "true"))}
    agg: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ages: dict[str, list[float]] = defaultdict(list)
    for row in tab["members"].rows:
        v = row.values
        hh = _s(v.get("户编号"))
        if not hh:
            continue
        a = agg[hh]
        by = _birth_year(v.get("出生日期"))
        age = ref_year - by if np.isfinite(by) else np.nan
        if np.isfinite(age):
            ages[hh].append(age)
        rel = _s(v.get("与户主关系"))
        if rel == "户主" and np.isfinite(age):
            a["head_age"] = age
        a["size"] += 1
        skill, health = _s(v.get("劳动技能")), _s(v.get("健康状况"))  # FEEDS.md §A value lists
        working_age = not np.isfinite(age) or age < 60
        a["n_labour"] += skill in ("普通劳动力", "技能劳动力") and working_age
        a["n_skilled"] += skill == "技能劳动力"
        a["n_weak_labour"] += skill == "弱劳动力或半劳动力"
        a["n_no_labour"] += skill in ("丧失劳动力", "无劳动力")
        a["n_serious_ill"] += health == "患有大病"
        a["n_chronic"] += health == "长期慢性病"
        grade = _s(v.get("残疾等级"))
        a["n_disabled"] += health == "残疾" or grade in ("1", "2", "3", "4")
        a["n_severe_disabled"] += grade in ("1", "2")
        try:
            mm = float(_s(v.get("务工月数")) or 0)
        except ValueError:
            mm = 0.0
        a["n_migrant"] += mm > 0
        a["migrant_months"] += mm
        school = _s(v.get("在校生情况"))
        a["n_students"] += bool(school) and school not in ("非在校生", "否", "无")
        a["n_children"] += np.isfinite(age) and age < 16
        a["n_elderly"] += np.isfinite(age) and age >= 60
        a["n_not_insured"] += _s(v.get("参加基本医疗保险")) == "否"
        a["n_pension"] += _s(v.get("参加基本养老保险")) == "是"
        a["n_male"] += _s(v.get("性别")) == "男"
        edu = _s(v.get("文化程度"))
        a["n_edu_high"] += any(k in edu for k in ("高中", "中专", "大学", "大专", "本科", "研究生", "中职", "高职"))
    if "guarantees" in tab:
        latest_g: dict[str, tuple] = {}
        for row in tab["guarantees"].rows:
            v = row.values
            hh = _s(v.get("户编号"))
            d = v.get("日期")
            try:
                from fangpin.exchange.values import parse_date
                d = parse_date(d)
            except Exception:  # noqa: BLE001
                continue
            if hh and (hh not in latest_g or d >= latest_g[hh][0]):
                latest_g[hh] = (d, _s(v.get("住房安全")) == "不安全", _s(v.get("饮水安全")) == "不安全",
                                _s(v.get("义务教育辍学")) == "是", _s(v.get("有成员未参加医保")) == "是")
        for hh, (_, hu, wu, dr, un) in latest_g.items():
            agg[hh]["housing_unsafe"], agg[hh]["water_unsafe"] = float(hu), float(wu)
            agg[hh]["dropout"], agg[hh]["uninsured_member"] = float(dr), float(un)

    ids = sorted(set(agg) | set(hh_info))
    X = np.full((len(ids), len(ROSTER_FEATURES)), np.nan)
    y = np.full(len(ids), np.nan)
    for i, hh in enumerate(ids):
        a = dict(agg.get(hh, {}))
        a.update(hh_info.get(hh, {}))
        size = a.get("size", 0.0)
        a["labour_share"] = a.get("n_labour", 0.0) / size if size else np.nan
        a["mean_age"] = float(np.mean(ages[hh])) if ages.get(hh) else np.nan
        for j, n in enumerate(ROSTER_FEATURES):
            if n in a:
                X[i, j] = a[n]
            elif n in ("head_age", "formerly_poor", "relocated", "housing_unsafe", "water_unsafe", "dropout",
                       "uninsured_member"):
                X[i, j] = np.nan
            else:
                X[i, j] = 0.0
        if size <= 0:
            continue
        mon = monthly.get(hh, {})
        recent = sorted(mon)[-12:]
        # latest 12 monthly periods; kept only if they fall inside 12 months of the household's last month
        if recent:
            last = int(recent[-1][:4]) * 12 + int(recent[-1][5:7])
            recent = [k for k in recent if last - (int(k[:4]) * 12 + int(k[5:7])) < 12]
        if len(recent) >= 6:
            y[i] = sum(mon[k] for k in recent) * 12.0 / len(recent) / size
        elif yearly.get(hh):
            y[i] = yearly[hh][max(yearly[hh])] / size
    info = {"households": len(ids), "with_income": int(np.isfinite(y).sum()), "bad_income_rows": bad_income,
            "files": {r: str(p) for r, p in files.items()}}
    return ids, X, y, info


def evaluate_income_model(roster_dir: Path, folds: int = 5, coverage: float = 0.2, *, seed: int = 5) -> dict:
    """K-fold CV of the PMT on the roster's households with an income: exclusion and inclusion error at the given
    coverage for our model (LightGBM) and the OLS baseline in the same folds; plus interval coverage."""
    _, X, y, info = roster_households(Path(roster_dir))
    keep = np.isfinite(y)
    X, y = X[keep], y[keep]
    n = len(y)
    if n < folds * 10:
        raise ValueError(f"only {n} households with income in {roster_dir}: too few for {folds}-fold CV")
    rng = np.random.default_rng(seed)
    fold = rng.permutation(n) % folds
    pred = np.zeros(n)
    pred_ols = np.zeros(n)
    lo = np.zeros(n)
    hi = np.zeros(n)
    for k in range(folds):
        tr, te = fold != k, fold == k
        m = fit(X[tr], y[tr], ROSTER_FEATURES, seed=seed + k)
        p = m.predict(X[te])
        pred[te], pred_ols[te], lo[te], hi[te] = p["pc_income"], p["pc_income_ols"], p["pc_income_lo"], p["pc_income_hi"]
    k_tag = f"k{int(round(coverage * 100))}"
    ex, inc = targeting_errors(y, pred, coverage)
    ex_o, inc_o = targeting_errors(y, pred_ols, coverage)
    ly = np.log(np.maximum(y, FLOOR))
    r2 = lambda p: float(1 - np.mean((ly - np.log(np.maximum(p, FLOOR))) ** 2) / np.var(ly))  # noqa: E731
    return {
        f"pmt.exclusion_{k_tag}": ex, f"pmt.exclusion_{k_tag}_ols": ex_o,
        f"pmt.inclusion_{k_tag}": inc, f"pmt.inclusion_{k_tag}_ols": inc_o,
        "pmt.r2_log": r2(pred), "pmt.r2_log_ols": r2(pred_ols),
        "pmt.interval_coverage_80": float(np.mean((y >= lo) & (y <= hi))),
        "pmt.households": info["households"], "pmt.households_with_income": int(n), "pmt.folds": folds,
        "pmt.coverage": coverage,
    }


__all__ = ["PMT", "fit", "fit_on_panel", "model_output", "snapshot_matrix", "targeting_errors",
           "roster_households", "evaluate_income_model", "SNAPSHOT_FEATURES", "ROSTER_FEATURES"]
