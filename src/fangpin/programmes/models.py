"""Tables of the mechanisms around the core loop (seed 004 §三(四)(五), §四(七), §六(十五)(十六), §八(二十四);
POLICY.md §11). One module, one migration (0008). Every table links back to the registry (household, person,
region) so the figures of these programmes feed monitoring and the scorecards.

* public-welfare jobs (乡村公益岗位): ``pwj_post`` (按需设岗) → ``pwj_hire`` (以岗聘任 / 有序退岗) →
  ``pwj_payroll`` (在岗领补: one row per hire and month, with the ``income_record`` row it wrote);
* poverty-alleviation project assets (扶贫项目资产): ``project_asset`` + ``asset_income`` (yearly income and its use);
* relocation resettlement sites (易地扶贫搬迁安置区): ``resettlement_site``, ``site_household``, ``site_support``.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from fangpin.registry.models import PK, Base, Money


class PwjPost(Base):
    """A public-welfare post created by need in a village (按需设岗): type, monthly subsidy, headcount."""

    __tablename__ = "pwj_post"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False, index=True)  # village
    post_type: Mapped[str] = mapped_column(String(20), nullable=False)  # programmes/jobs.yaml post_types
    title: Mapped[str] = mapped_column(String(80), nullable=False)
    need: Mapped[str] = mapped_column(Text, nullable=False)  # the need the post answers (按需设岗)
    monthly_subsidy: Mapped[float] = mapped_column(Money, nullable=False)
    headcount: Mapped[int] = mapped_column(Integer, nullable=False)
    days_per_month: Mapped[int] = mapped_column(Integer, nullable=False)  # required attendance days
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # open | closed
    created_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(60), nullable=False)
    closed_on: Mapped[date | None] = mapped_column(Date)


class PwjHire(Base):
    """One person holding one post (以岗聘任) until an orderly exit with a reason (有序退岗)."""

    __tablename__ = "pwj_hire"
    __table_args__ = (Index("ix_pwj_hire_person_status", "person_id", "status"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("pwj_post.id"), nullable=False, index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)  # household's village
    hired_on: Mapped[date] = mapped_column(Date, nullable=False)
    agreement_end: Mapped[date | None] = mapped_column(Date)
    eligibility: Mapped[dict] = mapped_column(JSON, nullable=False)  # basis, labour skill, references
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # active | exited
    exit_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(20))  # jobs.yaml exit_reasons
    exit_note: Mapped[str | None] = mapped_column(Text)
    exit_effect: Mapped[dict | None] = mapped_column(JSON)  # subsidy lost, monitoring run, alerts raised
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(60), nullable=False)
    exited_by: Mapped[str | None] = mapped_column(String(60))
    exit_recorded_at: Mapped[datetime | None] = mapped_column(DateTime)


class PwjPayroll(Base):
    """Attendance and subsidy of one hire for one month (在岗领补); ``income_record_id`` is the registry row that
    carries the subsidy into the household's wage income (what monitoring reads)."""

    __tablename__ = "pwj_payroll"
    __table_args__ = (UniqueConstraint("hire_id", "month", name="uq_pwj_payroll_hire_month"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    hire_id: Mapped[int] = mapped_column(ForeignKey("pwj_hire.id"), nullable=False, index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    month: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM
    days_required: Mapped[int] = mapped_column(Integer, nullable=False)
    days_present: Mapped[int] = mapped_column(Integer, nullable=False)
    amount: Mapped[float] = mapped_column(Money, nullable=False)
    income_record_id: Mapped[int | None] = mapped_column(ForeignKey("income_record.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)


class ProjectAsset(Base):
    """A poverty-alleviation project asset (扶贫项目资产) by class 公益性 / 经营性 / 确权到户 (seed 004 §三(五))."""

    __tablename__ = "project_asset"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    asset_no: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    asset_class: Mapped[str] = mapped_column(String(10), nullable=False)  # PUBLIC | OPERATING | HOUSEHOLD
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False, index=True)
    project_name: Mapped[str] = mapped_column(String(120), nullable=False)  # project of origin
    project_year: Mapped[int] = mapped_column(Integer, nullable=False)
    value: Mapped[float] = mapped_column(Money, nullable=False)  # book value (yuan)
    custodian: Mapped[str | None] = mapped_column(String(80))  # 管护主体
    responsibility: Mapped[str | None] = mapped_column(Text)  # 管护责任
    owner_household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id"))  # 确权到户
    completed_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # in_use | disposed
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(60), nullable=False)


class AssetIncome(Base):
    """Income of an operating asset for a period and how it was used (upkeep, households, village welfare)."""

    __tablename__ = "asset_income"
    __table_args__ = (UniqueConstraint("asset_id", "period", name="uq_asset_income_asset_period"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("project_asset.id"), nullable=False, index=True)
    period: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY or YYYY-MM
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    income: Mapped[float] = mapped_column(Money, nullable=False)
    to_upkeep: Mapped[float] = mapped_column(Money, nullable=False)  # 项目运行管护
    to_households: Mapped[float] = mapped_column(Money, nullable=False)  # 巩固拓展脱贫成果 (分配到户)
    to_village_welfare: Mapped[float] = mapped_column(Money, nullable=False)  # 村级公益事业
    households_paid: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(60), nullable=False)


class ResettlementSite(Base):
    """A relocation resettlement site (易地扶贫搬迁安置区), seed 004 §三(四)."""

    __tablename__ = "resettlement_site"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False, index=True)
    site_kind: Mapped[str] = mapped_column(String(20), nullable=False)  # urban | town | village (集中安置类型)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    services: Mapped[list] = mapped_column(JSON, nullable=False, default=list)  # community services present
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class SiteHousehold(Base):
    """A relocated household living at a site."""

    __tablename__ = "site_household"
    __table_args__ = (UniqueConstraint("household_id", name="uq_site_household_household_id"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("resettlement_site.id"), nullable=False, index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    moved_in_on: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class SiteSupport(Base):
    """A follow-up support measure at a site (后续扶持: employment, industry, facilities, community services)."""

    __tablename__ = "site_support"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("resettlement_site.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # employment | industry | facility | service
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    started_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[float | None] = mapped_column(Money)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class KeyCounty(Base):
    """A county designated as a key assisted county for rural revitalisation (乡村振兴重点帮扶县), seed 004 §六(十五):
    national (国家) or chosen by a province (省级)."""

    __tablename__ = "key_county"
    __table_args__ = (UniqueConstraint("county_code", "designated_on", name="uq_key_county_county_code"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    county_code: Mapped[str] = mapped_column(String(6), nullable=False, index=True)
    level: Mapped[str] = mapped_column(String(10), nullable=False)  # national | provincial
    designated_on: Mapped[date] = mapped_column(Date, nullable=False)
    ended_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(Text, nullable=False)  # the designating document
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class AssistPair(Base):
    """A pairing relation, seed 004 §六(十六): East–West cooperation (东西部协作: one eastern province ↔ one western
    province) or designated assistance (定点帮扶: a unit ↔ a county)."""

    __tablename__ = "assist_pair"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(12), nullable=False)  # east_west | designated
    giver: Mapped[str] = mapped_column(String(120), nullable=False)  # eastern province code, or unit name
    receiver_code: Mapped[str] = mapped_column(String(6), nullable=False, index=True)  # western province / county
    started_on: Mapped[date] = mapped_column(Date, nullable=False)
    ended_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class AssistFlow(Base):
    """What a pair delivered: a fund transfer (资金) or an aided project (援建项目) in a county or village."""

    __tablename__ = "assist_flow"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("assist_pair.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # fund | project
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    amount: Mapped[float] = mapped_column(Money, nullable=False)
    completed: Mapped[bool | None] = mapped_column(Boolean)  # projects only
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class LabourTransfer(Base):
    """A member of a monitored or low-income household placed in work through a pair (劳务协作)."""

    __tablename__ = "labour_transfer"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("assist_pair.id"), nullable=False, index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    destination: Mapped[str] = mapped_column(String(120), nullable=False)
    started_on: Mapped[date] = mapped_column(Date, nullable=False)
    monthly_income: Mapped[float | None] = mapped_column(Money)
    basis: Mapped[dict] = mapped_column(JSON, nullable=False)  # eligibility basis (monitored / low-income / 脱贫)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
