"""Server-side login sessions (服务端会话), so that logging out, changing a password or disabling an account
really ends a session — a copied cookie is refused afterwards, not merely forgotten by one browser.

A login creates a row of ``user_session``: the key is SHA-256 of a random 256-bit session id (the id itself is only
in the user's signed cookie, so a database copy does not yield usable sessions). Every request looks the row up by
that primary key, joined to its ``app_user`` row (one indexed lookup) and accepts it only when

* it is not revoked (``revoked_at`` empty: logout, password change, account disabled, ``fangpin users revoke``),
* the absolute lifetime has not passed (``expires_at``, ``MAX_LIFETIME`` = 12 h after login), and
* it has been used within its idle timeout (``last_seen_at + idle_seconds``, ``IDLE_TIMEOUT`` = 2 h by default).

``last_seen_at`` is written at most once per ``TOUCH_EVERY`` (60 s) per session, so a busy user costs one small
UPDATE a minute, not one per request; the idle timeout is therefore exact to within a minute.
Expired and revoked rows are kept for ``PURGE_AFTER`` (30 days) as a record of who was logged in from where, then
removed by :func:`purge` (run at each login, bounded).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.auth.models import AppUser
from fangpin.registry.models import PK, Base

__all__ = ["UserSession", "SessionRow", "MAX_LIFETIME", "IDLE_TIMEOUT", "TOUCH_EVERY", "sid_hash", "open_session",
           "resolve", "revoke", "revoke_user", "list_sessions", "purge"]

MAX_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_EVERY = timedelta(seconds=60)
PURGE_AFTER = timedelta(days=30)


class UserSession(Base):
    __tablename__ = "user_session"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the cookie's session id
    user_id: Mapped[int] = mapped_column(PK, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    idle_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(30))
    client_addr: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_user_session_user_id", "user_id"),)


@dataclass(frozen=True)
class SessionRow:
    id_hash: str
    user_id: int
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    idle_seconds: int
    revoked_at: datetime | None
    revoked_reason: str | None
    client_addr: str | None

    def live(self, now: datetime) -> bool:
        return (self.revoked_at is None and now < self.expires_at
                and now < self.last_seen_at + timedelta(seconds=self.idle_seconds))


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def open_session(conn: Connection, user_id: int, client_addr: str | None = None, *,
                 lifetime: timedelta = MAX_LIFETIME, idle: timedelta = IDLE_TIMEOUT,
                 now: datetime | None = None) -> str:
    """Create a session for ``user_id``; returns the random session id for the cookie (never stored)."""
    now = now or _now()
    sid = secrets.token_urlsafe(32)
    conn.execute(insert(UserSession).values(
        id_hash=sid_hash(sid), user_id=user_id, created_at=now, last_seen_at=now, expires_at=now + lifetime,
        idle_seconds=int(idle.total_seconds()), client_addr=(client_addr or None) and client_addr[:45]))
    return sid


_COLS = (UserSession.id_hash, UserSession.user_id, UserSession.created_at, UserSession.last_seen_at,
         UserSession.expires_at, UserSession.idle_seconds, UserSession.revoked_at, UserSession.revoked_reason,
         UserSession.client_addr)


def resolve(conn: Connection, sid: str, now: datetime | None = None, write_touch: bool = True):
    """The live session's (user row, SessionRow) or None. One primary-key lookup joined to ``app_user`` on its
    primary key; a disabled account counts as no session. Touches ``last_seen_at`` at most once a minute (unless
    ``write_touch`` is false: then the caller calls :func:`touch` when ``needs_touch`` says so)."""
    now = now or _now()
    h = sid_hash(sid)
    row = conn.execute(
        select(*_COLS, AppUser.username, AppUser.display_name, AppUser.role, AppUser.region_code, AppUser.active)
        .join(AppUser, AppUser.id == UserSession.user_id).where(UserSession.id_hash == h)).first()
    if row is None or not row.active:
        return None
    s = SessionRow(row.id_hash, row.user_id, row.username, row.created_at, row.last_seen_at, row.expires_at,
                   row.idle_seconds, row.revoked_at, row.revoked_reason, row.client_addr)
    if not s.live(now):
        return None
    if write_touch and needs_touch(s, now):
        touch(conn, h, now)
    return row, s


def needs_touch(s: SessionRow, now: datetime) -> bool:
    return now - s.last_seen_at >= TOUCH_EVERY


def touch(conn: Connection, id_hash: str, now: datetime | None = None) -> None:
    """Record use of a session now (conditional: of two concurrent requests only one writes; never moves
    ``last_seen_at`` backwards)."""
    now = now or _now()
    conn.execute(update(UserSession).where(UserSession.id_hash == id_hash, UserSession.last_seen_at < now)
                 .values(last_seen_at=now))


def revoke(conn: Connection, sid: str, reason: str = "logout", now: datetime | None = None) -> bool:
    """Revoke one session by its id (logout). True when a live row was revoked."""
    r = conn.execute(update(UserSession).where(UserSession.id_hash == sid_hash(sid), UserSession.revoked_at.is_(None))
                     .values(revoked_at=now or _now(), revoked_reason=reason[:30]))
    return r.rowcount > 0


def revoke_user(conn: Connection, user_id: int, reason: str, now: datetime | None = None) -> int:
    """Revoke every session of a user (password change, account disabled, admin action); returns how many."""
    r = conn.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
                     .values(revoked_at=now or _now(), revoked_reason=reason[:30]))
    return r.rowcount


def list_sessions(conn: Connection, user_id: int) -> list[SessionRow]:
    rows = conn.execute(select(*_COLS, AppUser.username).join(AppUser, AppUser.id == UserSession.user_id)
                        .where(UserSession.user_id == user_id).order_by(UserSession.created_at.desc())).all()
    return [SessionRow(r.id_hash, r.user_id, r.username, r.created_at, r.last_seen_at, r.expires_at, r.idle_seconds,
                       r.revoked_at, r.revoked_reason, r.client_addr) for r in rows]


def purge(conn: Connection, now: datetime | None = None, limit: int = 1000) -> int:
    """Delete rows that ended (expired or revoked) more than ``PURGE_AFTER`` ago; at most ``limit`` per call."""
    cut = (now or _now()) - PURGE_AFTER
    ids = select(UserSession.id_hash).where(UserSession.expires_at < cut).limit(limit)
    n = conn.execute(delete(UserSession).where(UserSession.id_hash.in_(ids.scalar_subquery()))).rowcount
    ids = select(UserSession.id_hash).where(UserSession.revoked_at < cut).limit(limit)
    n += conn.execute(delete(UserSession).where(UserSession.id_hash.in_(ids.scalar_subquery()))).rowcount
    return n
