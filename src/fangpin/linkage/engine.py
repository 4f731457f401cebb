"""Vectorised Fellegi–Sunter record linkage: features, blocking, comparison levels, EM, scoring.

Pipeline (no Python loop over records or pairs):

0. **Registry index** (:mod:`fangpin.linkage.index`): the registry side - name/pinyin/date keys, string ids,
   sorted hashed blocking keys, term frequencies - depends only on the registry snapshot. ``link`` accepts a
   prebuilt :class:`~fangpin.linkage.index.LinkIndex` (daily imports reuse it) or a registry table (the index is
   built on the fly).
1. **Features** of the left table (:func:`prepare`, :mod:`fangpin.linkage.features`): integer keys - name keys
   from :mod:`fangpin.linkage.names`, dates as YYYYMMDD integers, string hashes / dictionary ids, village codes.
2. **Blocking**: each rule hashes its left features to one int64 key and binary-searches the index's sorted
   registry keys; a key whose registry block is larger than ``max_block`` gives no pairs; each rule's pairs come
   out sorted by (left, right), so the union is a merge of sorted runs plus de-duplication.
3. **Comparison levels** per candidate pair (int8, -1 = missing value, no weight); every registry array is
   gathered once per comparison.
4. **EM** over the distinct level patterns (so it costs nothing even for tens of millions of pairs): ``u`` starts
   from random pairs (as Splink does), ``m`` and the match share ``lam`` are estimated by EM; with
   ``u_mode="em"`` the ``u`` of the candidate pairs is re-estimated as well (the candidate set is what is scored,
   so this is the calibrated choice). Labelled pairs (review decisions) enter with a fixed match probability.
5. **Scoring**: match weight = sum of log2(m/u) per level, term-frequency adjusted for name/string equality
   (a common name such as 王伟 weighs less than a rare one), probability among the candidates of a left row with
   one-to-one exclusion: P(best is the match) = o1 / (1 + sum o_i), o_i = 2^w_i * lam / (1 - lam). Best and
   runner-up per left row by segment reductions over the (left, right)-sorted pairs.
"""
from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.linkage.features import column, rule_key, side_features
from fangpin.linkage.index import LinkIndex, build_index
from fangpin.linkage.model import LEVELS, LinkModel, chinese_settings
from fangpin.linkage.parallel import pmap, threads_for

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
LAST_TIMINGS: dict[str, float] = {}  # wall and CPU (``*_cpu``) seconds per stage of the last link() call
_W_CLIP = 60.0


# ------------------------------------------------------------------------------------------------------------
# features


@dataclass
class Prepared:
    left: dict[str, Any]
    right: dict[str, Any]
    n_left: int
    n_right: int
    strings: dict[str, pa.Array]  # comparison name -> dictionary of string ids (registry's, then left-only values)
    index: LinkIndex | None = None
    right_pid: np.ndarray | None = None


_column = column


def _as_index(registry: pa.Table | LinkIndex, settings: dict[str, Any]) -> LinkIndex:
    if isinstance(registry, LinkIndex):
        registry.require(settings)
        return registry
    return build_index(registry, settings)


def prepare(left: pa.Table, right: pa.Table | LinkIndex, settings: dict[str, Any]) -> Prepared:
    """Features of the left table; the registry side comes from a :class:`LinkIndex` (built here for a table)."""
    idx = _as_index(right, settings)
    L, strings = side_features(left, settings, idx.strings)
    return Prepared(L, idx.features, left.num_rows, idx.n, strings, idx, idx.person_id)


# ------------------------------------------------------------------------------------------------------------
# blocking


