"""Registry reads "as of" a date: what was true on ``on``, as known at ``known_at`` (default: now).

All version tables are append-only (see models.py). The latest row per entity is chosen with a
window function (ROW_NUMBER), which both SQLite and PostgreSQL evaluate in the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, literal, select, union_all
from sqlalchemy.engine import Connection

from fangpin.registry.models import (
    GuaranteeStatus,
    Household,
    HouseholdCurrent,
    HouseholdVersion,
    IncomeRecord,
    MemberCurrent,
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


def region_prefix(col, prefix: str):
    """``col`` starts with ``prefix``, written as a range (region codes are digit strings) so that a plain btree
    index on ``col`` serves it in any collation — ``LIKE :p || '%'`` with a bound pattern does not on PostgreSQL."""
    if not prefix:
        return col.isnot(None)
    return and_(col >= prefix, col < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def current_households(on: date | None = None, known_at: datetime | None = None):
    """The latest version per household with ``valid_from <= on`` (any date when None), as known at ``known_at``.

    As known now (``known_at`` None) this reads ``household_current`` (trigger-maintained, fangpin.registry.current)
    instead of a window over every version: a household whose latest version started by ``on`` has that version as
    its answer; only the few whose latest version starts after ``on`` go through the window (same answer)."""
    hv = HouseholdVersion.__table__
    h = Household.__table__
    order = [hv.c.valid_from, hv.c.recorded_at, hv.c.id]
    if known_at is not None:
        sub = _latest(hv, [hv.c.household_id], order, hv.c.valid_from, on, known_at).subquery()
        return select(h.c.hh_no, sub).join(h, h.c.id == sub.c.household_id)
    hc = HouseholdCurrent.__table__
    fast = select(hc.c.hh_no, *hv.c, literal(1).label("rn")).join(hv, hv.c.id == hc.c.version_id)
    if on is None:
        return fast
    late = select(hc.c.household_id).where(hc.c.valid_from > on)
    sub = _latest(hv, [hv.c.household_id], order, hv.c.valid_from, on, None,
                  where=hv.c.household_id.in_(late)).subquery()
    return union_all(fast.where(hc.c.valid_from <= on), select(h.c.hh_no, sub).join(h, h.c.id == sub.c.household_id))


def current_members(on: date | None = None, known_at: datetime | None = None):
    """The latest membership version per person (see :func:`current_households`; reads ``member_current``)."""
    mv = MemberVersion.__table__
    p = Person.__table__
    order = [mv.c.valid_from, mv.c.recorded_at, mv.c.id]
    if known_at is not None:
        sub = _latest(mv, [mv.c.person_id], order, mv.c.valid_from, on, known_at).subquery()
        return select(p.c.id_number_enc, p.c.id_number_bidx, sub).join(p, p.c.id == sub.c.person_id)
    mc = MemberCurrent.__table__
    fast = (select(p.c.id_number_enc, p.c.id_number_bidx, *mv.c, literal(1).label("rn"))
            .select_from(mc).join(mv, mv.c.id == mc.c.version_id).join(p, p.c.id == mc.c.person_id))
    if on is None:
        return fast
    late = select(mc.c.person_id).where(mc.c.valid_from > on)
    sub = _latest(mv, [mv.c.person_id], order, mv.c.valid_from, on, None, where=mv.c.person_id.in_(late)).subquery()
    return union_all(fast.where(mc.c.valid_from <= on),
                     select(p.c.id_number_enc, p.c.id_number_bidx, sub).join(p, p.c.id == sub.c.person_id))


def _none_later(conn: Connection | None, table, on: date) -> bool:
    """True when no current row starts after ``on`` (indexed), so the current table alone answers "as of on"."""
    return conn is not None and conn.execute(select(table.c.valid_from).where(table.c.valid_from > on).limit(1)
                                             ).first() is None


def current_household_keys(on: date | None = None, conn: Connection | None = None):
    """Narrow :func:`current_households` for counting and grouping: (household_id, hh_no, region_code, active) of
    each household's latest version with ``valid_from <= on`` — no join to the version rows."""
    hc = HouseholdCurrent.__table__
    fast = select(hc.c.household_id, hc.c.hh_no, hc.c.region_code, hc.c.active)
    if on is None:
        return fast
    hv = HouseholdVersion.__table__
    late = select(hc.c.household_id).where(hc.c.valid_from > on)
    sub = _latest(hv, [hv.c.household_id], [hv.c.valid_from, hv.c.recorded_at, hv.c.id], hv.c.valid_from, on, None,
                  where=hv.c.household_id.in_(late)).subquery()
    h = Household.__table__
    return union_all(fast.where(hc.c.valid_from <= on),
                     select(sub.c.household_id, h.c.hh_no, sub.c.region_code, sub.c.active)
                     .join(h, h.c.id == sub.c.household_id))


