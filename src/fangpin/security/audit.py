"""Append-only, hash-chained audit log (审计日志) of reveals and exports (issue 7 item 1; docs/SECURITY.md).

``record(conn, actor, action, target, details)`` appends one row inside the caller's transaction, so an export or
reveal and its audit row commit together (or not at all). The chain:

    hash_n = SHA-256( hash_{n-1} || canonical(n, at, actor, action, target, details) ),   hash_0 = 64 × "0"

``verify(conn)`` recomputes the chain: an edited row breaks its own hash, a deleted row leaves a gap in ``id``
and breaks the next row's ``prev_hash``, reordered rows break both. Deleting rows at the END cannot be seen from
the table alone; ``verify(expect_head=...)`` compares with a head hash kept elsewhere (a printed report, the
backup manifest), and the triggers refuse UPDATE/DELETE/TRUNCATE in the first place.

Never put an ID number, phone or other sensitive value in ``details``: store ids (person_id, hh_no) and field
names. ``record`` refuses details that contain something looking like an ID or a phone.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from fangpin.issues import FangpinValueError, Issue
from fangpin.security.logs import contains_pii
from fangpin.security.models import AuditLog

GENESIS = "0" * 64
_LOCK_KEY = 0x66616E67  # pg advisory lock id ("fang")

__all__ = ["record", "verify", "VerifyReport", "row_hash", "canonical", "GENESIS", "head"]


def canonical(id_: int, at: datetime, actor: str, action: str, target: str, details: str) -> str:
    return json.dumps([id_, at.isoformat(sep=" "), actor, action, target, details], ensure_ascii=False,
                      separators=(",", ":"))


def row_hash(prev_hash: str, id_: int, at: datetime, actor: str, action: str, target: str, details: str) -> str:
    return hashlib.sha256((prev_hash + canonical(id_, at, actor, action, target, details)).encode()).hexdigest()


def record(conn: Connection, actor: str, action: str, target: str, details: dict[str, Any] | None = None, *,
           at: datetime | None = None) -> int:
    """Append one audit row (in the caller's transaction); returns its id.

    ``actor``: who (``user:<id>:<username>``, ``cli:<os user>``, ``system``); ``action``: ``reveal.id_number``,
    ``reveal.phone``, ``export.scores``, ``export.notice``, ``keys.rotate`` ...; ``target``: what (``household:<hh_no>``,
    ``person:<id>``, a file name); ``details``: small JSON-able dict WITHOUT sensitive values."""
    if not actor or not action or not target:
        raise FangpinValueError(Issue("AUDIT_INCOMPLETE", "审计记录须有操作人、操作和对象",
                                      "an audit record needs an actor, an action and a target"))
    det = json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    if contains_pii(det) or contains_pii(target):
        raise FangpinValueError(Issue("AUDIT_PII", "审计记录中不得写入证件号码或电话",
                                      "audit details must not contain ID numbers or phone numbers"))
    at = (at or datetime.now()).replace(microsecond=0)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = conn.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    nid = (last.id + 1) if last else 1
    prev = last.hash if last else GENESIS
    # the explicit id (last + 1) makes two writers that raced on SQLite collide on the primary key instead of forking
    conn.execute(AuditLog.__table__.insert(), {
        "id": nid, "at": at, "actor": actor[:120], "action": action[:60], "target": target[:200], "details": det,
        "prev_hash": prev, "hash": row_hash(prev, nid, at, actor[:120], action[:60], target[:200], det)})
    return nid


@dataclass
class VerifyReport:
    ok: bool
    rows: int
    head: str
    problems: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "rows": self.rows, "head": self.head, "problems": self.problems}


def head(conn: Connection) -> tuple[int, str]:
    last = conn.execute(select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    return (int(last.id), last.hash) if last else (0, GENESIS)


def verify(conn: Connection, *, expect_head: str | None = None, chunk: int = 10_000) -> VerifyReport:
    """Recompute the whole chain. Problems: ``gap`` (a row missing), ``prev_hash`` (link broken: deleted or
    reordered row), ``hash`` (row content edited), ``head`` (the last hash differs from ``expect_head``)."""
    problems: list[dict] = []
    prev, expected_id, n = GENESIS, 1, 0
    t = AuditLog.__table__
    res = conn.execution_options(yield_per=chunk).execute(select(t).order_by(t.c.id))
    for r in res:
        n += 1
        if r.id != expected_id:
            problems.append({"id": r.id, "problem": "gap", "detail": f"expected id {expected_id}"})
        if r.prev_hash != prev:
            problems.append({"id": r.id, "problem": "prev_hash", "detail": "link to the previous row is broken"})
        at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(str(r.at))
        h = row_hash(r.prev_hash, r.id, at, r.actor, r.action, r.target, r.details)
        if h != r.hash:
            problems.append({"id": r.id, "problem": "hash", "detail": "row content does not match its hash"})
        prev, expected_id = r.hash, r.id + 1
        if len(problems) > 100:
            break
    if expect_head is not None and expect_head != prev:
        problems.append({"id": expected_id - 1, "problem": "head",
                         "detail": "the chain head differs from the expected head (rows removed at the end?)"})
    return VerifyReport(not problems, n, prev, problems)
