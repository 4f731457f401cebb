"""Early-warning risk model (issue 4 §2): P(a household not at risk now is at risk within the next 6 months).

Event definition (documented in docs/RISK.md): for as-of month t, a household that exists at t and is *not* at risk
at t (truth: rolling-12-month per-capita net income ≥ the line AND the sudden-hardship reference income ≥ the
line, POLICY.md §3) has the event when it is at risk in at least one of months t+1 … t+6.

* Gradient boosting (LightGBM, binary), trained on a household × month panel of engine features (risk/features.py).
* Time-based splits: train on earlier as-of months, calibrate on a later validation month (isotonic regression on
  the validation month's raw scores), test on a held-out later period (risk/evaluate.py).
* Explanations: LightGBM ``pred_contrib`` (exact TreeSHAP on the log-odds scale); contributions are summed per
  official risk type (POLICY.md §7, features.RISK_GROUPS); the top positive group is the type shown to a cadre.
* Artefacts: ``<dir>/model.txt`` (LightGBM text model) + ``<dir>/meta.json`` (features, feature hash, isotonic
  calibration table, training-data fingerprint = snapshot fingerprint + as-of months + feature hash, created time,
  metrics, package versions) — no pickle.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from fangpin.risk.features import INCOME_GROUP, RISK_GROUPS, RISK_TYPES

MODEL_VERSION = 1
# risk type → features whose positive value is evidence of it in the household (POLICY.md §7; §6 feeds)
EVIDENCE: dict[str, tuple[str, ...]] = {
    "因病": ("n_serious_ill", "n_chronic", "dept_med_oop_12m", "oop_share", "r_spend_rigid", "r_dept_med"),
    "因残": ("n_disabled", "n_severe_disabled", "dept_disability_6m"),
    "缺劳动力": ("dept_death_6m", "member_exits_6m"),  # + no working-age labour (model.evidence)
    "因务工就业不稳": ("n_migrant", "dept_job_loss_6m"),
    "因学": ("n_students_post", "edu_12m"),
    "因自然灾害": ("dept_disaster_6m",),
    "住房出现安全问题": ("housing_unsafe", "dept_house_cd_6m"),
    "义务教育阶段适龄儿童少年失学辍学": ("dropout", "dept_dropout_6m"),
    "饮水安全问题": ("water_unsafe", "dept_water_6m"),
    "家庭成员未参加基本医疗保险": ("n_not_insured", "uninsured_member"),
}
LGB_PARAMS = {
    "objective": "binary", "learning_rate": 0.08, "num_leaves": 15, "min_data_in_leaf": 100,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1,
}
NUM_ROUNDS = 150  # small trees: TreeSHAP cost ∝ rounds × leaves × depth² (visit lists for 1M+ households)


def feature_hash(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def fingerprint(snapshot_fp: str, as_of: list[date], names: list[str]) -> str:
    body = json.dumps({"snapshot": snapshot_fp, "as_of": [d.isoformat() for d in sorted(as_of)],
                       "features": feature_hash(names)}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


@dataclass
class RiskModel:
    booster: object  # lightgbm.Booster
    features: list[str]
    iso_x: list[float] = field(default_factory=list)  # isotonic calibration: raw probability thresholds …
    iso_y: list[float] = field(default_factory=list)  # … and calibrated values (np.interp between them)
    meta: dict = field(default_factory=dict)

    # ---- prediction -------------------------------------------------------------------------------------------
    def raw(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=False), float)

    def logit(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, raw_score=True), float)

    def calibrate(self, p_raw: np.ndarray) -> np.ndarray:
        if not self.iso_x:
            return p_raw
        return np.interp(p_raw, np.asarray(self.iso_x), np.asarray(self.iso_y))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of the event within 6 months."""
        return self.calibrate(self.raw(X))

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, n_features + 1) SHAP values on the log-odds scale; the last column is the bias; rows sum to logit."""
        return np.asarray(self.booster.predict(X, pred_contrib=True), float)

    def risk_type_contributions(self, X: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(n, len(RISK_TYPES) + 1) contributions summed per official risk type (+ the shared income group)."""
        c = self.contributions(X)[:, :-1]
        groups = [*RISK_TYPES, INCOME_GROUP]
        out = np.zeros((c.shape[0], len(groups)))
        for j, f in enumerate(self.features):
            out[:, groups.index(RISK_GROUPS.get(f, INCOME_GROUP))] += c[:, j]
        return out, groups

    def evidence(self, X: np.ndarray) -> np.ndarray:
        """(n, len(RISK_TYPES)) bool: the household shows the risk type in its own data. POLICY.md §7 consistency
        checks: 因务工就业不稳 needs working-age labour/migrant work, 因病 needs an ill member or medical spending;
        likewise each type needs its own evidence (EVIDENCE)."""
        col = {f: X[:, j] for j, f in enumerate(self.features)}
        z = np.zeros(len(X))

        def pos(*names):
            out = np.zeros(len(X), bool)
            for n in names:
                v = col.get(n, z)
                out |= np.nan_to_num(v, nan=0.0) > 0
            return out

        ev = {t: pos(*fs) for t, fs in EVIDENCE.items()}
        ev["缺劳动力"] = ev["缺劳动力"] | (np.nan_to_num(col.get("n_labour", z + 1), nan=1.0) == 0)
        return np.column_stack([ev.get(t, np.zeros(len(X), bool)) for t in RISK_TYPES])

    def top_risk_type(self, X: np.ndarray, fallback: list[str] | None = None) -> list[str]:
        """The official risk type the household shows (``evidence``) with the largest contribution; ``fallback``
        (e.g. the engine's profile_risk_type) when it shows none."""
        g, groups = self.risk_type_contributions(X)
        g = np.where(self.evidence(X), g[:, :len(RISK_TYPES)], -np.inf)
        j = g.argmax(axis=1)
        best = g[np.arange(len(j)), j]
        return [groups[j[i]] if np.isfinite(best[i]) else ((fallback[i] if fallback else None) or "其他")
                for i in range(len(j))]

    # ---- artefacts ----------------------------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(d / "model.txt"))
        meta = dict(self.meta)
        meta.update({"model_version": MODEL_VERSION, "features": self.features,
                     "feature_hash": feature_hash(self.features), "isotonic": {"x": self.iso_x, "y": self.iso_y},
                     "model_sha256": hashlib.sha256((d / "model.txt").read_bytes()).hexdigest()})
        (d / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str))
        return d


