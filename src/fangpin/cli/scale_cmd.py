"""National-scale commands (issue 8): `fangpin snapshot-export`, `fangpin snapshot-union`, `fangpin spark-monitor`,
`fangpin load-alerts`, `fangpin preview`."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, _write_json, app, console


def _store(db, result, as_of: date, meta: dict) -> dict:
    from fangpin.alerts.store import store_run

    by_rule = Counter(a.rule_id for a in result.alerts)
    report = {"as_of": as_of.isoformat(), "engine": "spark", "mode": "full",
              "households": result.features.num_rows,
              "alerts": len({(a.household_id, a.rule_id) for a in result.alerts}), "alerts_sha256": result.digest,
              "alerts_by_rule": dict(sorted(by_rule.items())), "snapshot": meta.get("snapshot"),
              "rules_version": meta.get("rules_version"), "spark": meta}
    report["stored"] = store_run(db, result, as_of=as_of, engine_name="spark", mode="full",
                                 started_at=datetime.now().replace(microsecond=0), report=dict(report))
    return report


def _read(J, out: Path, partition: str | None, conn, county: str | None):
    """read_alerts with the national-id write-back; a refused load exits 2 with the bilingual reason."""
    from fangpin.issues import FangpinValueError

    try:
        return J.read_alerts(out, partition, conn=conn, county_db=county)
    except FangpinValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(code=2)


def _export(e, out: Path, *, national_ids: bool, county: Optional[str]):
    """Registry → Parquet snapshot; a refusal (no county code, ids out of range) is printed and exits 2."""
    from fangpin.issues import FangpinValueError
    from fangpin.monitoring import snapshot as S

    try:
        with e.connect() as conn:
            return S.export(conn, out, national_ids=national_ids, county=county)
    except FangpinValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(code=2)


def _print(report: dict) -> None:
    console.print(f"{report['as_of']} spark run: {report['households']:,} households, {report['alerts']:,} alerts "
                  f"({report['stored'].get('alerts_new', 0):,} new)")
    for rule, n in report["alerts_by_rule"].items():
        console.print(f"  {rule}: {n:,}")


@app.command("spark-monitor")
def spark_monitor(
    db: Optional[str] = DbOpt,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Monitoring date YYYY-MM-DD (default: today)"),
    master: str = typer.Option("local[2]", "--spark-master", help="spark://host:port, yarn, k8s://…, local[n]"),
    executor_memory: str = typer.Option("1g", "--executor-memory"),
    out: Optional[Path] = typer.Option(None, "--out", help="Keep the job's Parquet output (alerts/, households/)"),
    snapshot_dir: Optional[Path] = typer.Option(None, "--snapshot-dir", help="Keep the Parquet export here"),
    county: Optional[str] = typer.Option(None, "--county", help="This database's county code for the national "
                                         "ids (default: the one county of its households)"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Export the registry to Parquet, run the monitoring job on a Spark cluster, store the alerts here."""
    import tempfile

    from fangpin.db import upgrade
    from fangpin.monitoring import spark_job as J
    from fangpin.monitoring.cluster import cluster_conf

    e = _engine(db)
    upgrade(e)
    d = date.fromisoformat(as_of) if as_of else date.today()
    with tempfile.TemporaryDirectory(prefix="fangpin-spark-") as tmp:
        snap_dir, out_dir = snapshot_dir or Path(tmp) / "snap", out or Path(tmp) / "out"
        # the cluster export always carries national ids (docs/SCALE.md §3): the Parquet can join a union
        snap = _export(e, snap_dir, national_ids=True, county=county)
        spark = J.session(master, conf=cluster_conf(master, executor_memory=executor_memory))
        try:
            meta = J.run_job(spark, snap, d, out_dir)
        finally:
            spark.stop()
        with e.connect() as conn:
            result = _read(J, out_dir, None, conn, county or snap.manifest["ids"]["counties"][0])
        report = _store(e, result, d, meta)
    _write_json(report_json, report)
    _print(report)


