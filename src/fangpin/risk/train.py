"""Training on a snapshot + truth with time-based splits (issue 4 §2)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from fangpin.monitoring.snapshot import Snapshot
from fangpin.risk import features as F
from fangpin.risk.labels import Truth, load_truth
from fangpin.risk.model import RiskModel, fingerprint, fit


@dataclass
class Split:
    train: list[date]  # as-of dates (month ends)
    validation: date
    test: list[date]

    def all(self) -> list[date]:
        return sorted({*self.train, self.validation, *self.test})


def default_split(truth: Truth, *, warmup: int = 6, horizon: int = 6, test_months: int = 6) -> Split:
    """Time-based split over a truth of M months (indices 0..M-1):

    * test: the last ``test_months`` as-of months whose 6-month label window is complete;
    * validation: the as-of month whose labels end the month before the first test as-of month (its outcome is
      known when the test period starts);
    * train: from month ``warmup`` (6: member-change features need 6 months of registry history) to the last
      month whose label window ends before the validation month's outcome is known (no label overlap)."""
    ends = truth.as_of_dates()
    M = len(ends)
    last_test = M - 1 - horizon
    first_test = last_test - test_months + 1
    val = first_test - horizon
    train_last = val - horizon  # a training label window (t+1..t+6) ends by the validation as-of month
    if train_last < warmup:
        raise ValueError(f"truth of {M} months is too short for a time-based split (need ≥ {warmup + 3 * horizon + test_months})")
    return Split([ends[i] for i in range(warmup, train_last + 1)], ends[val], [ends[i] for i in range(first_test, last_test + 1)])


def labelled(panel: pa.Table, truth: Truth, feature_names: list[str] | None = None):
    """(X, y, eligible-mask, names, event month index) for a feature panel."""
    hh = np.asarray(panel["household_id"])
    as_of = panel["as_of"].to_pylist()
    eligible, y, ev = truth.labels(hh, as_of)
    X, names = F.matrix(panel, feature_names)
    return X, y.astype(int), eligible, names, ev


def train(snapshot: Snapshot, truth_dir: Path | Truth, split: Split | None = None, *, seed: int = 7,
          panel: pa.Table | None = None) -> tuple[RiskModel, pa.Table, Split]:
    """Train + calibrate. Returns the model, the full feature panel (all split dates) and the split."""
    truth = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    split = split or default_split(truth)
    panel = panel if panel is not None else F.panel(snapshot, split.all())
    as_of = np.array(panel["as_of"].to_pylist())
    X, y, elig, names, _ = labelled(panel, truth)
    tr = elig & np.isin(as_of, split.train)
    va = elig & (as_of == split.validation)
    meta = {"training_data": {"snapshot": snapshot.fingerprint, "as_of_train": [d.isoformat() for d in split.train],
                              "as_of_validation": split.validation.isoformat(),
                              "fingerprint": fingerprint(snapshot.fingerprint, [*split.train, split.validation], names)},
            "event": "not at risk at t (truth) and at risk in ≥ 1 of t+1..t+6 (POLICY.md §3 line + sudden-hardship test)"}
    model = fit(X[tr], y[tr], names, X_val=X[va], y_val=y[va], seed=seed, meta=meta)
    return model, panel, split


__all__ = ["Split", "default_split", "labelled", "train"]
