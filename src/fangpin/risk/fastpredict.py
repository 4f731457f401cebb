"""Compiled prediction for the risk model's LightGBM trees (monitoring at 10M persons, docs/RISK.md).

LightGBM's own ``Booster.predict`` converts every row to a sparse (index, value) list before walking the trees —
about 4 µs per household for 150 trees, the largest single cost of scoring a county after the engine itself. Here
the trees from ``Booster.dump_model()`` are flattened into arrays and walked by one numba-compiled loop over the
rows (parallel over both cores). The decisions are LightGBM's, bit for bit (``Tree::NumericalDecision``):

* a value with |v| ≤ kZeroThreshold (1e-35f) is read as 0 (LightGBM drops such entries from the row);
* NaN is read as 0 unless the node's missing type is NaN;
* missing type Zero and a zero value, or missing type NaN and a NaN value → the node's default direction;
* otherwise ``value <= threshold`` → left;
* the raw score is the sum of the leaf values in tree order (``GBDT::PredictRaw``), the probability
  ``1 / (1 + exp(-sigmoid × raw))`` (``BinaryLogloss::ConvertOutput``).

Only numerical splits are compiled; a model with any other kind of split (categorical) makes ``compile_trees``
return None and the caller keeps LightGBM. tests/integration/test_risk.py checks equality with LightGBM.
"""
from __future__ import annotations

import math
import threading

import numpy as np

K_ZERO = float(np.float32(1e-35))  # LightGBM kZeroThreshold is the float literal 1e-35f
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


class CompiledTrees:
    """Flattened trees: internal nodes (feature, threshold, default-left, missing type, children; a child < 0 is
    leaf ~child) and leaf values; ``roots[t]`` is tree t's first node (or ~leaf for a one-leaf tree)."""

    def __init__(self, roots, feat, thr, dleft, mtype, left, right, leaf_value, leaf_offsets, sigmoid):
        self.roots, self.feat, self.thr, self.dleft, self.mtype = roots, feat, thr, dleft, mtype
        self.left, self.right, self.leaf_value, self.leaf_offsets, self.sigmoid = left, right, leaf_value, \
            leaf_offsets, sigmoid

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.empty(len(X))
        with _LOCK:
            _kernels()[0](X, self.roots, self.feat, self.thr, self.dleft, self.mtype, self.left, self.right,
                          self.leaf_value, out)
        return out

    def probability(self, X: np.ndarray) -> np.ndarray:
        raw = self.raw(X)
        out = np.empty(len(raw))
        _kernels()[1](raw, self.sigmoid, out)
        return out

    def leaf_sums(self, X: np.ndarray, table: np.ndarray) -> np.ndarray:
        """(n, k): per row, the sum over trees (in tree order) of ``table[global leaf index]`` — path attribution
        (model.path_contributions) without materialising the (n, n_trees) leaf matrix; the same additions in the
        same order as summing ``table[leaves[:, t] + offsets[t]]`` tree by tree, so the same floats."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        table = np.ascontiguousarray(table, dtype=np.float64)
        out = np.empty((len(X), table.shape[1]))
        with _LOCK:
            _kernels()[3](X, self.roots, self.feat, self.thr, self.dleft, self.mtype, self.left, self.right,
                          table, out)
        return out

    def leaves(self, X: np.ndarray) -> np.ndarray:
        """(n, n_trees) leaf index within each tree — LightGBM's ``pred_leaf``."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.empty((len(X), len(self.roots)), dtype=np.int64)
        with _LOCK:
            _kernels()[2](X, self.roots, self.feat, self.thr, self.dleft, self.mtype, self.left, self.right,
                          self.leaf_offsets, out)
        return out


