"""Background job table (后台任务): one row per long job (feed/roster import, monitoring run, report).

Durable state lives here, not in the web process: a page reload (or another server process) reads the same row.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import PK, Base

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    __tablename__ = "job"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)  # queued | running | done | failed
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    dedup_key: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[dict | None] = mapped_column(JSON)
    artefact: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(PK)
    created_by_name: Mapped[str | None] = mapped_column(String(60))
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    owner: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_job_status_heartbeat", "status", "heartbeat_at"),
                      Index("ix_job_dedup_key", "dedup_key"))
