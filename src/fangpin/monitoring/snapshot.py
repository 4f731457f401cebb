"""Columnar snapshot for batch monitoring: the registry's append-only tables exported to Parquet.

The snapshot keeps *history* (every version row with valid_from / recorded_at), so the feature SQL can answer
"as of date D, as known on D" for any D and can never read data recorded after the as-of date (the time filter
is in the SQL, tested in tests/integration/test_monitoring.py). The same Parquet files feed DuckDB (embedded) and
Spark (national scale).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fangpin.monitoring.dept_events import DEPT_EVENT_SCHEMA, from_feed_records, from_public_welfare_exits

# table → columns exported (sensitive identity columns are not needed for monitoring and are left out)
TABLES: dict[str, list[str]] = {
    "household": ["id", "hh_no"],
    "household_version": ["id", "household_id", "valid_from", "recorded_at", "region_code", "hh_type", "relocated",
                          "active"],
    "member_version": ["id", "person_id", "household_id", "valid_from", "recorded_at", "active", "sex", "birth_date",
                       "relation", "schooling", "health", "labour_skill", "migrant_months", "med_insured",
                       "pension_insured", "disability_grade", "disability_category"],
    "income_record": ["id", "household_id", "period", "period_start", "period_end", "recorded_at", "wage", "business",
                      "property", "transfer", "business_cost", "claims", "medical_oop", "education_cost"],
    "guarantee_status": ["id", "household_id", "status_date", "recorded_at", "housing_safe", "dropout", "water_safe",
                         "uninsured_member"],
}
ARROW_TYPES = {"valid_from": pa.date32(), "period_start": pa.date32(), "period_end": pa.date32(),
               "status_date": pa.date32(), "birth_date": pa.date32(), "recorded_at": pa.timestamp("us"),
               "id": pa.int64(), "household_id": pa.int64(), "person_id": pa.int64(),
               "migrant_months": pa.int64(), "disability_grade": pa.int64(), "disability_category": pa.int64(),
               "relocated": pa.bool_(), "active": pa.bool_(), "med_insured": pa.bool_(), "pension_insured": pa.bool_(),
               "housing_safe": pa.bool_(), "dropout": pa.bool_(), "water_safe": pa.bool_(),
               "uninsured_member": pa.bool_(), "wage": pa.float64(), "business": pa.float64(),
               "property": pa.float64(), "transfer": pa.float64(), "business_cost": pa.float64(),
               "claims": pa.float64(), "medical_oop": pa.float64(), "education_cost": pa.float64()}


@dataclass
class Snapshot:
    root: Path
    manifest: dict

    def path(self, table: str) -> Path:
        return self.root / f"{table}.parquet"

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]


def _schema(cols: list[str]) -> pa.Schema:
    return pa.schema([(c, ARROW_TYPES.get(c, pa.string())) for c in cols])


def export(conn: Connection, root: Path, *, extra: dict[str, pa.Table] | None = None, chunk: int = 200_000,
           households: list[int] | None = None, national_ids: bool = False, county: str | None = None) -> Snapshot:
    """Write every monitored table to ``root`` as Parquet (streamed in chunks) and a manifest.

    ``national_ids`` (the cluster export, docs/SCALE.md §3): every id column of every table becomes
    ``county × 10^10 + local id`` (fangpin.monitoring.national_ids), so county exports can be unioned for one
    provincial / national run; ``county`` defaults to the database's one county code. The manifest records the
    scheme (``ids``).

    ``households`` (incremental runs) limits the export to those households' rows (village-level department
    events are kept): every feature is computed from a household's own rows, so the result for them is the same
    as from a full snapshot (tests/integration/test_monitoring.py), and a one-household run stays fast."""
    root.mkdir(parents=True, exist_ok=True)
    from fangpin.registry.models import Base

    if households is not None and len(set(households)) > 5000:
        households = None  # a large batch: one full export is cheaper than huge IN lists (SQLite variable limits)

    from fangpin.monitoring import national_ids as NI

    if national_ids:
        county = NI.check_county(county) if county else NI.county_of(conn)
    shift = (lambda b, name: NI.apply(b, county, name)) if national_ids else (lambda b, name: b)
    offset_cols: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    h = hashlib.sha256()
    for name, cols in TABLES.items():
        t = Base.metadata.tables[name]
        schema = _schema(cols)
        writer = pq.ParquetWriter(root / f"{name}.parquet", schema, compression="zstd")
        n = 0
        q = select(*[t.c[c] for c in cols])
        if households is not None:
            key = t.c["id"] if name == "household" else t.c["household_id"]
            q = q.where(key.in_(sorted(set(households))))
        res = conn.execution_options(yield_per=chunk).execute(q.order_by(t.c[cols[0]]))
        for part in res.partitions(chunk):
            columns = list(zip(*part))
            writer.write_batch(shift(pa.record_batch([pa.array(list(c), type=f.type)
                                                      for c, f in zip(columns, schema)], schema=schema), name))
            n += len(part)
        writer.close()
        counts[name] = n
        offset_cols[name] = NI.id_columns(schema)
        h.update(f"{name}:{n}".encode())
    extra = dict(extra or {})
    if "dept_event" not in extra:
        # department triggers (POLICY.md §6) from the linked feed rows; empty when no feed was imported
        # (+ exits from public-welfare posts, fangpin's own programme: seed 004 §四(七), POLICY.md §6 人社)
        events = pa.concat_tables([from_feed_records(conn), from_public_welfare_exits(conn)])
        if households is not None:
            import pyarrow.compute as pc

            hh = events["household_id"]
            events = events.filter(pc.or_(pc.is_null(hh), pc.is_in(hh, pa.array(sorted(set(households)), pa.int64()))))
        extra["dept_event"] = events
    for name, table in extra.items():
        table = shift(table, name)
        offset_cols[name] = NI.id_columns(table.schema)
        pq.write_table(table, root / f"{name}.parquet", compression="zstd")
        counts[name] = table.num_rows
        h.update(f"{name}:{table.num_rows}".encode())
    for name in sorted(counts):
        with open(root / f"{name}.parquet", "rb") as fh:  # cheap content fingerprint: the footer only
            fh.seek(-64, 2)
            h.update(fh.read())
    manifest = {"tables": counts}
    if national_ids:
        manifest["ids"] = NI.manifest_entry(county, offset_cols)
        h.update(f"ids:{county}".encode())
    manifest["fingerprint"] = h.hexdigest()[:16]
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return Snapshot(root, manifest)


def open_snapshot(root: Path) -> Snapshot:
    return Snapshot(root, json.loads((root / "manifest.json").read_text()))


def union(snapshots: list[Snapshot], root: Path, layout: str = "files") -> Snapshot:
    """One snapshot from several county exports made with ``national_ids``. Refuses exports with local ids
    (their ids collide) and two exports of the same county.

    ``layout="files"``: one Parquet file per table (streamed, batch by batch) — read by DuckDB and Spark: a
    province on one server. ``layout="directory"``: each ``<table>.parquet`` is a directory of the county files
    as they are (``<table>.parquet/county=<code>/part-0.parquet``, copied) — read
    by Spark only, nothing rewritten: the national run. A ``files`` union may itself be unioned again into
    ``files`` (counties → province → nation); a ``directory`` union takes county exports only."""
    import shutil

    from fangpin.issues import FangpinValueError, issue
    from fangpin.monitoring import national_ids as NI

    if not snapshots:
        raise FangpinValueError(issue("national_ids.union_empty", "没有要合并的快照", "no snapshots to union"))
    counties: list[str] = []
    for s in snapshots:
        if not NI.is_national(s.manifest):
            raise FangpinValueError(issue(
                "national_ids.union_local",
                f"快照 {s.root} 使用本县编号（导出时未加 --national-ids），与其他县的编号会冲突，不能合并",
                f"snapshot {s.root} has county-local ids (exported without --national-ids): they collide with "
                "other counties' ids, so it cannot be unioned"))
        several = len(s.manifest["ids"]["counties"]) > 1
        if s.manifest.get("layout") == "directory" or (layout == "directory" and several):
            raise FangpinValueError(issue(
                "national_ids.union_nested",
                f"快照 {s.root} 已是多县合并的快照；按目录方式合并时请直接使用各县导出的快照",
                f"snapshot {s.root} is already a union of several counties; for the directory layout union the "
                "county exports themselves"))
        counties += s.manifest["ids"]["counties"]
    dup = sorted(c for c, n in Counter(counties).items() if n > 1)
    if dup:
        raise FangpinValueError(issue("national_ids.union_duplicate", f"县 {', '.join(dup)} 的快照重复",
                                      f"county {', '.join(dup)} appears in more than one snapshot"))
    if layout not in ("files", "directory"):
        raise ValueError(f"layout must be files or directory, not {layout!r}")
    root.mkdir(parents=True, exist_ok=True)
    names = sorted({t for s in snapshots for t in s.manifest["tables"]})
    counts: dict[str, int] = {}
    h = hashlib.sha256()
    columns: dict[str, list[str]] = {}
    for name in names:
        parts = [(s.manifest["ids"]["counties"][0], s.path(name)) for s in snapshots if s.path(name).exists()]
        schema = pq.read_schema(parts[0][1])
        n = 0
        target = root / f"{name}.parquet"  # re-running replaces the table (either layout)
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if layout == "directory":
            for county, p in parts:
                dest = root / f"{name}.parquet" / f"county={county}" / "part-0.parquet"
                dest.parent.mkdir(parents=True, exist_ok=True)
                # copied, not hard-linked: a county re-export truncates its file in place
                shutil.copyfile(p, dest)
                n += pq.ParquetFile(p).metadata.num_rows
        else:
            with pq.ParquetWriter(root / f"{name}.parquet", schema, compression="zstd") as writer:
                for _, p in parts:
                    for b in pq.ParquetFile(p).iter_batches(batch_size=200_000):
                        writer.write_batch(b.cast(schema) if b.schema != schema else b)
                        n += b.num_rows
        counts[name] = n
        columns[name] = NI.id_columns(schema)
    for s in sorted(snapshots, key=lambda s: s.manifest["ids"]["counties"]):
        h.update(s.fingerprint.encode())
    ids = dict(snapshots[0].manifest["ids"], counties=sorted(counties), columns=columns)
    manifest = {"tables": counts, "ids": ids, "fingerprint": h.hexdigest()[:16], "layout": layout,
                "parts": {",".join(s.manifest["ids"]["counties"]): s.fingerprint for s in snapshots}}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return Snapshot(root, manifest)
