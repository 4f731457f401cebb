"""Nationally unique ids for a provincial / national monitoring run (issue 8; docs/SCALE.md §3).

Every county database numbers its rows from 1, so two counties' exports collide on ``household_id``,
``person_id`` and the row ``id`` of every table once their Parquet directories are unioned. The cluster export
(``snapshot.export(..., national_ids=True)``) therefore writes

    national id = county code (6 digits) × 10^10 + local id          (int64)

in every id column of every exported table (``id``, ``household_id``, ``person_id``: the columns the feature SQL
joins on, and the row ids alert ``sources`` point at). The largest county code, 659999, gives
659999 × 10^10 + 10^10 − 1 ≈ 6.6 × 10^15 < 2^63 ≈ 9.2 × 10^18; a local id ≥ 10^10 is refused. The scheme is
recorded in the snapshot manifest (``ids``) and copied into the job's ``run.json``.

The engine does not care about id magnitudes (features.sql only joins, partitions and orders by ids; every id is
BIGINT; the risk model's features use no ids), so one county's alerts are the same, id for id after the
write-back, whether it is run alone or inside a union (tests/integration/test_national_ids.py).

Write-back (:func:`localise`): each alert's household is found by ``hh_no`` (户编号, nationally unique) in the
target county database and must be exactly ``offset + local id`` there; the ``sources`` row ids are mapped back
by removing the offset. Anything that does not fit (an unknown ``hh_no``, another county's offset) refuses the
whole load with a bilingual error — nothing is dropped silently, nothing half-stored.
"""
from __future__ import annotations

import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fangpin.issues import FangpinValueError, issue

MULTIPLIER = 10 ** 10
SCHEME = "county_offset"
SCHEME_TEXT = "national id = county_code (6 digits) * 10^10 + local id (int64)"
# id columns offset in every exported table (row ids, and the household / person keys that join across tables)
ID_NAMES = ("id", "household_id", "person_id")
_COUNTY = re.compile(r"^[1-9][0-9]{5}$")


def _err(code: str, zh: str, en: str) -> FangpinValueError:
    return FangpinValueError(issue(code, zh, en))


def check_county(county: str) -> str:
    county = str(county).strip()
    if not _COUNTY.match(county):
        raise _err("national_ids.bad_county", f"县级行政区划代码应为6位数字（不以0开头），收到 {county!r}",
                   f"a county code is 6 digits (not starting with 0), got {county!r}")
    return county


def offset(county: str) -> int:
    return int(check_county(county)) * MULTIPLIER


def county_of(conn: Connection) -> str:
    """The county code of a county database: the one 6-digit prefix of its households' region codes."""
    from fangpin.registry.models import Base

    hv = Base.metadata.tables["household_version"]
    codes = sorted(c for (c,) in conn.execute(select(func.substr(hv.c.region_code, 1, 6)).distinct()) if c)
    if len(codes) != 1:
        found = ", ".join(codes[:5]) or "—"
        raise _err("national_ids.county_unknown",
                   f"无法确定本库的县级代码（户的行政区划涉及 {len(codes)} 个县：{found}），请用 --county 指定",
                   f"cannot tell this database's county code (households span {len(codes)} counties: {found}); "
                   "give it with --county")
    return check_county(codes[0])


def id_columns(schema: pa.Schema) -> list[str]:
    return [n for n in schema.names if n in ID_NAMES]


def apply(batch: pa.RecordBatch | pa.Table, county: str, table: str = ""):
    """The batch with ``offset(county)`` added to every id column (nulls stay null)."""
    off = offset(county)
    cols = id_columns(batch.schema)
    if not cols or batch.num_rows == 0:
        return batch
    arrays = list(batch.columns)
    for c in cols:
        i = batch.schema.get_field_index(c)
        col = batch.column(i).cast(pa.int64())
        lo, hi = pc.min(col).as_py(), pc.max(col).as_py()
        if lo is not None and (lo < 0 or hi >= MULTIPLIER):
            raise _err("national_ids.id_range", f"{table}.{c} 的编号 {hi if hi >= MULTIPLIER else lo} 超出范围"
                       f"（0 ≤ 编号 < 10^10），无法生成全国唯一编号",
                       f"{table}.{c} id {hi if hi >= MULTIPLIER else lo} is out of range (0 ≤ id < 10^10): "
                       "cannot make it nationally unique")
        arrays[i] = pc.add(col, pa.scalar(off, pa.int64()))
    if isinstance(batch, pa.Table):
        return pa.table(arrays, schema=batch.schema)
    return pa.record_batch(arrays, schema=batch.schema)


