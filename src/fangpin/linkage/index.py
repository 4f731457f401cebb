"""Registry-side link index: features, blocking tables and term frequencies built once per registry snapshot.

Everything the linker needs from the registry - name keys, pinyin keys, date keys, dictionary ids, the sorted
hashed blocking keys of every rule and the term frequencies - depends only on the registry snapshot and on the
settings' comparisons and blocking rules. :func:`build_index` computes it once; daily imports reuse it::

    index = LinkIndex.load_or_build(directory, registry)       # rebuilt only when the registry changed
    out = link(feed_rows, index)

Identity: :attr:`LinkIndex.fingerprint` is a sha256 of the registry columns the linker reads (person_id and
every comparison's column, in row order); :attr:`LinkIndex.spec` holds the comparisons and blocking rules it was
built for. ``link`` refuses an index built for other settings, and :meth:`LinkIndex.load` (given the registry)
refuses one built from another snapshot.

The index also keeps the character -> pinyin-syllable table of the registry's characters (syllable ids are
hashes of the syllable text, so they are process-independent): a feed is read without asking pypinyin about
characters the registry already has.

On disk (:meth:`LinkIndex.save`): a directory of uncompressed Arrow IPC files plus ``meta.json``; :meth:`load`
memory-maps them (zero copy), so opening a 10M-person index costs milliseconds and the pages the linker touches
are shared with the OS page cache.

Blocking tables: for each distinct registry-side feature tuple of the rules, the registry rows with all features
present, sorted by the 64-bit hash of the tuple (stable, so rows of one block are in ascending order): ``keys``
(distinct hashes), ``starts`` (first position of each key, plus the end) and ``perm`` (row numbers).
"""
from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fangpin.linkage.features import Feat, Side, column, rule_key, side_features
from fangpin.linkage.names import pinyin_table_snapshot, preload_pinyin_table
from fangpin.linkage.parallel import pmap, threads_for
from fangpin.linkage.sorting import sort_keys

__all__ = ["LinkIndex", "Block", "build_index", "registry_fingerprint", "index_spec", "FORMAT"]

FORMAT = "fangpin.linkindex/2"  # bump whenever a key definition changes (names.py hashes, syllable ids)


def index_spec(settings: dict[str, Any]) -> dict[str, Any]:
    """The part of the settings the registry side depends on: comparisons (name, kind, column, tf) and rules."""
    return {
        "comparisons": [{"name": c["name"], "kind": c["kind"], "column": c["column"], "tf": bool(c.get("tf"))}
                        for c in settings["comparisons"]],
        "blocking": [list(r) for r in settings["blocking"]],
    }


def _right_tuples(settings: dict[str, Any]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for rule in settings["blocking"]:
        t = tuple(x.split(">")[-1] for x in rule)
        if t not in out:
            out.append(t)
    return out


def _hash_array(h: Any, arr: pa.Array) -> None:
    h.update(str(arr.type).encode())
    n = len(arr)
    h.update(n.to_bytes(8, "little"))
    if arr.null_count:
        h.update(np.packbits(np.asarray(arr.is_valid())).tobytes())
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        bufs = arr.buffers()
        odt = np.int32 if pa.types.is_string(arr.type) else np.int64
        off = np.frombuffer(bufs[1], dtype=odt)[arr.offset: arr.offset + n + 1]
        o0, o1 = (int(off[0]), int(off[-1])) if n else (0, 0)
        h.update((off - o0).astype(np.int64).tobytes())
        if bufs[2] is not None:
            h.update(memoryview(bufs[2])[o0:o1])
        return
    if pa.types.is_integer(arr.type) or pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type):
        v = np.asarray(pc.fill_null(arr, pa.scalar(0, arr.type)))
        h.update(np.ascontiguousarray(v).tobytes())
        return
    _hash_array(h, arr.cast(pa.string()))


