"""The assistance chain on the web (fangpin.web.cases): API + forms over the same domain functions, region scoping
(404), CSRF on every write, eligibility recorded and proposals without duplicates (seed 004 §五), visits from the
dated interval (POLICY.md §4.2), the cadre's phone form opening a cadre-visit lead (POLICY.md §4.2)."""
from __future__ import annotations

import re

from sqlalchemy import select

from fangpin.cases.models import CaseFile
from fangpin.db import make_engine
from fangpin.registry.service import current_households


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _free_households(county, n: int) -> list[str]:
    """Households of the demo village with no case (other web tests take cases first); the first one has income
    records (for the eligibility run)."""
    from fangpin.registry.models import IncomeRecord

    e = make_engine(county["url"])
    hq = current_households().subquery()
    with e.connect() as c:
        taken = set(c.execute(select(CaseFile.household_id).where(CaseFile.household_id.is_not(None))).scalars())
        with_income = set(c.execute(select(IncomeRecord.household_id).distinct()).scalars())
        rows = c.execute(select(hq.c.hh_no, hq.c.household_id).where(hq.c.region_code == county["village"])
                         .order_by(hq.c.hh_no.desc())).all()
    e.dispose()
    first = next(h for h, hid in rows if hid not in taken and hid in with_income)
    free = [first] + [h for h, hid in rows if hid not in taken and h != first and hid not in with_income]
    assert len(free) >= n
    return free[:n]


def _other_household(county) -> str:
    e = make_engine(county["url"])
    hq = current_households().subquery()
    with e.connect() as c:
        h = c.execute(select(hq.c.hh_no).where(hq.c.region_code == county["other_village"]).limit(1)).scalar_one()
    e.dispose()
    return h


