"""Session cookie (itsdangerous-signed): ``{"sid": session id or None, "csrf": token}``. HttpOnly, SameSite=Lax.

``sid`` names a server-side row of ``user_session`` (:mod:`fangpin.auth.sessions`, which stores only its SHA-256);
every request checks that row, so logout, a password change or a disabled account ends the session everywhere —
a copy of the cookie is refused afterwards. Anonymous visitors get a cookie without ``sid`` (it only carries the
CSRF token of the login form). The CSRF token is bound to the session: it lives in the same signed cookie as the
session id and a new one is issued at login, at logout and whenever a session is found revoked or expired. Every
form carries it; JSON writes send it as X-CSRF-Token. Cookies of the earlier design (``{"uid": …}``, trusted
until their 12-hour signature expired) are no longer honoured.
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import OperationalError

from fangpin.auth import User
from fangpin.auth import sessions as S

COOKIE = "fangpin_session"
MAX_AGE = int(S.MAX_LIFETIME.total_seconds())

log = logging.getLogger("fangpin.security")


def session_idle() -> timedelta:
    """Idle timeout: FANGPIN_SESSION_IDLE_MINUTES (default 120)."""
    raw = os.environ.get("FANGPIN_SESSION_IDLE_MINUTES")
    return timedelta(minutes=int(raw)) if raw and raw.isdigit() and int(raw) > 0 else S.IDLE_TIMEOUT


class Sessions:
    def __init__(self, secret_key: str, secure: bool = False, *, lifetime: timedelta = S.MAX_LIFETIME,
                 idle: timedelta = S.IDLE_TIMEOUT):
        self.s = URLSafeTimedSerializer(secret_key, salt="fangpin-session")
        self.secure = secure
        self.lifetime = lifetime
        self.idle = idle

    def load(self, raw: str | None) -> dict | None:
        if not raw:
            return None
        try:
            data = self.s.loads(raw, max_age=int(self.lifetime.total_seconds()))
        except BadSignature:
            return None
        if not isinstance(data, dict) or "csrf" not in data or "sid" not in data:
            return None  # includes the old {"uid": …} cookies
        return data

    def new(self) -> dict:
        """An anonymous session (CSRF token only)."""
        return {"sid": None, "csrf": secrets.token_urlsafe(24)}

    def user(self, engine, sess: dict) -> User | None:
        """The user of a logged-in cookie whose server-side session is live, else None. One primary-key lookup;
        ``last_seen_at`` is written at most once a minute, best effort (a busy SQLite writer must not fail a read)."""
        sid = sess.get("sid")
        if not sid or not isinstance(sid, str):
            return None
        with engine.connect() as conn:
            got = S.resolve(conn, sid, write_touch=False)
            if got is None:
                return None
            row, s = got
            if S.needs_touch(s, S._now()):
                try:
                    S.touch(conn, s.id_hash)
                    conn.commit()
                except OperationalError:  # pragma: no cover - lock contention; the next request touches it
                    conn.rollback()
        return User(row.user_id, row.username, row.display_name, row.role, row.region_code)

    def login(self, engine, user_id: int, client_addr: str | None, old: dict | None = None) -> dict:
        """A new server-side session for ``user_id`` (the previous one of this browser, if any, is revoked: no
        session fixation, new CSRF token)."""
        with engine.begin() as conn:
            if old and old.get("sid"):
                S.revoke(conn, old["sid"], "relogin")
            if secrets.randbelow(50) == 0:  # now and then: drop rows that ended a month ago
                S.purge(conn)
            sid = S.open_session(conn, user_id, client_addr, lifetime=self.lifetime, idle=self.idle)
        return {"sid": sid, "csrf": secrets.token_urlsafe(24)}

    def logout(self, engine, sess: dict | None) -> dict:
        """Revoke the cookie's server-side session; returns a fresh anonymous session."""
        if sess and sess.get("sid"):
            with engine.begin() as conn:
                S.revoke(conn, sess["sid"], "logout")
        return self.new()

    def set(self, response, data: dict) -> None:
        response.set_cookie(COOKIE, self.s.dumps(data), max_age=int(self.lifetime.total_seconds()), httponly=True,
                            samesite="lax", secure=self.secure, path="/")


def csrf_ok(session: dict | None, token: str | None) -> bool:
    return bool(session and token and hmac.compare_digest(str(session["csrf"]), str(token)))
