"""Server-side session revocation (issue 7, docs/SECURITY.md §5, threat T9): a cookie copied before logout is
refused after it (API 401, pages → login); idle and absolute expiry; a password change, a disabled account and
`fangpin users revoke` end every session of the account; only the SHA-256 of a session id is stored."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from fangpin.auth import create_user, set_active, set_password
from fangpin.auth.sessions import IDLE_TIMEOUT, TOUCH_EVERY, UserSession, list_sessions, purge, sid_hash
from fangpin.web.session import COOKIE

PW = "right-password-1"


@pytest.fixture
def app(engine):
    from fangpin.web.app import create_app

    with engine.begin() as c:
        create_user(c, "alice", PW, "county_officer", "530102")
        create_user(c, "bob", PW, "county_officer", "530102")
    return create_app(engine=engine, secret_key="k")


def _api_login(app, username="alice", password=PW) -> tuple[TestClient, str]:
    c = TestClient(app)
    r = c.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def _copy(app, c: TestClient) -> TestClient:
    """Another browser holding a copy of ``c``'s session cookie (a stolen cookie)."""
    return TestClient(app, cookies={COOKIE: c.cookies.get(COOKIE)})


def _rows(engine) -> list:
    with engine.connect() as c:
        return c.execute(select(UserSession.__table__)).all()


def test_api_cookie_copied_before_logout_is_refused_after_it(app, engine):
    c, tok = _api_login(app)
    thief = _copy(app, c)
    assert thief.get("/api/me").status_code == 200  # the copy works while the session lives
    assert c.delete("/api/session", headers={"X-CSRF-Token": tok}).status_code == 204
    r = thief.get("/api/me")
    assert r.status_code == 401 and r.json()["detail"]["code"] == "AUTH_REQUIRED"
    assert thief.get("/api/households").status_code == 401
    assert c.get("/api/me").status_code == 401
    # the row is kept, revoked, with the reason; the raw id is nowhere in the table
    (row,) = _rows(engine)
    assert row.revoked_at is not None and row.revoked_reason == "logout" and len(row.id_hash) == 64


def test_page_cookie_copied_before_logout_goes_to_login_after_it(app):
    c = TestClient(app)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"csrf_token": tok, "username": "alice", "password": PW, "next": "/dashboard"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard"
    thief = _copy(app, c)
    assert thief.get("/dashboard", follow_redirects=False).status_code == 200
    page_tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/dashboard").text).group(1)
    assert page_tok != tok  # a new CSRF token at login (no fixation)
    assert c.post("/logout", data={"csrf_token": page_tok}, follow_redirects=False).status_code == 303
    r = thief.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    # the revoked session's CSRF token is useless too: the copy now holds a fresh anonymous session
    r = thief.post("/logout", data={"csrf_token": page_tok}, follow_redirects=False)
    assert thief.get("/dashboard", follow_redirects=False).status_code == 303


def test_idle_timeout_ends_a_session_and_use_keeps_it_alive(app, engine):
    c, _ = _api_login(app)
    (row,) = _rows(engine)
    # used 10 minutes ago: still live, and this request moves last_seen_at forward (written at most once a minute)
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(last_seen_at=row.last_seen_at - timedelta(minutes=10)))
    assert c.get("/api/me").status_code == 200
    (after,) = _rows(engine)
    assert after.last_seen_at >= row.last_seen_at
    seen = after.last_seen_at
    assert c.get("/api/me").status_code == 200  # within TOUCH_EVERY: no write
    assert _rows(engine)[0].last_seen_at == seen and TOUCH_EVERY == timedelta(seconds=60)
    # unused for longer than the idle timeout: refused, although the absolute expiry is hours away
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(last_seen_at=datetime.now() - IDLE_TIMEOUT - timedelta(minutes=1)))
    assert c.get("/api/me").status_code == 401


def test_absolute_expiry_ends_an_active_session(app, engine):
    c, _ = _api_login(app)
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(expires_at=datetime.now() - timedelta(seconds=1)))
    assert c.get("/api/me").status_code == 401
    (row,) = _rows(engine)
    assert row.expires_at - row.created_at <= timedelta(hours=12)