def compile_trees(booster) -> CompiledTrees | None:
    """The booster's trees as arrays, or None when numba is missing or a split is not numerical."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency; keep LightGBM if it cannot load
        return None
    dump = booster.dump_model()
    objective = str(dump.get("objective", ""))
    if not objective.startswith("binary"):
        return None
    sigmoid = 1.0
    for part in objective.split():
        if part.startswith("sigmoid:"):
            sigmoid = float(part.split(":", 1)[1])
    if dump.get("num_tree_per_iteration", 1) != 1:
        return None
    feat, thr, dleft, mtype, left, right, leaf_value, roots, leaf_offsets = [], [], [], [], [], [], [], [], []
    for tree in dump["tree_info"]:
        base_leaf = len(leaf_value)
        leaf_offsets.append(base_leaf)
        root = tree["tree_structure"]
        n_leaves = int(tree["num_leaves"])
        leaf_value.extend([0.0] * n_leaves)
        if "leaf_value" in root:  # a one-leaf tree
            leaf_value[base_leaf + int(root.get("leaf_index", 0))] = float(root["leaf_value"])
            roots.append(~(base_leaf + int(root.get("leaf_index", 0))))
            continue

        def node_id(node) -> int:
            if "leaf_value" in node:
                leaf_value[base_leaf + int(node["leaf_index"])] = float(node["leaf_value"])
                return ~(base_leaf + int(node["leaf_index"]))
            if node.get("decision_type") != "<=":
                raise _Unsupported
            i = len(feat)
            feat.append(int(node["split_feature"]))
            thr.append(float(node["threshold"]))
            dleft.append(bool(node["default_left"]))
            mtype.append(_MISSING[node["missing_type"]])
            left.append(0)
            right.append(0)
            left[i] = node_id(node["left_child"])
            right[i] = node_id(node["right_child"])
            return i

        try:
            roots.append(node_id(root))
        except _Unsupported:
            return None
    return CompiledTrees(np.asarray(roots, np.int64), np.asarray(feat, np.int64), np.asarray(thr, np.float64),
                         np.asarray(dleft, np.bool_), np.asarray(mtype, np.int8), np.asarray(left, np.int64),
                         np.asarray(right, np.int64), np.asarray(leaf_value, np.float64),
                         np.asarray(leaf_offsets, np.int64), sigmoid)


class _Unsupported(Exception):
    pass


_KERNELS = None
# numba's default (workqueue) threading layer refuses concurrent calls from two Python threads: one at a time
_LOCK = threading.Lock()


def _kernels():
    """Compiled on first use (cached on disk by numba, so later processes load it)."""
    global _KERNELS
    if _KERNELS is not None:
        return _KERNELS
    with _COMPILE_LOCK:
        if _KERNELS is None:
            try:
                _KERNELS = _compile(cache=True)
            except RuntimeError:  # no writable cache location (read-only install and home): compile each time
                _KERNELS = _compile(cache=False)
    return _KERNELS


_COMPILE_LOCK = threading.Lock()


def _compile(cache: bool):
    from numba import njit, prange

    @njit(inline="always")
    def leaf_of(X, i, node, feat, thr, dleft, mtype, left, right):
        while node >= 0:
            f = X[i, feat[node]]
            if -K_ZERO <= f <= K_ZERO:
                f = 0.0  # LightGBM drops |v| <= kZeroThreshold from the row: it reads as 0
            mt = mtype[node]
            if f != f and mt != 2:
                f = 0.0
            if (mt == 1 and -K_ZERO <= f <= K_ZERO) or (mt == 2 and f != f):
                go_left = dleft[node]
            else:
                go_left = f <= thr[node]
            node = left[node] if go_left else right[node]
        return ~node

    @njit(parallel=True, cache=cache)
    def raw_kernel(X, roots, feat, thr, dleft, mtype, left, right, leaf_value, out):
        for i in prange(X.shape[0]):
            s = 0.0
            for t in range(roots.shape[0]):
                s += leaf_value[leaf_of(X, i, roots[t], feat, thr, dleft, mtype, left, right)]
            out[i] = s

    @njit(cache=cache)
    def sigmoid_kernel(raw, sigmoid, out):
        for i in range(raw.shape[0]):
            out[i] = 1.0 / (1.0 + math.exp(-sigmoid * raw[i]))

    @njit(parallel=True, cache=cache)
    def leaf_kernel(X, roots, feat, thr, dleft, mtype, left, right, leaf_offsets, out):
        for i in prange(X.shape[0]):
            for t in range(roots.shape[0]):
                out[i, t] = leaf_of(X, i, roots[t], feat, thr, dleft, mtype, left, right) - leaf_offsets[t]

    @njit(parallel=True, cache=cache)
    def leaf_sum_kernel(X, roots, feat, thr, dleft, mtype, left, right, table, out):
        k = table.shape[1]
        for i in prange(X.shape[0]):
            for j in range(k):
                out[i, j] = 0.0
            for t in range(roots.shape[0]):
                leaf = leaf_of(X, i, roots[t], feat, thr, dleft, mtype, left, right)
                for j in range(k):
                    out[i, j] += table[leaf, j]

    return raw_kernel, sigmoid_kernel, leaf_kernel, leaf_sum_kernel


__all__ = ["CompiledTrees", "compile_trees"]
