"""`fangpin report …` and `fangpin export …`: the monthly county report (PDF/DOCX), its figures and analysis
text, and XLSX exports (thin adapter over fangpin.reports)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer

from fangpin.cli.main import DbOpt, _engine, _write_json, app, console

report_app = typer.Typer(help="Reports (报表): monthly county report, figures, analysis text", no_args_is_help=True)
export_app = typer.Typer(help="XLSX exports (导出) with Chinese headers, IDs masked", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")

RegionOpt = typer.Option(..., "--region", help="Region code prefix: 6-digit county, 9-digit township, …")


def _fail(e) -> None:
    console.print(f"[red]{e}[/red]")
    raise typer.Exit(2)


@report_app.command("monthly")
def report_monthly(region: str = RegionOpt, month: str = typer.Option(..., "--month", help="YYYY-MM"),
                   out: Path = typer.Option(..., "--out", help="FILE.pdf or FILE.docx (format from the suffix)"),
                   lang: str = typer.Option("zh", "--lang", help="zh or en"),
                   report_json: Optional[Path] = typer.Option(None, "--report-json",
                                                              help="Also write the figures and analysis as JSON"),
                   db: Optional[str] = DbOpt) -> None:
    """Monthly county report (月度报告): indicators, generated analysis, charts and tables."""
    from fangpin.reports import ReportInputError, analysis, county_figures, generate_monthly_report

    fmt = out.suffix.lower().lstrip(".")
    e = _engine(db)
    try:
        data = generate_monthly_report(e, region, month, fmt, lang="en" if lang == "en" else "zh")
        if report_json:
            with e.connect() as c:
                f = county_figures(c, region, month)
            f["analysis"] = analysis(f)
            _write_json(report_json, f)
    except ReportInputError as err:
        _fail(err)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    console.print(f"{out} ({len(data):,} bytes)")


@report_app.command("analysis")
def report_analysis(region: str = RegionOpt, month: str = typer.Option(..., "--month", help="YYYY-MM"),
                    lang: str = typer.Option("zh", "--lang"), db: Optional[str] = DbOpt) -> None:
    """Print the automatically generated analysis text (自动生成分析) for a region and month."""
    from fangpin.reports import ReportInputError, analysis, county_figures

    try:
        with _engine(db).connect() as c:
            f = county_figures(c, region, month)
    except ReportInputError as err:
        _fail(err)
    for s in analysis(f):
        typer.echo(s["en" if lang == "en" else "zh"])


@export_app.command("xlsx")
def export_xlsx_cmd(kind: str = typer.Argument(..., help="households | alerts | measures | notices"),
                    region: str = RegionOpt, out: Path = typer.Option(..., "--out", help="FILE.xlsx"),
                    status: Optional[str] = typer.Option(None, help="alerts: open | closed | case_opened"),
                    on: Optional[str] = typer.Option(None, help="As of date YYYY-MM-DD (default today)"),
                    db: Optional[str] = DbOpt) -> None:
    """Write one XLSX export for a region (IDs and phones masked; formulas neutralised)."""
    from fangpin.reports import ReportInputError
    from fangpin.reports.exports import export_xlsx

    from fangpin.cli.security_cmd import audit_export

    engine = _engine(db)
    try:
        with engine.connect() as c:
            data = export_xlsx(c, kind, region, status=status, on=date.fromisoformat(on) if on else None)
    except ReportInputError as err:
        _fail(err)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    audit_export(engine, f"export.{kind}", out, {"scope": region, "status": status, "bytes": len(data)})
    console.print(f"{out} ({len(data):,} bytes)")


__all__ = ["report_app", "export_app", "json"]
