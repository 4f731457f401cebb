"""User journeys in a real headless browser (Debian `chromium` driven by Playwright — never `playwright install`),
against one uvicorn server per module on a random loopback port. Screenshots of the main pages go to
test-artifacts/screenshots/ (kept by CI as artefacts).

Journeys (issue 6): every role logs in and lands on its home; alert → case → … → approved → (plan) → removal through
the case page's action buttons; self-application and tracking from a phone-sized viewport (375×812); a bad feed
upload shows its per-row errors; a village cadre cannot open another village's household by URL.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from fangpin.db import make_engine

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker: one county, one server

CHROMIUM = os.environ.get("FANGPIN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "fangpin-demo"
PHONE = {"width": 375, "height": 812}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def county(sqlite_county):
    return sqlite_county


@pytest.fixture(scope="module")
def server(county, tmp_path_factory):
    import uvicorn

    from fangpin.web.app import create_app

    tmp = tmp_path_factory.mktemp("journeys")
    old_landing = os.environ.get("FANGPIN_LANDING_DIR")
    os.environ["FANGPIN_LANDING_DIR"] = str(tmp / "landing")  # restored below (module scope: no monkeypatch)
    app = create_app(county["url"], secret_key="browser-journeys")
    app.state.job_spool = tmp / "jobs"
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", workers=1))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not th.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(10)
    r = getattr(app.state, "job_runner", None)
    if r is not None:
        r.shutdown()
    app.state.engine.dispose()
    if old_landing is None:
        os.environ.pop("FANGPIN_LANDING_DIR", None)
    else:
        os.environ["FANGPIN_LANDING_DIR"] = old_landing


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("FANGPIN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FANGPIN_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt package `chromium`)")
        pytest.skip(f"{CHROMIUM} missing: install the Debian package `chromium`")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _login(browser, server, username: str, **ctx):
    context = browser.new_context(locale="zh-CN", **({"viewport": {"width": 1280, "height": 900}} | ctx))
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())  # the action buttons ask "… ?" before posting
    page.goto(server + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"{username} could not log in"
    return page


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_role_logs_in_and_lands_on_its_home(browser, server, county):
    homes = {"village_cadre": "/dashboard", "township_officer": "/dashboard", "county_officer": "/dashboard",
             "province_viewer": "/dashboard", "admin": "/dashboard", "department_officer": "/feeds"}
    for u in county["users"]:
        page = _login(browser, server, u["username"])
        try:
            assert page.url == server + homes[u["role"]], (u["role"], page.url)
            nav = page.locator("header nav")
            if u["role"] == "department_officer":  # upload and feed health only
                assert page.locator("#upload-form").is_visible()
                assert nav.locator("a[href='/dashboard']").count() == 0
                assert nav.locator("a[href='/households']").count() == 0
                assert page.goto(server + "/households").status == 403
                page.goto(server + "/feeds")
                _shot(page, "home-department_officer")
            else:
                assert page.inner_text("#kpi-households").replace(",", "").isdigit()
                records = u["role"] not in ("province_viewer",)
                assert (nav.locator("a[href='/households']").count() == 1) == records, u["role"]
                assert (nav.locator("#nav-feeds").count() == 1) == (u["role"] in ("county_officer", "admin"))
                _shot(page, f"home-{u['role']}")
        finally:
            page.context.close()


# --- alert → case → approval → removal -----------------------------------------------------------------------------

def _open_alert_in_village(url: str, village: str) -> tuple[int, int]:
    from fangpin.alerts.models import Alert

    e = make_engine(url)
    with e.connect() as c:
        r = c.execute(select(Alert.id, Alert.household_id).where(Alert.status == "open", Alert.region_code == village)
                      .order_by(Alert.id.desc()).limit(1)).one()
    e.dispose()
    return r.id, r.household_id


def _notice_has_run(url: str, case_id: int) -> None:
    """The 5-day public notice (POLICY.md §5.4) cannot elapse during a test: move its start back 6 days, exactly as
    if the calendar had moved on (the audit itself still goes through the browser and the workflow guard)."""
    from fangpin.cases.models import CaseFile

    e = make_engine(url)
    with e.begin() as c:
        start = c.execute(select(CaseFile.notice_start).where(CaseFile.id == case_id)).scalar_one()
        assert start is not None
        c.execute(update(CaseFile).where(CaseFile.id == case_id).values(notice_start=start - timedelta(days=6)))
    e.dispose()


def _household_deceased(url: str, household_id: int) -> None:
    """The registry records that every member died (what a roster update carries): append version rows with
    active = False, end_reason 死亡 — history is never overwritten. POLICY.md §9 自然消除 needs this confirmation."""
    from fangpin.registry.models import MemberVersion
    from fangpin.registry.service import current_members

    e = make_engine(url)
    mq = current_members().subquery()
    skip = {"id", "valid_from", "recorded_at", "batch_id", "active", "end_reason"}
    cols = [c.name for c in MemberVersion.__table__.columns if c.name not in skip]
    today = date.today()
    with e.begin() as c:
        rows = c.execute(select(mq).where(mq.c.household_id == household_id, mq.c.active.is_(True))).mappings().all()
        assert rows
        for m in rows:
            c.execute(MemberVersion.__table__.insert().values(
                **{k: m[k] for k in cols if k in m}, valid_from=today, recorded_at=datetime.now().replace(microsecond=0),
                active=False, end_reason="死亡"))
    e.dispose()


def _act(page, server: str, case_id: int, action: str, payload: dict | None = None, expect: str | None = None,
         refused: bool = False) -> None:
    """Take one step through the case page: exactly the buttons the role may press now are on the page."""
    page.goto(f"{server}/cases/{case_id}")
    form = page.locator(f"form.action[data-action='{action}']")
    assert form.count() == 1, f"no '{action}' button for this role; page offers " + str(
        page.locator("form.action").evaluate_all("fs => fs.map(f => f.dataset.action)"))
    if payload:
        form.locator("textarea[name=payload]").fill(json.dumps(payload, ensure_ascii=False))
    form.locator("textarea[name=comment]").fill(f"浏览器测试：{action}")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    if refused:
        assert page.locator("#case-error").is_visible(), f"{action} should have been refused"
        return
    err = page.locator("#case-error")
    assert err.count() == 0, f"{action} refused: {err.inner_text()}"
    if expect:
        assert f"({expect})" in page.inner_text("main"), f"after {action}: {page.inner_text('#case-state')}"


def _plan_step(page, server: str, case_id: int) -> None:
    """The monitored household's assistance plan (POLICY.md §8): from the case page to the plan page, assign a helper
    (帮扶责任人) and add one measure through the forms; both then appear in the household's single chain."""
    page.goto(f"{server}/cases/{case_id}")
    page.locator("#plan-link").click()
    page.wait_for_load_state()
    page.fill("#helper-name", "李帮扶")
    page.fill("#helper-unit", "县农业农村局")
    page.locator("#helper-submit").click()
    page.wait_for_load_state()
    assert page.locator("#helpers", has_text="李帮扶").count() == 1
    page.select_option("#measure-category", index=0)
    page.fill("#measure-description", "浏览器旅程测试措施")
    page.locator("#measure-submit").click()
    page.wait_for_load_state()
    assert page.locator("text=浏览器旅程测试措施").count() >= 1
    _shot(page, "household-plan")