def registry_fingerprint(registry: pa.Table, settings: dict[str, Any]) -> str:
    """sha256 (first 16 hex digits) of person_id and the comparison columns of the registry, in row order."""
    h = hashlib.sha256(FORMAT.encode())
    cols = ["person_id"] + sorted({c["column"] for c in settings["comparisons"]})
    h.update(registry.num_rows.to_bytes(8, "little"))
    for c in cols:
        h.update(c.encode() + b"\0")
        if c not in registry.column_names:
            h.update(b"<absent>")
            continue
        _hash_array(h, column(registry, c))
    return h.hexdigest()[:16]


@dataclass
class Block:
    """Sorted hashed keys of one registry-side feature tuple (see the module docstring)."""

    keys: np.ndarray  # int64, distinct, ascending
    starts: np.ndarray  # int64, len(keys) + 1
    perm: np.ndarray  # int32/int64 registry rows, grouped by key, ascending inside a key

    @classmethod
    def build(cls, key: np.ndarray, ok: np.ndarray) -> "Block":
        valid = np.flatnonzero(ok)
        ks, perm = sort_keys(key[valid], valid)
        brk = np.flatnonzero(ks[1:] != ks[:-1]) + 1 if ks.size else np.zeros(0, np.int64)
        starts = np.concatenate([[0], brk, [ks.size]]).astype(np.int64) if ks.size else np.zeros(1, np.int64)
        dt = np.int32 if key.size < 2 ** 31 else np.int64
        return cls(keys=ks[starts[:-1]], starts=starts, perm=perm.astype(dt))

    def lookup(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, count) of each key's block (count 0 when absent); keys are searched in sorted order."""
        if self.keys.size == 0 or k.size == 0:
            return np.zeros(k.size, np.int64), np.zeros(k.size, np.int64)
        order = np.argsort(k)
        pos = np.empty(k.size, np.int64)
        pos[order] = np.searchsorted(self.keys, k[order])
        pos = np.minimum(pos, self.keys.size - 1)
        found = self.keys[pos] == k
        start = self.starts[pos]
        cnt = np.where(found, self.starts[pos + 1] - start, 0)
        return start, cnt


