"""Rule preview (规则预览, issue 8 §2): "how many households match this rule now", per township.

A preview is a rule of monitoring/rules.yaml (its ``when``, unchanged) with optionally changed policy parameters,
or a simple condition over the household features (a SQL boolean expression checked against a whitelist: feature
columns, literals, comparisons, arithmetic, AND/OR/NOT, IN, BETWEEN, IS NULL, COALESCE/ABS/LEAST/GREATEST — no
subqueries, no other functions). Counts are grouped by township (village code[:9]).

Speed: the household features for (snapshot, as-of) are computed once by the monitoring engine (the one feature
definition, sql/features.sql) and cached as Parquet, keyed by the snapshot fingerprint, the as-of date, the feature
SQL and the policy parameter version; every later preview is one DuckDB aggregate over that file (only the columns
the condition names are read). The first preview of a (snapshot, as-of) pays for the features ("cold"); the
benchmark reports cold and warm times separately (benchmarks/scale_bench.py).
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from fangpin.issues import FangpinValueError, issue
from fangpin.monitoring import engine as E
from fangpin.monitoring.snapshot import Snapshot
from fangpin.policy import ParameterSet, load_parameters

# policy-parameter columns of the feature table a preview may change (engine.params_table / features.sql base)
PARAM_COLUMNS = {"monitoring_line": "monitoring line (元/person/year, POLICY.md §3)",
                 "sharp_drop_ratio": "sharp income fall ratio (POLICY.md §2 [L])",
                 "med_oop_trigger": "medical self-pay trigger (元, POLICY.md §6 医保 [L])"}
_ALLOWED = (exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.And, exp.Or, exp.Not, exp.Paren,
            exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Is,
            exp.In, exp.Between, exp.Coalesce, exp.Abs, exp.Least, exp.Greatest, exp.Tuple)


class PreviewError(FangpinValueError):
    pass


def _err(code: str, zh: str, en: str) -> PreviewError:
    return PreviewError(issue(code, zh, en))


def cache_dir() -> Path:
    from fangpin.config import data_home

    return Path(os.environ.get("FANGPIN_PREVIEW_CACHE", data_home() / "cache" / "features"))


_PSET: dict = {}


def default_parameters() -> ParameterSet:
    """The shipped parameter set, parsed once per process and re-read when a file changes (parsing the YAML
    takes longer than a warm preview)."""
    from fangpin.policy.params import package_params_dir

    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(package_params_dir().glob("*.yaml")))
    if _PSET.get("stamp") != stamp:
        _PSET.update(stamp=stamp, pset=load_parameters())
    return _PSET["pset"]


_RULES: dict = {}


def default_rules() -> E.RuleSet:
    if "rules" not in _RULES:
        _RULES["rules"] = E.load_rules()
    return _RULES["rules"]


def _key(snapshot: Snapshot, as_of: date, pset: ParameterSet) -> str:
    h = hashlib.sha256("\n".join([snapshot.fingerprint, as_of.isoformat(), E.features_sql(), pset.version]).encode())
    return h.hexdigest()[:20]


def feature_file(snapshot: Snapshot, as_of: date, *, pset: ParameterSet | None = None,
                 cache: Path | None = None) -> tuple[Path, bool]:
    """The cached feature table for (snapshot, as_of): (path, computed_now). Written atomically (temp + rename),
    so a concurrent or interrupted computation never leaves a half file under the final name."""
    pset = pset or default_parameters()
    cache = Path(cache or cache_dir())
    path = cache / f"{_key(snapshot, as_of, pset)}.parquet"
    if path.exists():
        return path, False
    cache.mkdir(parents=True, exist_ok=True)
    feats = E.run_duckdb(snapshot, E.asof_table([as_of]), E.params_table(pset, E.provinces_in(snapshot), [as_of]),
                         E.RuleSet([], "features"))
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pq.write_table(feats, tmp, compression="zstd", row_group_size=256_000)
    os.replace(tmp, path)
    return path, True


def feature_columns(path: Path) -> list[str]:
    return pq.read_schema(path).names


def check_condition(when: str, columns: list[str]) -> str:
    """Parse a user condition; only whitelisted expression nodes over known feature columns pass. Returns the
    condition re-rendered by sqlglot (DuckDB dialect)."""
    try:
        trees = [t for t in sqlglot.parse(when, read="duckdb") if t is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as e:
        raise _err("PREVIEW_SYNTAX", f"条件不是有效的表达式：{e}", f"the condition is not a valid expression: {e}")
    if len(trees) != 1:
        raise _err("PREVIEW_SYNTAX", "条件必须是一个表达式", "the condition must be exactly one expression")
    tree = trees[0]
    known = set(columns)
    for node in tree.walk():
        if not isinstance(node, _ALLOWED):
            raise _err("PREVIEW_NOT_ALLOWED", f"条件中不允许使用 {node.key}",
                       f"{node.key} is not allowed in a preview condition (columns, literals, comparisons, "
                       "arithmetic, AND/OR/NOT, IN, BETWEEN, IS NULL, COALESCE/ABS/LEAST/GREATEST)")
        if isinstance(node, exp.Column) and (node.table or node.name not in known):
            raise _err("PREVIEW_COLUMN", f"未知的特征列：{node.sql()}",
                       f"unknown feature column: {node.sql()} (see docs/SCALE.md for the feature list)")
    return tree.sql(dialect="duckdb")


def preview(snapshot: Snapshot, as_of: date, *, rule: str | None = None, when: str | None = None,
            params: dict[str, float] | None = None, line_factor: float | None = None, scope: str = "",
            pset: ParameterSet | None = None, rules: E.RuleSet | None = None, cache: Path | None = None,
            resident: bool = False) -> dict:
    """Households matching ``rule`` (a rules.yaml id) or ``when`` (a condition), with ``params`` replacing policy
    parameter columns (absolute values) and/or the monitoring line scaled by ``line_factor``; per township within
    the region prefix ``scope``. Also counts the same condition under the parameters in force (``base``).
    ``resident=True`` (long-running processes: the web server) keeps the latest feature table in an in-memory
    DuckDB database, so repeated previews scan memory instead of decoding Parquet."""
    t0 = time.perf_counter()
    if (rule is None) == (when is None):
        raise _err("PREVIEW_WHAT", "请给出规则编号或条件(二选一)", "give a rule id or a condition (one of them)")
    pset = pset or default_parameters()
    rules = rules or default_rules()
    if rule is not None:
        try:
            cond = rules.by_id(rule).when
        except StopIteration:
            raise _err("PREVIEW_RULE", f"没有编号为 {rule} 的规则", f"no rule with id {rule}") from None
    path, cold = feature_file(snapshot, as_of, pset=pset, cache=cache)
    t1 = time.perf_counter()
    cols = feature_columns(path)
    cond = check_condition(cond if rule is not None else when, cols)
    params = dict(params or {})
    bad = set(params) - set(PARAM_COLUMNS)
    if bad:
        raise _err("PREVIEW_PARAM", f"不能修改的参数：{sorted(bad)}",
                   f"parameters that cannot be changed here: {sorted(bad)} (allowed: {sorted(PARAM_COLUMNS)})")
    repl: dict[str, str] = {}
    for k, v in params.items():
        try:
            repl[k] = f"CAST({float(v)!r} AS DOUBLE)"
        except (TypeError, ValueError):
            raise _err("PREVIEW_PARAM_VALUE", f"参数 {k} 必须是数字", f"parameter {k} must be a number") from None
    if line_factor is not None and "monitoring_line" not in params:
        repl["monitoring_line"] = f"(monitoring_line * CAST({float(line_factor)!r} AS DOUBLE))"
    if scope and not scope.isdigit():
        raise _err("PREVIEW_SCOPE", "区域代码必须是数字", "the region code must be digits")
    # the changed condition: parameter columns replaced by the new values, so one scan counts both
    changed = sqlglot.parse_one(cond, read="duckdb").transform(
        lambda n: sqlglot.parse_one(repl[n.name], read="duckdb") if isinstance(n, exp.Column) and n.name in repl
        else n).sql(dialect="duckdb")
    import duckdb

    where = f"WHERE region_code LIKE '{scope}%'" if scope else ""
    src = _resident_table(path) if resident else None
    con = src.cursor() if src is not None else duckdb.connect()
    try:
        rows = con.execute(f"""
            SELECT SUBSTRING(region_code, 1, 9) AS township, COUNT(*) AS households,
                   SUM(CAST(COALESCE(({changed}), FALSE) AS INTEGER)) AS matching,
                   SUM(CAST(COALESCE(({cond}), FALSE) AS INTEGER)) AS matching_base
            FROM {"feat" if src is not None else f"read_parquet('{path}')"} {where}
            GROUP BY township ORDER BY township""").fetchall()
    except duckdb.Error as e:
        raise _err("PREVIEW_EVAL", f"条件无法计算：{e}", f"the condition cannot be evaluated: {e}") from None
    finally:
        con.close()
    towns = {t: {"households": int(n), "matching": int(m or 0), "matching_base": int(b or 0)} for t, n, m, b in rows}
    return {
        "as_of": as_of.isoformat(), "rule": rule, "condition": changed, "condition_base": cond, "params": params, "line_factor": line_factor,
        "scope": scope, "snapshot": snapshot.fingerprint,
        "households": sum(t["households"] for t in towns.values()),
        "matching": sum(t["matching"] for t in towns.values()),
        "matching_base": sum(t["matching_base"] for t in towns.values()),
        "townships": towns, "cache": "cold" if cold else "warm",
        "seconds_features": round(t1 - t0, 3), "seconds": round(time.perf_counter() - t0, 3),
    }


_RESIDENT: dict = {}
_RESIDENT_LOCK = threading.Lock()


def _resident_table(path: Path):
    """An in-memory DuckDB database holding the feature table of ``path`` (only the latest one is kept);
    callers take a cursor (DuckDB cursors are safe to use from different threads)."""
    import duckdb

    with _RESIDENT_LOCK:
        if _RESIDENT.get("path") != str(path):
            old = _RESIDENT.pop("con", None)
            if old is not None:
                old.close()
            con = duckdb.connect(":memory:")
            con.execute(f"CREATE TABLE feat AS SELECT * FROM read_parquet('{path}')")
            _RESIDENT.update(path=str(path), con=con)
        return _RESIDENT["con"]


def registry_watermark(conn) -> str:
    """A cheap change marker for the registry's monitored tables (row count and highest id of each): a preview
    over the live database re-exports the snapshot only when it changed."""
    from sqlalchemy import func, select

    from fangpin.monitoring.snapshot import TABLES
    from fangpin.registry.models import Base

    parts = []
    for name in TABLES:
        t = Base.metadata.tables[name]
        n, m = conn.execute(select(func.count(), func.max(t.c.id))).one()
        parts.append(f"{name}:{n}:{m}")
    # department feeds feed dept_event (monitoring/dept_events.py); count their linked rows too
    from sqlalchemy import inspect

    if inspect(conn).has_table("feed_record"):
        from fangpin.exchange.models import FeedRecord

        ft = FeedRecord.__table__
        n, m = conn.execute(select(func.count(), func.max(ft.c.id))).one()
        parts.append(f"feed_record:{n}:{m}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def registry_snapshot(db, root: Path | None = None) -> Snapshot:
    """The snapshot of the live registry for previews, re-exported only when the watermark changed."""
    from fangpin.monitoring import snapshot as S

    root = Path(root or cache_dir().parent / "snapshots")
    with db.connect() as conn:
        mark = registry_watermark(conn)
        d = root / mark
        if (d / "manifest.json").exists():
            return S.open_snapshot(d)
        tmp = root / f"{mark}.{os.getpid()}.tmp"
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp)
        S.export(conn, tmp)
    os.replace(tmp, d)
    return S.open_snapshot(d)


__all__ = ["preview", "feature_file", "check_condition", "PreviewError", "registry_snapshot", "PARAM_COLUMNS"]