def test_plan_api_scoping_csrf_and_domain_refusals(client, county, login):
    hh, hh2 = _free_households(county, 2)
    assert client.get(f"/api/households/{hh}/plan").status_code == 401
    csrf = login(client, "demo_township")
    r = client.get(f"/api/households/{hh}/plan")
    assert r.status_code == 200 and r.json()["relapse_prevention"] == [] and r.json()["eligibility"] is None
    body = {"category": "产业帮扶", "start_date": "2025-01-10"}
    assert client.post(f"/api/households/{hh}/plan/measures", json=body).status_code == 403  # no CSRF token
    r = client.post(f"/api/households/{hh}/plan/measures", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 422 and r.json()["code"] == "PLAN_NOT_MONITORED"  # not monitored: §5 order
    r = client.post(f"/api/households/{hh}/plan/measures", headers={"x-csrf-token": csrf},
                    json={"category": "综合保障", "subtype": "临时救助", "source": "civil_affairs",
                          "start_date": "2025-01-10", "external_ref": "临救〔2025〕3号"})
    assert r.status_code == 201, r.text
    mid = r.json()["measure_id"]
    r = client.post(f"/api/households/{hh}/plan/measures/{mid}/deliveries", headers={"x-csrf-token": csrf},
                    json={"delivered_on": "2025-01-12", "amount": 1500, "note": "发放临时救助金"})
    assert r.status_code == 201
    # the measure is not this household's: 404, not a write on another chain
    assert client.post(f"/api/households/{hh2}/plan/measures/{mid}/deliveries", headers={"x-csrf-token": csrf},
                       json={"delivered_on": "2025-01-12"}).status_code == 404
    r = client.post(f"/api/households/{hh}/plan/helper", headers={"x-csrf-token": csrf},
                    json={"name": "陈帮扶", "unit": "县民政局", "phone": "13912345678", "start_date": "2025-01-10"})
    assert r.status_code == 201
    r = client.post(f"/api/households/{hh}/eligibility", headers={"x-csrf-token": csrf},
                    json={"on": "2025-01-15", "trigger": "civil_affairs"})
    assert r.status_code == 201, r.text
    run = r.json()["run"]
    assert run["trigger"] == "civil_affairs" and run["parameter_version"].startswith("policy:")
    assert run["ok"], run["error"]  # the synthetic registry has 2024 income records for every household
    assert {x["programme"] for x in run["results"]} >= {"dibao", "dibao_edge", "rigid_spending", "pension"}
    r = client.post(f"/api/households/{hh}/plan/visits", headers={"x-csrf-token": csrf}, json={"count": 2})
    assert r.status_code == 201 and len(r.json()["visit_ids"]) == 2
    vid = r.json()["visit_ids"][0]
    r = client.post(f"/api/households/{hh}/plan/visits/{vid}", headers={"x-csrf-token": csrf},
                    json={"done_on": "2025-02-01", "result": "生活稳定"})
    assert r.status_code == 200
    plan = client.get(f"/api/households/{hh}/plan").json()
    assert [m["subtype"] for m in plan["civil_affairs"]] == ["TEMPORARY"] and plan["civil_affairs"][0]["deliveries"] == 1
    assert plan["helpers"][0]["phone"] != "13912345678" and "****" in plan["helpers"][0]["phone"]  # masked
    assert plan["visits"][0]["schedule_basis"]["parameter"] == "follow_up_visit_interval_days"
    assert client.get(f"/api/households/{hh}/eligibility").json()["run"]["id"] == run["id"]
    # outside the user's region: 404 for reads and writes
    other = _other_household(county)
    csrf_v = login(client, "other_village")
    assert client.get(f"/api/households/{hh}/plan").status_code == 404
    assert client.post(f"/api/households/{hh}/plan/helper", headers={"x-csrf-token": csrf_v},
                       json={"name": "x", "unit": "y", "start_date": "2025-01-10"}).status_code == 404
    assert client.get(f"/api/households/{other}/plan").status_code == 200


def test_cadre_visit_api_opens_a_cadre_visit_lead_once(client, county, login):
    (hh,) = _free_households(county, 1)
    csrf = login(client, "demo_village")
    body = {"hh_no": hh, "done_on": "2025-02-03", "result": "户主摔伤住院", "new_risk": True, "open_lead": True,
            "risk_types": ["因意外事故"]}
    r = client.post("/api/visits", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 201, r.text
    case = client.get(f"/api/cases/{r.json()['case_id']}").json()
    assert case["state"] == "LEAD" and case["source"] == "cadre_visit"
    r = client.post("/api/visits", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 422 and r.json()["code"] == "CASE_ALREADY_OPEN"


def test_openapi_documents_the_plan_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/households/{hh_no}/plan", "/api/households/{hh_no}/plan/helper",
              "/api/households/{hh_no}/plan/measures", "/api/households/{hh_no}/plan/measures/{measure_id}/deliveries",
              "/api/households/{hh_no}/plan/measures/{measure_id}/end", "/api/households/{hh_no}/plan/visits",
              "/api/households/{hh_no}/plan/visits/{visit_id}", "/api/households/{hh_no}/eligibility",
              "/api/households/{hh_no}/eligibility/{result_id}/accept", "/api/visits"):
        assert p in paths, p
    assert not any(p.startswith("/households") or p == "/visit" for p in paths)  # pages are not API


def test_plan_page_forms_and_phone_visit_form(client, county, page_login):
    hh, hh2 = _free_households(county, 2)
    page_login(client, "demo_village")
    r = client.get(f"/households/{hh}/plan")
    assert r.status_code == 200 and 'name="viewport"' in r.text and "帮扶计划" in r.text
    for form_id in ("helper-form", "measure-form", "assess-form", "schedule-form", "cadre-visit-link"):
        assert f'id="{form_id}"' in r.text, form_id
    token = _csrf(r.text)
    r = client.post(f"/households/{hh}/plan/helper", data={"csrf_token": "forged", "name": "李帮扶", "unit": "镇政府",
                                                           "start_date": "2025-01-10"})
    assert r.status_code == 403
    r = client.post(f"/households/{hh}/plan/helper", data={"csrf_token": token, "name": "李帮扶", "unit": "镇政府",
                                                           "phone": "13812340000", "start_date": "2025-01-10"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/households/{hh}/plan"
    page = client.get(f"/households/{hh}/plan").text
    assert "李帮扶" in page and "13812340000" not in page
    # a refusal is shown on the page in Chinese (not monitored → no relapse-prevention measure)
    r = client.post(f"/households/{hh}/plan/measures", data={"csrf_token": token, "category": "INDUSTRY",
                                                             "source": "relapse_prevention", "start_date": "2025-01-10"})
    assert r.status_code == 422 and "尚未纳入监测" in r.text
    r = client.post(f"/households/{hh}/plan/eligibility", data={"csrf_token": token, "on": "2025-01-15"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert 'id="eligibility-run"' in client.get(f"/households/{hh}/plan").text or \
        'id="eligibility-error"' in client.get(f"/households/{hh}/plan").text
    assert 'id="eligibility-summary"' in client.get(f"/households/{hh}").text  # shown on the household page
    assert "Assistance plan" in client.get(f"/households/{hh}/plan?lang=en").text
    client.get("/dashboard?lang=zh")
    # the phone form: record a visit and open a cadre-visit lead
    r = client.get(f"/visit?hh_no={hh2}")
    assert r.status_code == 200 and 'id="visit-hh-no"' in r.text and hh2 in r.text and 'name="viewport"' in r.text
    token = _csrf(r.text)
    r = client.post("/visit", data={"csrf_token": token, "hh_no": hh2, "done_on": "2025-02-05",
                                    "result": "家中房屋受损", "new_risk": "on", "open_lead": "on",
                                    "risk_types": ["因自然灾害"]})
    assert r.status_code == 200 and 'id="visit-lead"' in r.text, r.text[-800:]
    other = _other_household(county)
    r = client.post("/visit", data={"csrf_token": token, "hh_no": other, "done_on": "2025-02-05", "result": "x"})
    assert r.status_code == 404
    assert client.get(f"/households/{other}/plan").status_code == 404
