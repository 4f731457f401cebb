"""“My sessions” (issue 7 follow-up, docs/SECURITY.md §5): a signed-in user lists their own sessions and ends one
or all others, from the page and the API, on SQLite and PostgreSQL (the `engine` fixture). A label selects only
among the caller's own sessions; a cookie of an ended session is refused afterwards; every end is audited."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from fangpin.auth import create_user
from fangpin.auth.own_sessions import label_of, mask_addr, valid_label
from fangpin.auth.sessions import UserSession, sid_hash
from fangpin.security import audit
from fangpin.security.models import AuditLog
from fangpin.web.session import COOKIE

PW = "right-password-1"


@pytest.fixture
def acct_app(engine):
    from fangpin.web.app import create_app

    with engine.begin() as c:
        create_user(c, "alice", PW, "village_cadre", "530102001001")
        create_user(c, "bob", PW, "department_officer", "530102")
    a = create_app(engine=engine, secret_key="k")
    yield a


def _login(app, username="alice", client=("testclient", 50000)) -> tuple[TestClient, str]:
    c = TestClient(app, client=client)
    r = c.post("/api/session", json={"username": username, "password": PW})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def _page_token(c: TestClient) -> str:
    r = c.get("/account/sessions")
    assert r.status_code == 200, r.text
    return re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)


def _copy(app, c: TestClient) -> TestClient:
    """Another browser holding a copy of ``c``'s session cookie."""
    return TestClient(app, cookies={COOKIE: c.cookies.get(COOKIE)})


def _label(c: TestClient) -> str:
    """The label of ``c``'s own session (as the API lists it: the one marked current)."""
    (cur,) = [s for s in c.get("/api/account/sessions").json()["sessions"] if s["current"]]
    return cur["label"]


def _rows(engine, username=None) -> list:
    from fangpin.auth.models import AppUser

    with engine.connect() as conn:
        q = select(UserSession.__table__, AppUser.username).join(AppUser, AppUser.id == UserSession.user_id)
        if username:
            q = q.where(AppUser.username == username)
        return conn.execute(q.order_by(UserSession.id_hash)).all()


