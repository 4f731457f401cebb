"""Alembic environment for fangpin (online mode, engine passed in by fangpin.db.upgrade).

Every ``upgrade``/``downgrade`` run is ONE transaction: either all its migrations and the new ``alembic_version``
land, or the database stays exactly at the revision it had before (nothing half-migrated).

PostgreSQL has transactional DDL, so ``engine.begin()`` is enough. SQLite needs two things (see
:func:`_run_sqlite`): the driver must not autocommit DDL, and foreign-key enforcement must be off while batch mode
rebuilds tables that other tables reference.
"""
from alembic import context
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event

from fangpin.issues import FangpinValueError, issue
from fangpin.registry.models import Base
import fangpin.exchange.models  # noqa: F401  (feed tables share Base.metadata: FEEDS.md §B)
import fangpin.cases.models  # noqa: F401  (case/assistance tables share Base.metadata: POLICY.md §5, §8, §9)
import fangpin.alerts.models  # noqa: F401  (alerts and monitoring runs)
import fangpin.auth.models  # noqa: F401  (web accounts)
import fangpin.jobs.models  # noqa: F401  (background jobs)
import fangpin.programmes.models  # noqa: F401  (public-welfare jobs, project assets, resettlement sites)
import fangpin.security.models  # noqa: F401  (hash-chained audit log)
import fangpin.auth.throttle  # noqa: F401  (login lockout counters)
import fangpin.auth.sessions  # noqa: F401  (server-side login sessions)

config = context.config
target_metadata = Base.metadata

# How many foreign_key_check rows the error message names (the count is always complete).
_FK_REPORT = 10


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # the caller's transaction spans the whole run (both dialects now have transactional DDL)
        transactional_ddl=True,
    )
    context.run_migrations()


def _foreign_key_violations(connection) -> list[tuple]:
    """``PRAGMA foreign_key_check`` rows: (table, rowid, parent table, fk index)."""
    return [tuple(r) for r in connection.exec_driver_sql("PRAGMA foreign_key_check").all()]


def _fk_error(bad: list[tuple], start: str | None) -> FangpinValueError:
    counts: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fkid in bad:
        counts[(table, parent)] = counts.get((table, parent), 0) + 1
    pairs = sorted(counts.items(), key=lambda kv: -kv[1])[:_FK_REPORT]
    what = "; ".join(f"{t} → {p}: {n}" for (t, p), n in pairs)
    at = start or "empty"
    return FangpinValueError(issue(
        "MIGRATION_FOREIGN_KEYS",
        f"数据库升级已撤销：升级后有 {len(bad)} 行的外键指向不存在的记录（{what}）；数据库仍停留在版本 {at}，未做任何改动。"
        "请先修正这些行再升级。",
        f"the database upgrade was rolled back: afterwards {len(bad)} row(s) would have foreign keys pointing at "
        f"missing rows ({what}); the database is unchanged at revision {at}. Fix those rows, then upgrade again.",
    ))


def _run_sqlite(engine) -> None:
    """Run the migrations on SQLite as one transaction, following SQLite's procedure for table rebuilds.

    Alembic's batch mode (``op.batch_alter_table``) changes a table by creating ``_alembic_tmp_<t>``, copying the
    rows, ``DROP TABLE <t>`` and renaming the copy. That is the procedure of
    https://www.sqlite.org/lang_altertable.html "Making Other Kinds Of Table Schema Changes", which also requires:

    1. ``PRAGMA foreign_keys=OFF`` first — with enforcement on, ``DROP TABLE person`` runs an implicit
       ``DELETE FROM person`` that fails on the rows of member_version etc. (or CASCADEs them away). The pragma is
       a no-op inside a transaction, so it is set before BEGIN;
    2. BEGIN; all the schema changes; 3. ``PRAGMA foreign_key_check`` must return no rows, else roll back;
    4. COMMIT; 5. foreign keys back on.

    Transactional DDL: in its default ("legacy") mode the sqlite3 driver only emits BEGIN before INSERT/UPDATE/
    DELETE, so a CREATE TABLE issued before the first row write autocommits and survives a later failure. As the
    SQLAlchemy SQLite dialect docs describe ("Serializable isolation / Savepoints / Transactional DDL", now
    "Enabling Non-Legacy SQLite Transactional Modes"), the driver's ``isolation_level`` is set to ``None`` and we
    emit BEGIN ourselves from the connection's ``begin`` event. BEGIN IMMEDIATE takes the write lock up front
    (honouring ``busy_timeout``), so no other writer slips in between reading the schema and changing it; the
    current revision is read inside that transaction, so a second upgrader that waited for the lock finds the work
    done instead of repeating it.

    Only this migration connection is switched; it is restored (``isolation_level`` and ``foreign_keys``) before it
    goes back to the pool, so the application's connections keep their usual settings (fangpin.db.make_engine).
    """
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection  # the pooled sqlite3 connection; no transaction yet
        legacy_isolation = raw.isolation_level
        fk_before = raw.execute("PRAGMA foreign_keys").fetchone()[0]
        restored = False
        try:
            raw.isolation_level = None  # the driver stops emitting (and skipping) BEGIN; we own the transaction
            raw.execute("PRAGMA foreign_keys=OFF")  # step 1: before BEGIN, where it takes effect
            event.listen(connection, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            with connection.begin():  # step 2: BEGIN IMMEDIATE
                start = MigrationContext.configure(connection).get_current_revision()
                _configure_and_run(connection)
                bad = _foreign_key_violations(connection)  # step 3
                if bad:
                    raise _fk_error(bad, start)  # leaving the block rolls everything back
            # step 4: COMMIT happened when the block closed
            raw.execute(f"PRAGMA foreign_keys={'ON' if fk_before else 'OFF'}")  # step 5
            raw.isolation_level = legacy_isolation
            restored = True
        finally:
            if not restored:
                try:
                    if raw.in_transaction:
                        raw.rollback()
                    raw.execute(f"PRAGMA foreign_keys={'ON' if fk_before else 'OFF'}")
                    raw.isolation_level = legacy_isolation
                except Exception:  # noqa: BLE001 - a connection we cannot restore must not be reused
                    connection.invalidate()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    if engine.dialect.name == "sqlite":
        _run_sqlite(engine)
        return
    with engine.begin() as connection:  # PostgreSQL: DDL is transactional already
        _configure_and_run(connection)


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("fangpin runs migrations online only")
run_migrations_online()
