"""Monitoring engine (监测预警): one definition of features and rules, run on DuckDB or Spark.

The features are one SQL file (sql/features.sql, DuckDB dialect); the rules are SQL boolean expressions in
rules.yaml. ``compile_sql`` joins them into one query and sqlglot transpiles it for the target engine, so there is
no second hand-kept copy. Each engine returns the same Arrow table (features + one flag per rule); turning flags
into alerts with evidence is shared Python code.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
import yaml

from fangpin.monitoring.snapshot import DEPT_EVENT_SCHEMA, TABLES, Snapshot
from fangpin.policy import ParameterSet, load_parameters

FEATURE_TABLES = list(TABLES)
# Tables a snapshot may lack (older snapshots, a county without department feeds): an empty table of this schema
# stands in, so the one feature definition always runs. dept_event = department triggers (POLICY.md §6), see
# fangpin.monitoring.dept_events.
OPTIONAL_TABLES: dict[str, pa.Schema] = {
    "dept_event": DEPT_EVENT_SCHEMA,
    # proxy-means income estimates per (household, as_of) — risk/pmt.py model_output(); feeds rule PMT-LOW
    "model_output": pa.schema([("household_id", pa.int64()), ("as_of", pa.date32()), ("pmt_pc_income", pa.float64()),
                               ("pmt_pc_income_hi", pa.float64())]),
}


@dataclass(frozen=True)
class Rule:
    id: str
    name_zh: str
    name_en: str
    when: str
    reference: str
    risk_types: tuple[str, ...] = ()
    risk_type_column: str | None = None
    compares: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        return "r_" + self.id.replace("-", "_").lower()


@dataclass
class RuleSet:
    rules: list[Rule]
    version: str

    def by_id(self, rid: str) -> Rule:
        return next(r for r in self.rules if r.id == rid)


class RuleError(ValueError):
    pass


def load_rules(paths: Iterable[Path] | None = None) -> RuleSet:
    """Load rules.yaml (and optional extra rule files); each `when` must parse as SQL."""
    texts = [resources.files("fangpin.monitoring").joinpath("rules.yaml").read_text(encoding="utf-8")]
    texts += [Path(p).read_text(encoding="utf-8") for p in (paths or [])]
    rules: list[Rule] = []
    for text in texts:
        doc = yaml.safe_load(text)
        for i, r in enumerate(doc.get("rules", [])):
            missing = {"id", "name_zh", "name_en", "when", "reference"} - set(r)
            if missing:
                raise RuleError(f"rule #{i}: missing {sorted(missing)}")
            if not r.get("risk_types") and not r.get("risk_type_column"):
                raise RuleError(f"rule {r['id']}: needs risk_types or risk_type_column (POLICY.md §7)")
            try:
                sqlglot.parse_one(r["when"], read="duckdb")
            except sqlglot.errors.ParseError as e:
                raise RuleError(f"rule {r['id']}: `when` is not a SQL expression: {e}") from e
            rules.append(Rule(id=r["id"], name_zh=r["name_zh"], name_en=r["name_en"], when=r["when"],
                              reference=r["reference"], risk_types=tuple(r.get("risk_types") or ()),
                              risk_type_column=r.get("risk_type_column"), compares=tuple(r.get("compares") or ()),
                              sources=tuple(r.get("sources") or ())))
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise RuleError("duplicate rule ids")
    version = hashlib.sha256("\n---\n".join(texts).encode()).hexdigest()[:16]
    return RuleSet(rules, version)


@lru_cache(maxsize=1)
def features_sql() -> str:
    return resources.files("fangpin.monitoring").joinpath("sql/features.sql").read_text(encoding="utf-8")


def compile_sql(rules: RuleSet, dialect: str = "duckdb") -> str:
    """Features + one boolean flag column per rule, in the target dialect."""
    body = features_sql().strip().rstrip(";")
    flags = ",\n  ".join(f"COALESCE(({r.when}), FALSE) AS {r.flag}" for r in rules.rules)
    sql = f"SELECT f.*,\n  {flags}\nFROM (\n{body}\n) AS f"
    if dialect == "duckdb":
        return sql
    return sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=True)[0]


def month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


def asof_table(dates: Iterable[date]) -> pa.Table:
    """as_of, known_before (= next midnight), win_start (first day of the 12-month window), prev_start,
    m3_start (first day of the last 3 complete months), six_start (first day of the last 6 complete months,
    also the start of the 3 months before the last 3) and y3_start (first day of the same 3 months a year before
    the last 3; they end at win_start). A month-end as_of counts its own month as complete
    (POLICY.md §3 rolling 12 months [L]); any other day starts the windows one month earlier."""
    ds = sorted(set(dates))

    def start(d: date, back: int) -> date:
        return add_months(date(d.year, d.month, 1), -back if d == month_end(d) else -back - 1)

    return pa.table({
        "as_of": pa.array(ds, pa.date32()),
        "known_before": pa.array([datetime.combine(d + timedelta(days=1), time()) for d in ds], pa.timestamp("us")),
        "win_start": pa.array([add_months(date(d.year, d.month, 1), -11 if d == month_end(d) else -12) for d in ds],
                              pa.date32()),
        "prev_start": pa.array([add_months(date(d.year, d.month, 1), -23 if d == month_end(d) else -24) for d in ds],
                               pa.date32()),
        "m3_start": pa.array([start(d, 2) for d in ds], pa.date32()),
        "six_start": pa.array([start(d, 5) for d in ds], pa.date32()),
        "y3_start": pa.array([start(d, 14) for d in ds], pa.date32()),
    })


def params_table(pset: ParameterSet, provinces: Iterable[str], dates: Iterable[date],
                 overrides: dict[str, float] | None = None) -> pa.Table:
    """Policy values in force per (as_of, province) — the SQL never holds a threshold literal."""
    rows = []
    for d in sorted(set(dates)):
        for p in sorted(set(provinces)):
            line = float(pset.get("monitoring_line", p, d).value)
            drop = float(pset.get("sharp_income_drop_ratio", p, d).value)
            # POLICY.md §6 医保 [L]: yearly out-of-pocket ≥ ratio × last year's rural per-capita disposable income
            # (0.5 for 脱贫/monitored households, 1.0 for others) — dated parameters, cn.yaml
            rdi = float(pset.get("rural_disposable_income_prev_year", p, d).value)
            med_mon = float(pset.get("medical_oop_trigger_ratio_monitored", p, d).value) * rdi
            med_gen = float(pset.get("medical_oop_trigger_ratio_general", p, d).value) * rdi
            if overrides:
                line = line * overrides.get("monitoring_line_factor", 1.0)
                drop = overrides.get("sharp_income_drop_ratio", drop)
            rows.append({
                "as_of": d, "province": p, "monitoring_line": line, "sharp_drop_ratio": drop,
                "uses_claims": bool(pset.get("sudden_hardship_uses_claims", p, d).value),
                "deducts_oop": bool(pset.get("sudden_hardship_deducts_compliant_oop", p, d).value),
                "med_oop_trigger_monitored": med_mon, "med_oop_trigger_general": med_gen,
                "param_version": pset.version,
            })
    schema = pa.schema([("as_of", pa.date32()), ("province", pa.string()), ("monitoring_line", pa.float64()),
                        ("sharp_drop_ratio", pa.float64()), ("uses_claims", pa.bool_()), ("deducts_oop", pa.bool_()),
                        ("med_oop_trigger_monitored", pa.float64()), ("med_oop_trigger_general", pa.float64()),
                        ("param_version", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def provinces_in(snapshot: Snapshot) -> list[str]:
    import pyarrow.parquet as pq

    codes = pq.read_table(snapshot.path("household_version"), columns=["region_code"])["region_code"]
    return sorted({c[:2] for c in pc.unique(codes).to_pylist() if c})


# ---------------------------------------------------------------------------------------------------------------
# engines

def run_duckdb(snapshot: Snapshot, asof: pa.Table, params: pa.Table, rules: RuleSet,
               households: pa.Array | None = None, threads: int | None = None,
               extra_tables: dict[str, pa.Table] | None = None) -> pa.Table:
    """Features + rule flags on DuckDB. ``extra_tables`` supplies optional tables (e.g. ``model_output``) in
    memory instead of from the snapshot directory."""
    import duckdb

    con = duckdb.connect()
    # the result is re-sorted by _normalise, so DuckDB need not keep insertion order (less memory, more parallel)
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    for t in FEATURE_TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{snapshot.path(t)}')")
    for t, schema in OPTIONAL_TABLES.items():
        if extra_tables and t in extra_tables:
            con.register(t, extra_tables[t].select(schema.names).cast(schema))
        elif snapshot.path(t).exists():
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{snapshot.path(t)}')")
        else:
            con.register(t, schema.empty_table())
    if households is not None:
        # incremental run: only the affected households are recomputed
        con.register("only_hh", pa.table({"household_id": households}))
        con.execute("CREATE OR REPLACE VIEW household_version AS SELECT v.* FROM read_parquet('"
                    f"{snapshot.path('household_version')}') v SEMI JOIN only_hh o ON o.household_id = v.household_id")
    con.register("asof_dates", asof)
    con.register("params", params)
    # sorted by DuckDB (in parallel, in its own buffers) so that _normalise need not copy every column again with
    # Arrow's single-threaded take — at 10M persons that copy alone cost ~10 CPU-seconds (docs/RISK.md)
    out = con.sql(compile_sql(rules, "duckdb") + "\nORDER BY as_of, household_id").to_arrow_table()
    con.close()
    return _normalise(out)


def spark_session(master: str = "local[2]", app: str = "fangpin-monitor", conf: dict[str, str] | None = None):
    """A session on ``master`` (local[n], spark://host:port, yarn, k8s://…); ``conf`` adds settings (e.g. from
    fangpin.monitoring.cluster.cluster_conf). An active session on another master is stopped first, since
    getOrCreate would silently hand it back."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and active.sparkContext.master != master:
        active.stop()
    b = (SparkSession.builder.master(master).appName(app)
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", "8")  # the cluster job sizes it per snapshot (spark_job.sizing)
         .config("spark.ui.enabled", "false")
         .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if "spark.sql.shuffle.partitions" not in (conf or {}):  # our default: spark_job.apply_sizing may replace it
        b = b.config("spark.fangpin.autosize.spark.sql.shuffle.partitions", "8")
    for k, v in (conf or {}).items():
        b = b.config(k, v)
    return b.getOrCreate()


def run_spark(snapshot: Snapshot, asof: pa.Table, params: pa.Table, rules: RuleSet, spark=None,
              collect: bool = True):
    """Features + rule flags on Spark; ``collect=False`` returns the Spark DataFrame instead of an Arrow table
    (the cluster job, fangpin.monitoring.spark_job, turns flags into alerts on the executors)."""
    spark = spark or spark_session()
    for t in FEATURE_TABLES:
        spark.read.parquet(str(snapshot.path(t))).createOrReplaceTempView(t)
    for t, schema in OPTIONAL_TABLES.items():
        if snapshot.path(t).exists():
            spark.read.parquet(str(snapshot.path(t))).createOrReplaceTempView(t)
        else:
            from pyspark.sql.types import (DateType, DoubleType, LongType, StringType, StructField, StructType,
                                           TimestampNTZType)
            kinds = {pa.int64(): LongType(), pa.string(): StringType(), pa.date32(): DateType(),
                     pa.timestamp("us"): TimestampNTZType(), pa.float64(): DoubleType()}
            spark.createDataFrame([], StructType([StructField(f.name, kinds[f.type]) for f in schema])) \
                .createOrReplaceTempView(t)
    spark.createDataFrame(asof.to_pandas()).createOrReplaceTempView("asof_dates")
    spark.createDataFrame(params.to_pandas()).createOrReplaceTempView("params")
    df = spark.sql(compile_sql(rules, "spark"))
    if not collect:
        return df
    return _normalise(df.toArrow())


def _normalise(t: pa.Table) -> pa.Table:
    """Same column types and row order whatever the engine (for parity and digests)."""
    cols = {}
    for name in t.column_names:
        col = t[name]
        if pa.types.is_decimal(col.type) or pa.types.is_floating(col.type):
            col = pc.round(col.cast(pa.float64()), 6)
        elif pa.types.is_integer(col.type):
            col = col.cast(pa.int64())
        elif pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            col = col.cast(pa.date32()) if pa.types.is_date(col.type) else col.cast(pa.timestamp("us"))
        cols[name] = col
    out = pa.table(cols)
    order = pc.sort_indices(out, sort_keys=[("as_of", "ascending"), ("household_id", "ascending")])
    if len(order) == 0 or bool(pc.all(pc.equal(order, pa.array(np.arange(len(order), dtype=np.uint64)))).as_py()):
        return out  # already in order (run_duckdb sorts in the query): no copy of every column
    # one contiguous chunk per column before the take: Arrow's take across many chunks costs several times more
    return out.combine_chunks().take(order)


# ---------------------------------------------------------------------------------------------------------------
# alerts

@dataclass(slots=True)
class Alert:
    as_of: date
    household_id: int
    hh_no: str
    region_code: str
    rule_id: str
    risk_types: list[str]
    evidence: dict
    sources: dict
    param_version: str
    rules_version: str
    snapshot: str


@dataclass
class RunResult:
    features: pa.Table
    alerts: list[Alert] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return alerts_digest((a.household_id, a.rule_id) for a in self.alerts)


def alerts_digest(pairs: Iterable[tuple[int, str]]) -> str:
    """sha256 of the sorted (household id, rule id) pairs (issue 4 §3: compare two runs)."""
    body = "\n".join(f"{h}\t{r}" for h, r in sorted(set((int(h), str(r)) for h, r in pairs)))
    return hashlib.sha256(body.encode()).hexdigest()


def _json_value(v):
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 2)
    return v