def current_member_keys(on: date | None = None, conn: Connection | None = None):
    """Narrow :func:`current_members`: (person_id, household_id, active) of each person's latest membership version
    with ``valid_from <= on``."""
    mc = MemberCurrent.__table__
    fast = select(mc.c.person_id, mc.c.household_id, mc.c.active)
    if on is None or _none_later(conn, mc, on):
        return fast
    mv = MemberVersion.__table__
    late = select(mc.c.person_id).where(mc.c.valid_from > on)
    sub = _latest(mv, [mv.c.person_id], [mv.c.valid_from, mv.c.recorded_at, mv.c.id], mv.c.valid_from, on, None,
                  where=mv.c.person_id.in_(late)).subquery()
    return union_all(fast.where(mc.c.valid_from <= on), select(sub.c.person_id, sub.c.household_id, sub.c.active))


# ---------------------------------------------------------------------------------------------------------------
# Narrow reads by key: what an import needs about the households/persons of its file, as known now. Each is an
# indexed look-up per key (primary key of the current tables, or the leading column of a version table's index),
# so its cost follows the number of keys asked for, not the size of the registry (issue 8: import throughput must
# not fall with registry size). Same answer as filtering the wide reads above by the same keys.

IN_CHUNK = 900  # keys per IN (...) list: under SQLite's oldest host-parameter limit (999), small plans on PostgreSQL


def _chunked(keys) -> list[list]:
    ks = sorted({k for k in keys if k is not None})
    return [ks[i:i + IN_CHUNK] for i in range(0, len(ks), IN_CHUNK)]


def member_households(conn: Connection, person_ids) -> dict[int, int]:
    """{person id: household id of the person's latest membership version}, active or not — the
    ``current_members()`` answer for these persons, read from ``member_current`` by its primary key."""
    mc = MemberCurrent.__table__
    out: dict[int, int] = {}
    for part in _chunked(person_ids):
        out.update(conn.execute(select(mc.c.person_id, mc.c.household_id).where(mc.c.person_id.in_(part))).all())
    return out


def household_regions(conn: Connection, household_ids) -> dict[int, str]:
    """{household id: region code of its latest version}, active or not — from ``household_current`` by key."""
    hc = HouseholdCurrent.__table__
    out: dict[int, str] = {}
    for part in _chunked(household_ids):
        out.update(conn.execute(select(hc.c.household_id, hc.c.region_code)
                                .where(hc.c.household_id.in_(part))).all())
    return out


def regions_with_active_households(conn: Connection, region_codes) -> set[str]:
    """The given region codes that have at least one active household now (``household_current`` region index)."""
    hc = HouseholdCurrent.__table__
    have: set[str] = set()
    for part in _chunked(region_codes):
        have |= set(conn.execute(select(hc.c.region_code).where(hc.c.region_code.in_(part), hc.c.active.is_(True))
                                 .distinct()).scalars())
    return have


def existing_hh_nos(conn: Connection, hh_nos) -> set[str]:
    """The given household numbers (户编号) that the registry already has (unique index on ``household.hh_no``)."""
    h = Household.__table__
    have: set[str] = set()
    for part in _chunked(hh_nos):
        have |= set(conn.execute(select(h.c.hh_no).where(h.c.hh_no.in_(part))).scalars())
    return have


def current_households_by_id(conn: Connection, household_ids) -> dict[int, Any]:
    """{household id: row of :func:`current_households` (as known now, any date)} for these households only —
    ``household_current`` by primary key, joined to the version row it points at."""
    hv, hc = HouseholdVersion.__table__, HouseholdCurrent.__table__
    q = select(hc.c.hh_no, *hv.c, literal(1).label("rn")).join(hv, hv.c.id == hc.c.version_id)
    out: dict[int, Any] = {}
    for part in _chunked(household_ids):
        out.update((r.household_id, r) for r in conn.execute(q.where(hc.c.household_id.in_(part))))
    return out


