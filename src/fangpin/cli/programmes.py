"""`fangpin programmes …`: scorecards, payroll export, asset and site summaries, job exits (thin adapter over
fangpin.programmes; the same services as the web workbench)."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from fangpin.cli.main import DbOpt, _engine, app, console

prog_app = typer.Typer(help="Programmes (公益岗位、项目资产、安置区、考核): scorecard, payroll, assets, sites, exit",
                       no_args_is_help=True)
app.add_typer(prog_app, name="programmes")


def _on(conn, on: Optional[str]) -> date:
    from fangpin.programmes.common import data_date  # the same "as of" rule as the web pages

    return data_date(conn, date.fromisoformat(on) if on else None)


def _fail(e: Exception) -> None:
    console.print(f"[red]{e}[/red]")
    raise typer.Exit(2)


@prog_app.command("scorecard")
def scorecard_cmd(region: str = typer.Argument(..., help="Township (9 digits) or county (6 digits)"),
                  on: Optional[str] = typer.Option(None, help="As-of date (default: latest monitoring run)"),
                  pdf: Optional[Path] = typer.Option(None, help="Write the scorecard as PDF"),
                  xlsx: Optional[Path] = typer.Option(None, help="Write the scorecard and its records as XLSX"),
                  report_json: Optional[Path] = typer.Option(None, "--report-json"), db: Optional[str] = DbOpt) -> None:
    """A township or county scorecard computed from the platform's records (seed 004 §八(二十四))."""
    from fangpin.programmes import assessment
    from fangpin.programmes.errors import ProgrammeError
    from fangpin.programmes.exports import scorecard_pdf, scorecard_xlsx
    from fangpin.web.queries import region_names

    with _engine(db).connect() as c:
        d = _on(c, on)
        try:
            card = assessment.scorecard(c, region, d)
        except ProgrammeError as e:
            _fail(e)
        name = region_names(c, [region]).get(region.ljust(12, "0"), region)
        details = {i["id"]: assessment.indicator_rows(c, region, d, i["id"]) for i in card["indicators"]}
    t = Table(title=f"{name} ({region}) 考核记分卡 / scorecard, as of {d} — total {card['total']}")
    for col in ("indicator", "weight", "ok/records", "value", "score"):
        t.add_column(col)
    for i in card["indicators"]:
        t.add_row(f"{i['id']} {i['zh']}", str(i["weight"]), f"{i['ok']}/{i['records']}",
                  "—" if i["value"] is None else f"{i['value']:.1%}", "—" if i["score"] is None else str(i["score"]))
    console.print(t)
    if pdf:
        pdf.write_bytes(scorecard_pdf(card, name))
    if xlsx:
        xlsx.write_bytes(scorecard_xlsx(card, name, details))
    if report_json:
        report_json.write_text(json.dumps(card, ensure_ascii=False, indent=2))


@prog_app.command("payroll")
def payroll_cmd(month: str = typer.Argument(..., help="YYYY-MM"),
                region: str = typer.Option("", help="Region prefix (default: all)"),
                out: Path = typer.Option(..., help="XLSX file to write"), db: Optional[str] = DbOpt) -> None:
    """Export a month's public-welfare subsidy payroll (在岗领补) as XLSX (names, no ID numbers)."""
    from fangpin.programmes import jobs
    from fangpin.programmes.errors import ProgrammeError
    from fangpin.programmes.exports import payroll_xlsx

    with _engine(db).connect() as c:
        try:
            rows = jobs.payroll_rows(c, region, month)
        except ProgrammeError as e:
            _fail(e)
    out.write_bytes(payroll_xlsx(rows))
    console.print(f"{len(rows)} payroll rows, {sum(r['amount'] for r in rows):,.2f} yuan → {out}")


@prog_app.command("assets")
def assets_cmd(region: str = typer.Option("", help="Region prefix"),
               level: str = typer.Option("village", help="village | township | county"),
               on: Optional[str] = typer.Option(None), report_json: Optional[Path] = typer.Option(None, "--report-json"),
               db: Optional[str] = DbOpt) -> None:
    """Project-asset summary (扶贫项目资产) with custodian and no-income warnings (seed 004 §三(五))."""
    from fangpin.programmes import assets

    with _engine(db).connect() as c:
        d = _on(c, on)
        groups = assets.summary(c, region, d, level=level)
    t = Table(title=f"project assets by {level}, as of {d}")
    for col in ("region", "assets", "value", "income 12m", "no custodian", "no income 12m"):
        t.add_column(col)
    for g in groups:
        t.add_row(g["region_code"], str(g["assets"]), f"{g['value']:,.0f}", f"{g['income_12m']:,.0f}",
                  str(g["no_custodian"]), str(g["no_income"]))
    console.print(t)
    if report_json:
        report_json.write_text(json.dumps(groups, ensure_ascii=False, indent=2))


@prog_app.command("sites")
def sites_cmd(region: str = typer.Option("", help="Region prefix"), on: Optional[str] = typer.Option(None),
              report_json: Optional[Path] = typer.Option(None, "--report-json"), db: Optional[str] = DbOpt) -> None:
    """Resettlement-site dashboard (易地扶贫搬迁安置区, seed 004 §三(四))."""
    from fangpin.programmes import relocation

    with _engine(db).connect() as c:
        d = _on(c, on)
        sites = relocation.dashboard(c, region, d)
    for s in sites:
        rate = "—" if s["employment_rate"] is None else f"{s['employment_rate']:.0%}"
        console.print(f"{s['name']} ({s['region_code']}): {s['households']} households, {s['persons']} persons"
                      f"{' [large site]' if s['large'] else ''}; employment {s['employed']}/{s['labour']} = {rate}; "
                      f"monitored {s['monitored']}; mean pc income {s['mean_pc_income']} vs line {s['line']}")
    if report_json:
        report_json.write_text(json.dumps(sites, ensure_ascii=False, indent=2, default=str))


@prog_app.command("exit")
def exit_cmd(hire: int = typer.Argument(..., help="Hire id"), reason: str = typer.Option(..., help="jobs.yaml exit_reasons code"),
             exit_on: str = typer.Option(..., "--on", help="Exit date"), note: str = typer.Option(""),
             user: str = typer.Option(..., help="Acting officer (name)"),
             role: str = typer.Option("county_officer"), region: str = typer.Option(..., help="Officer's region code"),
             db: Optional[str] = DbOpt) -> None:
    """Orderly exit from a public-welfare post (有序退岗), then incremental monitoring of the household."""
    from fangpin.cases import Actor
    from fangpin.programmes import jobs
    from fangpin.programmes.errors import ProgrammeError

    try:
        eff = jobs.exit_and_monitor(_engine(db), Actor(user, user, role, region), hire_id=hire,
                                    exit_on=date.fromisoformat(exit_on), reason=reason, note=note)
    except ProgrammeError as e:
        _fail(e)
    console.print(f"hire {hire} exited; subsidy of the last 12 months {eff['subsidy_12m']:,.2f}; "
                  f"alert: {eff['alert']['rule_id'] if eff['alert'] else 'none'}")