def test_alert_to_case_to_approval_to_removal(browser, server, county):
    url, village = county["url"], county["village"]
    alert_id, household_id = _open_alert_in_village(url, village)
    township = _login(browser, server, "demo_township")
    cadre = _login(browser, server, "demo_village")
    officer = _login(browser, server, "demo_county")
    try:
        # the township officer finds the alert in the inbox (with its evidence) and opens a case with one click
        township.goto(server + "/alerts")
        while township.locator(f"#alert-{alert_id}").count() == 0:
            nxt = township.locator("p.pager a", has_text="下一页")
            assert nxt.count(), "alert not in the inbox"
            nxt.first.click()
            township.wait_for_load_state()
        card = township.locator(f"#alert-{alert_id}")
        card.locator("summary").click()  # evidence
        _shot(township, "alerts-inbox")
        card.locator("input[name=comment]").fill("浏览器测试：由预警生成线索")
        with township.expect_navigation():
            card.locator("button[type=submit]").click()
        assert "/cases/" in township.url
        case_id = int(township.url.rstrip("/").rsplit("/", 1)[1])
        assert "(LEAD)" in township.inner_text("main")
        # a village cadre may not approve, and the county may not skip steps: the buttons are simply not there
        officer.goto(f"{server}/cases/{case_id}")
        assert officer.locator("form.action[data-action='county_approve']").count() == 0

        _act(cadre, server, case_id, "authorise", {"commitment_signed": True, "authorisation_signed": True},
             "AUTHORISED")
        _act(cadre, server, case_id, "verify_home", {"findings": "入户核实属实"}, "VERIFIED")
        _act(township, server, case_id, "data_check", None, "DATA_CHECKED")
        _act(cadre, server, case_id, "village_review", {"monitored_type": "BYYZP"}, "UNDER_NOTICE")
        _act(township, server, case_id, "township_audit", refused=True)  # notice ≥ 5 days (POLICY.md §5.4)
        _notice_has_run(url, case_id)
        _act(township, server, case_id, "township_audit", None, "TOWNSHIP_AUDITED")
        _act(officer, server, case_id, "county_approve", None, "MONITORED")
        _plan_step(cadre, server, case_id)

        # removal: assisted removal is refused while its conditions fail (POLICY.md §9) — the page says why …
        _act(cadre, server, case_id, "propose_removal", {"method": "BFXC"}, refused=True)
        _shot(cadre, "case-removal-refused")
        # … natural removal once the registry confirms the whole household has died, through the same chain
        _household_deceased(url, household_id)
        _act(cadre, server, case_id, "propose_removal", {"method": "ZRXC", "reason": "HOUSEHOLD_DECEASED"},
             "REMOVAL_PROPOSED")
        _act(cadre, server, case_id, "verify_home", None, "REMOVAL_VERIFIED")
        _act(cadre, server, case_id, "village_review", None, "REMOVAL_UNDER_NOTICE")
        _notice_has_run(url, case_id)
        _act(township, server, case_id, "township_audit", None, "REMOVAL_TOWNSHIP_AUDITED")
        _act(officer, server, case_id, "county_approve", None, "RISK_REMOVED")
        assert officer.locator("#history tr").count() >= 13  # header + every step, in order
        _shot(officer, "case-risk-removed")
    finally:
        for p in (township, cadre, officer):
            p.context.close()


