"""Registry reads "as of" a date: what was true on ``on``, as known at ``known_at`` (default: now).

All version tables are append-only (see models.py). The latest row per entity is chosen with a
window function (ROW_NUMBER), which both SQLite and PostgreSQL evaluate in the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.engine import Connection

from fangpin.registry.models import (
    GuaranteeStatus,
    Household,
    HouseholdVersion,
    IncomeRecord,
    MemberVersion,
    Person,
)

FAR_FUTURE = datetime(9999, 12, 31)


def _latest(table, key_cols, time_cols, on_col, on: date | None, known_at: datetime | None,
            where=None) -> Select:
    """Subquery: the latest version per key with ``on_col <= on`` and ``recorded_at <= known_at``. ``where`` narrows
    the keys looked at (it must select whole keys — every version of a key or none — or the answer changes)."""
    conds = [table.c.recorded_at <= (known_at or FAR_FUTURE)]
    if where is not None:
        conds.append(where)
    if on is not None:
        conds.append(on_col <= on)
    rn = func.row_number().over(partition_by=key_cols, order_by=[c.desc() for c in time_cols]).label("rn")
    inner = select(table, rn).where(and_(*conds)).subquery()
    return select(inner).where(inner.c.rn == 1)


def current_households(on: date | None = None, known_at: datetime | None = None) -> Select:
    hv = HouseholdVersion.__table__
    sub = _latest(hv, [hv.c.household_id], [hv.c.valid_from, hv.c.recorded_at, hv.c.id], hv.c.valid_from, on,
                  known_at).subquery()
    h = Household.__table__
    return select(h.c.hh_no, sub).join(h, h.c.id == sub.c.household_id)


def current_members(on: date | None = None, known_at: datetime | None = None) -> Select:
    mv = MemberVersion.__table__
    sub = _latest(mv, [mv.c.person_id], [mv.c.valid_from, mv.c.recorded_at, mv.c.id], mv.c.valid_from, on,
                  known_at).subquery()
    p = Person.__table__
    return select(p.c.id_number_enc, p.c.id_number_bidx, sub).join(p, p.c.id == sub.c.person_id)


def current_income(on: date | None = None, known_at: datetime | None = None) -> Select:
    """Latest recorded figures per (household, period) for periods that started by ``on``."""
    ir = IncomeRecord.__table__
    return _latest(ir, [ir.c.household_id, ir.c.period], [ir.c.recorded_at, ir.c.id], ir.c.period_start, on, known_at)


def current_guarantees(on: date | None = None, known_at: datetime | None = None) -> Select:
    """Latest status per household as of ``on``."""
    gs = GuaranteeStatus.__table__
    return _latest(gs, [gs.c.household_id], [gs.c.status_date, gs.c.recorded_at, gs.c.id], gs.c.status_date, on,
                   known_at)


@dataclass
class HouseholdView:
    hh_no: str
    household_id: int
    attributes: dict[str, Any]
    members: list[dict[str, Any]]
    guarantees: dict[str, Any] | None


def household_as_of(conn: Connection, hh_no: str, on: date | None = None,
                    known_at: datetime | None = None) -> HouseholdView | None:
    """One household as it stood on ``on`` (members active then), as known at ``known_at``."""
    hid = conn.execute(select(Household.id).where(Household.hh_no == hh_no)).scalar()
    if hid is None:
        return None
    hv = HouseholdVersion.__table__
    hsub = _latest(hv, [hv.c.household_id], [hv.c.valid_from, hv.c.recorded_at, hv.c.id], hv.c.valid_from, on,
                   known_at, where=hv.c.household_id == hid).subquery()
    row = conn.execute(select(Household.hh_no, hsub).join(Household, Household.id == hsub.c.household_id)
                       ).mappings().first()
    if row is None:
        return None
    # only the persons ever recorded in this household (indexed), not a window over every member version
    mv = MemberVersion.__table__
    ever = select(mv.c.person_id).where(mv.c.household_id == hid)
    sub = _latest(mv, [mv.c.person_id], [mv.c.valid_from, mv.c.recorded_at, mv.c.id], mv.c.valid_from, on, known_at,
                  where=mv.c.person_id.in_(ever)).subquery()
    p = Person.__table__
    mq = select(p.c.id_number_enc, p.c.id_number_bidx, sub).join(p, p.c.id == sub.c.person_id).subquery()
    members = [dict(m) for m in conn.execute(
        select(mq).where(and_(mq.c.household_id == hid, mq.c.active.is_(True))).order_by(mq.c.person_id)).mappings()]
    gs = GuaranteeStatus.__table__
    gq = _latest(gs, [gs.c.household_id], [gs.c.status_date, gs.c.recorded_at, gs.c.id], gs.c.status_date, on,
                 known_at, where=gs.c.household_id == hid).subquery()
    g = conn.execute(select(gq)).mappings().first()
    return HouseholdView(hh_no, hid, dict(row), members, dict(g) if g else None)


def counts(conn: Connection, on: date | None = None) -> dict[str, int]:
    hq = current_households(on).subquery()
    mq = current_members(on).subquery()
    return {
        "households": conn.execute(select(func.count()).select_from(hq).where(hq.c.active.is_(True))).scalar_one(),
        "members": conn.execute(select(func.count()).select_from(mq).where(mq.c.active.is_(True))).scalar_one(),
    }
