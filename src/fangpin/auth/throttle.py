"""Login lockout and rate limiting (登录失败锁定与限速), persisted in the database so it holds across server
workers and restarts.

Two counters per login attempt, each a row of ``login_throttle`` keyed ``user:<username>`` / ``ip:<address>``:

* per username: ``USER_MAX_FAILURES`` (5) wrong passwords within ``WINDOW`` (15 min) lock that username for
  ``LOCKOUT`` (15 min) — whoever tries it, from wherever (password guessing against one account);
* per client address: ``IP_MAX_FAILURES`` (20) failures within the window lock that address for the same time
  (password spraying across many usernames). The threshold is higher because a township office often shares one
  NAT address.

While locked, the attempt is refused before the password is checked (HTTP 429 + Retry-After); a correct password
does not unlock early. A successful login clears the username's counter (not the address's). Every failure and
every lock is logged on the ``fangpin.security`` logger (username, client address, counts — never the password),
and the table itself is the audit trail of current locks (``fangpin`` admins can query or clear it).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.issues import Issue
from fangpin.registry.models import Base

__all__ = ["LoginThrottle", "Lock", "check", "record_failure", "record_success", "locked_issue",
           "USER_MAX_FAILURES", "IP_MAX_FAILURES", "WINDOW", "LOCKOUT"]

log = logging.getLogger("fangpin.security")

USER_MAX_FAILURES = 5
IP_MAX_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


class LoginThrottle(Base):
    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_start: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


@dataclass(frozen=True)
class Lock:
    key: str
    until: datetime

    def retry_after(self, now: datetime) -> int:
        return max(1, int((self.until - now).total_seconds()) + 1)


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _keys(username: str, ip: str | None) -> list[tuple[str, int]]:
    out = [("user:" + username.strip().lower()[:100], USER_MAX_FAILURES)]
    if ip:
        out.append(("ip:" + ip[:100], IP_MAX_FAILURES))
    return out


def check(conn: Connection, username: str, ip: str | None, now: datetime | None = None) -> Lock | None:
    """The lock that refuses this attempt now, if any."""
    now = now or _now()
    keys = [k for k, _ in _keys(username, ip)]
    for key, until in conn.execute(select(LoginThrottle.key, LoginThrottle.locked_until)
                                   .where(LoginThrottle.key.in_(keys))):
        if until is not None and until > now:
            return Lock(key, until)
    return None


def record_failure(conn: Connection, username: str, ip: str | None, now: datetime | None = None) -> Lock | None:
    """Count a failed attempt (in the caller's transaction); returns the lock it triggered, if any."""
    now = now or _now()
    lock = None
    for key, limit in _keys(username, ip):
        row = conn.execute(select(LoginThrottle.__table__).where(LoginThrottle.key == key)
                           .with_for_update()).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(LoginThrottle.__table__.insert().values(
                        key=key, failures=1, window_start=now, last_failure_at=now, locked_until=None))
                failures = 1
            except IntegrityError:  # another worker inserted it meanwhile: count on that row
                conn.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                    failures=LoginThrottle.failures + 1, last_failure_at=now))
                failures = conn.execute(select(LoginThrottle.failures).where(LoginThrottle.key == key)).scalar_one()
        elif now - row.window_start > WINDOW:  # the old window is over: start counting again
            conn.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                failures=1, window_start=now, last_failure_at=now, locked_until=None))
            failures = 1
        else:
            conn.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                failures=LoginThrottle.failures + 1, last_failure_at=now))
            failures = row.failures + 1
        log.warning("login failure key=%s failures=%d", key, failures)
        if failures >= limit:
            until = now + LOCKOUT
            conn.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(
                locked_until=until, failures=0, window_start=now))
            log.warning("login locked key=%s until=%s after %d failures", key, until.isoformat(), failures)
            lock = lock or Lock(key, until)
    return lock


def record_success(conn: Connection, username: str) -> None:
    """A correct password (while not locked) clears the username's failure count."""
    conn.execute(delete(LoginThrottle).where(LoginThrottle.key == _keys(username, None)[0][0]))


def locked_issue(lock: Lock, now: datetime | None = None) -> Issue:
    minutes = max(1, (lock.retry_after(now or _now()) + 59) // 60)
    if lock.key.startswith("ip:"):
        return Issue("AUTH_LOCKED", f"登录失败次数过多，此网络地址已被暂时锁定，请 {minutes} 分钟后再试",
                     f"Too many failed logins from this address; try again in {minutes} minute(s)")
    return Issue("AUTH_LOCKED", f"登录失败次数过多，该账户已被暂时锁定，请 {minutes} 分钟后再试",
                 f"Too many failed logins for this account; it is locked — try again in {minutes} minute(s)")


def attempt_login(conn: Connection, username: str, password: str, ip: str | None,
                  now: datetime | None = None):
    """Throttled :func:`fangpin.auth.authenticate`: returns ``(user, None)``, ``(None, None)`` for a wrong
    password, or ``(None, lock)`` when the username or the address is locked (now, or by this failure)."""
    from fangpin.auth import authenticate

    now = now or _now()
    lock = check(conn, username, ip, now)
    if lock is not None:
        log.warning("login refused (locked) key=%s", lock.key)
        return None, lock
    user = authenticate(conn, username, password)
    if user is None:
        return None, record_failure(conn, username, ip, now)
    record_success(conn, username)
    return user, None
