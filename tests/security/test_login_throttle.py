"""Login lockout and rate limiting (issue 7 §2): 5 wrong passwords lock the username for 15 minutes, 20 failures
lock the client address; the lock is in the database (holds across workers), refuses even the right password,
answers 429 + Retry-After with a bilingual message, and ends after 15 minutes."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from fangpin.auth import create_user
from fangpin.auth.throttle import (IP_MAX_FAILURES, LOCKOUT, USER_MAX_FAILURES, LoginThrottle, attempt_login,
                                   check, record_failure)
from fangpin.db import make_engine, upgrade

PW = "right-password-1"


@pytest.fixture
def url(engine):
    """A fresh database of each kind (SQLite and the real PostgreSQL server) with 30 accounts."""
    with engine.begin() as c:
        for i in range(30):
            create_user(c, f"u{i}", PW, "county_officer", "530102")
    return engine.url.render_as_string(hide_password=False)


def _app(url):
    from fangpin.web.app import create_app

    return create_app(url, secret_key="k")


def test_five_wrong_passwords_lock_the_username_with_bilingual_429(url):
    app = _app(url)
    with TestClient(app) as c:
        for i in range(USER_MAX_FAILURES - 1):
            assert c.post("/api/session", json={"username": "u1", "password": "wrong"}).status_code == 401
        r = c.post("/api/session", json={"username": "u1", "password": "wrong"})
        assert r.status_code == 429
        d = r.json()["detail"]
        assert d["code"] == "AUTH_LOCKED" and "锁定" in d["message_zh"] and "locked" in d["message_en"]
        assert 1 <= int(r.headers["Retry-After"]) <= LOCKOUT.total_seconds() + 1
        # the right password is refused while locked
        assert c.post("/api/session", json={"username": "u1", "password": PW}).status_code == 429
        # another user from the same address still logs in
        assert c.post("/api/session", json={"username": "u2", "password": PW}).status_code == 200
    app.state.engine.dispose()
    # a second server process on the same database (another worker) sees the same lock
    app2 = _app(url)
    with TestClient(app2) as c:
        assert c.post("/api/session", json={"username": "u1", "password": PW}).status_code == 429
    app2.state.engine.dispose()


def test_html_login_form_is_locked_too(url):
    app = _app(url)
    with TestClient(app) as c:
        for _ in range(USER_MAX_FAILURES):
            tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text).group(1)
            r = c.post("/login", data={"csrf_token": tok, "username": "u3", "password": "bad"})
        assert r.status_code == 429 and "锁定" in r.text
        tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login?lang=en").text).group(1)
        r = c.post("/login", data={"csrf_token": tok, "username": "u3", "password": PW}, follow_redirects=False)
        assert r.status_code == 429 and "locked" in r.text
    app.state.engine.dispose()


def test_spraying_many_usernames_locks_the_address(url):
    e = make_engine(url)
    now = datetime(2026, 1, 1, 9, 0)
    with e.begin() as c:
        lock = None
        for i in range(IP_MAX_FAILURES):
            u, lock = attempt_login(c, f"u{i}", "wrong", "10.0.0.9", now)  # 1 failure per username: no user lock
            assert u is None
            if i < IP_MAX_FAILURES - 1:
                assert lock is None
        assert lock is not None and lock.key == "ip:10.0.0.9"
        u, lock = attempt_login(c, "u25", PW, "10.0.0.9", now + timedelta(minutes=1))
        assert u is None and lock.key == "ip:10.0.0.9"
        u, lock = attempt_login(c, "u25", PW, "10.0.0.10", now + timedelta(minutes=1))  # other address: fine
        assert u is not None and lock is None
    e.dispose()


def test_lock_expires_and_old_failures_are_forgotten(url):
    e = make_engine(url)
    t = datetime(2026, 1, 1, 9, 0)
    with e.begin() as c:
        for k in range(USER_MAX_FAILURES):
            lock = record_failure(c, "u4", None, t)
        assert lock is not None and check(c, "u4", None, t + LOCKOUT - timedelta(seconds=1)) is not None
        assert check(c, "u4", None, t + LOCKOUT + timedelta(seconds=1)) is None
        u, lock = attempt_login(c, "u4", PW, None, t + LOCKOUT + timedelta(seconds=1))
        assert u is not None and lock is None
        assert c.execute(select(LoginThrottle).where(LoginThrottle.key == "user:u4")).first() is None  # cleared
        # 4 failures, a pause longer than the window, 4 more: never locked
        for k in range(USER_MAX_FAILURES - 1):
            assert record_failure(c, "u5", None, t + timedelta(seconds=k)) is None
        for k in range(USER_MAX_FAILURES - 1):
            assert record_failure(c, "u5", None, t + timedelta(minutes=16, seconds=k)) is None
    e.dispose()
