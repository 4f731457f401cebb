"""`fangpin case` goes through the domain layer: legal steps pass, skipped steps and stale versions are refused."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from typer.testing import CliRunner

from fangpin.alerts.models import Alert
from fangpin.alerts.service import monitor
from fangpin.cli.main import app
from fangpin.db import make_engine
from fangpin.demo_cases import seed_cases
from fangpin.synth.run import SynthParams, run

runner = CliRunner()


def test_case_cli_follows_the_procedure_policy_5(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    e = make_engine(url)
    run(e, SynthParams(households=600, months=24, seed=22), None)
    monitor(e, date(2024, 12, 31))
    with e.connect() as c:
        village = c.execute(select(Alert.region_code).group_by(Alert.region_code)
                            .order_by(func.count().desc(), Alert.region_code).limit(1)).scalar_one()
    cases = seed_cases(e, village, datetime(2025, 1, 6, 9))
    verified = next(c for c in cases if c["state"] == "VERIFIED")
    cid = str(verified["case_id"])
    show = runner.invoke(app, ["case", "show", cid, "--db", url])
    assert show.exit_code == 0 and "verify_home" in show.output
    county = ["--user", "c", "--role", "county_officer", "--region", village[:6], "--db", url]
    skip = runner.invoke(app, ["case", "act", cid, "county_approve", "--version", "3", *county])
    assert skip.exit_code == 1  # county approval straight after home verification is refused
    township = ["--user", "t", "--role", "township_officer", "--region", village[:9], "--db", url]
    ok = runner.invoke(app, ["case", "act", cid, "data_check", "--version", "3", *township])
    assert ok.exit_code == 0, ok.output
    assert "DATA_CHECKED" in ok.output or "部门比对" in ok.output
    stale = runner.invoke(app, ["case", "act", cid, "data_check", "--version", "3", *township])
    assert stale.exit_code == 1
