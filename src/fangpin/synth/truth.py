"""Ground truth per household-month, kept apart from the registry.

A household-month is *below the line* when its rolling-12-month per-capita net income is under the
province-year monitoring line (POLICY.md §3), and meets the *sudden-hardship test* when
(net income + claims − compliant out-of-pocket spending) ÷ household size over the same 12 months is
under the line (POLICY.md §3, [V low]: both adjustments are parameters). The cause of an at-risk
month is the shock kind with the largest loss over the 12 months (official risk type, POLICY.md §7),
or a structural cause from the household's make-up when no shock explains it.
"""
from __future__ import annotations

from datetime import date

import numpy as np

from fangpin.synth.panel import KINDS, RISK_TYPE, WARMUP, Panel
from fangpin.synth.population import Households, Members


def rolling12(x: np.ndarray) -> np.ndarray:
    """Sum over the current and previous 11 months (NaN before 12 months exist)."""
    c = np.cumsum(x, axis=1)
    out = np.full_like(x, np.nan, dtype=float)
    out[:, 11:] = c[:, 11:] - np.concatenate([np.zeros((x.shape[0], 1)), c[:, :-12]], axis=1)
    return out


def month_dates(start_month: np.datetime64, T: int) -> np.ndarray:
    return (start_month - WARMUP + np.arange(T)).astype("datetime64[M]")


def compute(
    panel: Panel,
    hh: Households,
    mem: Members,
    start_month: np.datetime64,
    line_of_month: np.ndarray,  # (T,) monitoring line in force each month for this chunk's province
    uses_claims: bool,
    deducts_oop: bool,
) -> dict[str, np.ndarray]:
    T = panel.T
    net = panel.net()
    net12 = rolling12(net)
    size = panel.size
    with np.errstate(invalid="ignore", divide="ignore"):
        pc12 = np.where(size > 0, net12 / size, np.nan)
        ref = net12 + (rolling12(panel.claims) if uses_claims else 0) - (rolling12(panel.medical_oop) if deducts_oop else 0)
        ref12 = np.where(size > 0, ref / size, np.nan)
    line = line_of_month[None, :]
    exists = panel.alive_hh
    below = exists & (pc12 < line)
    hardship = exists & ~below & (ref12 < line)
    at_risk = below | hardship

    # cause: largest loss over the 12-month window
    loss12 = np.cumsum(panel.loss, axis=1, dtype=np.float64)
    loss12[:, 12:, :] = loss12[:, 12:, :] - loss12[:, :-12, :]
    top = loss12.argmax(axis=2)
    topv = np.take_along_axis(loss12, top[:, :, None], axis=2)[:, :, 0]
    significant = topv > 0.05 * np.abs(np.nan_to_num(net12)) + 200
    n_hh = len(hh.size)
    h_of = mem.hh_idx
    earners = np.bincount(h_of, np.isin(mem.labour_skill, ["普通劳动力", "技能劳动力"]) & (mem.age < 60), minlength=n_hh)
    disabled = np.bincount(h_of, mem.disability_grade > 0, minlength=n_hh) > 0
    ill = np.bincount(h_of, np.isin(mem.health, ["长期慢性病", "患有大病"]), minlength=n_hh) > 0
    migrants = np.bincount(h_of, mem.migrant_months > 0, minlength=n_hh) > 0
    structural = np.where(earners == 0, "缺劳动力", np.where(disabled, "因残", np.where(
        migrants, "因务工就业不稳", np.where(ill, "因病", "其他"))))
    kinds = np.array([RISK_TYPE[k] for k in KINDS], dtype=object)
    cause = np.where(significant, kinds[top], structural[:, None])
    cause_kind = np.where(significant, np.array(KINDS, dtype=object)[top], "structural")
    w = slice(WARMUP, T)
    return {
        "net": net[:, w], "size": size[:, w], "pc12": pc12[:, w], "ref12": ref12[:, w],
        "line": np.broadcast_to(line, net.shape)[:, w], "below": below[:, w], "hardship": hardship[:, w],
        "at_risk": at_risk[:, w], "cause": cause[:, w], "cause_kind": cause_kind[:, w], "exists": exists[:, w],
    }


def first_of_month(m: np.datetime64) -> date:
    return m.astype("datetime64[D]").astype(object)
