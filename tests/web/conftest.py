"""A small synthetic county (300 households) with monitoring run and one demo user per role, shared by the web
tests (on SQLite and PostgreSQL: the `county` fixture is parametrised like the `engine` fixture)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.auth import create_user, seed_demo_users
from fangpin.db import make_engine, upgrade

PASSWORD = "fangpin-demo"


def build_county(url: str) -> dict:
    """300 synthetic households monitored as of 2024-12-31, one demo user per role, and a cadre of another village."""
    from fangpin.alerts.service import monitor
    from fangpin.synth.run import SynthParams, run

    e = make_engine(url)
    upgrade(e)
    run(e, SynthParams(households=300, months=24, seed=3), None)
    monitor(e, date(2024, 12, 31))
    with e.connect() as c:
        # the village with the most open alerts, and another village of the same county
        rows = c.execute(select(Alert.region_code, Alert.id).where(Alert.status == "open")).all()
    assert rows, "the synthetic county raised no alert"
    by_village: dict[str, int] = {}
    for code, _ in rows:
        by_village[code] = by_village.get(code, 0) + 1
    village = max(sorted(by_village), key=by_village.get)
    with e.begin() as c:
        users = seed_demo_users(c, village, PASSWORD)
        from fangpin.registry.service import current_households

        hq = current_households().subquery()
        other_village = c.execute(select(hq.c.region_code).where(~hq.c.region_code.startswith(village))
                                  .order_by(hq.c.region_code).limit(1)).scalar_one()
        create_user(c, "other_village", PASSWORD, "village_cadre", other_village, "邻村干部")
    e.dispose()
    return {"url": url, "village": village, "other_village": other_village, "users": users}


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def county(request, tmp_path_factory):
    """The web tests' county on SQLite and on the real PostgreSQL server of `make test` (FANGPIN_TEST_PG_URL)."""
    if request.param == "sqlite":
        yield build_county(f"sqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}")
        return
    import os
    import uuid

    from sqlalchemy import text

    pg = os.environ.get("FANGPIN_TEST_PG_URL")
    if not pg:
        if os.environ.get("FANGPIN_REQUIRE_PG") == "1":
            pytest.fail("FANGPIN_REQUIRE_PG=1 but FANGPIN_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not available (run `make test`)")
    admin = make_engine(pg, isolation_level="AUTOCOMMIT")
    name = "t_web_" + uuid.uuid4().hex[:10]
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield build_county(pg.rsplit("/", 1)[0] + "/" + name)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_county(tmp_path_factory):
    """A SQLite-only county for the browser journeys (the browser tests the UI, the DB parity is tested above)."""
    return build_county(f"sqlite:///{tmp_path_factory.mktemp('webb') / 'web.db'}")


@pytest.fixture
def app(county):
    from fangpin.web.app import create_app

    a = create_app(county["url"], secret_key="test-secret")
    yield a
    a.state.engine.dispose()


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def login():
    return _login


@pytest.fixture
def page_login():
    return _page_login


def _login(client, username: str, password: str = PASSWORD) -> str:
    """Log in through the API; returns the CSRF token for writes."""
    r = client.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def _page_login(client, username: str, password: str = PASSWORD):
    """Log in through the HTML form (with its CSRF token)."""
    import re

    r = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    return client.post("/login", data={"csrf_token": token, "username": username, "password": password,
                                       "next": "/dashboard"}, follow_redirects=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the system chromium (Debian package `chromium`) headless")
