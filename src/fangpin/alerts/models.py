"""Alerts (预警) raised by monitoring runs, kept with their evidence and de-duplicated.

One `alert` row is one *episode*: a rule firing for a household, from the run that first raised it until a full
run no longer finds it (closed) or a case is opened for it. Re-observations update `last_seen` and the evidence
(the first evidence is kept in `first_evidence`), so a household is never alerted twice for the same open episode.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import PK, Base


class MonitorRun(Base):
    __tablename__ = "monitor_run"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    engine: Mapped[str] = mapped_column(String(10), nullable=False)
    mode: Mapped[str] = mapped_column(String(12), nullable=False)  # full | incremental
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    households: Mapped[int] = mapped_column(Integer, default=0)
    alerts_fired: Mapped[int] = mapped_column(Integer, default=0)
    alerts_new: Mapped[int] = mapped_column(Integer, default=0)
    alerts_closed: Mapped[int] = mapped_column(Integer, default=0)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    snapshot: Mapped[str] = mapped_column(String(32), nullable=False)
    rules_version: Mapped[str] = mapped_column(String(32), nullable=False)
    param_version: Mapped[str] = mapped_column(String(32), nullable=False)
    report: Mapped[dict | None] = mapped_column(JSON)


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_household_rule_status", "household_id", "rule_id", "status"),
                      Index("ix_alert_status_last_as_of", "status", "last_as_of", "id"))
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    rule_id: Mapped[str] = mapped_column(String(40), nullable=False)
    risk_types: Mapped[list] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)  # open | closed | case_opened
    first_run_id: Mapped[int] = mapped_column(ForeignKey("monitor_run.id"), nullable=False)
    last_run_id: Mapped[int] = mapped_column(ForeignKey("monitor_run.id"), nullable=False)
    first_as_of: Mapped[date] = mapped_column(Date, nullable=False)
    last_as_of: Mapped[date] = mapped_column(Date, nullable=False)
    first_evidence: Mapped[dict] = mapped_column(JSON, nullable=False)
    evidence: Mapped[dict] = mapped_column(JSON, nullable=False)
    sources: Mapped[dict] = mapped_column(JSON, nullable=False)
    param_version: Mapped[str] = mapped_column(String(32), nullable=False)
    rules_version: Mapped[str] = mapped_column(String(32), nullable=False)
    snapshot: Mapped[str] = mapped_column(String(32), nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    case_id: Mapped[int | None] = mapped_column(Integer)