# --- phone: self-application and tracking ---------------------------------------------------------------------------

def test_self_application_and_tracking_on_a_phone(browser, server, county):
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    m = ctx.new_page()
    try:
        m.goto(server + "/apply")
        m.fill("input[name=name]", "孙七")
        m.fill("input[name=id_number]", "530521198507202314")
        m.fill("input[name=phone]", "13700137001")
        m.fill("input[name=village_code]", county["village"])
        m.fill("input[name=household_size]", "4")
        m.check("input[name=reasons][value=ILLNESS]")
        m.fill("textarea[name=description]", "孩子生病住院")
        m.fill("input[name=expected_income]", "6000")
        m.check("input[name=authorisation]")
        m.click("#apply-form button[type=submit]")  # without consent the browser refuses (required checkbox)
        assert m.locator("#tracking-number").count() == 0
        m.check("input[name=consent]")
        _shot(m, "self-application-phone-form")
        m.click("#apply-form button[type=submit]")
        m.wait_for_selector("#tracking-number")
        no = m.inner_text("#tracking-number")
        assert no.startswith("FP")
        assert m.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(m, "self-application-phone-done")
        m.click("#track-link")
        m.wait_for_selector("#track-state")
        assert m.get_attribute("#track-state", "data-state") == "LEAD"
        text = m.inner_text("main")
        for secret in ("孙七", "530521198507202314", "13700137001"):
            assert secret not in text
        assert m.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(m, "tracking-phone")
        m.goto(server + "/track")
        m.fill("input[name=no]", "FP20200101AAAAAA")
        m.click("#track-form button[type=submit]")
        m.wait_for_selector("#track-not-found")
    finally:
        ctx.close()


