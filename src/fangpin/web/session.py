"""Signed session cookie (itsdangerous): {"uid": user id or None, "csrf": token}. HttpOnly, SameSite=Lax,
expires after 12 hours. Every form carries the session's CSRF token; JSON writes send it as X-CSRF-Token."""
from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "fangpin_session"
MAX_AGE = 12 * 3600


class Sessions:
    def __init__(self, secret_key: str, secure: bool = False):
        self.s = URLSafeTimedSerializer(secret_key, salt="fangpin-session")
        self.secure = secure

    def load(self, raw: str | None) -> dict | None:
        if not raw:
            return None
        try:
            data = self.s.loads(raw, max_age=MAX_AGE)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and "csrf" in data else None

    def new(self, uid: int | None = None) -> dict:
        return {"uid": uid, "csrf": secrets.token_urlsafe(24)}

    def set(self, response, data: dict) -> None:
        response.set_cookie(COOKIE, self.s.dumps(data), max_age=MAX_AGE, httponly=True, samesite="lax",
                            secure=self.secure, path="/")


def csrf_ok(session: dict | None, token: str | None) -> bool:
    return bool(session and token and hmac.compare_digest(str(session["csrf"]), str(token)))