def alerts_from_flags(features: pa.Table, rules: RuleSet, snapshot_fp: str) -> list[Alert]:
    out: list[Alert] = []
    for r in rules.rules:
        cols = ["as_of", "household_id", "hh_no", "region_code", "param_version", *r.compares, *r.sources]
        if r.risk_type_column:
            cols.append(r.risk_type_column)
        seen = set()
        cols = [c for c in cols if not (c in seen or seen.add(c))]
        # filter only the columns the alert needs (not all ~90 feature columns), once per rule
        hit = features.select(cols).filter(pc.fill_null(features[r.flag], False))
        if hit.num_rows == 0:
            continue
        # column-wise conversion (one to_pylist per column, not per row): 10× fewer Python objects to build
        v = {c: hit[c].to_pylist() for c in cols}
        fixed = list(r.risk_types)
        for i in range(hit.num_rows):
            out.append(Alert(
                as_of=v["as_of"][i], household_id=v["household_id"][i], hh_no=v["hh_no"][i],
                region_code=v["region_code"][i], rule_id=r.id,
                risk_types=[v[r.risk_type_column][i]] if r.risk_type_column else list(fixed),
                evidence={c: _json_value(v[c][i]) for c in r.compares},
                sources={c: v[c][i] for c in r.sources if v[c][i] is not None},
                param_version=v["param_version"][i] or "", rules_version=rules.version, snapshot=snapshot_fp,
            ))
    return out


