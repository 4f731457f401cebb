"""Early-warning evaluation on a held-out later period of a synthetic panel (issue 4 §4).

Population: for each test as-of month t, households that exist and are not at risk at t (truth). Budget k: the
top ``k × (that population)`` households of a ranking are visited. Recall = visited households with the event /
all households with the event (pooled over the test months).

Variants:
  (a) official income-line rule alone — INC-LINE flagged households ranked by the gap below the line
      (POLICY.md §3); unflagged households cannot be ranked, so a budget larger than the flags is left unused;
  (b) rules + department triggers — households with ≥ 1 rule flag (rules.yaml incl. DEPT-*; POLICY.md §6),
      ranked by number of rules fired, then by the gap below the line;
  (c) rules + triggers + model — the calibrated model probability, which has every rule flag as a feature
      (a single ranking of every household; measured against "rules first, then model" as ``c_rules_first``).
Lead time: for households whose at-risk spell starts at month T (not at risk at T-1), the earliest as-of month
in T-6..T-1 at which they were in the top-5 % list; median of T − that month over the detected ones.
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from fangpin.monitoring.snapshot import Snapshot
from fangpin.risk import features as F
from fangpin.risk.labels import Truth, load_truth
from fangpin.risk.model import RiskModel, brier
from fangpin.risk.train import Split, default_split, labelled, train

BUDGETS = (0.02, 0.05, 0.10)


def _topk_mask(score: np.ndarray, eligible_rank: np.ndarray, k: int) -> np.ndarray:
    """Mask of the k best (highest score) among rows where eligible_rank is True (stable, deterministic)."""
    idx = np.flatnonzero(eligible_rank)
    order = idx[np.argsort(-score[idx], kind="stable")]
    out = np.zeros(len(score), bool)
    out[order[:k]] = True
    return out


def rankings(panel: pa.Table, prob: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """variant → (score, rankable mask) for one panel."""
    line = F._f(panel, "monitoring_line")
    gap = (line - F._f(panel, "pc_net_12m")) / line
    gap = np.where(np.isnan(gap), -1.0, gap)
    flags = [c for c in panel.column_names if c.startswith("r_")]
    n_rules = np.sum([F._f(panel, c) for c in flags], axis=0)
    inc = F._f(panel, "r_inc_line") > 0
    return {
        "a": (gap, inc),
        "b": (n_rules * 10.0 + np.clip(gap, -1, 1), n_rules > 0),
        "c": (prob, np.ones(len(prob), bool)),
        "c_rules_first": (np.where(n_rules > 0, 10.0 + n_rules, 0.0) + prob, np.ones(len(prob), bool)),
    }


def evaluate(snapshot: Snapshot, truth_dir: Path | Truth, *, model: RiskModel | None = None,
             split: Split | None = None, panel: pa.Table | None = None, seed: int = 7) -> dict:
    t0 = time.perf_counter()
    truth = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    split = split or default_split(truth)
    ends = truth.as_of_dates()
    first_test = truth.month_index(split.test[0])
    # extra as-of months scored for the lead time (features only, no labels needed)
    lead_dates = [ends[i] for i in range(first_test, len(ends) - 1)]
    dates = sorted({*split.all(), *lead_dates})
    if panel is None:
        panel = F.panel(snapshot, dates)
    if model is None:
        model, _, _ = train(snapshot, truth, split, seed=seed, panel=panel)
    t_train = time.perf_counter() - t0
    X, y, elig, names, ev = labelled(panel, truth, model.features)
    as_of = np.array(panel["as_of"].to_pylist())
    prob = model.predict(X)
    raw = model.raw(X)
    hh = np.asarray(panel["household_id"])
    township = np.array([(c or "")[:9] for c in panel["region_code"].to_pylist()], dtype=object)
    rk = rankings(panel, prob)

    test = elig & np.isin(as_of, split.test)
    out: dict = {"warning.test_as_of": [d.isoformat() for d in split.test],
                 "warning.train_as_of": [split.train[0].isoformat(), split.train[-1].isoformat()],
                 "warning.validation_as_of": split.validation.isoformat(),
                 "warning.test_rows": int(test.sum()), "warning.test_events": int(y[test].sum()),
                 "warning.test_event_rate": float(y[test].mean())}
    # per-month top-k lists
    hits: dict[tuple[str, float], int] = {}
    top5_c: np.ndarray = np.zeros(len(y), bool)
    for v in rk:
        for k in BUDGETS:
            sel_all = np.zeros(len(y), bool)
            for d in split.test:
                m = test & (as_of == d)
                score, rankable = rk[v]
                sel_all |= _topk_mask(score, m & rankable, int(round(k * m.sum())))
            hits[(v, k)] = int((sel_all & y.astype(bool)).sum())
            out[f"warning.recall_{v}_k{int(k * 100)}"] = hits[(v, k)] / max(1, int(y[test].sum()))
            if v == "c" and k == 0.05:
                top5_c = sel_all
    ra, rc = out["warning.recall_a_k5"], out["warning.recall_c_k5"]
    out["warning.recall_ratio_k5"] = rc / ra if ra > 0 else float("inf")
    from sklearn.metrics import average_precision_score, roc_auc_score

    yt, pt, rt = y[test], prob[test], raw[test]
    out["warning.auc"] = float(roc_auc_score(yt, pt))
    out["warning.pr_auc"] = float(average_precision_score(yt, pt))
    out["warning.brier"] = brier(yt, pt)
    out["warning.brier_uncalibrated"] = brier(yt, rt)
    out["warning.brier_base_rate"] = brier(yt, np.full(len(yt), y[elig & np.isin(as_of, split.train)].mean()))
    out.update({f"warning.model_{k}": v for k, v in model.meta.get("metrics", {}).items()})

    # recall by township (variant c, 5 %), townships with ≥ 10 events
    pos = test & (y == 1)
    rec_t = []
    for tw in np.unique(township[pos]):
        sel = pos & (township == tw)
        if sel.sum() >= 10:
            rec_t.append(float((top5_c & sel).sum() / sel.sum()))
    if rec_t:
        out.update({"warning.township_recall_min": min(rec_t), "warning.township_recall_median": float(np.median(rec_t)),
                    "warning.township_recall_max": max(rec_t), "warning.townships": len(rec_t)})

    # top-1 explained cause vs the simulated cause at the event month (positives in the top-5 % list, and all)
    r = truth.rows(hh)
    fallback = panel["profile_risk_type"].to_pylist()
    # the explained type is computed as the visit list computes it (score.EXPLAIN_METHOD); exact TreeSHAP as a
    # second figure. "observable": the cause's shock had started by as_of (or the cause is structural) — a shock
    # still in the future at as_of cannot be named from data known then (docs/RISK.md).
    from fangpin.risk.score import EXPLAIN_METHOD

    t_idx = np.array([truth.month_index(d) for d in as_of])
    for tag, sel in (("top5", top5_c & pos), ("all", pos)):
        i = np.flatnonzero(sel)
        if len(i) == 0:
            continue
        sim = truth.cause[r[i], ev[i]]
        obs = np.array([truth.cause_observable(int(hh[j]), int(t_idx[j]), int(ev[j])) for j in i], bool)
        for meth in (EXPLAIN_METHOD, "shap" if EXPLAIN_METHOD != "shap" else "path"):
            top = np.array(model.top_risk_type(X[i], [fallback[j] for j in i], method=meth), dtype=object)
            key = "warning.top1_cause" if tag == "top5" else "warning.top1_cause_all_events"
            if meth != EXPLAIN_METHOD:
                key += f"_{meth}"
            out[key] = float(np.mean(top == sim))
            if obs.any():
                out[key.replace("top1_cause", "top1_cause_observable")] = float(np.mean((top == sim)[obs]))
        if tag == "top5":
            out["warning.top1_cause_observable_share"] = float(obs.mean())
            vals, cnt = np.unique(sim, return_counts=True)
            out["warning.event_causes_top5"] = {str(a): int(b) for a, b in zip(vals, cnt)}

    # lead time: onsets T with all of T-6..T-1 scored; earliest as-of in the window with the household in the list
    lead_idx = [truth.month_index(d) for d in lead_dates]
    T_lo, T_hi = lead_idx[0] + 6, len(ends) - 1
    in_list = {}
    for d in lead_dates:
        m = as_of == d
        ti = truth.month_index(d)
        rr = np.maximum(r, 0)
        not_risk = m & (r >= 0) & truth.exists[rr, ti] & ~truth.at_risk[rr, ti]
        score, _ = rk["c"]
        sel = _topk_mask(score, not_risk, int(round(0.05 * not_risk.sum())))
        in_list[ti] = set(hh[sel].tolist())
    AR = truth.at_risk
    leads, missed = [], 0
    for T in range(T_lo, T_hi + 1):
        onset = truth.household_ids[AR[:, T] & ~AR[:, T - 1] & truth.exists[:, T - 1]]
        for h in onset.tolist():
            found = [T - t for t in range(T - 6, T) if h in in_list.get(t, ())]
            if found:
                leads.append(max(found))
            else:
                missed += 1
    out["warning.lead_time_months"] = float(np.median(leads)) if leads else 0.0
    out["warning.lead_time_onsets"] = len(leads) + missed
    out["warning.lead_time_detected_share"] = len(leads) / max(1, len(leads) + missed)
    out["warning.seconds_total"] = time.perf_counter() - t0
    out["warning.seconds_train"] = t_train
    return out


__all__ = ["evaluate", "rankings", "BUDGETS"]


def synthetic_county(work: Path, households: int = 20000, months: int = 36, seed: int = 11):
    """Build (once) the synthetic county the evaluation runs on: registry snapshot + department events + truth.

    Department events come from the truth with perfect linkage (monitoring/dept_events.py). Returns
    (snapshot, truth_dir); a second call with the same arguments reuses the files."""
    from fangpin.db import make_engine
    from fangpin.monitoring import dept_events as D
    from fangpin.monitoring import snapshot as S
    from fangpin.synth.run import SynthParams, run

    from fangpin.synth.panel import HAZARD_MODEL

    # the hazard model in the name: a county cached by an older generator is not reused (docs/SYNTH.md item 6)
    d = Path(work) / f"county_{households}_{months}_{seed}_h{HAZARD_MODEL}"
    if not (d / "snap" / "dept_event.parquet").exists():
        d.mkdir(parents=True, exist_ok=True)
        e = make_engine(f"sqlite:///{d}/m.db")
        run(e, SynthParams(households=households, months=months, seed=seed), d / "truth")
        with e.connect() as c:
            S.export(c, d / "snap")
        D.write(d / "snap", D.from_synth_truth(d / "truth"))
    return S.open_snapshot(d / "snap"), d / "truth"

