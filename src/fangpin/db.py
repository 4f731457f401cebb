"""Engine creation, schema migration and fast bulk loading for SQLite and PostgreSQL.

The system of record is SQLAlchemy 2 over a SQLite file (default) or PostgreSQL (production). Schema
changes go through Alembic migrations kept in ``fangpin/migrations``; ``upgrade()`` applies them.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from fangpin.config import database_url


def normalise_url(url: str) -> str:
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str | None = None, **kw: Any) -> Engine:
    """An engine for ``url`` (default: FANGPIN_DATABASE_URL or the local SQLite file).

    SQLite transaction mode (a deliberate choice): application connections keep the sqlite3 driver's default
    ("legacy") mode, in which BEGIN is emitted lazily before the first INSERT/UPDATE/DELETE. The application's write
    paths read first and write second inside one ``engine.begin()`` (job de-duplication, case steps, imports); with
    the lazy BEGIN the reads run outside the write transaction and the write then waits for the lock under
    ``busy_timeout``. The alternative the SQLAlchemy SQLite docs describe (``isolation_level=None`` + our own BEGIN
    from a ``begin`` event) was measured against that pattern (a read, another connection commits, then the write):
    with a deferred BEGIN the write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which
    ``busy_timeout`` cannot wait out); with BEGIN IMMEDIATE every read-only ``engine.connect()`` takes the write
    lock, so web reads queue behind a long import and a read connection held open while the same thread writes
    deadlocks until the timeout. The application issues no DDL at run time, so what legacy mode breaks — DDL
    outside the transaction — matters only to migrations, and ``migrations/env.py`` switches its one connection to
    transactional DDL (BEGIN IMMEDIATE) for the run and restores it afterwards.

    What legacy mode also breaks is a SAVEPOINT opened before the first write: SQLite then starts the transaction
    with the savepoint, and releasing it COMMITS, so a later rollback of the enclosing ``engine.begin()`` keeps the
    savepoint's rows. ``_sqlite_savepoint`` emits a (deferred) BEGIN first, so ``begin_nested()`` nests inside the
    enclosing transaction; the lock is still taken at the first write, as before.
    """
    url = normalise_url(database_url(url))
    if url.startswith("sqlite"):
        engine = create_engine(url, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-131072")  # 128 MiB page cache: bulk loads and as-of reads
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _sqlite_savepoint(conn, _name):
            raw = conn.connection.dbapi_connection
            if raw.isolation_level is not None and not raw.in_transaction:  # legacy mode, nothing begun yet
                conn.exec_driver_sql("BEGIN")  # the savepoint nests in the enclosing transaction (see docstring)

        return engine
    return create_engine(url, pool_pre_ping=True, **kw)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@lru_cache(maxsize=1)
def _alembic_script_location() -> str:
    return str(resources.files("fangpin") / "migrations")


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _alembic_script_location())
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


@lru_cache(maxsize=1)
def _script_heads() -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", _alembic_script_location())
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent; the run is one transaction: migrations/env.py).

    Every writing command calls this. A database already at head is left alone after a plain read: on SQLite the
    migration run takes the write lock (BEGIN IMMEDIATE), which a no-op must not wait for while an import writes.
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    if revision == "head":
        with engine.connect() as conn:
            if set(MigrationContext.configure(conn).get_current_heads()) == _script_heads():
                return
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def bulk_insert(conn, table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows fast inside the caller's transaction.

    PostgreSQL uses COPY (psycopg 3); SQLite uses the DB-API ``executemany``. Rows are tuples in
    ``columns`` order. Returns the number of rows written.
    """
    dbapi = conn.connection.dbapi_connection
    name = table.name
    n = 0
    if conn.dialect.name == "postgresql":
        cols = ", ".join(columns)
        with dbapi.cursor() as cur:
            with cur.copy(f"COPY {name} ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
                    n += 1
        return n
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({placeholders})"
    cur = dbapi.cursor()
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            cur.executemany(sql, batch)
            n += len(batch)
            batch.clear()
    if batch:
        cur.executemany(sql, batch)
        n += len(batch)
    cur.close()
    return n


def reset_sequence(conn, table, column: str = "id") -> None:
    """After inserting explicit ids on PostgreSQL, move the sequence past the maximum."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
            f"COALESCE((SELECT MAX({column}) FROM {table.name}), 0) + 1, false)"
        )
    )


def next_id(conn, table, column: str = "id") -> int:
    return int(conn.execute(text(f"SELECT COALESCE(MAX({column}), 0) + 1 FROM {table.name}")).scalar_one())