def _expand(li: np.ndarray, start: np.ndarray, cnt: np.ndarray, perm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (li[k], perm[start[k] + 0..cnt[k]-1]) for every k, in input order."""
    total = int(cnt.sum())
    off = np.cumsum(cnt) - cnt
    pos = np.arange(total, dtype=np.int64) + np.repeat(start - off, cnt)
    return np.repeat(li, cnt), perm[pos].astype(np.int64)


def candidate_pairs(p: Prepared, settings: dict[str, Any], threads: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Union of the blocking rules' equality joins: (left index, right index) int64 arrays, sorted by (left, right).

    Each rule hashes its left features to one int64 key and looks it up in the index's sorted registry keys
    (binary search; the registry side is never re-sorted). A key whose registry block has more than
    ``max_block`` rows is not selective and gives no pairs for that row. Every rule yields pairs already sorted
    by (left, right), so the union is a merge of sorted runs followed by de-duplication.
    """
    max_block = int(settings.get("max_block", 2000))
    idx = p.index
    if idx is None:
        raise ValueError("Prepared has no link index")
    n_right = np.int64(max(p.n_right, 1))
    rules = [([x.split(">")[0] for x in rule], tuple(x.split(">")[-1] for x in rule)) for rule in settings["blocking"]]
    for lf, _ in rules:  # derived left features once, before the threads read them
        for f in lf:
            p.left[f]

    def join(rule: tuple[list[str], tuple[str, ...]]) -> np.ndarray:
        lf, rf = rule
        kl, okl = rule_key(p.left, lf)
        li = np.flatnonzero(okl)
        start, cnt = idx.blocks[rf].lookup(kl[li])
        sel = (cnt > 0) & (cnt <= max_block)
        a, b = _expand(li[sel], start[sel], cnt[sel], idx.blocks[rf].perm)
        return a * n_right + b

    codes = pmap(join, rules, threads_for(p.n_left, threads))
    if not codes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    code = np.concatenate(codes)
    code.sort(kind="stable")  # timsort: merges the rules' sorted runs
    if code.size:
        keep = np.empty(code.size, bool)
        keep[0] = True
        np.not_equal(code[1:], code[:-1], out=keep[1:])
        code = code[keep]
    return code // n_right, code % n_right


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


def _take_rows(mat: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``mat[idx]`` for a C-contiguous 2-D array, gathering whole rows as opaque records (3-5x faster)."""
    mat = np.ascontiguousarray(mat)
    rows = mat.view(np.dtype((np.void, mat.dtype.itemsize * mat.shape[1]))).reshape(-1)
    return np.take(rows, idx).view(mat.dtype).reshape(-1, mat.shape[1])


def _compare_one(comp: dict[str, Any], p: Prepared, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Levels of one comparison. Each registry array is gathered once (random access dominates): validity
    comes from the gathered values (-1 = missing, name length 0), not from separate masks."""
    name, kind = comp["name"], comp["kind"]
    L, R = p.left, p.right
    n = li.size
    if kind == "name_zh":
        lenl = L[f"{name}._length"][li]
        lenr = R[f"{name}._length"][ri]
        ok = (lenl > 0) & (lenr > 0)
        lv = np.full(n, 5, np.int8)
        sl, sr = L[f"{name}.sur_key"].v[li], R[f"{name}.sur_key"].v[ri]
        lv[(sl == sr) & (sl >= 0)] = 4
        key_eq = L[f"{name}.key"].v[li] == R[f"{name}.key"].v[ri]
        py_eq = L[f"{name}.py_key"].v[li] == R[f"{name}.py_key"].v[ri]
        bag_eq = L[f"{name}.bag_key"].v[li] == R[f"{name}.bag_key"].v[ri]
        cand = np.flatnonzero(ok & ~bag_eq & ~py_eq & (lenl >= 2) & (lenl == lenr))  # bag_eq covers key_eq
        if cand.size:
            cl = _take_rows(L[f"{name}._chars"], li[cand])
            cr = _take_rows(R[f"{name}._chars"], ri[cand])
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
        x = L[f"{name}.ymd"].v[li].astype(np.int32)
        y = R[f"{name}.ymd"].v[ri].astype(np.int32)
        ok = (x >= 0) & (y >= 0)
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
        x, y = L[f"{name}.value"].v[li], R[f"{name}.value"].v[ri]
        lv = np.where(x == y, 0, 1).astype(np.int8)
        lv[(x < 0) | (y < 0)] = -1
        return lv
    if kind == "admin_code":
        x, y = L[f"{name}.code"].v[li], R[f"{name}.code"].v[ri]
        ok = (x >= 0) & (y >= 0)
        lv = np.full(n, 3, np.int8)
        same = x == y
        x //= 1000
        y //= 1000
        town = x == y
        lv[(x // 1000) == (y // 1000)] = 2
        lv[town] = 1
        lv[same] = 0
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
    for comp in comps:  # the one derived feature compare reads, once, before the threads read it
        if comp["kind"] == "date":
            p.left[f"{comp['name']}.swapped"]

    def one(c: int) -> None:
        out[:, c] = _compare_one(comps[c], p, li, ri)

    pmap(one, range(len(comps)), threads_for(li.size))
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
    """Registry frequency of each registry row's value; u_avg = agreement chance of random pairs (sum of f^2)."""

    def __init__(self, count: np.ndarray, n: int, u_avg: float) -> None:
        self.count, self.n, self.u_avg = count, max(n, 1), u_avg

    def freq_rows(self, ri: np.ndarray) -> np.ndarray:
        c = self.count[ri].astype(np.float64)
        c[c <= 0] = np.nan
        return c / self.n


def _tf_tables(p: Prepared, settings: dict[str, Any]) -> dict[str, _TF]:
    idx = p.index
    out = {}
    for comp in settings["comparisons"]:
        for feat in _tf_features(comp).values():
            if idx is not None and feat in idx.tf_count:
                out[feat] = _TF(idx.tf_count[feat], p.n_right, idx.tf_u_avg[feat])
    return out


# ------------------------------------------------------------------------------------------------------------
# EM


def _patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of the level matrix: (patterns, inverse, counts) - patterns in ascending code order."""
    base = 8
    n, k = levels.shape
    code = np.zeros(n, np.int64)
    for c in range(k):
        code *= base
        code += levels[:, c].astype(np.int64) + 1
    if base ** k <= 1 << 22:  # small code space: counting instead of sorting
        cnt_all = np.bincount(code, minlength=base ** k)
        uniq = np.flatnonzero(cnt_all)
        lut = np.zeros(cnt_all.size, np.int64)
        lut[uniq] = np.arange(uniq.size)
        inv, cnt = lut[code], cnt_all[uniq]
    else:
        uniq, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
    pats = np.empty((uniq.size, k), np.int8)
    rest = uniq.copy()
    for c in range(k - 1, -1, -1):
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
            f = tf.freq_rows(ri[sel])
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


def _labelled_index(left: pa.Table, rper: np.ndarray, labelled: pa.Table
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lrow = np.asarray(_column(left, "row_id").cast(pa.int64()))
    lo, ro = np.argsort(lrow), np.argsort(rper)
    qa = np.asarray(labelled.column("row_id").cast(pa.int64()))
    qb = np.asarray(labelled.column("person_id").cast(pa.int64()))
    y = np.asarray(labelled.column("is_match").cast(pa.bool_()))
    pa_ = np.searchsorted(lrow[lo], qa).clip(0, max(lrow.size - 1, 0))
    pb = np.searchsorted(rper[ro], qb).clip(0, max(rper.size - 1, 0))
    found = (lrow[lo][pa_] == qa) & (rper[ro][pb] == qb)
    return lo[pa_][found], ro[pb][found], y[found]


def _train_prepared(p: Prepared, left: pa.Table, right: Any, settings: dict[str, Any],
                    li: np.ndarray, ri: np.ndarray, levels: np.ndarray,
                    labelled_pairs: pa.Table | None) -> LinkModel:
    u_rand, rand_lv = _u_random(p, settings)
    lab_lv = lab_y = None
    n_lab = 0
    if labelled_pairs is not None and labelled_pairs.num_rows:
        a, b, y = _labelled_index(left, p.right_pid, labelled_pairs)
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


def train(left: pa.Table, registry: pa.Table | LinkIndex, *, labelled_pairs: pa.Table | None = None,
          settings: dict[str, Any] | None = None) -> LinkModel:
    """Estimate a :class:`LinkModel` on the data (EM), with labelled review decisions as extra supervision.

    ``labelled_pairs``: columns row_id (left), person_id (registry), is_match (bool). ``registry`` is a
    registry table or a prebuilt :class:`~fangpin.linkage.index.LinkIndex`.
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


def _group_best(li: np.ndarray, ri: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per left row (pairs sorted by (left, right)): group starts, best pair, runner-up weight, group sizes.

    Best = highest weight, ties to the lowest registry index; runner-up weight is -inf for single candidates.
    """
    first = np.ones(li.size, bool)
    first[1:] = li[1:] != li[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, li.size))
    gid = np.cumsum(first) - 1
    bw = np.maximum.reduceat(w, starts)
    at_max = np.flatnonzero(w == bw[gid])
    g = gid[at_max]
    firsts = np.ones(at_max.size, bool)
    firsts[1:] = g[1:] != g[:-1]
    best = at_max[firsts]  # ri ascending inside a group: the first maximum has the lowest registry index
    w2 = w.copy()
    w2[best] = -np.inf
    second = np.maximum.reduceat(w2, starts)
    return starts, best, second, sizes


def score(model: LinkModel, p: Prepared, left: pa.Table, right: Any, li: np.ndarray, ri: np.ndarray,
          levels: np.ndarray, *, auto_threshold: float | None = None,
          review_threshold: float | None = None) -> pa.Table:
    """One output row per left row (see :data:`OUTPUT_SCHEMA`); pairs as from :func:`candidate_pairs`."""
    del right  # person ids come from the prepared registry side
    auto_t = float(model.settings.get("auto_threshold", 0.99) if auto_threshold is None else auto_threshold)
    rev_t = float(model.settings.get("review_threshold", 0.5) if review_threshold is None else review_threshold)
    if li.size > 1 and not (np.all(li[1:] >= li[:-1])):
        order = np.lexsort((ri, li))
        li, ri, levels = li[order], ri[order], levels[order]
    tfs = _tf_tables(p, model.settings)
    w = np.clip(_weights(model, p, levels, li, ri, tfs), -_W_CLIP, _W_CLIP)
    nl = p.n_left
    lam = min(max(model.match_rate / max(p.n_right, 1), 1e-15), 1 - 1e-9)
    prior = math.log2(lam) - math.log2(1 - lam)
    odds = np.exp2(np.clip(w + prior, -_W_CLIP, _W_CLIP))
    has = np.zeros(nl, bool)
    bw = np.full(nl, np.nan)
    gap = np.full(nl, np.nan)
    prob = np.zeros(nl)
    best_r = np.full(nl, -1, np.int64)
    best = np.zeros(0, np.int64)
    if li.size:
        starts, best, second, sizes = _group_best(li, ri, w)
        rows = li[starts]
        sum_odds = np.add.reduceat(odds, starts)
        has[rows] = True
        bw[rows] = w[best]
        two = sizes > 1
        gap[rows[two]] = w[best[two]] - second[two]
        prob[rows] = odds[best] / (1.0 + sum_odds)
        best_r[rows] = ri[best]
    decision = np.where(has & (prob >= auto_t), "auto", np.where(has & (prob >= rev_t), "review", "unmatched"))
    linked = decision != "unmatched"
    pid = pa.array(np.where(linked, p.right_pid[np.maximum(best_r, 0)] if p.n_right else 0, 0), pa.int64(),
                   mask=~linked)
    if best.size:
        expl_best = _explanations(model, levels[best]).cast(pa.string())
        expl_idx = np.full(nl, -1, np.int64)
        expl_idx[li[best]] = np.arange(best.size)
        expl = pc.take(expl_best, pa.array(expl_idx, mask=expl_idx < 0))
    else:
        expl = pa.nulls(nl, pa.string())
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


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def link(left: pa.Table, registry: pa.Table | LinkIndex, *, model: LinkModel | None = None,
         auto_threshold: float | None = None, review_threshold: float | None = None,
         settings: dict[str, Any] | None = None, return_model: bool = False):
    """Link each left row to at most one registry person (issue 3 §3).

    ``registry`` is the registry table or a prebuilt :class:`~fangpin.linkage.index.LinkIndex` of it (daily
    imports reuse the index; with a table the index is built here, which dominates the cost for a large
    registry). Without ``model`` a model is trained on this data first (EM). Thresholds default to the model's
    settings (``auto_threshold`` 0.99, ``review_threshold`` 0.5 for the Chinese settings). Returns a table with
    :data:`OUTPUT_SCHEMA`: ``person_id`` is the best candidate for "auto" and "review" rows and null for
    "unmatched"; ``second_best_gap`` is the match-weight gap (bits) to the runner-up (null with one candidate).
    With ``return_model`` returns ``(table, model)``. Stage timings (wall and CPU seconds) of the last call are
    in :data:`LAST_TIMINGS`.
    """
    if model is not None:
        settings = model.settings
    settings = settings or chinese_settings()
    timings: dict[str, Any] = {}
    mark = [time.perf_counter(), _cpu()]

    def stage(name: str) -> None:
        now, cpu = time.perf_counter(), _cpu()
        timings[name] = now - mark[0]
        timings[name + "_cpu"] = cpu - mark[1]
        mark[0], mark[1] = now, cpu

    idx = _as_index(registry, settings)
    stage("index")
    p = prepare(left, idx, settings)
    stage("features")
    li, ri = candidate_pairs(p, settings)
    stage("blocking")
    levels = compare(p, settings, li, ri)
    stage("compare")
    if model is None:
        model = _train_prepared(p, left, idx, settings, li, ri, levels, None)
    stage("train")
    out = score(model, p, left, idx, li, ri, levels, auto_threshold=auto_threshold,
                review_threshold=review_threshold)
    stage("score")
    timings["candidate_pairs"] = int(li.size)
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update(timings)
    return (out, model) if return_model else out
