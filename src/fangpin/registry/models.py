"""Registry tables (基础数据库): regions, households, people, members, income, guarantees, batches.

History model (effective-dated, append-only):
* identity tables (``household``, ``person``) hold only what never changes (the key);
* every attribute lives in a *version* row with ``valid_from`` (the date the fact became true in the
  world) and ``recorded_at`` (when fangpin learned it). Rows are never updated or deleted: a change
  or a correction appends a row. A read "as of D, known at T" takes, per entity, the row with the
  largest (valid_from, recorded_at) such that valid_from <= D and recorded_at <= T.
* income periods and guarantee statuses are facts about a period/date; a correction for the same
  period appends a row with a later ``recorded_at``.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2, asdecimal=False)
# BigInteger primary keys that still autoincrement on SQLite (which only does so for INTEGER).
PK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Region(Base):
    """Administrative division with its 12-digit statistical code (POLICY.md §12).

    level: 1 province, 2 prefecture/city, 3 county, 4 township, 5 village. ``code`` is always the
    12-digit form (province 53 → 530000000000). ``source`` names the data package and version.
    """

    __tablename__ = "region"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    source: Mapped[str] = mapped_column(String(80), nullable=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class ImportBatch(Base):
    """One delivered file set (roster or department feed): imported whole or not at all."""

    __tablename__ = "import_batch"
    __table_args__ = (UniqueConstraint("kind", "content_sha256", name="uq_import_batch_kind_sha"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    files: Mapped[list] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # committed
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSON)


class Household(Base):
    """Identity of a household (户): the 户编号 never changes."""

    __tablename__ = "household"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    hh_no: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class HouseholdVersion(Base):
    __tablename__ = "household_version"
    __table_args__ = (Index("ix_household_version_hh_valid", "household_id", "valid_from", "recorded_at"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), nullable=False, index=True)
    hh_type: Mapped[str] = mapped_column(String(10), nullable=False)  # 脱贫户 / 一般农户 (codes: household_types)
    relocated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # 是否易地搬迁
    # sensitive (POLICY.md §5): AES-GCM ciphertexts (fangpin.security.fields); head_id_bidx = keyed blind index
    phone_enc: Mapped[str | None] = mapped_column(Text)
    head_id_enc: Mapped[str | None] = mapped_column(Text)
    head_id_bidx: Mapped[str | None] = mapped_column(String(32), index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Person(Base):
    """Identity of a person: the normalised 18-digit resident ID when known, encrypted (``id_number_enc``,
    AES-GCM) with a keyed blind index (``id_number_bidx``, HMAC) for exact lookup (fangpin.security.fields)."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    id_number_enc: Mapped[str | None] = mapped_column(Text)  # sensitive
    id_number_bidx: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class MemberVersion(Base):
    """A person's membership of a household and their attributes (成员表), effective-dated."""

    __tablename__ = "member_version"
    __table_args__ = (
        Index("ix_member_version_person_valid", "person_id", "valid_from", "recorded_at"),
        Index("ix_member_version_household", "household_id"),
    )
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), nullable=False)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)  # False = left / deceased
    end_reason: Mapped[str | None] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    sex: Mapped[str] = mapped_column(String(2), nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    relation: Mapped[str | None] = mapped_column(String(20))
    ethnicity: Mapped[str | None] = mapped_column(String(20))
    education: Mapped[str | None] = mapped_column(String(20))
    schooling: Mapped[str | None] = mapped_column(String(20))
    health: Mapped[str | None] = mapped_column(String(10))  # sensitive
    labour_skill: Mapped[str | None] = mapped_column(String(20))
    migrant_months: Mapped[int | None] = mapped_column(SmallInteger)
    med_insured: Mapped[bool | None] = mapped_column(Boolean)
    pension_insured: Mapped[bool | None] = mapped_column(Boolean)
    disability_grade: Mapped[int | None] = mapped_column(SmallInteger)  # sensitive
    disability_category: Mapped[int | None] = mapped_column(SmallInteger)  # sensitive


class HouseholdCurrent(Base):
    """The latest version of each household (largest valid_from, recorded_at, id), maintained by database triggers
    at insert time (fangpin.registry.current; migration 0012). Keys and filter columns only: attributes are read from
    ``household_version`` by ``version_id``."""

    __tablename__ = "household_current"
    __table_args__ = (Index("ix_household_current_region_active", "region_code", "active"),
                      Index("ix_household_current_valid_from", "valid_from"))
    household_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hh_no: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    region_code: Mapped[str] = mapped_column(String(12), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class MemberCurrent(Base):
    """The latest version of each person's membership (same order as the window), trigger-maintained like
    :class:`HouseholdCurrent`."""

    __tablename__ = "member_current"
    __table_args__ = (Index("ix_member_current_household", "household_id", "active"),
                      Index("ix_member_current_valid_from", "valid_from"))
    person_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    household_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class IncomeRecord(Base):
    """Income and expenditure components of a household for a month (YYYY-MM) or year (YYYY) (收支表)."""

    __tablename__ = "income_record"
    __table_args__ = (Index("ix_income_record_hh_period", "household_id", "period_start", "recorded_at"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    period: Mapped[str] = mapped_column(String(7), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    wage: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 工资性收入
    business: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 生产经营性收入
    property: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 财产性收入
    transfer: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 转移性收入
    business_cost: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 生产经营性支出
    claims: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 理赔收入
    medical_oop: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 合规自付医疗支出 (sensitive)
    education_cost: Mapped[float] = mapped_column(Money, nullable=False, default=0)  # 教育支出


class GuaranteeStatus(Base):
    """Three guarantees and drinking water (三保障及饮水) as of a date."""

    __tablename__ = "guarantee_status"
    __table_args__ = (Index("ix_guarantee_status_hh_date", "household_id", "status_date", "recorded_at"),)
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), nullable=False)
    status_date: Mapped[date] = mapped_column(Date, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    housing_safe: Mapped[bool] = mapped_column(Boolean, nullable=False)
    dropout: Mapped[bool] = mapped_column(Boolean, nullable=False)
    water_safe: Mapped[bool] = mapped_column(Boolean, nullable=False)
    uninsured_member: Mapped[bool] = mapped_column(Boolean, nullable=False)


class SynthRun(Base):
    """Provenance of a synthetic population written into this database (never mixed with real data)."""

    __tablename__ = "synth_run"
    id: Mapped[int] = mapped_column(PK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    seed: Mapped[int] = mapped_column(BigInteger, nullable=False)
    params: Mapped[dict] = mapped_column(JSON, nullable=False)
    truth_dir: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict | None] = mapped_column(JSON)
