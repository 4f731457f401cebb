"""Issue 7 §2: the generated access matrix — every route of the app × every role × a record inside and outside the
user's region, judged against the declarative table in fangpin.reliability.access_matrix (ACCESS). Zero leaks,
zero wrong answers, no undeclared route. Also: session cookie flags and CSRF on every write."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fangpin.reliability.access_matrix import ACCESS, iter_routes, prepare, run_matrix, undeclared


@pytest.fixture(scope="module")
def matrix_fixture(sqlite_county, tmp_path_factory):
    # the matrix tests the web layer; it copies a SQLite county (PostgreSQL parity is tested by the other web tests)
    src = Path(sqlite_county["url"].removeprefix("sqlite:///"))
    return prepare(src, tmp_path_factory.mktemp("matrix") / "matrix.db")


@pytest.fixture
def matrix_app(matrix_fixture, tmp_path):
    from fangpin.web.app import create_app

    a = create_app(matrix_fixture.url, secret_key="matrix-secret")
    a.state.job_spool = tmp_path / "jobs"  # uploads the matrix sends are spooled here, not in the user's home
    yield a
    a.state.engine.dispose()


def test_every_route_is_declared_in_the_access_table(matrix_app):
    missing = undeclared(matrix_app)
    assert not missing, ("routes without an access rule — add one line each to ACCESS in "
                         f"fangpin/reliability/access_matrix.py: {missing}")
    assert len(iter_routes(matrix_app)) >= 25


def test_access_matrix_has_no_leak_and_no_wrong_answer(matrix_app, matrix_fixture):
    out = run_matrix(matrix_app, matrix_fixture)
    assert out.checks > 400
    assert out.leaks == [], out.leaks[:10]
    assert out.failures == [], out.failures[:10]


def test_matrix_detects_a_leak_when_a_rule_is_too_strict(matrix_app, matrix_fixture):
    """The checker can fail: declare the dashboard (aggregates) as records-only and it reports the province viewer's
    200 (department officers are refused by the route itself)."""
    from fangpin.reliability.access_matrix import records

    out = run_matrix(matrix_app, matrix_fixture, {"GET /api/dashboard": records()})
    assert len(out.leaks) == 1  # the province viewer was let in
    assert "province_viewer" in out.leaks[0]


def test_department_officer_cannot_read_the_registry(matrix_app, matrix_fixture):
    with TestClient(matrix_app) as c:
        assert c.post("/api/session", json={"username": "m_department", "password": "matrix-password-1"}).status_code == 200
        hh, _ = matrix_fixture.records["household"][0]
        for path in ("/api/households", f"/api/households/{hh}", "/api/alerts", "/households", f"/households/{hh}",
                     "/alerts"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 403, path
            assert hh not in r.text


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(matrix_fixture):
    from fangpin.web.app import create_app

    for secure in (False, True):
        a = create_app(matrix_fixture.url, secret_key="k", secure_cookies=secure)
        with TestClient(a, base_url="https://testserver") as c:
            r = c.post("/api/session", json={"username": "m_county", "password": "matrix-password-1"})
            cookie = r.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie
            assert ("; secure" in cookie) is secure
        a.state.engine.dispose()


def test_every_write_route_requires_the_csrf_token():
    """Every non-GET route is declared with csrf=True, except the anonymous JSON endpoints (login, public
    self-application), which hold no session to ride on."""
    anonymous_json = {"POST /api/session", "POST /api/self-applications"}
    for key, rule in ACCESS.items():
        if not key.startswith("GET "):
            assert rule.csrf or key in anonymous_json, key
