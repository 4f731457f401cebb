"""Vectorised Fellegi–Sunter record linkage: features, blocking (DuckDB joins), comparison levels, EM, scoring.

Pipeline (no Python loop over records or pairs):

1. **Features** per comparison (:func:`prepare`): integer keys computed once per table - name keys from
   :mod:`fangpin.linkage.names`, dates as YYYYMMDD integers, dictionary ids for strings (shared by both sides),
   village codes as integers.
2. **Blocking**: each rule is an equality join on a 64-bit hash of a few feature keys, run by DuckDB; keys whose
   registry block is larger than ``max_block`` are skipped; the union of the rules is de-duplicated.
3. **Comparison levels** per candidate pair (int8, -1 = missing value, no weight).
4. **EM** over the distinct level patterns (so it costs nothing even for tens of millions of pairs): ``u`` starts
   from random pairs (as Splink does), ``m`` and the match share ``lam`` are estimated by EM; with
   ``u_mode="em"`` the ``u`` of the candidate pairs is re-estimated as well (the candidate set is what is scored,
   so this is the calibrated choice). Labelled pairs (review decisions) enter with a fixed match probability.
5. **Scoring**: match weight = sum of log2(m/u) per level, term-frequency adjusted for name/string equality
   (a common name such as 王伟 weighs less than a rare one), probability among the candidates of a left row with
   one-to-one exclusion: P(best is the match) = o1 / (1 + sum o_i), o_i = 2^w_i * lam / (1 - lam).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.linkage.model import LEVELS, LinkModel, chinese_settings
from fangpin.linkage.names import hash_rows, name_features

__all__ = ["Prepared", "prepare", "candidate_pairs", "compare", "fit", "score", "link", "train",
           "OUTPUT_SCHEMA", "LEFT_SCHEMA"]

LEFT_SCHEMA = pa.schema([
    ("row_id", pa.int64()), ("name", pa.string()), ("sex", pa.string()), ("birth_date", pa.date32()),
    ("village_code", pa.string()), ("address", pa.string()), ("phone", pa.string()),
])
OUTPUT_SCHEMA = pa.schema([
    ("row_id", pa.int64()), ("person_id", pa.int64()), ("probability", pa.float64()),
    ("match_weight", pa.float64()), ("decision", pa.string()), ("second_best_gap", pa.float64()),
    ("explanation", pa.string()),
])
_TF_CLIP = (-6.0, 10.0)
LAST_TIMINGS: dict[str, float] = {}  # seconds per stage of the last link() call in this process
_W_CLIP = 60.0


# ------------------------------------------------------------------------------------------------------------
# features


class Feat:
    """An int64 feature with a validity mask."""

    __slots__ = ("v", "ok")

    def __init__(self, v: np.ndarray, ok: np.ndarray) -> None:
        self.v, self.ok = v, ok


@dataclass
class Prepared:
    left: dict[str, Any]
    right: dict[str, Any]
    n_left: int
    n_right: int
    strings: dict[str, pa.Array]  # comparison name -> dictionary of shared string ids (string kind)


def _column(t: pa.Table, name: str) -> pa.Array:
    if name not in t.column_names:
        return pa.nulls(t.num_rows, pa.string())
    col = t.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _date_feats(arr: pa.Array) -> dict[str, Feat]:
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        d = arr.cast(pa.date32())
        ok = np.asarray(d.is_valid())
        days = np.asarray(pc.fill_null(d, 0).cast(pa.int32())).astype("datetime64[D]")
        y = days.astype("datetime64[Y]").astype(np.int64) + 1970
        mo = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dd = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        ymd = y * 10000 + mo * 100 + dd
    else:
        s = pc.replace_substring_regex(pc.fill_null(arr.cast(pa.string()), ""), r"[^0-9]", "")
        ok = np.asarray(pc.equal(pc.utf8_length(s), 8).fill_null(False))
        s = pc.if_else(pa.array(ok), s, pa.scalar("0"))
        ymd = np.asarray(s.cast(pa.int64()))
    ymd = np.where(ok, ymd, -1)
    y, md = np.divmod(ymd, 10000)
    mo, dd = np.divmod(md, 100)
    swappable = ok & (dd <= 12) & (dd != mo) & (dd >= 1)
    return {"ymd": Feat(ymd, ok), "year": Feat(y, ok), "ym": Feat(y * 100 + mo, ok),
            "swapped": Feat(y * 10000 + dd * 100 + mo, swappable)}


def _norm_strings(arr: pa.Array) -> pa.Array:
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    s = pc.utf8_lower(s)
    return pc.if_else(pc.equal(s, ""), pa.nulls(len(s), pa.string()), s)


def prepare(left: pa.Table, right: pa.Table, settings: dict[str, Any]) -> Prepared:
    """Compute every comparison's features for both tables."""
    L: dict[str, Any] = {}
    R: dict[str, Any] = {}
    strings: dict[str, pa.Array] = {}
    nl, nr = left.num_rows, right.num_rows
    for comp in settings["comparisons"]:
        name, kind, col = comp["name"], comp["kind"], comp["column"]
        a, b = _column(left, col), _column(right, col)
        if kind == "name_zh":
            for side, arr, out in (("l", a, L), ("r", b, R)):
                f = name_features(arr)
                ok = f.length > 0
                out[f"{name}.key"] = Feat(f.key, ok)
                out[f"{name}.py_key"] = Feat(f.py_key, ok)
                out[f"{name}.sur_key"] = Feat(f.sur_key, ok & (f.sur_key >= 0))
                out[f"{name}.bag_key"] = Feat(f.bag_key, ok)
                out[f"{name}._chars"] = f.chars
                out[f"{name}._length"] = f.length
        elif kind == "date":
            for k, v in _date_feats(a).items():
                L[f"{name}.{k}"] = v
            for k, v in _date_feats(b).items():
                R[f"{name}.{k}"] = v
        elif kind in ("exact", "string"):
            both = pa.concat_arrays([_norm_strings(a), _norm_strings(b)])
            enc = pc.dictionary_encode(both)
            idx = enc.indices
            ok = np.asarray(idx.is_valid())
            ids = np.asarray(pc.fill_null(idx, -1).cast(pa.int64()))
            L[f"{name}.value"] = Feat(ids[:nl], ok[:nl])
            R[f"{name}.value"] = Feat(ids[nl:], ok[nl:])
            strings[name] = enc.dictionary
        elif kind == "admin_code":
            for arr, out in ((a, L), (b, R)):
                s = pc.fill_null(pc.utf8_trim_whitespace(arr.cast(pa.string())), "")
                ok = np.asarray(pc.and_(pc.equal(pc.utf8_length(s), 12), pc.utf8_is_digit(s)).fill_null(False))
                s = pc.if_else(pa.array(ok), s, pa.scalar("0"))
                code = np.where(ok, np.asarray(s.cast(pa.int64())), -1)
                out[f"{name}.code"] = Feat(code, ok)
                out[f"{name}.town"] = Feat(code // 1000, ok)
                out[f"{name}.county"] = Feat(code // 1_000_000, ok)
        else:
            raise ValueError(f"unknown comparison kind {kind!r}")
    return Prepared(L, R, nl, nr, strings)


# ------------------------------------------------------------------------------------------------------------
# blocking


def _rule_key(side: dict[str, Any], feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    cols = [side[f] for f in feats]
    ok = np.logical_and.reduce([c.ok for c in cols])
    mat = np.stack([c.v for c in cols], axis=1).view(np.uint64)
    return hash_rows(mat), ok


def candidate_pairs(p: Prepared, settings: dict[str, Any], threads: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Union of the blocking rules' equality joins: (left index, right index) int64 arrays, sorted by left."""
    max_block = int(settings.get("max_block", 2000))
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads={int(threads)}")
    parts = []
    for r, rule in enumerate(settings["blocking"]):
        lf = [x.split(">")[0] for x in rule]
        rf = [x.split(">")[-1] for x in rule]
        kl, okl = _rule_key(p.left, lf)
        kr, okr = _rule_key(p.right, rf)
        li = np.flatnonzero(okl)
        ri = np.flatnonzero(okr)
        lt = pa.table({"i": li, "k": kl[li]})
        rt = pa.table({"j": ri, "k": kr[ri]})
        con.register("lt", lt)
        con.register("rt", rt)
        res = con.execute("SELECT lt.i, rt.j FROM lt JOIN rt ON lt.k = rt.k").fetchnumpy()
        con.unregister("lt")
        con.unregister("rt")
        i = np.asarray(res["i"], dtype=np.int64)
        j = np.asarray(res["j"], dtype=np.int64)
        # a key shared by more than max_block registry rows is not selective: drop that rule's pairs for the row
        per_left = np.bincount(i, minlength=p.n_left)
        keep = per_left[i] <= max_block
        parts.append((i[keep], j[keep]))
    con.close()
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    li = np.concatenate([x[0] for x in parts])
    ri = np.concatenate([x[1] for x in parts])
    code = np.unique(li * np.int64(p.n_right) + ri)
    return code // p.n_right, code % p.n_right


# ------------------------------------------------------------------------------------------------------------
# comparison levels


def _jaro_winkler(a: pa.Array, b: pa.Array) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0)
    con = duckdb.connect()
    con.register("t", pa.table({"a": a, "b": b}))
    out = con.execute("SELECT coalesce(jaro_winkler_similarity(a, b), 0.0) AS s FROM t").fetchnumpy()
    con.close()
    return np.asarray(out["s"], dtype=np.float64)


def _compare_one(comp: dict[str, Any], p: Prepared, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    name, kind = comp["name"], comp["kind"]
    L, R = p.left, p.right
    n = li.size
    if kind == "name_zh":
        a, b = L[f"{name}.key"], R[f"{name}.key"]
        ok = a.ok[li] & b.ok[ri]
        lv = np.full(n, 5, np.int8)
        sl, sr = L[f"{name}.sur_key"], R[f"{name}.sur_key"]
        sur = sl.ok[li] & sr.ok[ri] & (sl.v[li] == sr.v[ri])
        lv[sur] = 4
        key_eq = a.v[li] == b.v[ri]
        py_eq = L[f"{name}.py_key"].v[li] == R[f"{name}.py_key"].v[ri]
        bag_eq = L[f"{name}.bag_key"].v[li] == R[f"{name}.bag_key"].v[ri]
        lenl, lenr = L[f"{name}._length"][li], R[f"{name}._length"][ri]
        cand = np.flatnonzero(ok & ~key_eq & ~py_eq & ~bag_eq & (lenl == lenr) & (lenl >= 2))
        if cand.size:
            cl = L[f"{name}._chars"][li[cand]]
            cr = R[f"{name}._chars"][ri[cand]]
            diff = (cl != cr).sum(axis=1)
            # one differing character, and not the first one (the surname) for Han names
            one = (diff == 1) & (cl[:, 0] == cr[:, 0])
            lv[cand[one]] = 3
        lv[bag_eq] = 2
        lv[py_eq] = 1
        lv[key_eq] = 0
        lv[~ok] = -1
        return lv
    if kind == "date":
        a, b = L[f"{name}.ymd"], R[f"{name}.ymd"]
        ok = a.ok[li] & b.ok[ri]
        x, y = a.v[li], b.v[ri]
        lv = np.full(n, 4, np.int8)
        lv[(x // 10000) == (y // 10000)] = 3
        nd = np.zeros(n, np.int8)
        xx, yy = x.copy(), y.copy()
        for _ in range(8):
            nd += (xx % 10) != (yy % 10)
            xx //= 10
            yy //= 10
        lv[nd == 1] = 2
        sw = L[f"{name}.swapped"]
        lv[sw.ok[li] & (sw.v[li] == y)] = 1
        lv[x == y] = 0
        lv[~ok] = -1
        return lv
    if kind == "exact":
        a, b = L[f"{name}.value"], R[f"{name}.value"]
        ok = a.ok[li] & b.ok[ri]
        lv = np.where(a.v[li] == b.v[ri], 0, 1).astype(np.int8)
        lv[~ok] = -1
        return lv
    if kind == "admin_code":
        ok = L[f"{name}.code"].ok[li] & R[f"{name}.code"].ok[ri]
        lv = np.full(n, 3, np.int8)
        lv[L[f"{name}.county"].v[li] == R[f"{name}.county"].v[ri]] = 2
        lv[L[f"{name}.town"].v[li] == R[f"{name}.town"].v[ri]] = 1
        lv[L[f"{name}.code"].v[li] == R[f"{name}.code"].v[ri]] = 0
        lv[~ok] = -1
        return lv
    if kind == "string":
        a, b = L[f"{name}.value"], R[f"{name}.value"]
        ok = a.ok[li] & b.ok[ri]
        x, y = a.v[li], b.v[ri]
        lv = np.full(n, 3, np.int8)
        need = np.flatnonzero(ok & (x != y))
        if need.size:
            code = np.unique(x[need] * np.int64(1 << 32) + y[need])
            d = p.strings[name]
            sim = _jaro_winkler(d.take(pa.array(code >> 32)), d.take(pa.array(code & 0xFFFFFFFF)))
            pos = np.searchsorted(code, x[need] * np.int64(1 << 32) + y[need])
            s = sim[pos]
            lv[need[s >= 0.80]] = 2
            lv[need[s >= 0.92]] = 1
        lv[x == y] = 0
        lv[~ok] = -1
        return lv
    raise ValueError(f"unknown comparison kind {kind!r}")


def compare(p: Prepared, settings: dict[str, Any], li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """(n_pairs, n_comparisons) int8 level matrix; -1 = a value is missing."""
    comps = settings["comparisons"]
    out = np.empty((li.size, len(comps)), dtype=np.int8)
    for c, comp in enumerate(comps):
        out[:, c] = _compare_one(comp, p, li, ri)
    return out


# ------------------------------------------------------------------------------------------------------------
# term frequencies


def _tf_features(comp: dict[str, Any]) -> dict[int, str]:
    """Level -> feature whose registry frequency adjusts that level."""
    if not comp.get("tf"):
        return {}
    if comp["kind"] == "name_zh":
        return {0: f"{comp['name']}.key", 1: f"{comp['name']}.py_key"}
    if comp["kind"] in ("string", "exact"):
        return {0: f"{comp['name']}.value"}
    return {}


class _TF:
    """Registry frequency of each value; u_avg = average agreement chance of random pairs (sum of f^2)."""

    def __init__(self, f: Feat, n: int) -> None:
        vals, counts = np.unique(f.v[f.ok], return_counts=True)
        self.vals, self.freq = vals, counts / max(n, 1)
        self.u_avg = float((self.freq ** 2).sum()) if counts.size else 0.0

    def lookup(self, v: np.ndarray) -> np.ndarray:
        if self.vals.size == 0:
            return np.full(v.size, np.nan)
        pos = np.searchsorted(self.vals, v).clip(0, self.vals.size - 1)
        return np.where(self.vals[pos] == v, self.freq[pos], np.nan)


def _tf_tables(p: Prepared, settings: dict[str, Any]) -> dict[str, _TF]:
    out = {}
    for comp in settings["comparisons"]:
        for feat in _tf_features(comp).values():
            out[feat] = _TF(p.right[feat], p.n_right)
    return out


# ------------------------------------------------------------------------------------------------------------
# EM


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of the level matrix: (patterns, inverse, counts)."""
    base = 8
    code = np.zeros(levels.shape[0], np.int64)
    for c in range(levels.shape[1]):
        code = code * base + (levels[:, c].astype(np.int64) + 1)
    uniq, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
    pats = np.empty((uniq.size, levels.shape[1]), np.int8)
    rest = uniq.copy()
    for c in range(levels.shape[1] - 1, -1, -1):
        pats[:, c] = rest % base - 1
        rest //= base
    return pats, inv, cnt


def _log_table(pats: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(pats.shape[0])
    for c, pr in enumerate(probs):
        lv = pats[:, c]
        out += np.where(lv >= 0, np.log(pr[np.maximum(lv, 0)]), 0.0)
    return out


def fit(levels: np.ndarray, settings: dict[str, Any], u_random: list[np.ndarray],
        labelled_levels: np.ndarray | None = None, labelled_match: np.ndarray | None = None,
        random_levels: np.ndarray | None = None, random_weight: float = 1.0,
        ) -> tuple[list[np.ndarray], list[np.ndarray], float, int]:
    """EM for m, u and the match share on candidate pairs (+ random pairs); labelled pairs are fixed.

    * ``u_mode="random"``: u fixed to the random-pair frequencies (Splink's default);
    * ``u_mode="em"``: u re-estimated on the union of candidate pairs and the random pairs (the random pairs keep
      the non-match class anchored; the candidates add the "agree on the blocking keys but differ" non-matches
      that random pairs never show, which is what breaks conditional independence inside blocks).
    Each random pair stands for ``random_weight`` pairs of the full cross product outside the candidate set, so
    the EM sees the whole population of pairs and ``lam`` is the prior for a random pair (blocking evidence is
    not double-counted). m and u get a weak Dirichlet prior (``prior_strength`` pseudo-pairs; m shaped like the
    initial values, u uniform), so an unseen level never gets an absurd weight. Returns (m, u, lam, iterations).
    """
    comps = settings["comparisons"]
    k_c = levels.shape[0]
    blocks = [levels]
    if random_levels is not None and settings.get("u_mode", "em") == "em":
        blocks.append(random_levels)
    allv = np.concatenate(blocks) if len(blocks) > 1 else levels
    is_cand = np.zeros(allv.shape[0], bool)
    is_cand[:k_c] = True
    if allv.shape[0]:
        pats, inv, _ = _patterns(allv)
        cnt = np.bincount(inv, weights=np.where(is_cand, 1.0, float(random_weight)), minlength=pats.shape[0])
    else:
        pats, cnt = np.zeros((0, len(comps)), np.int8), np.zeros(0)
    cnt = cnt.astype(np.float64)
    lw = float(settings.get("label_weight", 20.0))
    if labelled_levels is not None and labelled_levels.size:
        lp, linv, lcnt = _patterns(labelled_levels)
        lm = np.bincount(linv, weights=labelled_match.astype(float), minlength=lp.shape[0])
        lab_match, lab_non = lm * lw, (lcnt - lm) * lw
    else:
        lp = np.zeros((0, len(comps)), np.int8)
        lab_match = lab_non = np.zeros(0)
    allp = np.concatenate([pats, lp]) if lp.size else pats
    u = [np.asarray(x, float).copy() for x in u_random]
    m, m0 = [], []
    for comp in comps:
        k = len(LEVELS[comp["kind"]])
        init = np.array([0.9 * (0.1 ** i) for i in range(k)])
        init[-1] = max(init[-1], 0.02)
        m.append(init / init.sum())
        m0.append(init / init.sum())
    u0 = [x.copy() for x in u]
    strength = float(settings.get("prior_strength", 2.0))
    lam = max(k_c, 1) / max(cnt.sum(), 1.0) * 0.5
    it = 0
    for it in range(1, int(settings.get("em_iterations", 60)) + 1):
        logit = math.log(lam) - math.log1p(-lam) + _log_table(pats, m) - _log_table(pats, u)
        g = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        wm = np.concatenate([cnt * g, lab_match])
        wu = np.concatenate([cnt * (1 - g), lab_non])
        new_lam = float((cnt * g).sum() / max(cnt.sum(), 1.0))
        new_lam = min(max(new_lam, 1e-9), 1 - 1e-9)
        new_m, new_u = [], []
        for c, comp in enumerate(comps):
            k = len(LEVELS[comp["kind"]])
            lv = allp[:, c]
            okc = lv >= 0
            mm = np.bincount(lv[okc], weights=wm[okc], minlength=k)[:k] + strength * m0[c] + 1e-9
            new_m.append(mm / mm.sum())
            if settings.get("u_mode", "em") == "em":
                uu = np.bincount(lv[okc], weights=wu[okc], minlength=k)[:k] + strength / k
                new_u.append(uu / uu.sum())
            else:
                new_u.append(u[c])
        delta = max(float(np.abs(a - b).max()) for a, b in zip(new_m + new_u, m + u))
        m, u, lam = new_m, new_u, new_lam
        if delta < 1e-7:
            break
    # "else" (the last level) is disagreement: never evidence for a match, whatever a sparse sample suggests
    for c in range(len(comps)):
        if m[c][-1] > u[c][-1]:
            m[c] = m[c].copy()
            excess = m[c][-1] - u[c][-1]
            m[c][-1] = u[c][-1]
            m[c][0] += excess
    return m, u, lam, it


# ------------------------------------------------------------------------------------------------------------
# scoring


def _weights(model: LinkModel, p: Prepared, levels: np.ndarray, li: np.ndarray, ri: np.ndarray,
             tfs: dict[str, _TF] | None) -> np.ndarray:
    w = np.zeros(levels.shape[0])
    for c, comp in enumerate(model.comparisons):
        m = np.asarray(model.m[comp["name"]])
        u = np.asarray(model.u[comp["name"]])
        table = np.log2(m / u)
        lv = levels[:, c]
        w += np.where(lv >= 0, table[np.maximum(lv, 0)], 0.0)
        if tfs is None:
            continue
        for level, feat in _tf_features(comp).items():
            tf = tfs.get(feat)
            sel = np.flatnonzero(lv == level)
            if tf is None or sel.size == 0 or tf.u_avg <= 0:
                continue
            f = tf.lookup(p.right[feat].v[ri[sel]])
            adj = np.log2(tf.u_avg / f)
            adj = np.where(np.isfinite(adj), np.clip(adj, *_TF_CLIP), 0.0)
            w[sel] += adj
    return w


def _u_random(p: Prepared, settings: dict[str, Any]) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(int(settings.get("seed", 0)))
    k = int(min(settings.get("random_pairs", 1_000_000), max(p.n_left * p.n_right, 1)))
    li = rng.integers(0, p.n_left, k)
    ri = rng.integers(0, p.n_right, k)
    lv = compare(p, settings, li, ri)
    out = []
    for c, comp in enumerate(settings["comparisons"]):
        nlev = len(LEVELS[comp["kind"]])
        x = lv[:, c]
        cnt = np.bincount(x[x >= 0], minlength=nlev)[:nlev].astype(float) + 0.5  # Jeffreys-style smoothing
        out.append(cnt / cnt.sum())
    return out, lv


def _labelled_index(left: pa.Table, right: pa.Table, labelled: pa.Table
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lrow = np.asarray(_column(left, "row_id").cast(pa.int64()))
    rper = np.asarray(_column(right, "person_id").cast(pa.int64()))
    lo, ro = np.argsort(lrow), np.argsort(rper)
    qa = np.asarray(labelled.column("row_id").cast(pa.int64()))
    qb = np.asarray(labelled.column("person_id").cast(pa.int64()))
    y = np.asarray(labelled.column("is_match").cast(pa.bool_()))
    pa_ = np.searchsorted(lrow[lo], qa).clip(0, max(lrow.size - 1, 0))
    pb = np.searchsorted(rper[ro], qb).clip(0, max(rper.size - 1, 0))
    found = (lrow[lo][pa_] == qa) & (rper[ro][pb] == qb)
    return lo[pa_][found], ro[pb][found], y[found]


def _train_prepared(p: Prepared, left: pa.Table, right: pa.Table, settings: dict[str, Any],
                    li: np.ndarray, ri: np.ndarray, levels: np.ndarray,
                    labelled_pairs: pa.Table | None) -> LinkModel:
    u_rand, rand_lv = _u_random(p, settings)
    lab_lv = lab_y = None
    n_lab = 0
    if labelled_pairs is not None and labelled_pairs.num_rows:
        a, b, y = _labelled_index(left, right, labelled_pairs)
        lab_lv, lab_y, n_lab = compare(p, settings, a, b), y, int(y.size)
    n_pairs = float(p.n_left) * float(p.n_right)
    rw = max(n_pairs - li.size, 0.0) / max(rand_lv.shape[0], 1)
    m, u, lam, it = fit(levels, settings, u_rand, lab_lv, lab_y, random_levels=rand_lv, random_weight=rw)
    names = [c["name"] for c in settings["comparisons"]]
    return LinkModel(settings=settings, m={k: v.tolist() for k, v in zip(names, m)},
                     u={k: v.tolist() for k, v in zip(names, u)}, match_rate=min(lam * p.n_right, 1.0),
                     trained_on={"left_rows": p.n_left, "registry_rows": p.n_right, "candidate_pairs": int(li.size),
                                 "labelled_pairs": n_lab, "em_iterations": it,
                                 "u_random": {k: v.tolist() for k, v in zip(names, u_rand)}})


def train(left: pa.Table, registry: pa.Table, *, labelled_pairs: pa.Table | None = None,
          settings: dict[str, Any] | None = None) -> LinkModel:
    """Estimate a :class:`LinkModel` on the data (EM), with labelled review decisions as extra supervision.

    ``labelled_pairs``: columns row_id (left), person_id (registry), is_match (bool).
    """
    settings = settings or chinese_settings()
    p = prepare(left, registry, settings)
    li, ri = candidate_pairs(p, settings)
    levels = compare(p, settings, li, ri)
    return _train_prepared(p, left, registry, settings, li, ri, levels, labelled_pairs)


def _explanations(model: LinkModel, levels: np.ndarray) -> pa.Array:
    pats, inv, _ = _patterns(levels) if levels.shape[0] else (np.zeros((0, levels.shape[1]), np.int8),
                                                               np.zeros(0, np.int64), None)
    texts = []
    for row in pats:
        parts = []
        for c, comp in enumerate(model.comparisons):
            lv = int(row[c])
            parts.append(f"{comp['name']}:{'null' if lv < 0 else LEVELS[comp['kind']][lv]}")
        texts.append(" ".join(parts))
    return pa.DictionaryArray.from_arrays(pa.array(inv, pa.int32()), pa.array(texts, pa.string()))


def score(model: LinkModel, p: Prepared, left: pa.Table, right: pa.Table, li: np.ndarray, ri: np.ndarray,
          levels: np.ndarray, *, auto_threshold: float | None = None,
          review_threshold: float | None = None) -> pa.Table:
    """One output row per left row (see :data:`OUTPUT_SCHEMA`)."""
    auto_t = float(model.settings.get("auto_threshold", 0.99) if auto_threshold is None else auto_threshold)
    rev_t = float(model.settings.get("review_threshold", 0.5) if review_threshold is None else review_threshold)
    tfs = _tf_tables(p, model.settings)
    w = np.clip(_weights(model, p, levels, li, ri, tfs), -_W_CLIP, _W_CLIP)
    nl = p.n_left
    lam = min(max(model.match_rate / max(p.n_right, 1), 1e-15), 1 - 1e-9)
    prior = math.log2(lam) - math.log2(1 - lam)
    odds = np.exp2(np.clip(w + prior, -_W_CLIP, _W_CLIP))
    sum_odds = np.bincount(li, weights=odds, minlength=nl)
    order = np.lexsort((ri, -w, li))  # by left, best weight first, ties by registry index (deterministic)
    lo = li[order]
    first = np.ones(lo.size, bool)
    first[1:] = lo[1:] != lo[:-1]
    best = order[first]
    second_mask = np.zeros(lo.size, bool)
    second_mask[1:] = first[:-1] & ~first[1:]
    second = order[second_mask]
    has = np.zeros(nl, bool)
    has[li[best]] = True
    bw = np.full(nl, np.nan)
    bw[li[best]] = w[best]
    gap = np.full(nl, np.nan)
    gap[li[second]] = bw[li[second]] - w[second]
    prob = np.zeros(nl)
    prob[li[best]] = odds[best] / (1.0 + sum_odds[li[best]])
    best_r = np.full(nl, -1, np.int64)
    best_r[li[best]] = ri[best]
    decision = np.where(has & (prob >= auto_t), "auto", np.where(has & (prob >= rev_t), "review", "unmatched"))
    pid_all = np.asarray(_column(right, "person_id").cast(pa.int64()))
    linked = decision != "unmatched"
    pid = pa.array(np.where(linked, pid_all[np.maximum(best_r, 0)], 0), pa.int64(), mask=~linked)
    expl_best = _explanations(model, levels[best]) if best.size else pa.array([], pa.string())
    expl_idx = np.full(nl, -1, np.int64)
    expl_idx[li[best]] = np.arange(best.size)
    expl = pc.take(expl_best.cast(pa.string()) if best.size else pa.array([], pa.string()),
                   pa.array(expl_idx, mask=expl_idx < 0)) if best.size else pa.nulls(nl, pa.string())
    row_id = _column(left, "row_id").cast(pa.int64())
    return pa.table({
        "row_id": row_id,
        "person_id": pid,
        "probability": pa.array(prob, pa.float64()),
        "match_weight": pa.array(bw, pa.float64(), from_pandas=True),
        "decision": pa.array(decision, pa.string()),
        "second_best_gap": pa.array(gap, pa.float64(), from_pandas=True),
        "explanation": expl,
    }, schema=OUTPUT_SCHEMA)


def link(left: pa.Table, registry: pa.Table, *, model: LinkModel | None = None,
         auto_threshold: float | None = None, review_threshold: float | None = None,
         settings: dict[str, Any] | None = None, return_model: bool = False):
    """Link each left row to at most one registry person (issue 3 §3).

    Without ``model`` a model is trained on this data first (EM). Thresholds default to the model's settings
    (``auto_threshold`` 0.99, ``review_threshold`` 0.5 for the Chinese settings). Returns a table with
    :data:`OUTPUT_SCHEMA`: ``person_id`` is the best candidate for "auto" and "review" rows and null for
    "unmatched"; ``second_best_gap`` is the match-weight gap (bits) to the runner-up (null with one candidate).
    With ``return_model`` returns ``(table, model)``.
    """
    import time

    if model is not None:
        settings = model.settings
    settings = settings or chinese_settings()
    t = [time.perf_counter()]
    p = prepare(left, registry, settings)
    t.append(time.perf_counter())
    li, ri = candidate_pairs(p, settings)
    t.append(time.perf_counter())
    levels = compare(p, settings, li, ri)
    t.append(time.perf_counter())
    if model is None:
        model = _train_prepared(p, left, registry, settings, li, ri, levels, None)
    t.append(time.perf_counter())
    out = score(model, p, left, registry, li, ri, levels, auto_threshold=auto_threshold,
                review_threshold=review_threshold)
    t.append(time.perf_counter())
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update({"features": t[1] - t[0], "blocking": t[2] - t[1], "compare": t[3] - t[2],
                         "train": t[4] - t[3], "score": t[5] - t[4], "candidate_pairs": int(li.size)})
    return (out, model) if return_model else out
