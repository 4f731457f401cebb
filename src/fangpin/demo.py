"""`make demo`: a synthetic county in the embedded database, with feeds and a roster export.

Rebuilds from scratch each time (the demo directory is disposable). The web workbench is not built
yet (issue: web); until then the demo prints a summary of what it built.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import func, select

from fangpin.db import make_engine, upgrade
from fangpin.registry import regions
from fangpin.registry.models import ImportBatch, IncomeRecord, Region
from fangpin.registry.service import counts
from fangpin.synth.run import SynthParams, run


def build_demo(directory: Path, *, households: int, seed: int, region: str, all_regions: bool, console=None) -> dict:
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    import os

    from fangpin.security.crypto import init_key_file

    if not os.environ.get("FANGPIN_DATA_KEY"):  # IDs and phones are encrypted at rest (docs/SECURITY.md)
        key_path, kid, created = init_key_file()
        if console:
            console.print(f"data key {kid}: {key_path}{' (new)' if created else ''}")
    db_path = directory / "fangpin.db"
    url = f"sqlite:///{db_path}"
    engine = make_engine(url)
    upgrade(engine)
    if all_regions:
        with engine.begin() as conn:
            regions.load_into_db(conn)
    if console:
        console.print(f"building {households:,} households (seed {seed}) …")
    # 36 months: the risk model needs a training period, a validation month and a test period (docs/RISK.md)
    res = run(engine, SynthParams(households=households, months=36, seed=seed, region=region), directory / "truth")
    feeds_summary = None
    try:
        from fangpin.synth.feeds import write_feeds

        feeds_summary = write_feeds(directory / "truth", directory / "feeds", seed=seed)
    except ImportError:  # pragma: no cover - feeds module optional while it is being built
        pass
    # train the risk model on the synthetic truth, then run monitoring as of the last month with a visit list
    import tempfile
    from datetime import date

    from fangpin.alerts.service import monitor
    from fangpin.monitoring import dept_events as D
    from fangpin.monitoring import snapshot as S
    from fangpin.risk import score, write_scores_csv
    from fangpin.risk.train import train

    if console:
        console.print("training the risk model and running monitoring …")
    with tempfile.TemporaryDirectory() as tmp:
        with engine.connect() as conn:
            S.export(conn, Path(tmp))
        D.write(Path(tmp), D.from_synth_truth(directory / "truth"))
        snap = S.open_snapshot(Path(tmp))
        model, _, _ = train(snap, directory / "truth")
        model.save(directory / "model")
        as_of = date(2025, 12, 31)
        mon, result = monitor(engine, as_of)
        scores = score(snap, as_of, model)
        write_scores_csv(directory / "visit_list.csv", scores, result.alerts)
    # one demo login per role, scoped to the village with the most open alerts (demo data only)
    from sqlalchemy import func as sa_func

    from fangpin.alerts.models import Alert
    from fangpin.auth import seed_demo_users

    with engine.begin() as conn:
        village = conn.execute(select(Alert.region_code).group_by(Alert.region_code)
                               .order_by(sa_func.count().desc(), Alert.region_code).limit(1)).scalar()
        logins = seed_demo_users(conn, village) if village else []
    cases, history = [], []
    if village:
        from datetime import datetime as _dt

        from fangpin.demo_cases import seed_cases

        cases = seed_cases(engine, village, _dt(2026, 1, 5, 9, 0))
        from fangpin.demo_history import seed_history  # a year of identifications for the dashboard and report

        history = seed_history(engine, 2025, per_month=2, skip_region=village)
    programmes = None
    if village:  # public-welfare jobs, project assets, resettlement site (seed 004; docs/PROGRAMMES.md)
        from fangpin.programmes import demo as programmes_demo

        programmes = programmes_demo.seed(engine, village, seed=seed)
    with engine.connect() as conn:
        c = counts(conn)
        n_regions = conn.execute(select(func.count()).select_from(Region)).scalar_one()
        villages = conn.execute(select(func.count()).select_from(Region).where(Region.level == 5)).scalar_one()
        incomes = conn.execute(select(func.count()).select_from(IncomeRecord)).scalar_one()
        batches = conn.execute(select(func.count()).select_from(ImportBatch)).scalar_one()
    county = next((r.name for r in regions.counties(region[:6])), region)
    table = [
        ("county", f"{county} ({region[:6]})"),
        ("households (active)", f"{c['households']:,}"),
        ("members (active)", f"{c['members']:,}"),
        ("income records", f"{incomes:,}"),
        ("division codes in the database", f"{n_regions:,} ({villages:,} villages)"),
        ("import batches", f"{batches:,}"),
        ("build seconds", f"{res.seconds:.1f}"),
        ("alerts (as of 2025-12-31)", f"{mon['alerts']:,} on {mon['households_alerted']:,} households"),
        ("visit list", str(directory / "visit_list.csv")),
        ("households identified through 2025 (dashboard history)", f"{len(history):,}"),
        ("demo cases (one per step)", ", ".join(f"#{c['case_id']} {c['state']}" for c in cases) or "—"),
    ]
    if programmes:
        table.append(("programmes", f"{programmes['posts']} public-welfare posts, {programmes['hires']} hires, "
                                    f"{programmes['assets']} project assets, {programmes['sites']} resettlement site; "
                                    f"job exits → alerts: {[x['alert'] for x in programmes['exits']]}"))
    if feeds_summary:
        table.append(("department feed files", f"{sum(v.get('files', 0) for v in feeds_summary.values()):,}"))
    return {"db_url": url, "table": table, "report": res.report or {}, "logins": logins}
