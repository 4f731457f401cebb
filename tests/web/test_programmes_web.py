"""Programme pages and API (issue 9): region scoping (404), 401 anonymous, CSRF on writes, aggregate-only roles,
scorecard figures open to their records, payroll XLSX, a job exit from the web raises the PWJ-EXIT alert."""
from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.auth import create_user, seed_demo_users
from fangpin.db import make_engine, upgrade

PASSWORD = "fangpin-demo"


@pytest.fixture(scope="module")
def pcounty(tmp_path_factory):
    from fangpin.alerts.service import monitor
    from fangpin.programmes import demo
    from fangpin.programmes.models import PwjPost
    from fangpin.synth.run import SynthParams, run

    path = tmp_path_factory.mktemp("pweb") / "p.db"
    e = make_engine(f"sqlite:///{path}")
    upgrade(e)
    run(e, SynthParams(households=300, months=24, seed=41), None)
    monitor(e, date(2024, 12, 31))
    with e.connect() as c:
        village = c.execute(select(Alert.region_code).order_by(Alert.region_code)).scalars().first()
    out = demo.seed(e, village, seed=5, year=2024, at=datetime(2025, 1, 5, 9, 0))
    with e.begin() as c:
        post_village = c.execute(select(PwjPost.region_code).order_by(PwjPost.id)).scalars().first()
        seed_demo_users(c, post_village, PASSWORD)
        create_user(c, "other_township", PASSWORD, "township_officer", post_village[:6] + "999", "他乡干部")
    e.dispose()
    return {"url": f"sqlite:///{path}", "village": post_village, "seeded": out}