def manifest_entry(county: str, tables: dict[str, list[str]]) -> dict:
    return {"scheme": SCHEME, "formula": SCHEME_TEXT, "multiplier": MULTIPLIER, "counties": [check_county(county)],
            "columns": tables}


def is_national(meta: dict | None) -> bool:
    return bool(meta) and (meta.get("ids") or {}).get("scheme") == SCHEME


def counties_of_ids(ids: pa.Array | pa.ChunkedArray) -> list[str]:
    return sorted(f"{int(v):06d}" for v in pc.unique(pc.divide(ids.cast(pa.int64()), MULTIPLIER)).to_pylist()
                  if v is not None)


def for_county(result, county: str):
    """The part of a run over national ids that belongs to ``county`` (by the id's county prefix)."""
    from fangpin.monitoring.engine import RunResult

    c = int(check_county(county))
    f = result.features
    mask = pc.equal(pc.divide(f["household_id"], MULTIPLIER), c)
    return RunResult(f.filter(mask), [a for a in result.alerts if a.household_id // MULTIPLIER == c])


def localise(result, conn: Connection, county: str | None = None):
    """A run over national ids → the same run in ``conn``'s local ids (all or nothing).

    The household is restored by ``hh_no`` and must equal ``offset + local id``; source row ids lose the offset.
    Alerts or scope rows of another county, or whose ``hh_no`` this database does not know, raise
    :class:`FangpinValueError` (code ``national_ids.unknown_household`` / ``national_ids.other_county``)."""
    from dataclasses import replace

    from fangpin.monitoring.engine import RunResult
    from fangpin.registry.models import Base

    county = check_county(county) if county else county_of(conn)
    off, c = offset(county), int(county)
    h = Base.metadata.tables["household"]
    local = {no: int(i) for i, no in conn.execute(select(h.c.id, h.c.hh_no))}
    unknown: list[str] = []
    other: Counter = Counter()

    def one(national: int, hh_no: str | None) -> int | None:
        national = int(national)
        if national // MULTIPLIER != c:
            other[f"{national // MULTIPLIER:06d}"] += 1
            return None
        if hh_no is None:
            return national - off
        lid = local.get(hh_no)
        if lid is None or lid != national - off:
            unknown.append(hh_no)
            return None
        return lid

    alerts = []
    for a in result.alerts:
        lid = one(a.household_id, a.hh_no)
        src = {}
        for k, v in a.sources.items():
            if isinstance(v, int) and not isinstance(v, bool):
                if v // MULTIPLIER != c:
                    other[f"{v // MULTIPLIER:06d}"] += 1
                src[k] = v - off
            else:
                src[k] = v
        alerts.append(replace(a, household_id=lid, sources=src))
    f = result.features
    hh_nos = f["hh_no"].to_pylist() if "hh_no" in f.column_names else [None] * f.num_rows
    scope_ids = [one(i, n) for i, n in zip(f["household_id"].to_pylist(), hh_nos)]
    if other:
        found = ", ".join(f"{k} ({n:,})" for k, n in sorted(other.items())[:5])
        raise _err("national_ids.other_county",
                   f"预警数据含其他县的编号（{found}），不能写入本县（{county}）数据库；请按县分区加载（--county）",
                   f"the alerts carry ids of other counties ({found}) and cannot be stored in this county's "
                   f"({county}) database; load one county's partition (--county)")
    if unknown:
        shown = ", ".join(sorted(set(unknown))[:5])
        n = len(set(unknown))
        raise _err("national_ids.unknown_household",
                   f"{n:,} 个户编号在本库中不存在或与导出时的户不一致（如 {shown}），全部未写入",
                   f"{n:,} household numbers (hh_no) are unknown in this database or belong to another household "
                   f"than at export (e.g. {shown}); nothing was stored")
    # the scope is what store_run needs (other feature columns would still hold national ids)
    keep = [n for n in ("as_of", "household_id", "hh_no", "region_code") if n in f.column_names]
    scope = f.select(keep)
    scope = scope.set_column(keep.index("household_id"), "household_id", pa.array(scope_ids, pa.int64()))
    return RunResult(scope, alerts)