def load(directory: Path) -> RiskModel:
    import lightgbm as lgb

    d = Path(directory)
    meta = json.loads((d / "meta.json").read_text())
    if hashlib.sha256((d / "model.txt").read_bytes()).hexdigest() != meta.get("model_sha256"):
        raise ValueError(f"{d}/model.txt does not match meta.json (model_sha256): artefact altered")
    if feature_hash(meta["features"]) != meta["feature_hash"]:
        raise ValueError("feature list does not match its hash")
    booster = lgb.Booster(model_file=str(d / "model.txt"))
    return RiskModel(booster, meta["features"], meta["isotonic"]["x"], meta["isotonic"]["y"], meta)


def fit(X: np.ndarray, y: np.ndarray, features: list[str], *, X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None, seed: int = 7, num_rounds: int = NUM_ROUNDS, meta: dict | None = None
        ) -> RiskModel:
    """Train LightGBM on (X, y); calibrate on (X_val, y_val) with isotonic regression; Brier before/after."""
    import lightgbm as lgb
    from sklearn.isotonic import IsotonicRegression

    params = dict(LGB_PARAMS, seed=seed, bagging_seed=seed, feature_fraction_seed=seed, data_random_seed=seed)
    ds = lgb.Dataset(X, label=y, feature_name=features, free_raw_data=False)
    booster = lgb.train(params, ds, num_boost_round=num_rounds)
    m = RiskModel(booster, list(features), meta=dict(meta or {}))
    metrics: dict = {"train_rows": int(len(y)), "train_positive_rate": float(np.mean(y))}
    if X_val is not None and y_val is not None and len(y_val):
        p = m.raw(X_val)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y_val)
        m.iso_x = [float(v) for v in iso.X_thresholds_]
        m.iso_y = [float(v) for v in iso.y_thresholds_]
        metrics.update({"val_rows": int(len(y_val)), "val_positive_rate": float(np.mean(y_val)),
                        "val_brier_raw": brier(y_val, p), "val_brier_calibrated": brier(y_val, m.calibrate(p))})
    import lightgbm
    import sklearn

    m.meta.update({"metrics": metrics, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "params": params, "num_rounds": num_rounds,
                   "packages": {"lightgbm": lightgbm.__version__, "scikit-learn": sklearn.__version__}})
    return m


__all__ = ["RiskModel", "fit", "load", "brier", "fingerprint", "feature_hash", "LGB_PARAMS", "NUM_ROUNDS"]
