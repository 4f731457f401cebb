"""Scoring for cadres: the ranked visit list (issue 4 §3).

``score(snapshot, as_of, model)`` → one row per household: household_id, hh_no, probability (calibrated),
top_risk_type (official risk type with the largest positive contribution, POLICY.md §7; the engine's
profile_risk_type when none pushes the score up), and ``contrib_<risk type>`` log-odds contributions.
``write_scores_csv(path, scores, alerts)`` writes the visit list, highest risk first, Chinese headers:

| header | English | content |
|---|---|---|
| 户编号 | household number | hh_no |
| 风险概率 | risk score | calibrated probability of the event within 6 months (4 decimals) |
| 触发规则 | rules fired | rule ids from the engine's alerts at as_of, "；"-separated |
| 主要风险类型 | main risk type | top explained risk type |
"""
from __future__ import annotations

import csv
import os
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.risk import features as F
from fangpin.risk.model import RiskModel
from fangpin.reports.cells import safe_row

CSV_HEADERS = ["户编号", "风险概率", "触发规则", "主要风险类型"]


EXPLAIN_TOP = 0.10  # share of households (highest probability first) explained with TreeSHAP contributions


def score_panel(panel: pa.Table, model: RiskModel, *, explain_top: float | None = EXPLAIN_TOP) -> pa.Table:
    """Probabilities for every row; contributions + top explained type for the ``explain_top`` share with the
    highest probability (None = all rows). TreeSHAP costs ~0.25 ms per household on 2 cores (docs/RISK.md), so
    the rest — far down the visit list — get NaN contributions and the engine's profile_risk_type."""
    X, _ = F.matrix(panel, model.features)
    prob = model.predict(X)
    n = len(prob)
    if explain_top is None or explain_top >= 1:
        rows = np.arange(n)
    else:
        rows = np.sort(np.argsort(-prob, kind="stable")[:int(np.ceil(explain_top * n))])
    profile = panel["profile_risk_type"].to_pylist()
    names = [*__import__("fangpin.risk.features", fromlist=["RISK_TYPES"]).RISK_TYPES, F.INCOME_GROUP]
    groups = np.full((n, len(names)), np.nan)
    top = list(profile)
    if len(rows):
        g, names = model.risk_type_contributions(X[rows])
        groups[rows] = g
        for i, t in zip(rows, model.top_risk_type(X[rows], [profile[i] for i in rows])):
            top[i] = t
    top = [t or "其他" for t in top]
    cols = {"as_of": panel["as_of"], "household_id": panel["household_id"], "hh_no": panel["hh_no"],
            "region_code": panel["region_code"], "probability": pa.array(np.round(prob, 6)),
            "top_risk_type": pa.array(top, pa.string())}
    for j, n in enumerate(names):
        cols[f"contrib_{n}"] = pa.array(np.round(groups[:, j], 6))
    return pa.table(cols)


def score(snapshot: Snapshot, as_of: date, model: RiskModel, *, panel: pa.Table | None = None,
          explain_top: float | None = EXPLAIN_TOP) -> pa.Table:
    """Score every household of the snapshot as of ``as_of`` (features from the engine, no later data)."""
    panel = panel if panel is not None else F.panel(snapshot, [as_of])
    return score_panel(panel, model, explain_top=explain_top)


def write_scores_csv(path: Path, scores: pa.Table, alerts: list[E.Alert]) -> Path:
    """The ranked visit list (UTF-8 with BOM so Excel/WPS open it correctly), highest risk first."""
    fired: dict[int, list[str]] = {}
    for a in alerts:
        ids = fired.setdefault(int(a.household_id), [])
        if a.rule_id not in ids:
            ids.append(a.rule_id)
    prob = np.asarray(scores["probability"].to_numpy(zero_copy_only=False), float)
    hh_no = scores["hh_no"].to_pylist()
    order = sorted(range(len(prob)), key=lambda i: (-prob[i], hh_no[i]))
    hid = scores["household_id"].to_pylist()
    top = scores["top_risk_type"].to_pylist()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # atomic: a crash never leaves a half list in place
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADERS)
        for i in order:  # safe_cell: 户编号 comes from delivered files (formula injection)
            w.writerow(safe_row([hh_no[i], f"{prob[i]:.4f}", "；".join(sorted(fired.get(int(hid[i]), []))), top[i]]))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


__all__ = ["score", "score_panel", "write_scores_csv", "CSV_HEADERS"]
