"""Department feed tables (FEEDS.md §B): accepted feed rows, the linkage review queue, person merge/split audit.

They share :class:`fangpin.registry.models.Base` so one ``MetaData`` describes the whole schema (Alembic
autogenerate / ``compare_metadata`` stay clean; ``migrations/env.py`` imports this module). Migration:
``migrations/versions/0002_feeds.py``.

* ``feed_record``: one accepted data row of a department batch (``import_batch.kind = "feed:<key>"``). The
  normalised department fields are in ``payload`` (JSON, keys from the feed contract). Sensitive values (ID numbers,
  addresses, phones) stay in the database and never go to logs or reports (those show masked values).
  ``person_id`` / ``household_id`` are the registry entities the row was linked to; ``link_method`` says how
  (``exact`` by ID number, ``household_head`` by the head's ID, ``probabilistic``, ``review`` = queued or decided by
  a person, ``unmatched``, ``village`` for the village-level water feed — its households are resolved at read time,
  see :func:`fangpin.exchange.feeds.village_record_households`).
* ``link_review``: a candidate person for a feed row the linker was unsure about; decided by staff
  (``fangpin review accept|reject``); decisions are training labels for the linker.
* ``person_audit``: person merges and splits (who, when, why, and exactly which rows moved), so person IDs stay
  stable and every identity change can be traced and undone.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import PK, Base

LINK_METHODS = ("exact", "household_head", "probabilistic", "review", "unmatched", "village")
REVIEW_STATUSES = ("pending", "accepted", "rejected")


class FeedRecord(Base):
    """One accepted row of a department feed batch (FEEDS.md §B)."""

    __tablename__ = "feed_record"
    __table_args__ = (
        Index("ix_feed_record_feed_date", "feed", "event_date"),
        Index("ix_feed_record_batch_row", "batch_id", "row_number"),
    )
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batch.id"), nullable=False)
    feed: Mapped[str] = mapped_column(String(40), nullable=False)
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)  # row the user sees in Excel/WPS
    event_date: Mapped[date | None] = mapped_column(Date)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    link_method: Mapped[str] = mapped_column(String(20), nullable=False)
    link_probability: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)  # sensitive: never log as is
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class LinkReview(Base):
    """A feed row waiting for (or decided by) a person: is it this registry person?"""

    __tablename__ = "link_review"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    feed_record_id: Mapped[int] = mapped_column(ForeignKey("feed_record.id"), nullable=False, index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # the candidate
    probability: Mapped[float | None] = mapped_column(Float)
    explanation: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), nullable=False, index=True)  # pending | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)


class PersonAudit(Base):
    """A person merge (``drop`` folded into ``keep``) or split (rows moved to another person)."""

    __tablename__ = "person_audit"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(10), nullable=False)  # merge | split
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), nullable=False, index=True)  # kept / original
    other_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), nullable=False, index=True)  # dropped / new
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    details: Mapped[dict] = mapped_column(JSON, nullable=False)  # moved feed_record / link_review ids


__all__ = ["FeedRecord", "LinkReview", "PersonAudit", "LINK_METHODS", "REVIEW_STATUSES"]
