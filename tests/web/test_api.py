"""REST API: auth, region scoping (404 outside), cases from alerts, optimistic locking (409), self-application."""
from __future__ import annotations

from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.db import make_engine
from fangpin.registry.service import current_households

SELF_APP = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000", "household_size": 3,
            "reasons": ["因病"], "description": "家人住院", "expected_income": 8000, "consent": True,
            "authorisation": True}


def _alert_in(url: str, prefix: str) -> dict:
    e = make_engine(url)
    with e.connect() as c:
        r = c.execute(select(Alert.id, Alert.household_id, Alert.region_code).where(
            Alert.status == "open", Alert.region_code.startswith(prefix)).order_by(Alert.id).limit(1)).one()
    e.dispose()
    return dict(r._mapping)


def _household_in(url: str, prefix: str, exclude: str | None = None) -> str:
    e = make_engine(url)
    hq = current_households().subquery()
    q = select(hq.c.hh_no).where(hq.c.region_code.startswith(prefix))
    if exclude:
        q = q.where(~hq.c.region_code.startswith(exclude))
    with e.connect() as c:
        hh = c.execute(q.order_by(hq.c.hh_no).limit(1)).scalar_one()
    e.dispose()
    return hh


def test_anonymous_api_requests_get_401(client):
    for path in ("/api/households", "/api/households/X", "/api/alerts", "/api/cases/1", "/api/dashboard", "/api/me"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/alerts/1/case", json={}).status_code == 401
    assert client.post("/api/cases/1/actions", json={"action": "authorise", "expected_version": 1}).status_code == 401
    r = client.post("/api/session", json={"username": "demo_county", "password": "wrong-password"})
    assert r.status_code == 401


def test_every_role_logs_in_and_sees_only_its_region(client, county, login):
    for u in county["users"]:
        login(client, u["username"])
        me = client.get("/api/me").json()
        assert me["role"] == u["role"] and me["region_code"] == u["region_code"]
        d = client.get("/api/dashboard")
        if u["role"] == "department_officer":  # upload and feed health only (issue 6)
            assert d.status_code == 403
        else:
            assert d.json()["households"] > 0
        hh = client.get("/api/households")
        if u["role"] in ("department_officer", "province_viewer"):
            assert hh.status_code == 403  # aggregates only
            continue
        assert hh.status_code == 200
        scope = "" if u["region_code"] == "00" else u["region_code"]
        items = hh.json()["items"]
        assert items and all(i["region_code"].startswith(scope) for i in items)
        assert all("*" in i["head_id_masked"] for i in items if i["head_id_masked"])
        alerts = client.get("/api/alerts").json()["items"]
        assert all(a["region_code"].startswith(scope) for a in alerts)
        client.delete("/api/session", headers={"x-csrf-token": me["csrf_token"]})
    v = client.get("/api/households")
    assert v.status_code == 401


def test_village_cadre_cannot_open_another_village_household(client, county, login):
    other = _household_in(county["url"], county["other_village"])
    own = _household_in(county["url"], county["village"])
    login(client, "demo_village")
    assert client.get(f"/api/households/{own}").status_code == 200
    r = client.get(f"/api/households/{other}")
    assert r.status_code == 404 and "members" not in r.text
    assert client.get("/api/households/NO-SUCH-HOUSEHOLD").status_code == 404
    d = client.get(f"/api/households/{own}").json()
    assert d["members"] and all("*" in m["id_masked"] for m in d["members"] if m["id_masked"])
    assert all(str(m["id_masked"])[4:-4].strip("*") == "" for m in d["members"])


def test_township_opens_case_from_alert_and_sees_only_allowed_actions(client, county, login):
    a = _alert_in(county["url"], county["village"])
    csrf = login(client, "demo_village")
    r = client.post(f"/api/alerts/{a['id']}/case", json={}, headers={"x-csrf-token": csrf})
    assert r.status_code == 422 and r.json()["code"] == "CASE_ROLE_NOT_ALLOWED"  # cadres do not open alert cases
    csrf = login(client, "demo_township")
    assert client.post(f"/api/alerts/{a['id']}/case", json={}).status_code == 403  # no CSRF header
    r = client.post(f"/api/alerts/{a['id']}/case", json={"comment": "预警核实"}, headers={"x-csrf-token": csrf})
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["state"] == "LEAD" and case["source"] == "alert"
    got = client.get(f"/api/cases/{case['id']}").json()
    assert got["allowed_actions"] == ["authorise", "return", "withdraw"]
    assert [e["action"] for e in got["history"]] == ["open"]
    # a stale version is refused with 409 and a clear bilingual message; nothing changes
    r = client.post(f"/api/cases/{case['id']}/actions", headers={"x-csrf-token": csrf},
                    json={"action": "authorise", "expected_version": case["version"] + 5,
                          "payload": {"commitment_signed": True, "authorisation_signed": True}})
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "CASE_CONFLICT" and "请刷新后重新办理" in body["message_zh"]
    assert "changed by someone else" in body["message_en"]
    # a refused step (missing signatures) is 422 with its code
    r = client.post(f"/api/cases/{case['id']}/actions", headers={"x-csrf-token": csrf},
                    json={"action": "authorise", "expected_version": case["version"], "payload": {}})
    assert r.status_code == 422 and r.json()["code"].startswith("CASE_")
    r = client.post(f"/api/cases/{case['id']}/actions", headers={"x-csrf-token": csrf},
                    json={"action": "authorise", "expected_version": case["version"],
                          "payload": {"commitment_signed": True, "authorisation_signed": True}})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "AUTHORISED" and r.json()["version"] == case["version"] + 1
    # the county may read it; a cadre of another village may not (404, not 403)
    login(client, "other_village")
    assert client.get(f"/api/cases/{case['id']}").status_code == 404
    login(client, "demo_county")
    assert client.get(f"/api/cases/{case['id']}").json()["allowed_actions"] == []


def test_self_application_returns_tracking_number_and_requires_consent(client, county, login):
    form = {**SELF_APP, "village_code": county["village"]}
    r = client.post("/api/self-applications", json=form)  # public: no login
    assert r.status_code == 201, r.text
    assert r.json()["tracking_number"].startswith("FP") and r.json()["state"] == "LEAD"
    r = client.post("/api/self-applications", json={**form, "id_number": "530521197506152349", "consent": False})
    assert r.status_code == 422
    body = r.json()
    assert "SELF_APP_NO_CONSENT" in body["details"]["issues"] and "承诺" in body["message_zh"]
    r = client.post("/api/self-applications", json={k: v for k, v in form.items() if k != "authorisation"})
    assert r.status_code == 422 and "SELF_APP_NO_AUTHORISATION" in r.json()["details"]["issues"]


def test_openapi_lists_every_api_route(client, app):
    spec = client.get("/openapi.json").json()
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    from fangpin.web.api import router

    routes = {(r.path, m.lower()) for r in router.routes for m in r.methods}
    assert all(p.startswith("/api/") for p, _ in routes)
    assert routes and routes <= documented
    for p in ("/api/households", "/api/households/{hh_no}", "/api/alerts", "/api/alerts/{alert_id}/case",
              "/api/cases/{case_id}", "/api/cases/{case_id}/actions", "/api/self-applications"):
        assert p in spec["paths"], p
    assert not any(p for p in spec["paths"] if not p.startswith("/api/"))  # pages are not API
