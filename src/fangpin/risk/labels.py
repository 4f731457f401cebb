"""Ground-truth labels for the early-warning model from a synthetic county's truth (docs/SYNTH.md item 8).

Event (issue 4 §2): household exists and is not at risk at as-of month t, and is at risk (below the line or meeting
the sudden-hardship test, POLICY.md §3) in at least one of the months t+1 … t+6.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from fangpin.monitoring.engine import month_end

HORIZON = 6  # months (issue 4 §2)


@dataclass
class Truth:
    household_ids: np.ndarray  # sorted
    months: list[date]  # first day of each truth month
    exists: np.ndarray  # (n_hh, M) bool
    at_risk: np.ndarray
    cause: np.ndarray  # (n_hh, M) object (official risk type)
    cause_kind: np.ndarray | None = None  # (n_hh, M) object: the shock kind behind ``cause`` ("structural" if none)
    shocks: dict | None = None  # household_id → list of (month index, shock kind), from shocks.parquet

    def cause_observable(self, hh: int, as_of_index: int, event_index: int) -> bool:
        """True when the shock behind the cause at ``event_index`` had started by ``as_of_index`` (so data known
        at as_of can show it), or the cause is structural (the household's make-up) or schooling fees (calendar). A cause that is a shock
        still in the future at as_of cannot be explained from data known then."""
        r = self.rows(np.array([hh]))[0]
        if r < 0 or self.cause_kind is None:
            return False
        kind = self.cause_kind[r, event_index]
        if kind in ("structural", "schooling"):
            # structural: the household's make-up; schooling: September fees follow from the students the registry
            # lists and the calendar (foreseeable at as_of even when September is still ahead)
            return True
        return any(k == kind and event_index - 12 < m <= as_of_index for m, k in (self.shocks or {}).get(hh, ()))

    def month_index(self, d: date) -> int:
        return (d.year - self.months[0].year) * 12 + d.month - self.months[0].month

    def as_of_dates(self) -> list[date]:
        return [month_end(m) for m in self.months]

    def rows(self, hh: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.household_ids, hh)
        i = np.minimum(i, len(self.household_ids) - 1)
        return np.where(self.household_ids[i] == hh, i, -1)

    def labels(self, hh: np.ndarray, as_of: list[date] | np.ndarray, horizon: int = HORIZON):
        """(eligible, y, event_month_index) for each (household, as_of) pair; event month = first at-risk month."""
        r = self.rows(np.asarray(hh))
        t = np.array([self.month_index(d) for d in as_of])
        M = len(self.months)
        ok = (r >= 0) & (t + horizon < M) & (t >= 0)
        rr, tt = np.maximum(r, 0), np.clip(t, 0, M - 1)
        eligible = ok & self.exists[rr, tt] & ~self.at_risk[rr, tt]
        future = np.stack([self.at_risk[rr, np.minimum(tt + k, M - 1)] for k in range(1, horizon + 1)], axis=1)
        y = eligible & future.any(axis=1)
        first = np.where(future.any(axis=1), future.argmax(axis=1) + 1, 0)
        return eligible, y, np.where(y, tt + first, -1)


def load_truth(truth_dir: Path) -> Truth:
    t = pq.read_table(Path(truth_dir) / "household_month.parquet")
    hh = np.asarray(t["household_id"])
    months_all = np.asarray(t["month"].to_numpy()).astype("datetime64[M]")
    ids = np.unique(hh)
    m0 = months_all.min()
    M = int((months_all.max() - m0).astype(int)) + 1
    r = np.searchsorted(ids, hh)
    c = (months_all - m0).astype(int)
    shape = (len(ids), M)
    exists = np.zeros(shape, bool)
    at_risk = np.zeros(shape, bool)
    cause = np.full(shape, "", dtype=object)
    exists[r, c] = np.asarray(t["exists"])
    at_risk[r, c] = np.asarray(t["at_risk"])
    cause[r, c] = np.asarray(t["cause"].to_pylist(), dtype=object)
    months = [(m0 + k).astype("datetime64[D]").astype(object) for k in range(M)]
    kind = shocks = None
    if "cause_kind" in t.column_names:
        kind = np.full(shape, "", dtype=object)
        kind[r, c] = np.asarray(t["cause_kind"].to_pylist(), dtype=object)
    sp = Path(truth_dir) / "shocks.parquet"
    if sp.exists():
        st = pq.read_table(sp, columns=["household_id", "month", "kind"])
        smi = (np.asarray(st["month"].to_numpy()).astype("datetime64[M]") - m0).astype(int)
        shocks = {}
        for h, m, k in zip(st["household_id"].to_pylist(), smi.tolist(), st["kind"].to_pylist()):
            shocks.setdefault(h, []).append((m, k))
    return Truth(ids, months, exists, at_risk, cause, kind, shocks)


__all__ = ["Truth", "load_truth", "HORIZON"]