def _audit(engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_list_shows_only_own_sessions_with_this_device_marked_and_no_hash(acct_app, engine):
    a1, _ = _login(acct_app)
    a2, _ = _login(acct_app)
    b, _ = _login(acct_app, "bob")
    got = a1.get("/api/account/sessions")
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    sessions = got.json()["sessions"]
    alice = _rows(engine, "alice")
    assert sorted(s["label"] for s in sessions) == sorted(label_of(r.id_hash) for r in alice)
    assert [s["current"] for s in sessions].count(True) == 1
    assert all(s["status"] == "active" and len(s["label"]) == 8 for s in sessions)
    page = a1.get("/account/sessions").text
    for r in _rows(engine):
        assert r.id_hash not in page and r.id_hash not in got.text  # never the full hash
        assert r.id_hash[:12] not in page  # only the 8-character label
    for r in _rows(engine, "bob"):
        assert label_of(r.id_hash) not in page and label_of(r.id_hash) not in got.text
    assert page.count('data-label="') == 2 and 'id="this-device"' in page
    assert 'href="/account/sessions"' in page  # the nav link
    # bob (another role, aggregates only) has his own page with only his own session
    assert [s["label"] for s in b.get("/api/account/sessions").json()["sessions"]] == \
        [label_of(r.id_hash) for r in _rows(engine, "bob")]


def test_anonymous_is_sent_to_login_or_gets_401(acct_app):
    c = TestClient(acct_app)
    r = c.get("/account/sessions", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/account/sessions").status_code == 401
    assert c.post("/api/account/sessions/end-others").status_code == 401
    assert c.post("/api/account/sessions/00000000/end").status_code == 401


def test_end_one_of_own_sessions_refuses_its_cookie_afterwards(acct_app, engine):
    phone, _ = _login(acct_app)  # the lost phone
    office, _ = _login(acct_app)
    thief = _copy(acct_app, phone)
    assert thief.get("/api/me").status_code == 200
    lost = _label(phone)
    tok = _page_token(office)
    r = office.post(f"/account/sessions/{lost}/end", data={"csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/sessions?notice=ended"
    assert thief.get("/api/me").status_code == 401 and phone.get("/api/me").status_code == 401
    r = thief.get("/account/sessions", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert office.get("/api/me").status_code == 200  # this device stays signed in
    page = office.get("/account/sessions?notice=ended").text
    assert 'id="account-notice"' in page and "该会话已结束" in page
    assert re.search(rf'data-label="{lost}" data-status="ended"', page) and "由您本人结束" in page
    (row,) = [x for x in _rows(engine) if label_of(x.id_hash) == lost]
    assert row.revoked_reason == "user_ended"
    (a,) = _audit(engine, "session.end")
    assert a.actor.startswith("user:") and a.actor.endswith(":alice") and lost in a.details
    assert row.id_hash not in a.details
    # again: already ended → a notice, no second audit row
    r = office.post(f"/account/sessions/{lost}/end", data={"csrf_token": tok}, follow_redirects=False)
    assert r.headers["location"] == "/account/sessions?notice=already"
    assert len(_audit(engine, "session.end")) == 1
    with engine.connect() as conn:
        assert audit.verify(conn).ok


def test_end_one_through_the_api(acct_app, engine):
    phone, _ = _login(acct_app)
    office, tok = _login(acct_app)
    lost = _label(phone)
    r = office.post(f"/api/account/sessions/{lost}/end", headers={"X-CSRF-Token": tok})
    assert r.status_code == 200 and r.json() == {"label": lost, "ended": 1, "current": False}
    assert phone.get("/api/me").status_code == 401 and office.get("/api/me").status_code == 200
    st = {s["label"]: s for s in office.get("/api/account/sessions").json()["sessions"]}
    assert st[lost]["status"] == "ended" and st[lost]["reason"] == "user_ended" and st[lost]["ended_at"]


def test_ending_this_device_from_the_list_is_a_logout(acct_app, engine):
    c, _ = _login(acct_app)
    copy = _copy(acct_app, c)
    me = _label(c)
    r = c.post(f"/account/sessions/{me}/end", data={"csrf_token": _page_token(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/api/me").status_code == 401 and copy.get("/api/me").status_code == 401
    (row,) = _rows(engine, "alice")
    assert row.revoked_reason == "logout"
    # the API does the same and hands back an anonymous cookie
    c2, tok = _login(acct_app)
    r = c2.post(f"/api/account/sessions/{_label(c2)}/end", headers={"X-CSRF-Token": tok})
    assert r.json()["current"] is True and c2.get("/api/me").status_code == 401


def test_end_others_keeps_this_device_and_ends_the_rest(acct_app, engine):
    here, _ = _login(acct_app)
    here_copy = _copy(acct_app, here)  # the same session in another tab: stays
    others = [_login(acct_app)[0] for _ in range(3)]
    bob, _ = _login(acct_app, "bob")
    tok = _page_token(here)
    assert 'id="end-others"' in here.get("/account/sessions").text
    r = here.post("/account/sessions/end-others", data={"csrf_token": tok}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/sessions?notice=others&n=3"
    assert here.get("/api/me").status_code == 200 and here_copy.get("/api/me").status_code == 200
    assert all(o.get("/api/me").status_code == 401 for o in others)
    assert bob.get("/api/me").status_code == 200  # another user's sessions are untouched
    page = here.get("/account/sessions?notice=others&n=3").text
    assert "已结束其他 3 个会话" in page and 'id="end-others"' not in page  # nothing left to end
    (a,) = _audit(engine, "session.end_others")
    assert '"ended":3' in a.details
    # nothing left: a notice, no audit row; the API answers the same
    r = here.post("/account/sessions/end-others", data={"csrf_token": tok}, follow_redirects=False)
    assert r.headers["location"] == "/account/sessions?notice=none&n=0"
    tok_api = here.get("/api/me").json()["csrf_token"]
    assert here.post("/api/account/sessions/end-others", headers={"X-CSRF-Token": tok_api}).json() == \
        {"ended": 0, "labels": []}
    assert len(_audit(engine, "session.end_others")) == 1


def test_end_others_through_the_api(acct_app, engine):
    here, tok = _login(acct_app)
    other, _ = _login(acct_app)
    lab = _label(other)
    r = here.post("/api/account/sessions/end-others", headers={"X-CSRF-Token": tok})
    assert r.status_code == 200 and r.json() == {"ended": 1, "labels": [lab]}
    assert other.get("/api/me").status_code == 401 and here.get("/api/me").status_code == 200


def test_another_users_label_is_404_and_changes_nothing(acct_app, engine):
    alice, atok = _login(acct_app)
    bob, _ = _login(acct_app, "bob")
    theirs = _label(bob)
    before = _rows(engine)
    r = alice.post(f"/account/sessions/{theirs}/end", data={"csrf_token": _page_token(alice)},
                   follow_redirects=False)
    assert r.status_code == 404
    r = alice.post(f"/api/account/sessions/{theirs}/end", headers={"X-CSRF-Token": atok})
    assert r.status_code == 404 and r.json()["detail"]["code"] == "SESSION_NOT_FOUND"
    # malformed labels (a LIKE wildcard, upper case, the full hash) are not found either
    full = [x.id_hash for x in _rows(engine, "alice")][0]
    for bad in ("%25%25%25%25%25%25%25%25", "________", _label(alice).upper(), full, "abc"):
        r = alice.post(f"/api/account/sessions/{bad}/end", headers={"X-CSRF-Token": atok})
        assert r.status_code == 404, bad
    assert _rows(engine) == before and bob.get("/api/me").status_code == 200
    assert _audit(engine, "session.end") == []


def test_ambiguous_label_is_404(acct_app, engine):
    alice, atok = _login(acct_app)
    uid = _rows(engine, "alice")[0].user_id
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:  # two sessions whose stored hashes share the first 8 characters
        for tail in ("0" * 56, "1" * 56):
            conn.execute(insert(UserSession).values(id_hash="abcdef12" + tail, user_id=uid, created_at=now,
                                                    last_seen_at=now, expires_at=now + timedelta(hours=1),
                                                    idle_seconds=3600))
    before = _rows(engine)
    r = alice.post("/api/account/sessions/abcdef12/end", headers={"X-CSRF-Token": atok})
    assert r.status_code == 404 and _rows(engine) == before


def test_missing_or_wrong_csrf_is_refused_and_changes_nothing(acct_app, engine):
    here, tok = _login(acct_app)
    other, _ = _login(acct_app)
    lab = _label(other)
    before = _rows(engine)
    for data in ({}, {"csrf_token": "wrong"}):
        assert here.post(f"/account/sessions/{lab}/end", data=data, follow_redirects=False).status_code == 403
        assert here.post("/account/sessions/end-others", data=data, follow_redirects=False).status_code == 403
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        r = here.post(f"/api/account/sessions/{lab}/end", headers=headers)
        assert r.status_code == 403 and r.json()["detail"]["code"] == "AUTH_CSRF"
        assert here.post("/api/account/sessions/end-others", headers=headers).status_code == 403
    assert _rows(engine) == before and other.get("/api/me").status_code == 200


def test_client_address_is_masked(acct_app, engine):
    c, _ = _login(acct_app, client=("203.0.113.45", 50000))
    _login(acct_app, client=("2001:db8:85a3::8a2e:370:7334", 50001))
    page = c.get("/account/sessions").text
    api = c.get("/api/account/sessions").text
    assert "203.0.*.*" in page and "2001:db8:85a3:0:*:*:*:*" in page
    for full in ("203.0.113.45", "113.45", "8a2e", "7334"):
        assert full not in page and full not in api
    assert {s["client"] for s in c.get("/api/account/sessions").json()["sessions"]} == \
        {"203.0.*.*", "2001:db8:85a3:0:*:*:*:*"}
    assert {r.client_addr for r in _rows(engine)} == {"203.0.113.45", "2001:db8:85a3::8a2e:370:7334"}


def test_mask_addr_rules():
    assert mask_addr("10.1.2.3") == "10.1.*.*"
    assert mask_addr("::ffff:192.168.7.9") == "192.168.*.*"  # IPv4-mapped IPv6 shown as IPv4
    assert mask_addr("fe80::1%eth0") == "fe80:0:0:0:*:*:*:*"
    assert mask_addr("testclient") == "*" and mask_addr(None) == "—" and mask_addr("") == "—"
    assert valid_label("0123abcd") and not valid_label("0123ABCD") and not valid_label("0123abc%")
    assert label_of(sid_hash("x")) == sid_hash("x")[:8]


def test_page_renders_in_zh_and_en(acct_app, engine):
    c, _ = _login(acct_app)
    _login(acct_app)
    zh = c.get("/account/sessions")
    assert zh.status_code == 200 and "我的登录会话" in zh.text and "（本设备）" in zh.text and "有效" in zh.text
    assert "结束其他所有会话" in zh.text and 'lang="zh-CN"' in zh.text
    en = c.get("/account/sessions?lang=en")
    assert en.status_code == 200 and "My sessions" in en.text and "(this device)" in en.text
    assert "End all other sessions" in en.text and "我的登录会话" not in en.text
    assert not re.search(r">\s*account_[a-z_]+\s*<", en.text)  # no untranslated key
    # an ended session shows why, in the chosen language; an unknown notice code shows nothing
    c.post("/account/sessions/end-others", data={"csrf_token": _page_token(c)})
    en = c.get("/account/sessions?lang=en&notice=<script>").text
    assert "ended by you" in en and 'id="account-notice"' not in en and "<script>" not in en
