"""Per-table integer features for linkage (one side at a time) and hashed blocking keys.

Every comparison of the settings turns its column into a few integer arrays (:class:`Feat` = values + validity):

* ``name_zh``: ``key`` (exact name, dot-free), ``py_key`` (surname-aware pinyin), ``sur_key``, ``bag_key`` (same
  characters in any order), plus ``_chars`` (code points) and ``_length`` - see :mod:`fangpin.linkage.names`;
* ``date``: ``ymd`` (YYYYMMDD); ``year``, ``ym`` and ``swapped`` (day and month exchanged) are derived on demand;
* ``exact``: ``value`` = 63-bit hash of the normalised string (trimmed, lower case; empty = missing);
* ``string``: ``value`` = id in a dictionary of normalised strings (the Jaro-Winkler levels need the text). The
  registry side owns the dictionary; a left table is mapped into it (values the registry does not have get ids
  past its end);
* ``admin_code``: ``code`` (12-digit village code as an integer); ``town`` / ``county`` derived on demand.

Missing values are -1 in every non-hash feature (``ymd``, ``value``, ``code``, ``sur_key``) and names have
``_length`` 0, so a gathered value tells its own validity. The registry side depends only on the registry snapshot and the settings' comparisons, so it is computed once and
kept in a :class:`fangpin.linkage.index.LinkIndex`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.linkage.names import hash_rows, hash_strings, name_features
from fangpin.linkage.parallel import pmap, threads_for

__all__ = ["Feat", "Side", "side_features", "rule_key", "column"]


class Feat:
    """An integer feature with a validity mask."""

    __slots__ = ("v", "ok")

    def __init__(self, v: np.ndarray, ok: np.ndarray) -> None:
        self.v, self.ok = v, ok


class Side(dict):
    """Feature name -> :class:`Feat` (or ndarray for ``_``-prefixed raw arrays); derived features on first use."""

    def __missing__(self, key: str) -> Feat:
        name, _, kind = key.partition(".")
        if kind in ("year", "ym", "swapped"):
            base = dict.__getitem__(self, f"{name}.ymd")
            ymd = base.v.astype(np.int64)
            if kind == "year":
                f = Feat(ymd // 10000, base.ok)
            elif kind == "ym":
                f = Feat(ymd // 100, base.ok)
            else:
                y, md = np.divmod(ymd, 10000)
                mo, dd = np.divmod(md, 100)
                f = Feat(y * 10000 + dd * 100 + mo, base.ok & (dd <= 12) & (dd != mo) & (dd >= 1))
        elif kind in ("town", "county"):
            base = dict.__getitem__(self, f"{name}.code")
            f = Feat(base.v // (1000 if kind == "town" else 1_000_000), base.ok)
        else:
            raise KeyError(key)
        self[key] = f
        return f


def column(t: pa.Table, name: str) -> pa.Array:
    if name not in t.column_names:
        return pa.nulls(t.num_rows, pa.string())
    col = t.column(name)
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _ymd(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        d = arr.cast(pa.date32())
        ok = np.asarray(d.is_valid())
        days = np.asarray(pc.fill_null(d, 0).cast(pa.int32())).astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        y = months.astype(np.int64) // 12 + 1970
        mo = months.astype(np.int64) % 12 + 1
        dd = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
        ymd = y * 10000 + mo * 100 + dd
    else:
        s = pc.replace_substring_regex(pc.fill_null(arr.cast(pa.string()), ""), r"[^0-9]", "")
        ok = np.asarray(pc.equal(pc.utf8_length(s), 8).fill_null(False))
        s = pc.if_else(pa.array(ok), s, pa.scalar("0"))
        ymd = np.asarray(s.cast(pa.int64()))
    return np.where(ok, ymd, -1), ok


def _norm_strings(arr: pa.Array) -> pa.Array:
    s = pc.utf8_trim_whitespace(arr.cast(pa.string()))
    s = pc.utf8_lower(s)
    return pc.if_else(pc.equal(s, ""), pa.nulls(len(s), pa.string()), s)


def _small_int(v: np.ndarray) -> np.ndarray:
    """int32 when the values fit (halves memory and index size), else int64."""
    if v.size == 0 or (v.min() >= -(2 ** 31) and v.max() < 2 ** 31):
        return v.astype(np.int32)
    return v.astype(np.int64)


def side_features(t: pa.Table, settings: dict[str, Any], strings: dict[str, pa.Array] | None = None, *,
                  threads: int | None = None) -> tuple[Side, dict[str, pa.Array]]:
    """Base features of one table.

    ``strings`` = None: this is the registry side; dictionaries of the string comparisons are built and returned.
    Otherwise the table is mapped into those dictionaries, and the returned dictionaries are extended by the
    values only this table has (their ids follow the registry's).

    Large tables are split into row slices computed on ``threads`` threads (:mod:`fangpin.linkage.parallel`);
    every feature but a string dictionary is a function of its own row, so the joined slices equal the serial
    result (same values, dtypes and key order). String comparisons, whose ids depend on the whole column, are
    computed on the whole table in a task of their own.
    """
    comps = settings["comparisons"]
    n = t.num_rows
    k = threads_for(n, threads)
    if k <= 1:
        return _side_features(t, comps, strings)
    whole = [c for c in comps if c["kind"] == "string"]
    rowwise = [c for c in comps if c["kind"] != "string"]
    bounds = [(i * n // k, (i + 1) * n // k) for i in range(k)]
    tasks: list[tuple[pa.Table, list[dict[str, Any]]]] = [(t.slice(a, b - a), rowwise) for a, b in bounds]
    if whole:
        tasks.append((t, whole))
    parts = pmap(lambda job: _side_features(job[0], job[1], strings), tasks, k)
    pieces = [p for p, _ in parts[:k]]
    out = Side()
    dicts: dict[str, pa.Array] = dict(parts[k][1]) if whole else {}
    whole_side = parts[k][0] if whole else Side()
    for comp in comps:  # the serial key order: comparisons in order, each comparison's keys in order
        prefix = comp["name"] + "."
        if comp["kind"] == "string":
            for key in [x for x in dict.keys(whole_side) if x.startswith(prefix)]:
                out[key] = dict.__getitem__(whole_side, key)
            continue
        for key in [x for x in dict.keys(pieces[0]) if x.startswith(prefix)]:
            vals = [dict.__getitem__(p, key) for p in pieces]
            if isinstance(vals[0], Feat):
                out[key] = Feat(np.concatenate([v.v for v in vals]), np.concatenate([v.ok for v in vals]))
            else:
                out[key] = np.concatenate(vals)
    return out, dicts


def _side_features(t: pa.Table, comps: list[dict[str, Any]], strings: dict[str, pa.Array] | None
                   ) -> tuple[Side, dict[str, pa.Array]]:
    out = Side()
    dicts: dict[str, pa.Array] = {}
    for comp in comps:
        name, kind, col = comp["name"], comp["kind"], comp["column"]
        a = column(t, col)
        if kind == "name_zh":
            f = name_features(a)
            ok = f.length > 0
            out[f"{name}.key"] = Feat(f.key, ok)
            out[f"{name}.py_key"] = Feat(f.py_key, ok)
            out[f"{name}.sur_key"] = Feat(_small_int(f.sur_key), ok & (f.sur_key >= 0))
            out[f"{name}.bag_key"] = Feat(f.bag_key, ok)
            out[f"{name}._chars"] = f.chars
            out[f"{name}._length"] = f.length
        elif kind == "date":
            ymd, ok = _ymd(a)
            out[f"{name}.ymd"] = Feat(_small_int(ymd), ok)
        elif kind == "exact":
            # 63-bit hash of the normalised string: no dictionary to share between registry and feed
            v = hash_strings(_norm_strings(a))
            out[f"{name}.value"] = Feat(v, v >= 0)
        elif kind == "string":
            s = _norm_strings(a)
            if strings is None:
                enc = pc.dictionary_encode(s)
                idx = enc.indices
                ok = np.asarray(idx.is_valid())
                ids = np.asarray(pc.fill_null(idx, -1).cast(pa.int32()))
                dicts[name] = enc.dictionary
            else:
                d = strings[name]
                ok = np.asarray(s.is_valid())
                ids = np.array(pc.fill_null(pc.index_in(s, value_set=d), -1).cast(pa.int64()))
                new = ok & (ids < 0)
                if new.any():
                    enc = pc.dictionary_encode(s.filter(pa.array(new)))
                    ids[new] = len(d) + np.asarray(enc.indices.cast(pa.int64()))
                    d = pa.concat_arrays([d, enc.dictionary])
                dicts[name] = d
                ids = _small_int(ids)
            out[f"{name}.value"] = Feat(ids, ok)
        elif kind == "admin_code":
            s = pc.fill_null(pc.utf8_trim_whitespace(a.cast(pa.string())), "")
            ok = np.asarray(pc.and_(pc.equal(pc.utf8_length(s), 12), pc.utf8_is_digit(s)).fill_null(False))
            s = pc.if_else(pa.array(ok), s, pa.scalar("0"))
            code = np.where(ok, np.asarray(s.cast(pa.int64())), -1)
            out[f"{name}.code"] = Feat(code, ok)
        else:
            raise ValueError(f"unknown comparison kind {kind!r}")
    return out, dicts


def rule_key(side: Side, feats: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hash of a blocking rule's features (int64) and the rows where all of them are present."""
    cols = [side[f] for f in feats]
    ok = np.logical_and.reduce([c.ok for c in cols])
    mat = np.stack([c.v.astype(np.int64, copy=False) for c in cols], axis=1).view(np.uint64)
    return hash_rows(mat), ok