@dataclass
class LinkIndex:
    """Registry-side features, blocking tables and term frequencies (see the module docstring)."""

    spec: dict[str, Any]
    fingerprint: str
    n: int
    features: Side
    person_id: np.ndarray
    strings: dict[str, pa.Array]
    blocks: dict[tuple[str, ...], Block]
    tf_count: dict[str, np.ndarray]  # feature -> registry count of each row's value (int32)
    tf_u_avg: dict[str, float]  # feature -> sum of squared relative frequencies
    info: dict[str, Any] = field(default_factory=dict)
    pinyin_table: tuple[np.ndarray, np.ndarray] | None = None  # characters read at build time (code point, id)

    # -- compatibility ---------------------------------------------------------------------------------------
    def compatible(self, settings: dict[str, Any]) -> bool:
        return index_spec(settings) == self.spec

    def require(self, settings: dict[str, Any]) -> None:
        if not self.compatible(settings):
            raise ValueError("link index was built for other comparisons/blocking rules; rebuild it with "
                             "build_index(registry, settings)")

    def matches(self, registry: pa.Table) -> bool:
        """True when ``registry`` is the snapshot this index was built from (same fingerprint)."""
        return registry.num_rows == self.n and registry_fingerprint(registry, self.spec) == self.fingerprint

    # -- persistence -----------------------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        cols: dict[str, pa.Array] = {"person_id": pa.array(self.person_id)}
        raw: dict[str, Any] = {}
        for k, f in self.features.items():
            if isinstance(f, Feat):
                if k.split(".", 1)[1] in ("year", "ym", "swapped", "town", "county"):
                    continue  # derived on demand
                cols[k] = pa.array(f.v)
                cols[k + "#ok"] = pa.array(f.ok.view(np.uint8))
            else:
                arr = np.ascontiguousarray(f)
                if arr.ndim == 2:
                    cols[k] = pa.FixedSizeListArray.from_arrays(pa.array(arr.ravel()), arr.shape[1])
                    raw[k] = {"width": int(arr.shape[1])}
                else:
                    cols[k] = pa.array(arr)
        for k, v in self.tf_count.items():
            cols["tf:" + k] = pa.array(v)
        files: list[tuple[Path, pa.Table]] = [(d / "features.arrow", pa.table(cols))]
        blocks = []
        for i, (tup, b) in enumerate(self.blocks.items()):
            files += [(d / f"block{i}.keys.arrow", pa.table({"key": pa.array(b.keys)})),
                      (d / f"block{i}.starts.arrow", pa.table({"start": pa.array(b.starts)})),
                      (d / f"block{i}.perm.arrow", pa.table({"row": pa.array(b.perm)}))]
            blocks.append(list(tup))
        for name, arr in self.strings.items():
            files.append((d / f"strings.{name}.arrow", pa.table({"value": arr})))
        if self.pinyin_table is not None:
            cps, ids = self.pinyin_table
            files.append((d / "pinyin.arrow", pa.table({"cp": pa.array(cps), "syllable_id": pa.array(ids)})))
        pmap(lambda job: _write(*job), files, threads_for(self.n))  # file writes release the GIL
        meta = {"format": FORMAT, "spec": self.spec, "fingerprint": self.fingerprint, "n": self.n,
                "blocks": blocks, "strings": sorted(self.strings), "tf_u_avg": self.tf_u_avg, "raw": raw,
                "info": self.info}
        (d / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path, registry: pa.Table | None = None) -> "LinkIndex":
        """Memory-map a saved index; with ``registry`` also verify it was built from that snapshot."""
        d = Path(directory)
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown link index format {meta.get('format')!r}")
        t = _read(d / "features.arrow")
        feats = Side()
        tf_count: dict[str, np.ndarray] = {}
        names = t.column_names
        for k in names:
            if k == "person_id" or k.endswith("#ok"):
                continue
            col = _np(t.column(k), meta["raw"].get(k, {}).get("width"))
            if k.startswith("tf:"):
                tf_count[k[3:]] = col
            elif k + "#ok" in names:
                feats[k] = Feat(col, _np(t.column(k + "#ok")).view(bool))
            else:
                feats[k] = col
        blocks = {}
        for i, tup in enumerate(meta["blocks"]):
            blocks[tuple(tup)] = Block(keys=_np(_read(d / f"block{i}.keys.arrow").column(0)),
                                       starts=_np(_read(d / f"block{i}.starts.arrow").column(0)),
                                       perm=_np(_read(d / f"block{i}.perm.arrow").column(0)))
        strings = {s: _read(d / f"strings.{s}.arrow").column(0).combine_chunks() for s in meta["strings"]}
        pinyin_table = None
        if (d / "pinyin.arrow").exists():
            pt = _read(d / "pinyin.arrow")
            pinyin_table = (_np(pt.column("cp")), _np(pt.column("syllable_id")))
            preload_pinyin_table(*pinyin_table)
        idx = cls(spec=meta["spec"], fingerprint=meta["fingerprint"], n=int(meta["n"]), features=feats,
                  person_id=_np(t.column("person_id")), strings=strings, blocks=blocks, tf_count=tf_count,
                  tf_u_avg={k: float(v) for k, v in meta["tf_u_avg"].items()}, info=dict(meta.get("info", {})),
                  pinyin_table=pinyin_table)
        if registry is not None and not idx.matches(registry):
            raise ValueError(f"link index at {d} was built from another registry snapshot "
                             f"(fingerprint {idx.fingerprint})")
        return idx

    @classmethod
    def load_or_build(cls, directory: str | Path, registry: pa.Table, settings: dict[str, Any] | None = None
                      ) -> "LinkIndex":
        """The saved index when it matches ``registry`` and ``settings``; else build, save and return a new one."""
        from fangpin.linkage.model import chinese_settings

        settings = settings or chinese_settings()
        d = Path(directory)
        if (d / "meta.json").exists():
            try:
                idx = cls.load(d)
            except (ValueError, OSError, KeyError):
                idx = None
            if idx is not None and idx.compatible(settings) and idx.matches(registry):
                return idx
        idx = build_index(registry, settings)
        idx.save(d)
        return idx


