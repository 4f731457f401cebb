"""Case tables (案件/监测帮扶台账): identification and removal cases, their event log, escalations, and the
household's single assistance chain (一户一条救助链: plan, helpers, measures, deliveries, follow-up visits).

* ``case_file`` holds the current state and a ``version`` for optimistic locking: every state change is
  ``UPDATE case_file SET … version = version + 1 WHERE id = :id AND version = :expected`` (exactly one of two
  concurrent officers wins; the other gets a bilingual conflict message).
* ``case_event`` is append-only: one row per action with actor, role, time, comment, payload, a frozen JSON
  snapshot of the household (registry ``household_as_of``) and the policy ``ParameterSet.version`` used.
* ``assistance_plan`` is unique per household: relapse-prevention measures and civil-affairs measures
  (低保/特困/临时救助) live on the same plan (seed 004 §五; POLICY.md §10 2023 opinion).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, text, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import PK, Base, Money


class CaseFile(Base):
    """One identification → monitoring → removal case of a household (监测对象识别/消除案件)."""

    __tablename__ = "case_file"
    __table_args__ = (
        Index("ix_case_file_region_state", "region_code", "state"),
        Index("ix_case_file_household", "household_id"),
        # one open case per household (closed_on IS NULL = open, monitored included)
        Index("uq_case_file_open_household", "household_id", unique=True,
              sqlite_where=text("closed_on IS NULL AND household_id IS NOT NULL"),
              postgresql_where=text("closed_on IS NULL AND household_id IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)  # tracking number (受理编号)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))  # NULL until linked at verification
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)  # 12-digit village code
    source: Mapped[str] = mapped_column(String(30), nullable=False)  # lead channel (workflow.yaml lead_sources)
    source_ref: Mapped[str | None] = mapped_column(String(80))  # alert id, referral number …
    state: Mapped[str] = mapped_column(String(40), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    opened_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    monitored_type: Mapped[str | None] = mapped_column(String(10))  # TPBWD / BYYZP / TFYZKN (proposed, then decided)
    risk_types: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # ≤ max_risk_types_per_household
    applicant: Mapped[dict | None] = mapped_column(JSON)  # self-application form (FEEDS.md §C) — sensitive
    notice_start: Mapped[date | None] = mapped_column(Date)  # current public notice (公示) start
    identified_on: Mapped[date | None] = mapped_column(Date)  # county approval date (纳入监测)
    decided_on: Mapped[date | None] = mapped_column(Date)  # identification decision (approve or reject)
    removal_method: Mapped[str | None] = mapped_column(String(10))  # BFXC / ZRXC (risk_removal_methods)
    removal_reason: Mapped[str | None] = mapped_column(String(30))  # natural removal reason
    removal_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # member whose death ended the risk
    removed_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)


class CaseEvent(Base):
    """Append-only log of every action on a case, with the data and rules it was decided on."""

    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_event_case_seq"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_file.id"), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)  # = case version after this event
    action: Mapped[str] = mapped_column(String(30), nullable=False)
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40), nullable=False)
    actor_user_id: Mapped[str] = mapped_column(String(60), nullable=False)
    actor_name: Mapped[str] = mapped_column(String(60), nullable=False)
    actor_role: Mapped[str] = mapped_column(String(30), nullable=False)
    actor_region: Mapped[str] = mapped_column(String(12), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    on_date: Mapped[date] = mapped_column(Date, nullable=False)  # business date of the act
    comment: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    household_snapshot: Mapped[dict | None] = mapped_column(JSON)  # frozen registry view (sensitive)
    policy_version: Mapped[str] = mapped_column(String(16), nullable=False)  # ParameterSet.version
    policy_values: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)  # parameters used + references


class CaseEscalation(Base):
    """An overdue item escalated to the next level (逾期督办). Unique per (rule, subject): idempotent."""

    __tablename__ = "case_escalation"
    __table_args__ = (UniqueConstraint("rule", "subject", name="uq_case_escalation_item"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))
    rule: Mapped[str] = mapped_column(String(30), nullable=False)
    # e.g. "case:7:state:AUTHORISED@3", "case:7:identification", "case:7:first_measure", "visit:12"
    subject: Mapped[str] = mapped_column(String(80), nullable=False)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    detected_on: Mapped[date] = mapped_column(Date, nullable=False)
    from_level: Mapped[str] = mapped_column(String(10), nullable=False)
    to_level: Mapped[str] = mapped_column(String(10), nullable=False)
    to_region: Mapped[str] = mapped_column(String(12), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    resolved_on: Mapped[date | None] = mapped_column(Date)
    policy_version: Mapped[str] = mapped_column(String(16), nullable=False)
    policy_values: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


class AssistancePlan(Base):
    """One assistance chain per household (一户一条救助链); ``version`` serialises changes to it."""

    __tablename__ = "assistance_plan"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False, unique=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class AssistanceHelper(Base):
    """帮扶责任人 (POLICY.md §8): name, unit, phone, start/end."""

    __tablename__ = "assistance_helper"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("assistance_plan.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    unit: Mapped[str] = mapped_column(String(120), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(40))
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class AssistanceMeasure(Base):
    """A measure on the household's plan (帮扶措施). ``source``: ``relapse_prevention`` (防返贫) or
    ``civil_affairs`` (民政救助). ``subtype`` = civil-affairs assistance type (DIBAO …) for protection measures."""

    __tablename__ = "assistance_measure"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("assistance_plan.id"), nullable=False, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    category: Mapped[str] = mapped_column(String(30), nullable=False)  # measure_categories code
    subtype: Mapped[str | None] = mapped_column(String(20))  # assistance_types code
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date] = mapped_column(Date, nullable=False)
    end_date: Mapped[date | None] = mapped_column(Date)  # planned or actual end
    ended_reason: Mapped[str | None] = mapped_column(String(40))
    continues_after_removal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pre_identification: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    external_ref: Mapped[str | None] = mapped_column(String(80))  # civil-affairs decision number etc.
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class MeasureDelivery(Base):
    """Delivery of a measure (措施落实记录): what was delivered, when, how much."""

    __tablename__ = "measure_delivery"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("assistance_measure.id"), nullable=False, index=True)
    delivered_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[float | None] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class FollowUpVisit(Base):
    """Scheduled follow-up visit (定期跟踪回访, POLICY.md §4.2) and its result."""

    __tablename__ = "follow_up_visit"
    __table_args__ = (Index("ix_follow_up_visit_due", "due_date"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("assistance_plan.id"), nullable=False, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    done_on: Mapped[date | None] = mapped_column(Date)
    visitor: Mapped[str | None] = mapped_column(String(60))
    result: Mapped[str | None] = mapped_column(Text)
    new_risk: Mapped[bool | None] = mapped_column(Boolean)  # the visit found a new risk
    # how the due date was set: {"parameter": "follow_up_visit_interval_days", "value": 30, "reference": …, "after": …}
    schedule_basis: Mapped[dict | None] = mapped_column(JSON)
    scheduled_by: Mapped[str] = mapped_column(String(60), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class EligibilityRun(Base):
    """One run of the eligibility calculators for a household (救助资格测算), recorded on its single assistance chain
    (一户一条救助链, seed 004 §五; POLICY.md §10). ``income`` is the ONE income calculation every calculator of the run
    used (monitoring net income, POLICY.md §3, beside the civil-affairs assessed income, POLICY.md §10)."""

    __tablename__ = "eligibility_run"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("assistance_plan.id"), nullable=False, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_file.id"))
    on_date: Mapped[date] = mapped_column(Date, nullable=False)  # data and parameters as of this date
    trigger: Mapped[str] = mapped_column(String(30), nullable=False)  # identification / civil_affairs / manual …
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)  # False: could not be computed (see error)
    error: Mapped[dict | None] = mapped_column(JSON)  # bilingual reason when not computed
    income: Mapped[dict | None] = mapped_column(JSON)  # the shared income calculation (figures + steps)
    inputs: Mapped[dict | None] = mapped_column(JSON)  # what the registry supplied (months, sizes — no PII)
    parameter_version: Mapped[str] = mapped_column(String(80), nullable=False)  # Rules.version
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class EligibilityResult(Base):
    """One calculator's decision in a run, with the measure or referral it proposes (no duplicate of the chain)."""

    __tablename__ = "eligibility_result"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eligibility_run.id"), nullable=False, index=True)
    programme: Mapped[str] = mapped_column(String(30), nullable=False)  # dibao / dibao_edge / rigid_spending / tekun …
    member: Mapped[str | None] = mapped_column(String(60))  # person-level calculators (特困, 养老保险代缴)
    eligible: Mapped[bool] = mapped_column(Boolean, nullable=False)
    rule_id: Mapped[str] = mapped_column(String(60), nullable=False)
    reference: Mapped[str] = mapped_column(Text, nullable=False)
    amount_month: Mapped[float | None] = mapped_column(Money)
    amount_year: Mapped[float | None] = mapped_column(Money)
    decision: Mapped[dict] = mapped_column(JSON, nullable=False)  # Decision.to_dict(): parameters + arithmetic
    proposal: Mapped[str | None] = mapped_column(String(20))  # measure / referral / on_chain / None
    category: Mapped[str | None] = mapped_column(String(30))  # measure_categories code proposed
    subtype: Mapped[str | None] = mapped_column(String(20))  # assistance_types code proposed
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("assistance_measure.id"))  # on the chain (existing/new)
