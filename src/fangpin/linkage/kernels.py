"""Compiled (numba, GIL-free) versions of the two per-byte loops of the linkage features.

:func:`fangpin.linkage.names.codepoint_matrix` (UTF-8 decoding of names) and
:func:`fangpin.linkage.names.hash_strings` (63-bit hash of strings) are written as whole-array numpy passes; on a
10M-person registry those passes (cumsum, repeat, gathers over every byte) are a third of the index build. These
kernels compute exactly the same values in one pass over the bytes (tested against the numpy versions on
ASCII, CJK, 4-byte, full-width, dot and space characters, nulls and empty strings), and release the GIL so row
slices run side by side on threads. Used for arrays of at least :data:`MIN_ROWS` strings; smaller arrays keep
the numpy path (no compile).
"""
from __future__ import annotations

import threading

import numpy as np

__all__ = ["MIN_ROWS", "codepoints", "string_hashes"]

MIN_ROWS = 100_000
_K: dict[str, object] = {}
_LOCK = threading.Lock()


# constants of names._mix64 / names.hash_strings (module globals: numba freezes them, and caches the kernels,
# which it cannot do for closures)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_LOW63 = np.uint64(0x7FFFFFFFFFFFFFFF)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S8 = np.uint64(8)


def _compile(cache: bool) -> dict[str, object]:
    from numba import njit

    @njit(nogil=True, cache=cache)
    def hashes(offsets, data, valid, out):  # pragma: no cover - compiled
        for i in range(offsets.size - 1):
            if not valid[i]:
                out[i] = -1
                continue
            a = offsets[i]
            e = offsets[i + 1]
            s = np.uint64(0)
            for j in range(a, e):
                x = np.uint64(data[j]) | (np.uint64(j - a) << _S8)
                x = (x ^ (x >> _S30)) * _M2  # splitmix64 finaliser, as names._mix64
                x = (x ^ (x >> _S27)) * _M3
                s += x ^ (x >> _S31)
            x = s + np.uint64(e - a) * _M1
            x = (x ^ (x >> _S30)) * _M2
            x = (x ^ (x >> _S27)) * _M3
            out[i] = np.int64((x ^ (x >> _S31)) & _LOW63)

    @njit(nogil=True, cache=cache)
    def decode(offsets, data, valid, fold, drop, use_drop, mat, lengths):  # pragma: no cover - compiled
        width = mat.shape[1]
        end = data.size
        for i in range(offsets.size - 1):
            if not valid[i]:
                continue
            j = offsets[i]
            e = offsets[i + 1]
            k = 0
            while j < e:
                b0 = np.int64(data[j])
                # continuation bytes of a truncated sequence past the buffer read as 0 (the numpy path pads)
                b1 = np.int64(data[j + 1]) if j + 1 < end else 0
                b2 = np.int64(data[j + 2]) if j + 2 < end else 0
                b3 = np.int64(data[j + 3]) if j + 3 < end else 0
                if b0 < 0x80:
                    cp = b0
                    j += 1
                elif b0 < 0xC0:  # a continuation byte is not a character (as the numpy path)
                    j += 1
                    continue
                elif b0 < 0xE0:
                    cp = ((b0 & 0x1F) << 6) | (b1 & 0x3F)
                    j += 2
                elif b0 < 0xF0:
                    cp = ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
                    j += 3
                else:
                    cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
                    j += 4
                if cp > 0x10FFFF:
                    cp = 0x10FFFF
                c = fold[cp]
                if use_drop and drop[c]:
                    continue
                if k < width:
                    mat[i, k] = c
                k += 1
            lengths[i] = k

    return {"hashes": hashes, "decode": decode}


def _kernels() -> dict[str, object]:
    if not _K:
        with _LOCK:
            if not _K:
                try:
                    _K.update(_compile(cache=True))
                except RuntimeError:  # no writable cache directory: compile in memory
                    _K.update(_compile(cache=False))
    return _K


def _buffers(arr):
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32)[arr.offset: arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(1, np.uint8)
    valid = np.asarray(arr.is_valid()) if arr.null_count else np.ones(n, bool)
    return offsets, data, valid


def string_hashes(arr) -> np.ndarray:
    """``names.hash_strings`` of an arrow string array (not chunked), compiled."""
    offsets, data, valid = _buffers(arr)
    out = np.empty(len(arr), np.int64)
    _kernels()["hashes"](offsets, data, valid, out)
    return out


def codepoints(arr, width: int, fold: np.ndarray, drop: np.ndarray, use_drop: bool
               ) -> tuple[np.ndarray, np.ndarray]:
    """``names.codepoint_matrix`` of an arrow string array (not chunked), compiled."""
    offsets, data, valid = _buffers(arr)
    n = len(arr)
    mat = np.zeros((n, width), np.uint32)
    lengths = np.zeros(n, np.int32)
    _kernels()["decode"](offsets, data, valid, fold, drop, use_drop, mat, lengths)
    return mat, lengths