def test_password_change_disable_and_admin_revoke_end_every_session(app, engine, tmp_path):
    a1, _ = _api_login(app)
    a2, _ = _api_login(app)  # a second browser of alice
    b, _ = _api_login(app, "bob")
    with engine.begin() as conn:
        assert set_password(conn, "alice", "new-password-2") == 2
    assert a1.get("/api/me").status_code == 401 and a2.get("/api/me").status_code == 401
    assert b.get("/api/me").status_code == 200  # other accounts untouched
    a3, _ = _api_login(app, "alice", "new-password-2")
    with engine.begin() as conn:
        assert set_active(conn, "alice", False) == 1
    assert a3.get("/api/me").status_code == 401
    assert TestClient(app).post("/api/session", json={"username": "alice", "password": "new-password-2"}
                                ).status_code == 401
    with engine.begin() as conn:
        set_active(conn, "alice", True)
        uid = conn.execute(select(UserSession.user_id).limit(1)).scalar()
    assert a3.get("/api/me").status_code == 401  # enabling again does not revive old sessions

    # the CLI: list, then revoke all of bob's sessions
    from fangpin.cli.main import app as cli

    url = engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(cli, ["users", "sessions", "bob", "--db", url])
    assert out.exit_code == 0, out.output
    assert "1 live session(s) of bob" in out.output and "testclient" in out.output
    out = CliRunner().invoke(cli, ["users", "revoke", "bob", "--db", url])
    assert out.exit_code == 0 and "1 session(s) of bob revoked" in out.output
    assert b.get("/api/me").status_code == 401
    out = CliRunner().invoke(cli, ["users", "sessions", "bob", "--all", "--db", url])
    assert "revoked (admin_revoke)" in out.output and "0 live session(s)" in out.output
    out = CliRunner().invoke(cli, ["users", "revoke", "nobody", "--db", url])
    assert out.exit_code == 1 and "nobody" in out.output
    with engine.connect() as conn:
        assert uid is not None and all(not s.live(datetime.now()) for s in list_sessions(conn, uid))


def test_only_the_hash_of_the_session_id_is_stored_and_forged_cookies_fail(app, engine):
    c, _ = _api_login(app)
    sess = app.state.sessions.load(c.cookies.get(COOKIE))
    (row,) = _rows(engine)
    assert row.id_hash == sid_hash(sess["sid"]) and sess["sid"] not in str(tuple(row))
    # a cookie signed with the server's key but naming an unknown session id, and an old-style {"uid": …} cookie
    for data in ({"sid": "x" * 43, "csrf": "t"}, {"uid": 1, "csrf": "t"}):
        forged = TestClient(app, cookies={COOKIE: app.state.sessions.s.dumps(data)})
        assert forged.get("/api/me").status_code == 401


def test_purge_removes_only_sessions_that_ended_a_month_ago(app, engine):
    _api_login(app)
    _api_login(app, "bob")
    with engine.begin() as conn:
        conn.execute(update(UserSession).where(UserSession.user_id == select(UserSession.user_id).limit(1)
                                               .scalar_subquery())
                     .values(expires_at=datetime.now() - timedelta(days=31)))
        assert purge(conn) == 1
        assert purge(conn) == 0
    assert len(_rows(engine)) == 1


def test_cli_passwd_and_disable_end_sessions(app, engine):
    from fangpin.cli.main import app as cli

    url = engine.url.render_as_string(hide_password=False)
    c, _ = _api_login(app)
    out = CliRunner().invoke(cli, ["users", "passwd", "alice", "--db", url], input="short\nshort\n")
    assert out.exit_code == 1 and "8" in out.output  # too short: refused, bilingual, nothing changed
    assert c.get("/api/me").status_code == 200
    out = CliRunner().invoke(cli, ["users", "passwd", "alice", "--db", url], input="another-pass-3\nanother-pass-3\n")
    assert out.exit_code == 0 and "1 session(s) revoked" in out.output, out.output
    assert c.get("/api/me").status_code == 401
    c, _ = _api_login(app, "alice", "another-pass-3")
    out = CliRunner().invoke(cli, ["users", "disable", "alice", "--db", url])
    assert out.exit_code == 0 and "1 session(s) revoked" in out.output
    assert c.get("/api/me").status_code == 401
    out = CliRunner().invoke(cli, ["users", "enable", "alice", "--db", url])
    assert out.exit_code == 0
    _api_login(app, "alice", "another-pass-3")
