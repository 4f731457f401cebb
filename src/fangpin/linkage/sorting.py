"""Stable sort of 64-bit hashed blocking keys, compiled (numba) and GIL-free.

``Block.build`` sorts every blocking rule's registry keys once per index build (five sorts of up to 10M keys at
national-county scale). The keys are 64-bit hashes, so they are spread evenly over their range: one counting pass
on the top 16 bits puts each key in its bucket (stable), and the buckets - about n / 65,536 keys each - are sorted
in place (insertion sort when small, merge sort otherwise; both stable). The result equals
``np.argsort(keys, kind="stable")`` (tested), at about half its CPU time, and the compiled function releases the
GIL, so the blocking tables of several rules are built side by side on threads (:mod:`fangpin.linkage.parallel`).

Compiled on first use and cached on disk by numba; below :data:`MIN_KEYS` keys numpy's sort is used (no compile).
"""
from __future__ import annotations

import threading

import numpy as np

__all__ = ["sort_keys", "MIN_KEYS"]

MIN_KEYS = 200_000
_KERNEL = None
_LOCK = threading.Lock()


def _compile(cache: bool):
    from numba import njit

    @njit(nogil=True, cache=cache)
    def msd_sort(u, rows):  # pragma: no cover - compiled
        n = u.size
        nb = 1 << 16
        bounds = np.zeros(nb + 1, np.int64)
        for j in range(n):
            bounds[(u[j] >> np.uint64(48)) + np.uint64(1)] += 1
        for b in range(nb):
            bounds[b + 1] += bounds[b]
        pos = bounds[:-1].copy()
        ku = np.empty(n, np.uint64)
        kr = np.empty(n, rows.dtype)
        for j in range(n):
            b = u[j] >> np.uint64(48)
            q = pos[b]
            pos[b] = q + 1
            ku[q] = u[j]
            kr[q] = rows[j]
        for b in range(nb):
            lo = bounds[b]
            hi = bounds[b + 1]
            if hi - lo < 2:
                continue
            if hi - lo <= 48:
                for j in range(lo + 1, hi):  # stable insertion sort
                    x = ku[j]
                    y = kr[j]
                    m = j - 1
                    while m >= lo and ku[m] > x:
                        ku[m + 1] = ku[m]
                        kr[m + 1] = kr[m]
                        m -= 1
                    ku[m + 1] = x
                    kr[m + 1] = y
            else:
                o = np.argsort(ku[lo:hi], kind="mergesort")
                ku[lo:hi] = ku[lo:hi][o]
                kr[lo:hi] = kr[lo:hi][o]
        return ku, kr

    return msd_sort


def _kernel():
    global _KERNEL
    if _KERNEL is None:
        with _LOCK:
            if _KERNEL is None:
                try:
                    _KERNEL = _compile(cache=True)
                except RuntimeError:  # no writable cache directory: compile in memory
                    _KERNEL = _compile(cache=False)
    return _KERNEL


_SIGN = np.uint64(1 << 63)


def sort_keys(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys sorted ascending, ``rows`` in that order), stable: equal keys keep their input order.

    ``keys`` int64; ``rows`` an integer array of the same length (the registry row of each key)."""
    keys = np.ascontiguousarray(keys, dtype=np.int64)
    if keys.size < MIN_KEYS:
        order = np.argsort(keys, kind="stable")
        return keys[order], rows[order]
    u = keys.view(np.uint64) ^ _SIGN  # signed order -> unsigned order
    ku, kr = _kernel()(u, np.ascontiguousarray(rows))
    return (ku ^ _SIGN).view(np.int64), kr
