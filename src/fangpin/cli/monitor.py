"""`fangpin monitor` (registered on the main app; thin adapter over fangpin.alerts.service)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, _write_json, app, console


@app.command()
def monitor(
    db: Optional[str] = DbOpt,
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Monitoring date YYYY-MM-DD (default: today)"),
    engine: str = typer.Option("duckdb", "--engine", help="duckdb (embedded) | spark (local mode here)"),
    batch: list[int] = typer.Option(None, "--batch", help="Incremental: only households touched by these import batches"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
    scores_out: Optional[Path] = typer.Option(None, "--scores-out", help="Ranked visit list CSV (户编号, 风险概率, …)"),
    model: Optional[Path] = typer.Option(None, "--model", help="Risk model artefact (default: the installed one)"),
    snapshot_dir: Optional[Path] = typer.Option(None, "--snapshot-dir", help="Keep the Parquet snapshot here"),
) -> None:
    """Run the early-warning rules over the registry and store de-duplicated alerts with their evidence."""
    from fangpin.alerts.service import affected_households, monitor as run_monitor

    e = _engine(db)
    d = date.fromisoformat(as_of) if as_of else date.today()
    households = affected_households(e, batch) if batch else None
    if batch and not households:
        console.print("这些批次没有涉及任何农户 / the batches touch no household; nothing to recompute")
        _write_json(report_json, {"as_of": d.isoformat(), "mode": "incremental", "households": 0, "alerts": 0,
                                  "alerts_sha256": ""})
        return
    report, result = run_monitor(e, d, engine=engine, snapshot_dir=snapshot_dir, households=households)
    if scores_out is not None:
        from fangpin.risk import cli_scores

        report["scores"] = cli_scores(e, result, d, scores_out, model_path=model)
    _write_json(report_json, report)
    console.print(f"{report['as_of']} {report['mode']} run on {engine}: {report['households']:,} households, "
                  f"{report['alerts']:,} alerts ({report.get('stored', {}).get('alerts_new', 0):,} new)")
    for rule, n in report["alerts_by_rule"].items():
        console.print(f"  {rule}: {n:,}")