def _write(path: Path, table: pa.Table) -> None:
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def _read(path: Path) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _np(col: pa.ChunkedArray, width: int | None = None) -> np.ndarray:
    arr = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    if width is not None:
        return arr.values.to_numpy(zero_copy_only=True).reshape(-1, width)
    return arr.to_numpy(zero_copy_only=True)


def _term_counts(f: Feat, n: int) -> tuple[np.ndarray, float]:
    """Registry count of each row's value (0 where missing) and the sum of squared relative frequencies."""
    cnt = np.zeros(n, np.int32)
    ok = np.flatnonzero(f.ok)
    if not ok.size:
        return cnt, 0.0
    ks, rows = sort_keys(f.v[ok].astype(np.int64, copy=False), ok)
    starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]]))
    c = np.diff(np.append(starts, ks.size))  # rows per distinct value
    cnt[rows] = np.repeat(c, c)
    fr = c / max(n, 1)
    return cnt, float((fr ** 2).sum())


def build_index(registry: pa.Table, settings: dict[str, Any] | None = None, *, threads: int | None = None
                ) -> LinkIndex:
    """Compute the registry side of linkage once (features, blocking tables, term frequencies).

    Independent pieces run on ``threads`` threads (:mod:`fangpin.linkage.parallel`): the fingerprint beside the
    features, then the blocking tables and term-frequency counts side by side. The index does not depend on the
    number of threads."""
    from fangpin.linkage.model import chinese_settings

    settings = settings or chinese_settings()
    t0 = time.perf_counter()
    spec = index_spec(settings)
    n = registry.num_rows
    k = threads_for(n, threads)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fangpin-fingerprint") as ex:
        fp_job = ex.submit(registry_fingerprint, registry, spec)  # sha256 releases the GIL: overlaps the features
        feats, strings = side_features(registry, spec, threads=k)
        pid = np.asarray(column(registry, "person_id").cast(pa.int64()))
        tuples = _right_tuples(spec)
        for tup in tuples:  # derived features (year, ym, ...) once, before the threads read them
            for f in tup:
                feats[f]
        tf_feats = [feat for comp in spec["comparisons"] if comp["tf"] for feat in
                    ([f"{comp['name']}.key", f"{comp['name']}.py_key"] if comp["kind"] == "name_zh" else
                     [f"{comp['name']}.value"] if comp["kind"] in ("string", "exact") else [])]
        jobs = [("block", tup) for tup in tuples] + [("tf", feat) for feat in tf_feats]
        done = pmap(lambda job: Block.build(*rule_key(feats, list(job[1]))) if job[0] == "block"
                    else _term_counts(feats[job[1]], n), jobs, k)
        fp = fp_job.result()
    blocks = {tup: b for (kind, tup), b in zip(jobs, done) if kind == "block"}
    tf_count: dict[str, np.ndarray] = {}
    tf_u: dict[str, float] = {}
    for (kind, feat), res in zip(jobs, done):
        if kind == "tf":
            tf_count[feat], tf_u[feat] = res
    return LinkIndex(spec=spec, fingerprint=fp, n=n, features=feats, person_id=pid, strings=strings,
                     blocks=blocks, tf_count=tf_count, tf_u_avg=tf_u,
                     info={"build_seconds": time.perf_counter() - t0, "built_at": time.time()},
                     pinyin_table=pinyin_table_snapshot())
