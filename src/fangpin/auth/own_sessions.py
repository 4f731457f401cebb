"""A user's own sessions (我的会话): list them and end them from the web (issue 7 follow-up, docs/SECURITY.md §5).

Village and township staff log in on shared or lost phones; every signed-in user can see where they are logged in
and end those sessions themselves (before, only ``fangpin users sessions|revoke`` on the server could).

A session is named on the page and in the API by a short **label**: the first :data:`LABEL_LEN` hex characters of
the SHA-256 stored as the row's key (the session id itself is only in the user's cookie). The label is not a
secret and grants nothing: every query here is restricted to the calling user's ``user_id``, so a label can only
select among one's own sessions; it reveals 32 bits of a hash of a 256-bit random id, which is no help in finding
the id. A label that names none of the user's sessions, or more than one (two hashes of one user sharing the first
8 hex characters, about one in 4·10⁹ per pair), is answered as not found.

Every change is one transaction with its audit row (``audit.record``: ``session.end`` / ``session.end_others``),
actor ``user:<id>:<username>``, target ``user:<id>``, details the labels and counts — never a full hash.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from fangpin.auth import User
from fangpin.auth.sessions import SessionRow, UserSession, _now, sid_hash
from fangpin.security import audit

__all__ = ["LABEL_LEN", "OwnSession", "label_of", "valid_label", "mask_addr", "own_sessions", "end_own",
           "end_others", "EndResult", "REASON_BY_USER", "LIST_LIMIT"]

LABEL_LEN = 8
LIST_LIMIT = 200  # sessions shown (newest first); ending others is not limited by it
REASON_BY_USER = "user_ended"  # revoked_reason of a session its user ended from another device
_LABEL = re.compile(rf"^[0-9a-f]{{{LABEL_LEN}}}$")


def label_of(id_hash: str) -> str:
    return id_hash[:LABEL_LEN]


def valid_label(label: str) -> bool:
    """Exactly LABEL_LEN lowercase hex characters (so nothing else — LIKE wildcards included — reaches SQL)."""
    return bool(_LABEL.match(label or ""))


def mask_addr(addr: str | None) -> str:
    """A client address as personal data: IPv4 keeps its first two octets (``203.0.*.*``), IPv6 its first four
    groups (``2001:db8:85a3:0:*:*:*:*``), an IPv4-mapped IPv6 address is shown as IPv4; anything else (no
    address, a test client's name) is fully hidden."""
    if not addr:
        return "—"
    try:
        ip = ipaddress.ip_address(addr.strip().split("%", 1)[0])
    except ValueError:
        return "*"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address):
        a, b, _, _ = str(ip).split(".")
        return f"{a}.{b}.*.*"
    groups = [g.lstrip("0") or "0" for g in ip.exploded.split(":")[:4]]
    return ":".join(groups + ["*"] * 4)


@dataclass(frozen=True)
class OwnSession:
    label: str
    current: bool
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the earlier of the absolute expiry and the idle expiry
    client: str  # masked address
    status: str  # active | ended | expired | idle
    reason: str | None  # why it was ended (revoked_reason) when status == "ended"
    ended_at: datetime | None

    def as_dict(self) -> dict:
        return {"label": self.label, "current": self.current, "created_at": self.created_at.isoformat(),
                "last_seen_at": self.last_seen_at.isoformat(), "expires_at": self.expires_at.isoformat(),
                "client": self.client, "status": self.status, "reason": self.reason,
                "ended_at": self.ended_at.isoformat() if self.ended_at else None}


_COLS = (UserSession.id_hash, UserSession.user_id, UserSession.created_at, UserSession.last_seen_at,
         UserSession.expires_at, UserSession.idle_seconds, UserSession.revoked_at, UserSession.revoked_reason,
         UserSession.client_addr)


def _row(r) -> SessionRow:
    return SessionRow(r.id_hash, r.user_id, "", r.created_at, r.last_seen_at, r.expires_at, r.idle_seconds,
                      r.revoked_at, r.revoked_reason, r.client_addr)


