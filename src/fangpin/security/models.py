"""Audit log table (审计日志): append-only and hash-chained (docs/SECURITY.md; issue 7 item 1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import Base

PK = BigInteger().with_variant(Integer(), "sqlite")


class AuditLog(Base):
    """One audited act (a reveal of an ID number or phone, an export, a key rotation ...).

    ``id`` is the position in the chain (1, 2, 3 ... without gaps); ``hash`` = SHA-256 over ``prev_hash`` and the
    canonical text of this row (see :func:`fangpin.security.audit.row_hash`). Database triggers refuse UPDATE and
    DELETE (and TRUNCATE on PostgreSQL); ``fangpin audit verify`` detects edits, deletions and reordering made by
    someone who got around them."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    actor: Mapped[str] = mapped_column(String(120), nullable=False)
    action: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON text (hashed as stored)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
