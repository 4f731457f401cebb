"""`fangpin plan …` / `fangpin visit …` go through the domain layer (fangpin.cases): helper, measures, deliveries,
eligibility and proposals on the single chain (seed 004 §五), visits from the dated interval (POLICY.md §4.2), a
cadre visit opening a lead (POLICY.md §4.2 cadre checks). Refusals exit 1 with the bilingual message."""
from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from fangpin.cases.models import AssistanceMeasure, CaseFile, FollowUpVisit
from fangpin.cli.main import app
from test_cases_factory import VILLAGE, identify, make_household

runner = CliRunner()


def test_plan_and_visit_commands_use_the_domain_layer(sqlite_engine):
    url = str(sqlite_engine.url)
    with sqlite_engine.begin() as conn:
        make_household(conn, "HH-1", monthly_net=300.0)
        make_household(conn, "HH-2")
        identify(conn, "HH-1")
    town = ["--user", "t1", "--role", "township_officer", "--region", VILLAGE[:9], "--db", url]
    cadre = ["--user", "v1", "--role", "village_cadre", "--region", VILLAGE, "--db", url]

    r = runner.invoke(app, ["plan", "measure", "HH-1", "--category", "产业帮扶", "--start", "2025-03-20", *town])
    assert r.exit_code == 0, r.output
    with sqlite_engine.connect() as conn:
        mid = conn.execute(select(AssistanceMeasure.id)).scalar_one()
    r = runner.invoke(app, ["plan", "deliver", str(mid), "--on", "2025-03-25", "--amount", "2000", "--note", "种苗", *town])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["plan", "deliver", str(mid), "--on", "2025-03-01", *town])  # before the measure started
    assert r.exit_code == 1 and "PLAN_DELIVERY_OUTSIDE" in r.output
    r = runner.invoke(app, ["plan", "helper", "HH-1", "--name", "陈帮扶", "--unit", "县农业农村局", "--start", "2025-03-20",
                            *town])
    assert r.exit_code == 0, r.output
    # eligibility was recorded at county approval: the 低保 proposal is accepted once, refused the second time
    show = runner.invoke(app, ["plan", "show", "HH-1", "--on", "2025-03-26", "--json", "--db", url])
    assert show.exit_code == 0, show.output
    import json

    data = json.loads(show.output)
    dibao = next(x for x in data["eligibility"]["results"] if x["programme"] == "dibao")
    assert dibao["proposal"] == "measure" and all(c["ok"] for c in data["checks"])  # development measure + helper
    ok = runner.invoke(app, ["plan", "accept", str(dibao["id"]), "--start", "2025-04-01", *town])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["plan", "accept", str(dibao["id"]), "--start", "2025-04-01", *town])
    assert again.exit_code == 1 and "PLAN_PROPOSAL_NOT_A_MEASURE" in again.output
    r = runner.invoke(app, ["plan", "assess", "HH-1", "--on", "2025-04-02", "--trigger", "civil_affairs", *town])
    assert r.exit_code == 0 and "dibao" in r.output and "on_chain" in r.output, r.output
    text = runner.invoke(app, ["plan", "show", "HH-1", "--on", "2025-04-02", "--db", url])
    assert "civil_affairs" in text.output and "DIBAO" in text.output and "陈帮扶" in text.output

    # the visit scheduled at identification is recorded by the cadre; the next one follows the parameter
    r = runner.invoke(app, ["visit", "record", "HH-1", "--on", "2025-04-10", "--result", "务工收入稳定", *cadre])
    assert r.exit_code == 0 and "next visit" in r.output, r.output
    with sqlite_engine.connect() as conn:
        dues = [str(d) for d in conn.execute(select(FollowUpVisit.due_date).order_by(FollowUpVisit.id)).scalars()]
    assert dues == ["2025-04-12", "2025-05-10"]
    # a cadre visit to a household with no case opens a cadre-visit lead
    r = runner.invoke(app, ["visit", "record", "HH-2", "--on", "2025-04-10", "--result", "户主突发重病", "--open-lead",
                            "--risk", "因病", *cadre])
    assert r.exit_code == 0 and "lead" in r.output, r.output
    with sqlite_engine.connect() as conn:
        src = conn.execute(select(CaseFile.source, CaseFile.state).where(CaseFile.household_id == 2)).one()
    assert tuple(src) == ("cadre_visit", "LEAD")
    # … but not a second time (the household now has an open case): nothing of the visit is written
    r = runner.invoke(app, ["visit", "record", "HH-2", "--on", "2025-04-11", "--result", "再访", "--open-lead", *cadre])
    assert r.exit_code == 1 and "CASE_ALREADY_OPEN" in r.output
    # outside the officer's region
    far = ["--user", "x", "--role", "village_cadre", "--region", "530102101202", "--db", url]
    r = runner.invoke(app, ["visit", "record", "HH-1", "--result", "x", *far])
    assert r.exit_code == 1 and "CASE_OUTSIDE_REGION" in r.output