# --- feed upload with per-row errors, feed health ---------------------------------------------------------------------

def test_bad_feed_upload_shows_per_row_errors(browser, server, county, tmp_path):
    f = tmp_path / "民政-2024-11.csv"
    v = county["village"]
    f.write_text("姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额\n"
                 f"李浏甲,,男,1960-05-01,{v},低保,新增,2024-11-03,450\n"
                 f"王浏乙,110105194912310021,男,1949-12-31,{v},低保,新增,2024-11-05,450\n"
                 f"赵浏丙,,男,1980-01-01,{v},低保,瞎填,2024-11-05,450\n"
                 f"钱浏丁,,女,1981-01-01,{v},低保,新增,2024-13-45,-5\n", encoding="utf-8")
    page = _login(browser, server, "demo_department")
    try:
        page.goto(server + "/feeds")
        page.select_option("#feed-select", "medical")
        page.select_option("#feed-select", "civil_affairs")  # the page lists the chosen contract's columns
        assert page.locator("#feed-columns [data-feed='civil_affairs']").is_visible()
        assert not page.locator("#feed-columns [data-feed='medical']").is_visible()
        assert "变动类型*" in page.inner_text("#feed-columns")
        page.set_input_files("#upload-form input[name=file]", str(f))
        _shot(page, "feed-upload")
        page.click("#upload-form button[type=submit]")
        page.wait_for_url("**/jobs/*")
        assert page.locator("#job-progress").count() == 1
        page.wait_for_selector("#job-outcome", timeout=60000)  # the page reloads itself when the job ends
        rows = sorted({int(r) for r in page.locator("tr.row-issue").evaluate_all(
            "trs => trs.map(t => t.dataset.row)")})
        assert rows == [3, 4, 5]  # the bad lines of the file (line 1 is the header)
        assert page.inner_text("#sum-accepted") == "1" and page.inner_text("#sum-rejected") == "3"
        assert "110105194912310021" not in page.content()  # IDs masked in the report
        assert page.locator("a.download-csv").count() >= 1
        _shot(page, "feed-upload-row-errors")
        page.reload()  # the job and its report survive a reload
        assert page.locator("tr.row-issue").count() >= 3
        page.goto(server + "/feeds/health")
        row = page.locator("#feed-civil_affairs")
        assert row.get_attribute("data-overdue") == "0"  # just delivered
        _shot(page, "feed-health")
    finally:
        page.context.close()


# --- region scoping by URL --------------------------------------------------------------------------------------------

def _household_of(url: str, prefix: str, exclude: str | None = None) -> str:
    from fangpin.registry.service import current_households

    e = make_engine(url)
    hq = current_households().subquery()
    q = select(hq.c.hh_no).where(hq.c.region_code.startswith(prefix))
    if exclude:
        q = q.where(~hq.c.region_code.startswith(exclude))
    with e.connect() as c:
        hh = c.execute(q.order_by(hq.c.hh_no).limit(1)).scalar_one()
    e.dispose()
    return hh


def test_village_cadre_cannot_open_another_village_household_by_url(browser, server, county):
    own = _household_of(county["url"], county["village"])
    other = _household_of(county["url"], county["village"][:6], exclude=county["village"])
    page = _login(browser, server, "demo_village")
    try:
        r = page.goto(f"{server}/households/{own}")
        assert r.status == 200
        _shot(page, "household")
        page.goto(server + "/households")
        _shot(page, "households")
        r = page.goto(f"{server}/households/{other}")
        assert r.status == 404 and page.locator("#message").is_visible()
        assert other not in page.inner_text("main")
        r = page.goto(f"{server}/api/households/{other}")
        assert r.status == 404
    finally:
        page.context.close()
