"""The SQLite engine's transaction behaviour (fangpin.db.make_engine docstring): what the application relies on."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from fangpin.db import make_engine


@pytest.fixture
def e(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path}/t.db")
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
    yield eng
    eng.dispose()


def _keys(e) -> list[str]:
    with e.connect() as c:
        return [r[0] for r in c.execute(text("SELECT k FROM t ORDER BY k"))]


def test_read_then_write_survives_a_write_committed_in_between(e):
    """The write paths read, then write, in one engine.begin(): the write must wait for the lock, not fail
    (a BEGIN at the start of the transaction would make this 'database is locked' at once: SQLITE_BUSY_SNAPSHOT)."""
    with e.begin() as c1:
        assert c1.execute(text("SELECT k FROM t WHERE k = 'x'")).first() is None
        with e.begin() as c2:
            c2.execute(text("INSERT INTO t VALUES ('other')"))
        c1.execute(text("INSERT INTO t VALUES ('x')"))
    assert _keys(e) == ["other", "x"]


def test_a_reader_is_not_blocked_by_an_open_write_transaction(e):
    with e.begin() as w:
        w.execute(text("INSERT INTO t VALUES ('pending')"))
        with e.connect() as r:  # WAL: readers see the last commit and never wait for the writer
            assert r.execute(text("SELECT COUNT(*) FROM t")).scalar() == 0
    assert _keys(e) == ["pending"]


def test_a_released_savepoint_is_rolled_back_with_its_transaction(e):
    """begin_nested() before the first write (auth.throttle does this) must nest in the enclosing transaction:
    in the driver's legacy mode the SAVEPOINT itself began the transaction and its RELEASE committed it."""
    with pytest.raises(RuntimeError):
        with e.begin() as c:
            c.execute(text("SELECT k FROM t")).all()
            with c.begin_nested():
                c.execute(text("INSERT INTO t VALUES ('a')"))
            c.execute(text("INSERT INTO t VALUES ('b')"))
            raise RuntimeError("the request fails after the savepoint")
    assert _keys(e) == []
    # a savepoint rolled back alone keeps the enclosing transaction's other rows
    with e.begin() as c:
        c.execute(text("INSERT INTO t VALUES ('kept')"))
        sp = c.begin_nested()
        c.execute(text("INSERT INTO t VALUES ('dropped')"))
        sp.rollback()
    assert _keys(e) == ["kept"]
    with e.begin() as c:  # and one opened before any write, committed with its transaction
        with c.begin_nested():
            c.execute(text("INSERT INTO t VALUES ('nested')"))
    assert _keys(e) == ["kept", "nested"]
