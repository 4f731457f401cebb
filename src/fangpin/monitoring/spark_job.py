"""The monitoring job as a Spark application (national scale, issue 8 §1).

Same definitions as the embedded engine — ``engine.compile_sql`` (sql/features.sql + rules.yaml, transpiled by
sqlglot) — but the features never come back to the driver: the rule flags are turned into alert rows on the
executors (evidence and sources as JSON, exactly the columns ``engine.alerts_from_flags`` records) and written as
Parquet partitioned by county (``county=<6-digit code>``), so each county's alerts can be loaded into that
county's database (:func:`read_alerts` + ``fangpin load-alerts``).

    spark-submit --master spark://127.0.0.1:17077 $(python -c 'import fangpin.monitoring.spark_job as m; print(m.__file__)') \\
        --snapshot SNAPDIR --as-of 2024-06-30 --out OUTDIR
    python -m fangpin.monitoring.spark_job --master local[2] --snapshot SNAPDIR --as-of 2024-06-30 --out OUTDIR

OUTDIR/alerts/county=…/part-*.parquet   one row per (as_of, household, rule)
OUTDIR/households/county=…/part-*.parquet   the households evaluated (the run's scope)
OUTDIR/run.json   as_of, snapshot fingerprint, rules and parameter versions, counts, seconds
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot, open_snapshot

# county codes are strings (leading digits matter): never let the reader infer an integer partition key
COUNTY = ds.partitioning(pa.schema([("county", pa.string())]), flavor="hive")
ALERT_COLUMNS = ["as_of", "household_id", "hh_no", "region_code", "rule_id", "risk_types", "evidence", "sources",
                 "param_version"]


def session(master: str | None = None, app: str = "fangpin-monitor", conf: dict | None = None):
    """Under spark-submit the master and resources come from the command line (master=None)."""
    if master:
        return E.spark_session(master, app, conf=conf)
    from pyspark.sql import SparkSession

    from pyspark import SparkConf

    given = SparkConf()  # what spark-submit / spark-defaults.conf set wins over our defaults
    b = (SparkSession.builder.appName(app).config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if not given.contains("spark.sql.shuffle.partitions"):
        # a default until run_job sizes it from the snapshot (apply_sizing); what the operator gives is kept
        b = b.config("spark.sql.shuffle.partitions", "8").config(AUTO_MARK + "spark.sql.shuffle.partitions", "8")
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    return b.getOrCreate()


# Job sizing (issue 8, docs/SCALE.md §3 "Sizing"). The heavy steps of features.sql are the ROW_NUMBER windows
# (latest version per household/person, latest income row per month) and the group-bys, all keyed by
# household/person. Spark runs each window's `rn = 1` filter partly on the map side (a per-task sort before the
# shuffle), so a map task's sort holds every row of its input split: with a split of ~7 M income rows (the 10 M
# snapshot read as 2 splits on 2 cores) one task sorted ~1 GB and spilled. Both sides are therefore sized from the
# snapshot's row counts (manifest.json): input splits of about SPLIT_ROWS rows of the largest table and one
# shuffle partition per HOUSEHOLDS_PER_PARTITION households (adaptive execution coalesces the small ones).
#
# Broadcast joins: Spark estimates a Parquet table's size from its *file* size, and the registry tables compress
# ~25× (sorted ids, repeated codes): the 10 M snapshot's `household` table (3.8 M rows) is a 7.5 MB file, under the
# default 10 MB broadcast threshold, so Spark collected all 3.8 M rows into the driver to broadcast them. With the
# default 1 GB driver heap that failed ("Not enough memory to build and broadcast the table to all worker nodes",
# java.lang.OutOfMemoryError: Java heap space) — the 5M/10M failure of issue 8. The threshold is therefore set
# below the file size of every table with more than BROADCAST_MAX_ROWS rows: only the parameter/date tables and
# small event tables are broadcast; everything keyed by household is shuffled.
SPLIT_ROWS = 1_000_000
BROADCAST_MAX_ROWS = 200_000
DEFAULT_BROADCAST = 10 << 20
HOUSEHOLDS_PER_PARTITION = 100_000
MIN_PARTITIONS = 8
AUTO_MARK = "spark.fangpin.autosize."  # + key = the default our session builders set for it (run_job may resize)


def _bytes(path: Path) -> int:
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*.parquet") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def sizing(snapshot: Snapshot) -> dict[str, str]:
    """Shuffle partitions and input split size for this snapshot (row counts from its manifest):
    ``spark.sql.shuffle.partitions`` = max(8, ⌈households / 100 k⌉) — 8 up to 800 k households (≈ 2 M persons),
    39 at 10 M persons, ≈ 1,900 for the nation; ``spark.sql.files.maxPartitionBytes`` = the bytes of about 1 M rows
    of the largest table (8 MB … 128 MB), so no map task sorts more than ~1 M rows;
    ``spark.sql.autoBroadcastJoinThreshold`` (and its adaptive twin) = 10 MB, or less than the file of the smallest
    table with more than 200 k rows, so no registry table is collected on the driver for a broadcast."""
    import math

    tables = snapshot.manifest.get("tables", {})
    households = int(tables.get("household", 0) or 0)
    partitions = max(MIN_PARTITIONS, math.ceil(households / HOUSEHOLDS_PER_PARTITION))
    rows, name = max(((int(n or 0), t) for t, n in tables.items()), default=(0, None))
    split = 128 << 20
    if rows > SPLIT_ROWS and name is not None:
        size = _bytes(snapshot.path(name))
        if size:
            split = min(128 << 20, max(8 << 20, size * SPLIT_ROWS // rows))
    big = [b for b in (_bytes(snapshot.path(t)) for t, n in tables.items() if int(n or 0) > BROADCAST_MAX_ROWS)
           if b > 0]
    broadcast = min([DEFAULT_BROADCAST] + [b - 1 for b in big])
    return {"spark.sql.shuffle.partitions": str(partitions), "spark.sql.files.maxPartitionBytes": str(split),
            "spark.sql.autoBroadcastJoinThreshold": str(broadcast),
            "spark.sql.adaptive.autoBroadcastJoinThreshold": str(broadcast),
            "spark.sql.adaptive.enabled": "true", "spark.sql.adaptive.coalescePartitions.enabled": "true"}


def apply_sizing(spark, snapshot: Snapshot) -> dict[str, str]:
    """Set :func:`sizing` on the session for every key the operator did not choose (a key given to the session
    at start — ``spark-submit --conf spark.sql.shuffle.partitions=…``, spark-defaults.conf, the builder — wins
    unless it is the default our own builders put there); returns what is in force."""
    given = spark.sparkContext.getConf()
    want = sizing(snapshot)
    for key, value in want.items():
        chosen = given.contains(key) and given.get(key) != given.get(AUTO_MARK + key, None)
        if not chosen:
            spark.conf.set(key, value)
    return {k: spark.conf.get(k) for k in want}


def alert_frame(flags, rules: E.RuleSet):
    """Flag columns → one alert row per fired (household, rule), built on the executors in one pass: an array
    of (rule, risk types, evidence, sources) structs, one per fired rule, exploded."""
    from pyspark.sql import functions as F

    fired = []
    for r in rules.rules:
        if r.risk_type_column:
            types = F.array(F.col(r.risk_type_column).cast("string"))
        else:
            types = F.array(*[F.lit(t) for t in r.risk_types])
        # evidence keeps nulls (as alerts_from_flags does), sources drop them
        evidence = (F.to_json(F.struct(*[F.col(c) for c in r.compares]), {"ignoreNullFields": "false"})
                    if r.compares else F.lit("{}"))
        sources = F.to_json(F.struct(*[F.col(c) for c in r.sources])) if r.sources else F.lit("{}")
        fired.append(F.when(F.col(r.flag), F.struct(F.lit(r.id).alias("rule_id"), types.alias("risk_types"),
                                                     evidence.alias("evidence"), sources.alias("sources"))))
    hits = F.filter(F.array(*fired), lambda x: x.isNotNull())
    return (flags.select("as_of", "household_id", "hh_no", "region_code",
                         F.coalesce(F.col("param_version"), F.lit("")).alias("param_version"),
                         F.explode(hits).alias("a"))
            .select("as_of", "household_id", "hh_no", "region_code", "a.rule_id", "a.risk_types", "a.evidence",
                    "a.sources", "param_version"))


def run_job(spark, snapshot: Snapshot, as_of: date, out: Path, *, rules: E.RuleSet | None = None,
            pset=None, overrides: dict | None = None) -> dict:
    """Run the monitoring job on ``spark`` and write alerts + scope under ``out`` (overwritten: re-running is
    safe). Returns the run summary (also written to out/run.json)."""
    from pyspark.sql import functions as F

    from fangpin.policy import load_parameters

    t0 = time.perf_counter()
    rules = rules or E.load_rules()
    pset = pset or load_parameters()
    conf = apply_sizing(spark, snapshot)
    hv = spark.read.parquet(str(snapshot.path("household_version")))
    provinces = sorted(r[0] for r in hv.select(F.substring("region_code", 1, 2)).distinct().collect() if r[0])
    flags = E.run_spark(snapshot, E.asof_table([as_of]), E.params_table(pset, provinces, [as_of], overrides),
                        rules, spark=spark, collect=False)
    flags = flags.withColumn("county", F.substring("region_code", 1, 6)).cache()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # one file per county partition (repartition by county): each county loads its own alerts
    alerts = alert_frame(flags, rules).withColumn("county", F.substring("region_code", 1, 6))
    alerts.repartition("county").write.mode("overwrite").partitionBy("county").parquet(str(out / "alerts"))
    flags.select("as_of", "household_id", "hh_no", "region_code", "county").repartition("county").write \
        .mode("overwrite").partitionBy("county").parquet(str(out / "households"))
    flags.unpersist()
    a = ds.dataset(out / "alerts", format="parquet", partitioning=COUNTY)
    h = ds.dataset(out / "households", format="parquet", partitioning=COUNTY)
    summary = {"as_of": as_of.isoformat(), "snapshot": snapshot.fingerprint, "rules_version": rules.version,
               "param_version": pset.version, "master": spark.sparkContext.master,
               "households": h.count_rows(), "alerts": a.count_rows(), "conf": conf,
               "seconds": round(time.perf_counter() - t0, 2)}
    if snapshot.manifest.get("ids"):
        summary["ids"] = snapshot.manifest["ids"]  # national ids: the write-back needs the scheme (read_alerts)
    (out / "run.json").write_text(json.dumps(summary, indent=2))
    return summary


def _evidence_value(v):
    # the same rounding as engine._normalise (6 places) followed by engine._json_value (2 places)
    return round(round(v, 6), 2) if isinstance(v, float) else v


def read_alerts(out: Path, county: str | None = None, conn=None, county_db: str | None = None) -> E.RunResult:
    """The job's output (optionally one county) as an engine.RunResult, ready for alerts.store.store_run.
    ``features`` holds only the scope (household_id, hh_no, region_code), which is what store_run needs.

    A run over national ids (run.json ``ids``, docs/SCALE.md §3) is mapped back to the local ids of the county
    database ``conn`` (required then): households by ``hh_no``, source rows by removing the county offset; any
    alert that does not belong to that database refuses the whole load (national_ids.localise). ``county_db``
    is that database's county code (default ``county``, else the one county of its households)."""
    from fangpin.monitoring import national_ids as NI

    out = Path(out)
    meta = json.loads((out / "run.json").read_text())
    national = NI.is_national(meta)
    if national and conn is None:
        raise ValueError("this run used national ids: read_alerts needs the county database (conn) to restore "
                         "local ids")
    flt = (ds.field("county") == county) if county else None
    a = ds.dataset(out / "alerts", format="parquet", partitioning=COUNTY).to_table(filter=flt)
    hd = ds.dataset(out / "households", format="parquet", partitioning=COUNTY)
    h = hd.to_table(filter=flt, columns=[c for c in ("as_of", "household_id", "hh_no", "region_code")
                                         if c in hd.schema.names])
    alerts = []
    for row in a.sort_by([("rule_id", "ascending"), ("household_id", "ascending")]).select(ALERT_COLUMNS).to_pylist():
        alerts.append(E.Alert(
            as_of=row["as_of"], household_id=int(row["household_id"]), hh_no=row["hh_no"],
            region_code=row["region_code"], rule_id=row["rule_id"], risk_types=list(row["risk_types"]),
            evidence={k: _evidence_value(v) for k, v in json.loads(row["evidence"]).items()},
            sources=json.loads(row["sources"]), param_version=row["param_version"],
            rules_version=meta["rules_version"], snapshot=meta["snapshot"]))
    scope = h.sort_by("household_id")
    result = E.RunResult(scope, alerts)
    return NI.localise(result, conn, county_db or county) if national else result


