"""Dashboard and report benchmarks (issue 6): ``run(results, work)`` fills ``reports.*`` on a synthetic county of
20,000 households (24 months, seed 7), monitored as of 2024-12-31, with 48 households identified through the
procedure over 2024 (fangpin.demo_history, 4 a month), in SQLite (the embedded default):

* ``reports.figures_seconds_20k`` — fangpin.reports.county_figures for the county and 2024-12 (median of 3), i.e.
  one dashboard page or /api/dashboard/figures call;
* ``reports.pdf_seconds_20k`` / ``reports.docx_seconds_20k`` — generate_monthly_report (figures + charts + file);
* ``reports.export_alerts_seconds_20k`` — the alerts XLSX export of the county.

The county is built once under ``work/reports/`` and reused.
"""
from __future__ import annotations

import statistics
import time
from datetime import date
from pathlib import Path

GOALS = {
    "reports.figures_seconds_20k": ("< 2", "dashboard figures (county_figures) for a 20,000-household county, one month"),
    "reports.pdf_seconds_20k": ("< 10", "monthly report PDF for that county (figures, charts, tables)"),
    "reports.docx_seconds_20k": ("< 10", "monthly report DOCX for that county"),
    "reports.export_alerts_seconds_20k": ("< 10", "alerts XLSX export of that county"),
}


def _county(work: Path):
    from fangpin.alerts.service import monitor
    from fangpin.db import make_engine, upgrade
    from fangpin.demo_history import seed_history
    from fangpin.synth.run import SynthParams, run

    db = work / "reports" / "county.db"
    done = work / "reports" / "built"
    if not done.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        if db.exists():
            db.unlink()
        e = make_engine(f"sqlite:///{db}")
        upgrade(e)
        run(e, SynthParams(households=20000, months=24, seed=7), None)
        monitor(e, date(2024, 12, 31))
        seed_history(e, 2024, per_month=4)
        e.dispose()
        done.touch()
    return make_engine(f"sqlite:///{db}")


def run(results: dict, work: Path) -> None:
    from sqlalchemy import text

    from fangpin.reports import county_figures, generate_monthly_report
    from fangpin.reports.exports import export_xlsx

    e = _county(Path(work))
    with e.connect() as c:
        county = c.execute(text("SELECT substr(region_code, 1, 6) FROM alert LIMIT 1")).scalar()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            county_figures(c, county, "2024-12")
            times.append(time.perf_counter() - t)
        results["reports.figures_seconds_20k"] = round(statistics.median(times), 2)
        t = time.perf_counter()
        export_xlsx(c, "alerts", county)
        results["reports.export_alerts_seconds_20k"] = round(time.perf_counter() - t, 2)
    for fmt in ("pdf", "docx"):
        t = time.perf_counter()
        generate_monthly_report(e, county, "2024-12", fmt)
        results[f"reports.{fmt}_seconds_20k"] = round(time.perf_counter() - t, 2)
    e.dispose()


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    r: dict = {}
    run(r, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fangpin-bench"))
    print(json.dumps(r, indent=2))
