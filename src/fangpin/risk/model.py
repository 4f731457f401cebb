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
    "因病": ("n_serious_ill", "n_chronic", "dept_med_oop_12m", "oop_share", "r_spend_rigid", "r_dept_med",
           "new_serious_ill_6m"),
    "因残": ("n_disabled", "n_severe_disabled", "dept_disability_6m", "new_disabled_6m"),
    "缺劳动力": ("dept_death_6m", "member_exits_6m"),  # + no working-age labour (model.evidence)
    "因务工就业不稳": ("n_migrant", "dept_job_loss_6m"),
    "因学": ("n_students_post", "edu_12m", "students_term_ahead"),
    "因自然灾害": ("dept_disaster_6m",),
    "因产业项目失败": ("business_fall_yoy",),
    "住房出现安全问题": ("housing_unsafe", "dept_house_cd_6m"),
    "义务教育阶段适龄儿童少年失学辍学": ("dropout", "dept_dropout_6m"),
    "饮水安全问题": ("water_unsafe", "dept_water_6m"),
    "家庭成员未参加基本医疗保险": ("n_not_insured", "uninsured_member"),
}
# rule flags whose firing is direct evidence of one risk type (rules.yaml risk_types; POLICY.md §6 department
# triggers, §3 sudden-hardship test): when any fired, the explained type is chosen among the fired ones
TRIGGERS: dict[str, str] = {
    "r_dept_med": "因病", "r_spend_rigid": "因病", "r_dept_disability": "因残", "r_dept_death": "缺劳动力",
    "r_dept_job": "因务工就业不稳", "r_school_cost": "因学", "r_dept_disaster": "因自然灾害",
    "r_dept_housing": "住房出现安全问题", "r_dept_dropout": "义务教育阶段适龄儿童少年失学辍学",
    "r_dept_water": "饮水安全问题",
    # onsets the registry recorded in the last 6 months (member versions) count like a trigger
    "new_serious_ill_6m": "因病", "new_disabled_6m": "因残",
    # business income fell ≥ 40 % year on year in the last 3 months (income records; features.BUSINESS_FALL)
    "business_fall_yoy": "因产业项目失败",
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
    def compiled(self):
        """The trees compiled for fast prediction (risk/fastpredict.py; identical results), or None → LightGBM."""
        if not hasattr(self, "_compiled_trees"):
            from fangpin.risk.fastpredict import compile_trees

            self._compiled_trees = compile_trees(self.booster)
        return self._compiled_trees

    def raw(self, X: np.ndarray) -> np.ndarray:
        ct = self.compiled()
        if ct is not None:
            return ct.probability(X)
        return np.asarray(self.booster.predict(X, raw_score=False), float)

    def logit(self, X: np.ndarray) -> np.ndarray:
        ct = self.compiled()
        if ct is not None:
            return ct.raw(X)
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

    def _group_matrix(self) -> tuple[np.ndarray, list[str]]:
        """(n_features, n_groups) 0/1: feature j belongs to group g (official risk type or the income group)."""
        groups = [*RISK_TYPES, INCOME_GROUP]
        G = np.zeros((len(self.features), len(groups)))
        for j, f in enumerate(self.features):
            G[j, groups.index(RISK_GROUPS.get(f, INCOME_GROUP))] = 1.0
        return G, groups

    def path_contributions(self, X: np.ndarray, chunk: int = 50_000, project: np.ndarray | None = None
                           ) -> np.ndarray:
        """(n, n_features + 1) path attributions on the log-odds scale (Saabas / "tree interpreter"): in every
        tree, the change of the node value along the row's root-to-leaf path is credited to the split feature;
        the last column is the bias (sum of the root values). Rows sum to the logit exactly, like TreeSHAP, but a
        row costs one leaf look-up per tree (``pred_leaf``) instead of TreeSHAP's O(leaves × depth²) per tree —
        ~20× cheaper, which is what makes a 10M-person run explainable (docs/RISK.md). ``project``
        (n_features, k): return (n, k + 1) attributions summed by it (e.g. per risk type) — cheaper still."""
        table, offsets, bias = self._leaf_table()
        if project is not None:
            table = np.ascontiguousarray(table @ project)
        n = len(X)
        out = np.empty((n, table.shape[1] + 1))
        out[:, -1] = bias
        ct = self.compiled()
        if ct is not None and np.array_equal(offsets, ct.leaf_offsets):
            out[:, :-1] = ct.leaf_sums(X, table)  # compiled: same sums, same order (risk/fastpredict.py)
            return out
        for a in range(0, n, chunk):
            leaf = np.asarray(self.booster.predict(X[a:a + chunk], pred_leaf=True), dtype=np.int64)
            idx = leaf + offsets[None, :leaf.shape[1]]
            acc = np.zeros((len(idx), table.shape[1]))
            for t in range(idx.shape[1]):
                acc += table[idx[:, t]]
            out[a:a + chunk, :-1] = acc
        return out

    def _leaf_table(self):
        """Per leaf of every tree, the path attribution vector (n_features); tree offsets; total root value."""
        cached = getattr(self, "_leaf_cache", None)
        if cached is not None:
            return cached
        dump = self.booster.dump_model()
        rows: list[np.ndarray] = []
        offsets: list[int] = []
        bias = 0.0
        nf = len(self.features)
        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            leaves: dict[int, np.ndarray] = {}
            if "leaf_value" in root:  # a single-leaf tree
                bias += float(root["leaf_value"])
                leaves[0] = np.zeros(nf)
            else:
                bias += float(root["internal_value"])
                stack = [(root, np.zeros(nf))]
                while stack:
                    node, acc = stack.pop()
                    v = float(node["internal_value"])
                    for side in ("left_child", "right_child"):
                        child = node[side]
                        cv = float(child["leaf_value"] if "leaf_value" in child else child["internal_value"])
                        a2 = acc.copy()
                        a2[node["split_feature"]] += cv - v
                        if "leaf_value" in child:
                            leaves[int(child["leaf_index"])] = a2
                        else:
                            stack.append((child, a2))
            offsets.append(sum(len(r) for r in rows))
            rows.append(np.array([leaves[i] for i in range(len(leaves))]))
        table = np.concatenate(rows) if rows else np.zeros((0, nf))
        self._leaf_cache = (table, np.asarray(offsets, dtype=np.int64), bias)
        return self._leaf_cache

    def risk_type_contributions(self, X: np.ndarray, method: str = "shap") -> tuple[np.ndarray, list[str]]:
        """(n, len(RISK_TYPES) + 1) contributions summed per official risk type (+ the shared income group).
        ``method``: "shap" (exact TreeSHAP, pred_contrib) or "path" (path attribution, path_contributions)."""
        if method == "shap":
            c = self.contributions(X)[:, :-1]
        elif method == "path":
            G, groups = self._group_matrix()
            return self.path_contributions(X, project=G)[:, :-1], groups
        else:
            raise ValueError(f"unknown explanation method {method!r} (shap | path)")
        G, groups = self._group_matrix()
        return c @ G, groups

    def evidence(self, X: np.ndarray) -> np.ndarray:
        """(n, len(RISK_TYPES)) bool: the household shows the risk type in its own data. POLICY.md §7 consistency
        checks: 因务工就业不稳 needs working-age labour/migrant work, 因病 needs an ill member or medical spending;
        likewise each type needs its own evidence (EVIDENCE). When a trigger rule fired (TRIGGERS: department
        event, rigid spending), only the fired rules' types count — a reported event is stronger evidence than
        the household's make-up."""
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
        evidence = np.column_stack([ev.get(t, np.zeros(len(X), bool)) for t in RISK_TYPES])
        # a fired department trigger / rigid-spending rule outranks make-up evidence: only the fired types remain
        fired = np.column_stack([pos(*[f for f, t in TRIGGERS.items() if t == rt]) for rt in RISK_TYPES])
        any_fired = fired.any(axis=1)
        return np.where(any_fired[:, None], fired, evidence)

    def top_risk_type(self, X: np.ndarray, fallback: list[str] | None = None, *, method: str = "shap",
                      grouped: np.ndarray | None = None) -> list[str]:
        """The official risk type the household shows (``evidence``) with the largest contribution; ``fallback``
        (e.g. the engine's profile_risk_type) when it shows none. ``grouped`` = precomputed
        risk_type_contributions(X) (so a caller that also shows them does not explain twice)."""
        if grouped is None:
            grouped, _ = self.risk_type_contributions(X, method)
        g, groups = grouped, [*RISK_TYPES, INCOME_GROUP]
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
