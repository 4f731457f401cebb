"""Reveal of a full phone / ID number (issue 7 item 1): role-gated, region-scoped, audited, never cached."""
from __future__ import annotations

import re

from sqlalchemy import select

from fangpin.db import make_engine
from fangpin.registry.service import current_households
from fangpin.security.audit import verify
from fangpin.security.models import AuditLog

ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])")


def _household(url: str, prefix: str) -> str:
    e = make_engine(url)
    hq = current_households().subquery()
    with e.connect() as c:
        hh = c.execute(select(hq.c.hh_no).where(hq.c.region_code.startswith(prefix), hq.c.active.is_(True))
                       .order_by(hq.c.hh_no).limit(1)).scalar_one()
    e.dispose()
    return hh


def _audit(url: str) -> list:
    e = make_engine(url)
    with e.connect() as c:
        rows = c.execute(select(AuditLog).order_by(AuditLog.id)).all()
        assert verify(c).ok
    e.dispose()
    return rows


def test_household_api_and_page_show_only_masked_values(client, county, login):
    login(client, "demo_county")
    hh = _household(county["url"], county["village"])
    d = client.get(f"/api/households/{hh}").json()
    assert "*" in d["phone_masked"] and all("*" in m["id_masked"] for m in d["members"] if m["id_masked"])
    assert not ID18.search(client.get(f"/api/households/{hh}").text)
    assert not ID18.search(client.get(f"/households/{hh}").text)


def test_reveal_is_role_gated_scoped_audited_and_not_cached(client, county, login):
    hh = _household(county["url"], county["village"])
    before = len(_audit(county["url"]))
    body = {"field": "head_id", "reason": "核对低保资格"}
    assert client.post(f"/api/households/{hh}/reveal", json=body).status_code == 401  # anonymous
    token = login(client, "demo_county")
    assert client.post(f"/api/households/{hh}/reveal", json=body).status_code == 403  # no CSRF token
    r = client.post(f"/api/households/{hh}/reveal", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    assert ID18.fullmatch(r.json()["value"]) and r.headers["cache-control"] == "no-store"
    d = client.get(f"/api/households/{hh}").json()
    member = d["members"][0]
    r2 = client.post(f"/api/households/{hh}/reveal", headers={"X-CSRF-Token": token},
                     json={"field": "member_id", "person_id": member["person_id"], "reason": "入户核实"})
    v = r2.json()["value"]
    assert v[:4] == member["id_masked"][:4] and v[-4:] == member["id_masked"][-4:]
    r3 = client.post(f"/api/households/{hh}/reveal", headers={"X-CSRF-Token": token},
                     json={"field": "phone", "reason": "联系 13912345678"})
    assert r3.status_code == 200 and r3.json()["value"][-4:] == d["phone_masked"][-4:]
    # no reason -> 400
    assert client.post(f"/api/households/{hh}/reveal", headers={"X-CSRF-Token": token},
                       json={"field": "phone", "reason": ""}).status_code == 400
    rows = _audit(county["url"])[before:]
    assert [r.action for r in rows] == ["reveal.head_id", "reveal.member_id", "reveal.phone"]
    assert all(r.target == f"household:{hh}" and r.actor.endswith(":demo_county") for r in rows)
    text = " ".join(r.details + r.target for r in rows)
    assert r.json()["value"] not in text and v not in text and "13912345678" not in text  # the values never


def test_village_cadre_may_reveal_the_phone_only_and_outsiders_get_404(client, county, login):
    hh = _household(county["url"], county["village"])
    token = login(client, "demo_village")
    h = {"X-CSRF-Token": token}
    assert client.post(f"/api/households/{hh}/reveal", headers=h, json={"field": "phone", "reason": "预约入户"}
                       ).status_code == 200
    assert client.post(f"/api/households/{hh}/reveal", headers=h, json={"field": "head_id", "reason": "预约入户"}
                       ).status_code == 403
    token = login(client, "other_village")
    assert client.post(f"/api/households/{hh}/reveal", headers={"X-CSRF-Token": token},
                       json={"field": "phone", "reason": "看看"}).status_code == 404
    token = login(client, "demo_department")
    assert client.post(f"/api/households/{hh}/reveal", headers={"X-CSRF-Token": token},
                       json={"field": "phone", "reason": "看看"}).status_code == 403  # aggregates only


def test_reveal_button_on_the_household_page(client, county, page_login):
    hh = _household(county["url"], county["village"])
    page_login(client, "demo_township")
    page = client.get(f"/households/{hh}")
    assert 'id="reveal"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/households/{hh}/reveal", data={"csrf_token": token, "field": "head_id", "reason": "复核"})
    assert r.status_code == 200 and ID18.search(r.text) and r.headers["cache-control"] == "no-store"
    assert client.post(f"/households/{hh}/reveal", data={"csrf_token": "x", "field": "head_id",
                                                        "reason": "复核"}).status_code == 403
    page_login(client, "demo_province")
    assert client.get(f"/households/{hh}").status_code == 403
