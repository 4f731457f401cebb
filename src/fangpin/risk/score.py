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
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.risk import features as F
from fangpin.risk.model import RiskModel

CSV_HEADERS = ["户编号", "风险概率", "触发规则", "主要风险类型"]


def score_panel(panel: pa.Table, model: RiskModel) -> pa.Table:
    X, _ = F.matrix(panel, model.features)
    prob = model.predict(X)
    groups, names = model.risk_type_contributions(X)
    top = model.top_risk_type(X, panel["profile_risk_type"].to_pylist())
    cols = {"as_of": panel["as_of"], "household_id": panel["household_id"], "hh_no": panel["hh_no"],
            "region_code": panel["region_code"], "probability": pa.array(np.round(prob, 6)),
            "top_risk_type": pa.array(top, pa.string())}
    for j, n in enumerate(names):
        cols[f"contrib_{n}"] = pa.array(np.round(groups[:, j], 6))
    return pa.table(cols)


def score(snapshot: Snapshot, as_of: date, model: RiskModel, *, panel: pa.Table | None = None) -> pa.Table:
    """Score every household of the snapshot as of ``as_of`` (features from the engine, no later data)."""
    panel = panel if panel is not None else F.panel(snapshot, [as_of])
    return score_panel(panel, model)


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
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADERS)
        for i in order:
            w.writerow([hh_no[i], f"{prob[i]:.4f}", "；".join(sorted(fired.get(int(hid[i]), []))), top[i]])
    return path


__all__ = ["score", "score_panel", "write_scores_csv", "CSV_HEADERS"]
