"""Server-rendered pages: login with CSRF, region scoping by URL (404), case page lists exactly allowed actions,
stale form → 409 message, self-application page, zh-CN default with ?lang=en."""
from __future__ import annotations

import re

from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.db import make_engine
from fangpin.registry.service import current_households


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _first(url: str, q):
    e = make_engine(url)
    with e.connect() as c:
        v = c.execute(q).first()
    e.dispose()
    return v


def test_pages_need_login_and_login_checks_csrf(client, page_login):
    r = client.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = client.get("/login")
    assert r.status_code == 200 and 'name="viewport"' in r.text and "登录" in r.text
    assert client.post("/login", data={"username": "demo_county", "password": "fangpin-demo",
                                       "csrf_token": "forged"}).status_code == 403
    r = page_login(client, "demo_county", "wrong-password")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    r = page_login(client, "demo_county")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_dashboard_in_chinese_and_english(client, page_login):
    page_login(client, "demo_county")
    r = client.get("/dashboard")
    assert r.status_code == 200 and "按规则统计预警" in r.text and "按乡镇统计预警" in r.text
    r = client.get("/dashboard?lang=en")
    assert "Open alerts by rule" in r.text
    assert "Open alerts by township" in client.get("/dashboard").text  # remembered
    page_login(client, "demo_province")
    assert client.get("/dashboard").status_code == 200
    assert client.get("/alerts").status_code == 403  # aggregates only


def test_village_cadre_cannot_open_another_village_by_url(client, county, page_login):
    hq = current_households().subquery()
    other = _first(county["url"], select(hq.c.hh_no).where(hq.c.region_code == county["other_village"]))[0]
    own = _first(county["url"], select(hq.c.hh_no).where(hq.c.region_code == county["village"]))[0]
    page_login(client, "demo_village")
    r = client.get(f"/households/{own}")
    assert r.status_code == 200 and own in r.text and "家庭成员" in r.text and "收支记录" in r.text
    assert re.search(r"\d{4}\*{10}[\dX]{4}", r.text)  # masked IDs
    assert not re.search(r"\b\d{17}[\dX]\b", r.text)  # never a full ID
    r = client.get(f"/households/{other}")
    assert r.status_code == 404 and other not in r.text


def test_township_opens_case_on_page_and_sees_allowed_actions_only(client, county, page_login):
    a = _first(county["url"], select(Alert.id).where(Alert.status == "open",
                                                     Alert.region_code == county["village"]).order_by(Alert.id.desc()))
    assert a is not None
    page_login(client, "demo_township")
    inbox = client.get("/alerts")
    assert inbox.status_code == 200 and f'id="alert-{a.id}"' in inbox.text and "启动核实" in inbox.text
    r = client.post(f"/alerts/{a.id}/case", data={"csrf_token": _csrf(inbox.text), "comment": "页面立案"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    case_url = r.headers["location"]
    page = client.get(case_url)
    shown = re.findall(r'data-action="([a-z_]+)"', page.text)
    case_id = int(case_url.rsplit("/", 1)[1])
    assert shown == client.get(f"/api/cases/{case_id}").json()["allowed_actions"] == ["authorise", "return", "withdraw"]
    # a stale form (someone acted first) shows the conflict message, nothing saved
    version = int(re.search(r'name="expected_version" value="(\d+)"', page.text).group(1))
    r = client.post(f"{case_url}/act", data={"csrf_token": _csrf(page.text), "action": "authorise",
                                             "expected_version": version - 1, "payload": ""})
    assert r.status_code == 409 and "请刷新后重新办理" in r.text
    r = client.post(f"{case_url}/act", data={"csrf_token": _csrf(page.text), "action": "authorise",
                                             "expected_version": version,
                                             "payload": '{"commitment_signed": true, "authorisation_signed": true}'})
    assert r.status_code == 200 and "已承诺授权" in r.text
    assert re.findall(r'data-action="([a-z_]+)"', r.text) == client.get(f"/api/cases/{case_id}").json()["allowed_actions"]
    page_login(client, "demo_county")  # the county has nothing to do on a fresh case
    assert 'id="no-actions"' in client.get(case_url).text
    page_login(client, "other_village")
    assert client.get(case_url).status_code == 404


def test_self_application_page(client, county):
    r = client.get("/apply")
    assert r.status_code == 200 and "农户自主申报" in r.text and 'name="consent"' in r.text
    form = {"csrf_token": _csrf(r.text), "name": "李四", "id_number": "530521198001011238", "phone": "13900139000",
            "village_code": county["village"], "household_size": "4", "reasons": ["ILLNESS"],
            "description": "", "expected_income": "6000", "authorisation": "on"}
    r = client.post("/apply", data=form)
    assert r.status_code == 422 and "须同意并签署承诺书" in r.text
    r = client.post("/apply", data={**form, "consent": "on"})
    assert r.status_code == 200, re.findall(r"<li>(.*?)</li>", r.text)
    assert re.search(r'id="tracking-number"[^>]*>FP\d{8}[A-Z0-9]{6}<', r.text)
    assert "Apply for assistance" in client.get("/apply?lang=en").text
