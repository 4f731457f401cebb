"""GET /api/preview (issue 8 §2): counts per township within the user's region; 401 anonymous, 404 outside."""
from __future__ import annotations

from sqlalchemy import func, select

from fangpin.alerts.models import Alert
from fangpin.db import make_engine

AS_OF = "2024-12-31"  # the date the web county was monitored at (tests/web/conftest.py)


def _open_alerts(url: str, rule: str, prefix: str) -> int:
    e = make_engine(url)
    with e.connect() as c:
        n = c.execute(select(func.count()).select_from(Alert).where(
            Alert.rule_id == rule, Alert.region_code.startswith(prefix))).scalar_one()
    e.dispose()
    return n


def test_anonymous_preview_gets_401(client):
    assert client.get("/api/preview", params={"rule": "INC-LINE"}).status_code == 401


def test_preview_counts_the_rule_within_the_users_region(client, county, login, tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_PREVIEW_CACHE", str(tmp_path / "cache"))
    county_user = next(u for u in county["users"] if len(u["region_code"]) == 6)
    login(client, county_user["username"])
    r = client.get("/api/preview", params={"rule": "INC-LINE", "as_of": AS_OF})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["matching"] == _open_alerts(county["url"], "INC-LINE", county_user["region_code"]) > 0
    assert all(t.startswith(county_user["region_code"]) for t in body["townships"])
    again = client.get("/api/preview", params={"rule": "INC-LINE", "as_of": AS_OF, "line_factor": 1.2}).json()
    assert again["cache"] == "warm" and again["matching"] >= body["matching"]
    # narrowing to the demo village's township
    town = county["village"][:9]
    r = client.get("/api/preview", params={"rule": "INC-LINE", "as_of": AS_OF, "scope": town}).json()
    assert list(r["townships"]) == [town]
    assert r["matching"] == _open_alerts(county["url"], "INC-LINE", town)
    bad = client.get("/api/preview", params={"when": "size > (SELECT 1)", "as_of": AS_OF})
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "PREVIEW_NOT_ALLOWED"


def test_preview_outside_the_users_region_is_404(client, county, login, tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_PREVIEW_CACHE", str(tmp_path / "cache"))
    login(client, "other_village")
    r = client.get("/api/preview", params={"rule": "INC-LINE", "as_of": AS_OF, "scope": county["village"]})
    assert r.status_code == 404