@app.command("load-alerts")
def load_alerts(
    db: Optional[str] = DbOpt,
    src: Path = typer.Option(..., "--from", exists=True, file_okay=False,
                             help="Output directory of fangpin.monitoring.spark_job (spark-submit)"),
    county: Optional[str] = typer.Option(None, "--county", help="Only this county's partition (6-digit code)"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Store the alerts a Spark cluster job wrote (all, or one county's partition) in this database."""
    import json

    from fangpin.monitoring import spark_job as J

    meta = json.loads((src / "run.json").read_text())
    e = _engine(db)
    with e.connect() as conn:
        result = _read(J, src, county, conn, county)
    report = _store(e, result, date.fromisoformat(meta["as_of"]), meta)
    _write_json(report_json, report)
    _print(report)


@app.command("snapshot-export")
def snapshot_export(
    db: Optional[str] = DbOpt,
    out: Path = typer.Option(..., "--out", help="Directory for <table>.parquet + manifest.json"),
    county: Optional[str] = typer.Option(None, "--county", help="This database's county code (default: the one "
                                         "county of its households)"),
    national_ids: bool = typer.Option(True, "--national-ids/--local-ids",
                                      help="ids = county × 10^10 + local id, so exports can be unioned (docs/SCALE.md §3)"),
) -> None:
    """Export the registry's monitored tables to Parquet for a provincial / national run (no names, no ID numbers)."""
    from fangpin.db import upgrade

    e = _engine(db)
    upgrade(e)
    snap = _export(e, out, national_ids=national_ids, county=county)
    ids = snap.manifest.get("ids")
    console.print(f"{out}: {sum(snap.manifest['tables'].values()):,} rows, fingerprint {snap.fingerprint}, "
                  + (f"national ids (county {ids['counties'][0]})" if ids else "local ids"))


@app.command("snapshot-union")
def snapshot_union(
    out: Path = typer.Option(..., "--out", help="Directory of the unioned snapshot"),
    sources: list[Path] = typer.Argument(..., exists=True, file_okay=False,
                                         help="County snapshot directories (fangpin snapshot-export)"),
    layout: str = typer.Option("files", "--layout", help="files (one file per table: DuckDB and Spark) | "
                               "directory (<table>.parquet/county=<code>/: Spark, nothing rewritten)"),
) -> None:
    """Union county exports made with national ids into one snapshot for one monitoring run."""
    from fangpin.issues import FangpinValueError
    from fangpin.monitoring import snapshot as S

    if layout not in ("files", "directory"):
        raise typer.BadParameter("--layout is files or directory")
    try:
        snap = S.union([S.open_snapshot(p) for p in sources], out, layout=layout)
    except FangpinValueError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(code=2)
    console.print(f"{out}: {len(snap.manifest['ids']['counties'])} counties, "
                  f"{sum(snap.manifest['tables'].values()):,} rows, fingerprint {snap.fingerprint}")


def _parse_params(items: list[str]) -> dict[str, float]:
    out = {}
    for it in items or []:
        k, sep, v = it.partition("=")
        if not sep:
            raise typer.BadParameter(f"--param wants name=value, got {it!r}")
        out[k.strip()] = v.strip()
    return out


@app.command("preview")
def preview_cmd(
    db: Optional[str] = DbOpt,
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", exists=True, file_okay=False,
                                            help="A Parquet snapshot (default: export the registry in --db)"),
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    rule: Optional[str] = typer.Option(None, "--rule", help="A rule id of rules.yaml, e.g. INC-LINE"),
    when: Optional[str] = typer.Option(None, "--when", help="Or a condition over features, e.g. \"pc_net_12m < 9000\""),
    param: list[str] = typer.Option(None, "--param", help="Changed parameter name=value (monitoring_line, …)"),
    line_factor: Optional[float] = typer.Option(None, "--line-factor", help="Monitoring line × this factor"),
    scope: str = typer.Option("", "--scope", help="Region code prefix (county 6, township 9 digits)"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """How many households match this rule now — per township (cached features: repeated previews are fast)."""
    from fangpin.issues import FangpinValueError
    from fangpin.monitoring import preview as PV
    from fangpin.monitoring.snapshot import open_snapshot

    d = date.fromisoformat(as_of) if as_of else date.today()
    snap = open_snapshot(snapshot) if snapshot else PV.registry_snapshot(_engine(db))
    try:
        res = PV.preview(snap, d, rule=rule, when=when, params=_parse_params(param), line_factor=line_factor,
                         scope=scope)
    except FangpinValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(code=2)
    _write_json(report_json, res)
    for t, v in res["townships"].items():
        console.print(f"  {t}: {v['matching']:,} / {v['households']:,} (now {v['matching_base']:,})")
    console.print(f"{res['matching']:,} of {res['households']:,} households match "
                  f"(with the parameters in force: {res['matching_base']:,}); {res['cache']} cache, "
                  f"{res['seconds']:.2f} s")