def _own(s: SessionRow, current_hash: str | None, now: datetime) -> OwnSession:
    idle_end = s.last_seen_at + timedelta(seconds=s.idle_seconds)
    if s.revoked_at is not None:
        status, ended = "ended", s.revoked_at
    elif now >= s.expires_at:
        status, ended = "expired", s.expires_at
    elif now >= idle_end:
        status, ended = "idle", idle_end
    else:
        status, ended = "active", None
    return OwnSession(label_of(s.id_hash), s.id_hash == current_hash, s.created_at, s.last_seen_at,
                      min(s.expires_at, idle_end), mask_addr(s.client_addr), status,
                      s.revoked_reason if status == "ended" else None, ended)


def own_sessions(conn: Connection, user_id: int, current_sid: str | None, now: datetime | None = None,
                 limit: int = LIST_LIMIT) -> list[OwnSession]:
    """The user's sessions (live and those ended within the last 30 days), newest first; ``current`` marks the
    one of ``current_sid`` (this device)."""
    now = now or _now()
    cur = sid_hash(current_sid) if current_sid else None
    rows = conn.execute(select(*_COLS).where(UserSession.user_id == user_id)
                        .order_by(UserSession.created_at.desc(), UserSession.id_hash).limit(limit)).all()
    return [_own(_row(r), cur, now) for r in rows]


@dataclass(frozen=True)
class EndResult:
    found: bool  # the label names exactly one of the user's sessions
    ended: int  # sessions ended by this call (0: it had already ended)
    current: bool = False  # the session ended is the caller's own (this device): the caller logs out


def _actor(user: User) -> str:
    return f"user:{user.id}:{user.username}"


def end_own(conn: Connection, user: User, label: str, current_sid: str | None,
            now: datetime | None = None) -> EndResult:
    """End the one session of ``user`` that ``label`` names (in the caller's transaction, audited). Not found
    (``found=False``) for a malformed label, another user's session or an ambiguous label; a session that has
    already ended is left as it is (``ended=0``, no audit row). Ending the current session is a logout
    (reason ``logout``); any other gets the reason ``user_ended``."""
    if not valid_label(label):
        return EndResult(False, 0)
    now = now or _now()
    rows = conn.execute(select(*_COLS).where(UserSession.user_id == user.id,
                                             UserSession.id_hash.startswith(label, autoescape=True))
                        .limit(2)).all()
    if len(rows) != 1:
        return EndResult(False, 0)
    s = _row(rows[0])
    current = current_sid is not None and s.id_hash == sid_hash(current_sid)
    if not s.live(now):
        return EndResult(True, 0, current)
    reason = "logout" if current else REASON_BY_USER
    n = conn.execute(update(UserSession).where(UserSession.id_hash == s.id_hash, UserSession.user_id == user.id,
                                               UserSession.revoked_at.is_(None))
                     .values(revoked_at=now, revoked_reason=reason)).rowcount
    if n:
        audit.record(conn, _actor(user), "session.end", f"user:{user.id}",
                     {"session": label, "current": current, "reason": reason}, at=now)
    return EndResult(True, n, current)


def end_others(conn: Connection, user: User, current_sid: str | None, now: datetime | None = None) -> list[str]:
    """End every live session of ``user`` except the current one (in the caller's transaction, audited once);
    returns the labels of the sessions ended (empty: nothing to end, no audit row)."""
    now = now or _now()
    cur = sid_hash(current_sid) if current_sid else None
    q = select(*_COLS).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if cur is not None:
        q = q.where(UserSession.id_hash != cur)
    live = [s.id_hash for s in map(_row, conn.execute(q).all()) if s.live(now)]
    if not live:
        return []
    ended: list[str] = []
    for i in range(0, len(live), 500):  # bounded IN lists
        chunk = live[i:i + 500]
        got = conn.execute(update(UserSession).where(UserSession.id_hash.in_(chunk),
                                                     UserSession.user_id == user.id,
                                                     UserSession.revoked_at.is_(None))
                           .values(revoked_at=now, revoked_reason=REASON_BY_USER)
                           .returning(UserSession.id_hash)).scalars().all()
        ended.extend(label_of(h) for h in got)
    if ended:
        audit.record(conn, _actor(user), "session.end_others", f"user:{user.id}",
                     {"ended": len(ended), "sessions": sorted(ended)[:50]}, at=now)
    return sorted(ended)
