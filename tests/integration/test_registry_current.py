"""Current-state registry tables (fangpin.registry.current, migration 0012): the insert triggers keep
household_current / member_current equal to the window definition ("latest version per entity", registry/models.py
history model), and every read that uses them gives the same answer as the window — on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, text

from fangpin.db import alembic_config
from fangpin.registry import current
from fangpin.registry.models import Household, HouseholdVersion, MemberVersion
from fangpin.registry.service import (
    FAR_FUTURE,
    current_household_keys,
    current_households,
    current_member_keys,
    current_members,
    household_as_of,
)
from fangpin.synth.run import SynthParams, run


def _rows(conn, q, cols):
    sq = q.subquery()
    return sorted(tuple(r) for r in conn.execute(select(*[sq.c[c] for c in cols])).all())


def _window(fn, on):
    """The same read forced through the window path (a known_at far in the future knows everything)."""
    return fn(on, FAR_FUTURE)


def _append_versions(conn, hh_ids):
    """Back-dated corrections, a future-dated move and a same-date correction recorded later."""
    now = datetime(2030, 1, 1)
    base = conn.execute(select(HouseholdVersion).where(HouseholdVersion.household_id.in_(hh_ids))
                        .order_by(HouseholdVersion.id)).mappings().all()
    latest = {}
    for r in base:
        latest[r["household_id"]] = r
    a, b, c = hh_ids[:3]
    rows = []
    for hid, vf, active in ((a, date(2020, 1, 1), False),   # back-dated: must NOT become current
                            (b, date(2031, 6, 1), False),   # future-dated: current, but not "as of today"
                            (c, latest[c]["valid_from"], False)):  # same date, recorded later: wins
        r = dict(latest[hid])
        r.pop("id")
        r.update(valid_from=vf, recorded_at=now, active=active, batch_id=None)
        rows.append(r)
    conn.execute(insert(HouseholdVersion), rows)
    m = conn.execute(select(MemberVersion).where(MemberVersion.household_id == a).order_by(MemberVersion.id)
                     ).mappings().first()
    r = dict(m)
    r.pop("id")
    r.update(valid_from=date(2031, 1, 1), recorded_at=now, household_id=b, batch_id=None)  # moves, future-dated
    conn.execute(insert(MemberVersion), [r])
    return a, b, c


def test_triggers_keep_current_tables_equal_to_the_window_and_reads_agree(engine):
    run(engine, SynthParams(households=120, months=6, seed=5), None)
    with engine.begin() as conn:
        assert current.check(conn) == {"household_current": 0, "member_current": 0}
        hh_ids = [r for r in conn.execute(select(Household.id).order_by(Household.id).limit(3)).scalars()]
        a, b, c = _append_versions(conn, hh_ids)
    with engine.connect() as conn:
        assert current.check(conn) == {"household_current": 0, "member_current": 0}
        cur = {r.household_id: r for r in conn.execute(text(
            "SELECT household_id, active, valid_from FROM household_current")).all()}
        assert cur[a].active  # the back-dated inactive version did not replace the latest one
        assert not cur[b].active and str(cur[b].valid_from).startswith("2031")
        assert not cur[c].active
        for on in (None, date(2023, 3, 31), date.today(), date(2031, 12, 31)):
            hcols = ["household_id", "hh_no", "region_code", "active", "valid_from", "id"]
            assert _rows(conn, current_households(on), hcols) == _rows(conn, _window(current_households, on), hcols)
            mcols = ["person_id", "household_id", "active", "valid_from", "id", "name"]
            assert _rows(conn, current_members(on), mcols) == _rows(conn, _window(current_members, on), mcols)
            keys = ["household_id", "hh_no", "region_code", "active"]
            for cc in (None, conn):
                assert _rows(conn, current_household_keys(on, cc), keys) == \
                    _rows(conn, _window(current_households, on), keys)
                assert _rows(conn, current_member_keys(on, cc), ["person_id", "household_id", "active"]) == \
                    _rows(conn, _window(current_members, on), ["person_id", "household_id", "active"])
        hh_nos = conn.execute(select(Household.hh_no).where(Household.id.in_([a, b, c]))).scalars().all()
        for hh_no in hh_nos + conn.execute(select(Household.hh_no).limit(5)).scalars().all():
            for on in (None, date.today(), date(2023, 3, 31)):
                fast, slow = household_as_of(conn, hh_no, on), household_as_of(conn, hh_no, on, FAR_FUTURE)
                assert (fast is None) == (slow is None)
                if fast is not None:
                    assert fast.attributes == slow.attributes
                    assert fast.members == slow.members
                    assert fast.guarantees == slow.guarantees


def test_rebuild_and_migration_backfill_give_the_same_tables(engine):
    from alembic import command

    run(engine, SynthParams(households=60, months=4, seed=9), None)
    with engine.connect() as conn:
        before = sorted(conn.execute(text("SELECT * FROM household_current")).all())
    with engine.begin() as conn:
        n = current.rebuild(conn)
        assert n["household_current"] == 60
        assert current.check(conn) == {"household_current": 0, "member_current": 0}
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT * FROM household_current")).all()) == before
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0010")
    command.upgrade(cfg, "head")  # the 0012 backfill
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT * FROM household_current")).all()) == before
        assert current.check(conn) == {"household_current": 0, "member_current": 0}
    with engine.begin() as conn:  # the triggers are back after the upgrade
        hid = conn.execute(select(Household.id).limit(1)).scalar()
        r = dict(conn.execute(select(HouseholdVersion).where(HouseholdVersion.household_id == hid)
                              .order_by(HouseholdVersion.id.desc())).mappings().first())
        r.pop("id")
        r.update(valid_from=r["valid_from"] + timedelta(days=1), recorded_at=datetime(2030, 1, 1), active=False)
        conn.execute(insert(HouseholdVersion), [r])
    with engine.connect() as conn:
        assert current.check(conn) == {"household_current": 0, "member_current": 0}
        assert conn.execute(text(f"SELECT active FROM household_current WHERE household_id = {hid}")
                            ).scalar() in (False, 0)


def test_a_failed_insert_leaves_the_current_tables_untouched(engine):
    """The trigger runs in the inserting transaction: a rolled-back import leaves no trace."""
    run(engine, SynthParams(households=30, months=3, seed=2), None)
    with engine.connect() as conn:
        before = sorted(conn.execute(text("SELECT * FROM household_current")).all())
    hid = None
    try:
        with engine.begin() as conn:
            hid = conn.execute(select(Household.id).limit(1)).scalar()
            r = dict(conn.execute(select(HouseholdVersion).where(HouseholdVersion.household_id == hid)).mappings()
                     .first())
            r.pop("id")
            r.update(valid_from=date(2029, 1, 1), recorded_at=datetime(2030, 1, 1), active=False)
            conn.execute(insert(HouseholdVersion), [r])
            raise RuntimeError("import failed after the insert")
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT * FROM household_current")).all()) == before
