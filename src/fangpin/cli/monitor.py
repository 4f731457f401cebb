"""`fangpin monitor` (registered on the main app; thin adapter over fangpin.alerts.service)."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, _write_json, app, console, stage_progress


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
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fangpin-snap-") as tmp:
        snap_dir = snapshot_dir or Path(tmp)
        with stage_progress("monitor") as prog:
            report, result = run_monitor(e, d, engine=engine, snapshot_dir=snap_dir, households=households,
                                         progress=prog)
        if scores_out is not None:
            report["scores"] = cli_scores(snap_dir, result, d, scores_out, model_path=model,
                                           full=households is None)
            from fangpin.cli.security_cmd import audit_export

            audit_export(e, "export.scores", scores_out, {"as_of": d, "households": report["scores"]["households"]})
    _write_json(report_json, report)
    console.print(f"{report['as_of']} {report['mode']} run on {engine}: {report['households']:,} households, "
                  f"{report['alerts']:,} alerts ({report.get('stored', {}).get('alerts_new', 0):,} new)")
    for rule, n in report["alerts_by_rule"].items():
        console.print(f"  {rule}: {n:,}")


def _default_model_dir() -> Path:
    from fangpin.config import data_home

    return data_home() / "models" / "risk"


@app.command("train-risk")
def train_risk(
    db: Optional[str] = DbOpt,
    truth_dir: Path = typer.Option(..., "--truth-dir", help="Ground truth of a synthetic county (fangpin synth)"),
    out: Optional[Path] = typer.Option(None, "--out", help="Model directory (default: <data home>/models/risk)"),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """Train the risk model on a synthetic county's registry + truth (time-based split) and save the artefact."""
    import tempfile

    from fangpin.monitoring import dept_events as D
    from fangpin.monitoring import snapshot as S
    from fangpin.risk.train import train

    out = out or _default_model_dir()
    with tempfile.TemporaryDirectory() as tmp, _engine(db).connect() as conn:
        snap = S.export(conn, Path(tmp))
        D.write(Path(tmp), D.from_synth_truth(truth_dir))
        snap = S.open_snapshot(Path(tmp))
        model, _, split = train(snap, truth_dir, seed=seed)
        model.save(out)
    console.print(f"model saved to {out} (trained on {len(split.train)} months, validated on {split.validation})")


def cli_scores(snapshot_dir: Path, result, as_of, path: Path, model_path: Optional[Path] = None,
               full: bool = True) -> dict:
    """Write the ranked visit list for `fangpin monitor --scores-out` from the run's own snapshot."""
    from fangpin.monitoring import snapshot as S
    from fangpin.risk import load, score, write_scores_csv

    model_dir = model_path or _default_model_dir()
    if not (Path(model_dir) / "meta.json").exists():
        console.print(f"没有风险模型：请先运行 `fangpin train-risk` / no risk model at {model_dir}: run `fangpin train-risk`")
        raise typer.Exit(code=2)
    model = load(Path(model_dir))
    # a full run's own features (no second engine pass); an incremental run only has the affected households,
    # so the visit list is then computed over the whole snapshot
    scores = score(S.open_snapshot(snapshot_dir), as_of, model, panel=result.features if full else None)
    write_scores_csv(path, scores, result.alerts)
    return {"file": str(path), "households": scores.num_rows, "model": str(model_dir)}


evaluate_app = typer.Typer(help="Evaluate early warning on a synthetic panel, or the income model on a roster",
                           invoke_without_command=True)
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.callback()
def evaluate_cmd(
    ctx: typer.Context,
    households: int = typer.Option(20000, "--households"),
    months: int = typer.Option(36, "--months"),
    seed: int = typer.Option(11, "--seed"),
    work: Path = typer.Option(Path("var/evaluate"), "--work", help="Where the synthetic panel is built"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Held-out evaluation: recall at 2/5/10 % visit budgets for the income-line rule, all rules, and the model."""
    if ctx.invoked_subcommand is not None:
        return
    from fangpin.risk import evaluate as V

    snap, truth = V.synthetic_county(work, households, months, seed)
    res = V.evaluate(snap, truth)
    _write_json(report_json, res)
    for k in ("warning.recall_ratio_k5", "warning.auc", "warning.top1_cause", "warning.lead_time_months"):
        if k in res:
            console.print(f"{k}: {res[k]}")


@evaluate_app.command("income-model")
def evaluate_income_model_cmd(
    roster: Path = typer.Option(..., "--roster", exists=True, file_okay=False, help="Roster folder (FEEDS.md §A)"),
    folds: int = typer.Option(5, "--folds"),
    coverage: float = typer.Option(0.2, "--coverage"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Cross-validate the proxy-means income model against an OLS baseline on any roster with incomes."""
    from fangpin.risk.pmt import evaluate_income_model

    res = evaluate_income_model(roster, folds=folds, coverage=coverage)
    _write_json(report_json, res)
    for k in ("pmt.exclusion_k20", "pmt.exclusion_k20_ols", "pmt.inclusion_k20", "pmt.inclusion_k20_ols"):
        if k in res:
            console.print(f"{k}: {res[k]}")


@app.command()
def whatif(
    db: Optional[str] = DbOpt,
    as_of: Optional[str] = typer.Option(None, "--as-of"),
    line_factor: float = typer.Option(1.1, "--line-factor", help="Monitoring line × this factor"),
    drop_ratio: Optional[float] = typer.Option(None, "--sharp-drop-ratio"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Policy what-if: who would enter or leave monitoring, per township, under a changed parameter."""
    import tempfile

    from fangpin.monitoring import snapshot as S
    from fangpin.monitoring.whatif import compare

    d = date.fromisoformat(as_of) if as_of else date.today()
    overrides = {"monitoring_line_factor": line_factor}
    if drop_ratio is not None:
        overrides["sharp_income_drop_ratio"] = drop_ratio
    with tempfile.TemporaryDirectory() as tmp, _engine(db).connect() as conn:
        snap = S.export(conn, Path(tmp))
        res = compare(snap, d, overrides)
    _write_json(report_json, res)
    tot = res.get("totals", {})
    console.print(f"what-if {overrides}: {tot}")