def features(snapshot: Snapshot, as_of: date, *, engine: str = "duckdb", pset: ParameterSet | None = None,
             rules: RuleSet | None = None, overrides: dict | None = None, spark=None,
             households: pa.Array | None = None, extra_tables: dict[str, pa.Table] | None = None) -> pa.Table:
    """Features + one flag per rule as of ``as_of`` (the first half of ``run``, before the alert objects)."""
    pset = pset or load_parameters()
    rules = rules or load_rules()
    asof = asof_table([as_of])
    params = params_table(pset, provinces_in(snapshot), [as_of], overrides)
    if engine == "duckdb":
        return run_duckdb(snapshot, asof, params, rules, households=households, extra_tables=extra_tables)
    if engine == "spark":
        return run_spark(snapshot, asof, params, rules, spark=spark)
    raise ValueError(f"unknown engine {engine!r} (duckdb | spark)")


def run(snapshot: Snapshot, as_of: date, *, engine: str = "duckdb", pset: ParameterSet | None = None,
        rules: RuleSet | None = None, overrides: dict | None = None, spark=None,
        households: pa.Array | None = None, extra_tables: dict[str, pa.Table] | None = None) -> RunResult:
    rules = rules or load_rules()
    feats = features(snapshot, as_of, engine=engine, pset=pset, rules=rules, overrides=overrides, spark=spark,
                     households=households, extra_tables=extra_tables)
    return RunResult(feats, alerts_from_flags(feats, rules, snapshot.fingerprint))


def alerts_as_json(alerts: list[Alert]) -> list[dict]:
    return [{"as_of": a.as_of.isoformat(), "household_id": a.household_id, "hh_no": a.hh_no,
             "region_code": a.region_code, "rule_id": a.rule_id, "risk_types": a.risk_types,
             "evidence": a.evidence, "sources": a.sources, "param_version": a.param_version,
             "rules_version": a.rules_version, "snapshot": a.snapshot} for a in alerts]


__all__ = ["Rule", "RuleSet", "load_rules", "compile_sql", "run", "features", "run_duckdb", "run_spark", "asof_table",
           "params_table", "alerts_digest", "alerts_from_flags", "Alert", "RunResult", "spark_session",
           "alerts_as_json", "json"]