@pytest.fixture
def client(pcounty):
    from fangpin.web.app import create_app

    app = create_app(pcounty["url"], secret_key="t")
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _login(client, user):
    r = client.post("/api/session", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_api_needs_login_and_scopes_by_region(client, pcounty):
    spec = client.get("/openapi.json").json()["paths"]
    assert "/api/programmes/jobs/posts" in spec and "/api/programmes/scorecards/{region}" in spec
    assert not any(p.startswith("/programmes") for p in spec)  # pages stay out of the API schema
    assert client.get("/api/programmes/jobs/posts").status_code == 401
    assert client.get("/api/programmes/scorecards/" + pcounty["village"][:6]).status_code == 401
    _login(client, "demo_county")
    posts = client.get("/api/programmes/jobs/posts").json()
    assert posts and all(p["region_code"].startswith(pcounty["village"][:6]) for p in posts)
    client.delete("/api/session")
    _login(client, "other_township")
    assert client.get("/api/programmes/jobs/posts").json() == []
    assert client.get(f"/api/programmes/jobs/posts/{posts[0]['id']}/hires").status_code == 404
    assert client.get("/api/programmes/scorecards/" + pcounty["village"][:9]).status_code == 404
    assert client.get(f"/programmes/jobs/posts/{posts[0]['id']}").status_code == 404


def test_aggregate_roles_see_scorecards_but_not_records(client, pcounty):
    county = pcounty["village"][:6]
    _login(client, "demo_department")  # department data officers: upload and feed health only
    for path in (f"/api/programmes/scorecards/{county}", "/api/programmes/key-counties", "/api/programmes/sites",
                 "/programmes", f"/programmes/scorecard?region={county}", "/programmes/key-counties"):
        r = client.get(path)
        assert r.status_code == 403, path
    client.cookies.clear()
    _login(client, "demo_province")
    card = client.get(f"/api/programmes/scorecards/{county}")
    assert card.status_code == 200 and card.json()["indicators"]
    assert client.get(f"/api/programmes/scorecards/{county}/PWJ_FILL/records").status_code == 403
    assert client.get("/api/programmes/jobs/posts").status_code == 403
    r = client.get(f"/programmes/scorecard?region={county}")
    assert r.status_code == 200 and 'class="drill"' not in r.text
    assert client.get("/programmes").status_code == 200  # aggregates: the overview
    assert client.get("/programmes/jobs").status_code == 403  # but no list of people
    assert client.get("/programmes/jobs/payroll.xlsx?month=2024-06").status_code == 403


def test_scorecard_figures_open_to_records_and_export(client, pcounty):
    county = pcounty["village"][:6]
    _login(client, "demo_county")
    card = client.get(f"/api/programmes/scorecards/{county}").json()
    for ind in card["indicators"]:
        rows = client.get(f"/api/programmes/scorecards/{county}/{ind['id']}/records").json()
        assert len(rows) == ind["records"] and sum(r["ok"] for r in rows) == ind["ok"]
    page = client.get(f"/programmes/scorecard?region={county}")
    assert page.status_code == 200
    links = re.findall(r'class="drill" href="([^"]+)"', page.text)
    assert len(links) == len(card["indicators"])
    fill = next(i for i in card["indicators"] if i["id"] == "PWJ_FILL")
    r = client.get(next(x for x in links if "/PWJ_FILL" in x).replace("&amp;", "&"))
    assert r.status_code == 200 and r.text.count("/programmes/jobs/posts/") == fill["records"]
    pdf = client.get(f"/programmes/scorecard.pdf?region={county}")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    x = client.get(f"/programmes/scorecard.xlsx?region={county}")
    assert x.status_code == 200 and "PWJ_FILL" in load_workbook(io.BytesIO(x.content)).sheetnames


def test_payroll_export_and_pages_render(client, pcounty):
    _login(client, "demo_county")
    x = client.get("/programmes/jobs/payroll.xlsx?month=2024-06")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    assert ws.cell(1, 1).value == "月份" and ws.max_row > 1
    assert "公益岗位" in client.get("/programmes").text  # zh-CN by default
    for url in ("/programmes/jobs", "/programmes/assets", "/programmes/sites", "/programmes/key-counties",
                "/programmes/pairs?year=2024",
                "/programmes/jobs/attendance?month=2024-06", "/programmes?lang=en"):
        assert client.get(url).status_code == 200, url
    assert "Public-welfare jobs" in client.get("/programmes").text


def test_web_job_exit_needs_csrf_and_raises_alert(client, pcounty):
    from fangpin.programmes.models import PwjHire

    csrf = _login(client, "demo_county")
    e = make_engine(pcounty["url"])
    with e.connect() as c:
        active = c.execute(select(PwjHire.id, PwjHire.household_id).where(PwjHire.status == "active")
                           .order_by(PwjHire.id)).all()
    e.dispose()
    hid, hh = active[0]
    body = {"exit_on": "2025-01-05", "reason": "NOPE"}
    assert client.post(f"/api/programmes/jobs/hires/{hid}/exit", json=body).status_code == 403  # no CSRF token
    r = client.post(f"/api/programmes/jobs/hires/{hid}/exit", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422 and r.json()["code"] == "PWJ_BAD_EXIT_REASON"
    body["reason"] = "OWN_REQUEST"
    r = client.post(f"/api/programmes/jobs/hires/{hid}/exit", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    eff = r.json()
    assert eff["monitoring"]["run_id"] and eff["subsidy_12m"] > 0
    # the alert exists exactly when the income without the subsidy is below the line (rule PWJ-EXIT)
    assert (eff["alert"] is not None) == any(a["rule_id"] == "PWJ-EXIT" for a in eff["monitoring"]["open_alerts"])
    assert client.post(f"/api/programmes/jobs/hires/{hid}/exit", json=body,
                       headers={"X-CSRF-Token": csrf}).json()["code"] == "PWJ_NOT_ACTIVE"


def test_post_form_and_attendance_form(client, pcounty):
    r = client.post("/login", data={"csrf_token": _csrf(client.get("/login").text), "username": "demo_township",
                                    "password": PASSWORD, "next": "/programmes/jobs"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/programmes/jobs")
    token = _csrf(page.text)
    form = {"csrf_token": token, "region_code": pcounty["village"], "post_type": "WATER", "title": "水管员",
            "need": "新建供水点巡查", "monthly_subsidy": "500", "headcount": "1", "days_per_month": "20",
            "on": "2025-01-01"}
    assert client.post("/programmes/jobs/posts", data={**form, "csrf_token": "x"}).status_code == 403
    r = client.post("/programmes/jobs/posts", data=form, follow_redirects=False)
    assert r.status_code == 303 and "/programmes/jobs/posts/" in r.headers["location"]
    bad = client.post("/programmes/jobs/posts", data={**form, "need": ""})
    assert "按需设岗" in bad.text


def test_key_counties_api_and_report(client, pcounty):
    assert client.get("/api/programmes/key-counties").status_code == 401
    _login(client, "demo_province")  # aggregates: every county of the province, no records
    cmp = client.get("/api/programmes/key-counties").json()
    assert [c["county_code"] for c in cmp["counties"]] == [pcounty["village"][:6]]
    x = client.get("/programmes/key-counties.xlsx")
    assert x.status_code == 200 and load_workbook(io.BytesIO(x.content)).active.max_row == 2


def test_pairs_api_scoped(client, pcounty):
    _login(client, "demo_county")
    evals = client.get("/api/programmes/pairs?year=2024").json()
    assert evals and all(0 <= ev["total"] <= 100 for ev in evals)
    pid = evals[0]["pair"]["id"]
    rows = client.get(f"/api/programmes/pairs/{pid}/2024/FUNDS/records").json()
    assert len(rows) == next(i for i in evals[0]["indicators"] if i["id"] == "FUNDS")["records"]
    client.delete("/api/session")
    _login(client, "other_township")
    # a township inside the receiving county sees the pair but only records inside its own township (none here)
    r = client.get(f"/api/programmes/pairs/{pid}/2024/FUNDS/records")
    assert r.status_code == 200 and r.json() == []
