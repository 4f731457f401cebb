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
import pyarrow.compute as pc

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.risk import features as F
from fangpin.risk.model import RiskModel
from fangpin.reports.cells import safe_row

CSV_HEADERS = ["户编号", "风险概率", "触发规则", "主要风险类型"]


EXPLAIN_TOP = 0.05  # share of households (highest probability first) explained, besides every rule-flagged one
EXPLAIN_METHOD = "path"  # path attribution (model.path_contributions); "shap" = exact TreeSHAP, ~20× slower


def score_panel(panel: pa.Table, model: RiskModel, *, explain_top: float | None = EXPLAIN_TOP,
                explain_flagged: bool = True, method: str = EXPLAIN_METHOD) -> pa.Table:
    """Probabilities for every row; per-risk-type contributions + the top explained type for the rows a cadre
    opens: the ``explain_top`` share with the highest probability (the visit list; None = all rows) and, with
    ``explain_flagged``, every row with a rule flag (an alert). The rest — far down the list, no alert — get NaN
    contributions and the engine's profile_risk_type as 主要风险类型 (docs/RISK.md "Visit list")."""
    prob = predict_panel(panel, model)
    n = len(prob)
    if explain_top is None or explain_top >= 1:
        sel = np.ones(n, bool)
    else:
        sel = np.zeros(n, bool)
        k = int(np.ceil(explain_top * n))
        if k:
            sel[np.argsort(-prob, kind="stable")[:k]] = True  # deterministic among equal (calibrated) values
        if explain_flagged:
            for c in panel.column_names:
                if c.startswith("r_"):
                    sel |= np.asarray(pc.fill_null(panel[c], False).to_numpy(zero_copy_only=False), bool)
    rows = np.flatnonzero(sel)
    names = [*F.RISK_TYPES, F.INCOME_GROUP]
    groups = np.full((n, len(names)), np.nan)
    top = pc.fill_null(panel["profile_risk_type"], "其他")
    if len(rows):
        # the matrix of the explained rows only (the full matrix was never held, see predict_panel)
        X, _ = F.matrix(panel.select(F.source_columns(panel)).take(pa.array(rows)), model.features)
        g, names = model.risk_type_contributions(X, method)
        groups[rows] = g
        fallback = top.take(pa.array(rows)).to_pylist()
        types = model.top_risk_type(X, fallback, grouped=g)
        mask = np.zeros(n, bool)
        mask[rows] = True
        top = pc.replace_with_mask(top.combine_chunks() if isinstance(top, pa.ChunkedArray) else top,
                                   pa.array(mask), pa.array(types, pa.string()))
    cols = {"as_of": panel["as_of"], "household_id": panel["household_id"], "hh_no": panel["hh_no"],
            "region_code": panel["region_code"], "probability": pa.array(np.round(prob, 6)),
            "top_risk_type": top}
    for j, nm in enumerate(names):
        cols[f"contrib_{nm}"] = pa.array(np.round(groups[:, j], 6))
    return pa.table(cols)


SCORE_CHUNK = 1 << 17  # rows per model-matrix chunk (131,072 × ~63 features × 8 bytes ≈ 66 MB per buffer)


def predict_panel(panel: pa.Table, model: RiskModel, chunk: int = SCORE_CHUNK) -> np.ndarray:
    """Calibrated probabilities for every row, streaming the panel through two reused matrix buffers: while
    LightGBM scores one chunk (its C code runs without the GIL, on its own threads) the next chunk's matrix is
    filled. Same values as ``model.predict(F.matrix(panel)[0])`` — each row is scored on its own — without ever
    allocating a matrix of every household (1.9 GB at 10M persons, whose page faults alone cost seconds)."""
    from concurrent.futures import ThreadPoolExecutor

    n = panel.num_rows
    prob = np.empty(n)
    if n == 0:
        return prob
    k = len(model.features)
    bufs = [np.empty((min(chunk, n), k)) for _ in range(2 if n > chunk else 1)]

    def run(X: np.ndarray, a: int) -> None:
        prob[a:a + len(X)] = model.predict(X)

    with ThreadPoolExecutor(1) as ex:
        pending = None
        for i, a in enumerate(range(0, n, chunk)):
            X, _ = F.matrix(panel.slice(a, chunk), model.features, out=bufs[i % len(bufs)])
            if pending is not None:
                pending.result()  # the chunk before used the other buffer; the one before that is done
            pending = ex.submit(run, X, a)
        pending.result()
    return prob


def score(snapshot: Snapshot, as_of: date, model: RiskModel, *, panel: pa.Table | None = None,
          explain_top: float | None = EXPLAIN_TOP) -> pa.Table:
    """Score every household of the snapshot as of ``as_of`` (features from the engine, no later data)."""
    panel = panel if panel is not None else F.panel(snapshot, [as_of])
    return score_panel(panel, model, explain_top=explain_top)


def monitor_and_score(snapshot: Snapshot, as_of: date, model: RiskModel, *, rules: E.RuleSet | None = None,
                      timings: dict | None = None, **engine_kw) -> tuple[E.RunResult, pa.Table]:
    """The full monitoring run: ``engine.run`` (features + rules + alert objects) and ``score_panel`` on its
    feature table, with the scoring (Arrow/numpy/LightGBM, mostly outside the GIL) on a worker thread while this
    thread builds the alert objects (pure Python) — the two halves keep both cores busy instead of taking turns.
    Same results as running them one after the other. ``timings`` (optional dict) receives the seconds from the
    start at which the features, the alerts and the scores were ready."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    rules = rules or E.load_rules()
    feats = E.features(snapshot, as_of, rules=rules, **engine_kw)
    t_feat = time.perf_counter() - t0
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(score_panel, feats, model)
        alerts = E.alerts_from_flags(feats, rules, snapshot.fingerprint)
        t_alerts = time.perf_counter() - t0
        scores = fut.result()
    if timings is not None:
        timings.update({"features": t_feat, "alerts": t_alerts, "scores": time.perf_counter() - t0})
    return E.RunResult(feats, alerts), scores


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


__all__ = ["score", "score_panel", "predict_panel", "monitor_and_score", "write_scores_csv", "CSV_HEADERS"]