def current_members_by_person(conn: Connection, person_ids) -> dict[int, Any]:
    """{person id: row of :func:`current_members` (as known now, any date)} for these persons only."""
    mv, mc, p = MemberVersion.__table__, MemberCurrent.__table__, Person.__table__
    q = (select(p.c.id_number_enc, p.c.id_number_bidx, *mv.c, literal(1).label("rn"))
         .select_from(mc).join(mv, mv.c.id == mc.c.version_id).join(p, p.c.id == mc.c.person_id))
    out: dict[int, Any] = {}
    for part in _chunked(person_ids):
        out.update((r.person_id, r) for r in conn.execute(q.where(mc.c.person_id.in_(part))))
    return out


def _latest_for_households(conn: Connection, t, key, order, start, household_ids) -> dict[tuple, Any]:
    """{(household id, key): latest recorded row} of version table ``t`` for these households only — the window of
    the wide read over just their records (the household is part of the window's key, so whole keys are selected
    and the table's household index serves the filter)."""
    out: dict[tuple, Any] = {}
    for part in _chunked(household_ids):
        q = _latest(t, [t.c.household_id, key], order, start, None, None, where=t.c.household_id.in_(part))
        out.update(((r.household_id, getattr(r, key.name)), r) for r in conn.execute(q))
    return out


def current_income_by_household(conn: Connection, household_ids) -> dict[tuple[int, str], Any]:
    """{(household id, period): row of :func:`current_income` (as known now, any date)} for these households
    (``ix_income_record_hh_period`` serves the filter)."""
    ir = IncomeRecord.__table__
    return _latest_for_households(conn, ir, ir.c.period, [ir.c.recorded_at, ir.c.id], ir.c.period_start,
                                  household_ids)


def guarantees_by_household_date(conn: Connection, household_ids) -> dict[tuple[int, date], Any]:
    """{(household id, status date): latest recorded status row} for these households (every status date, not
    only the latest — what a roster compares a re-delivered 三保障 row with)."""
    gs = GuaranteeStatus.__table__
    return _latest_for_households(conn, gs, gs.c.status_date, [gs.c.recorded_at, gs.c.id], gs.c.status_date,
                                  household_ids)


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
    mv = MemberVersion.__table__
    p = Person.__table__
    hc, mc = HouseholdCurrent.__table__, MemberCurrent.__table__
    fast = known_at is None and (on is None or (conn.execute(select(hc.c.valid_from).where(
        hc.c.household_id == hid)).scalar() or date.max) <= on)
    if fast:  # the household's latest version is its answer (household_current, fangpin.registry.current)
        row = conn.execute(select(Household.hh_no, hv, literal(1).label("rn")).join(hc, hc.c.version_id == hv.c.id)
                           .join(Household, Household.id == hc.c.household_id)
                           .where(hc.c.household_id == hid)).mappings().first()
    else:
        hsub = _latest(hv, [hv.c.household_id], [hv.c.valid_from, hv.c.recorded_at, hv.c.id], hv.c.valid_from, on,
                       known_at, where=hv.c.household_id == hid).subquery()
        row = conn.execute(select(Household.hh_no, hsub).join(Household, Household.id == hsub.c.household_id)
                           ).mappings().first()
    if row is None:
        return None
    # only the persons ever recorded in this household (indexed), not a window over every member version
    ever = select(mv.c.person_id).where(mv.c.household_id == hid)
    if known_at is None and on is None:  # current members: member_current rows pointing at this household
        mq = (select(p.c.id_number_enc, p.c.id_number_bidx, mv, literal(1).label("rn")).select_from(mc)
              .join(mv, mv.c.id == mc.c.version_id).join(p, p.c.id == mc.c.person_id)
              .where(mc.c.household_id == hid, mc.c.active.is_(True))).subquery()
    else:
        sub = _latest(mv, [mv.c.person_id], [mv.c.valid_from, mv.c.recorded_at, mv.c.id], mv.c.valid_from, on,
                      known_at, where=mv.c.person_id.in_(ever)).subquery()
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