def compare_runs(a: E.RunResult, b: E.RunResult, cent: float = 0.011) -> dict:
    """Parity of two runs: the sorted (household, rule) pairs, then every alert's risk types, sources and
    evidence; evidence numbers may differ by one cent — the last-digit rounding of a value that sits on a
    half-cent (x.xx5) after different but equally exact floating-point summation orders."""
    key = lambda x: (x.household_id, x.rule_id)  # noqa: E731
    theirs = {key(x): x for x in b.alerts}
    diffs = []
    for x in a.alerts:
        y = theirs.get(key(x))
        if y is None:
            continue
        same = (x.risk_types == y.risk_types and x.sources == y.sources and x.evidence.keys() == y.evidence.keys()
                and all(abs(u - v) <= cent if isinstance(u, float) and isinstance(v, float) else u == v
                        for u, v in ((x.evidence[k], y.evidence[k]) for k in x.evidence)))
        if not same:
            diffs.append(key(x))
    pairs_equal = a.digest == b.digest
    return {"pairs_equal": pairs_equal, "pairs": len({key(x) for x in a.alerts}), "evidence_differences": len(diffs),
            "parity": 1.0 if pairs_equal and not diffs else 0.0}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="fangpin.monitoring.spark_job", description=__doc__.split("\n")[0])
    ap.add_argument("--snapshot", required=True, type=Path, help="Parquet snapshot directory (monitoring/snapshot.py)")
    ap.add_argument("--as-of", required=True, help="Monitoring date YYYY-MM-DD")
    ap.add_argument("--out", required=True, type=Path, help="Output directory (alerts/, households/, run.json)")
    ap.add_argument("--master", default=None, help="Spark master (omit under spark-submit)")
    a = ap.parse_args(argv)
    spark = session(a.master)
    try:
        summary = run_job(spark, open_snapshot(a.snapshot), date.fromisoformat(a.as_of), a.out)
    finally:
        spark.stop()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
