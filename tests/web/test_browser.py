"""One real headless-browser run: Debian's chromium driven by Playwright (system browser, never
`playwright install`), against uvicorn on a random loopback port. Screenshots go to test-artifacts/screenshots/."""
from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("FANGPIN_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(sqlite_county):
    import uvicorn

    from fangpin.web.app import create_app

    app = create_app(sqlite_county["url"], secret_key="browser-test")
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
    app.state.engine.dispose()


@pytest.mark.browser
@pytest.mark.xdist_group("browser")  # with the journeys: one SQLite county per run
def test_county_officer_dashboard_and_phone_self_application(server, sqlite_county):
    county = sqlite_county
    if not Path(CHROMIUM).exists():
        if os.environ.get("FANGPIN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FANGPIN_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt package `chromium`)")
        pytest.skip(f"{CHROMIUM} missing: install the Debian package `chromium`")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.goto(server + "/dashboard")
            assert "/login" in page.url
            page.fill("input[name=username]", "demo_county")
            page.fill("input[name=password]", "fangpin-demo")
            page.click("#login-form button[type=submit]")
            page.wait_for_url(server + "/dashboard")
            assert page.inner_text("#kpi-households").replace(",", "").isdigit()
            assert page.locator("#alerts-by-rule tr").count() > 1
            page.screenshot(path=str(SHOTS / "dashboard-county.png"), full_page=True)

            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                        locale="zh-CN")
            m = phone.new_page()
            m.goto(server + "/apply")
            m.fill("input[name=name]", "王五")
            m.fill("input[name=id_number]", "530521198507202314")
            m.fill("input[name=phone]", "13700137000")
            m.fill("input[name=village_code]", county["village"])
            m.fill("input[name=household_size]", "3")
            m.check("input[name=reasons][value=ILLNESS]")
            m.fill("textarea[name=description]", "户主住院,医疗支出大")
            m.fill("input[name=expected_income]", "7000")
            # the browser itself refuses the form without consent (required checkbox)
            m.check("input[name=authorisation]")
            m.click("#apply-form button[type=submit]")
            assert m.locator("#tracking-number").count() == 0
            m.check("input[name=consent]")
            m.click("#apply-form button[type=submit]")
            m.wait_for_selector("#tracking-number")
            assert m.inner_text("#tracking-number").startswith("FP")
            assert m.evaluate("document.documentElement.scrollWidth") <= 390  # no horizontal scrolling on a phone
            m.screenshot(path=str(SHOTS / "self-application-phone.png"), full_page=True)
            phone.close()
        finally:
            browser.close()
