"""Shared fixtures: every database test runs on SQLite and on the real PostgreSQL server that
`make test` starts (FANGPIN_TEST_PG_URL). With FANGPIN_REQUIRE_PG=1 a missing server is a failure,
not a skip, so CI can never silently drop the PostgreSQL half."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from fangpin.db import make_engine, upgrade

PG_URL = os.environ.get("FANGPIN_TEST_PG_URL")


def _pg_engine():
    if not PG_URL:
        if os.environ.get("FANGPIN_REQUIRE_PG") == "1":
            pytest.fail("FANGPIN_REQUIRE_PG=1 but FANGPIN_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not available (run `make test`)")
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = "t_" + uuid.uuid4().hex[:12]
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    return admin, name, make_engine(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def engine(request, tmp_path):
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        e = make_engine(f"sqlite:///{tmp_path}/test.db")
        upgrade(e)
        yield e
        e.dispose()
        return
    admin, name, e = _pg_engine()
    upgrade(e)
    yield e
    e.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path}/test.db")
    upgrade(e)
    yield e
    e.dispose()


# Field encryption (docs/SECURITY.md): every test process gets its own random data key unless one is given.
if not os.environ.get("FANGPIN_DATA_KEY"):
    import base64 as _b64

    os.environ["FANGPIN_DATA_KEY"] = _b64.b64encode(os.urandom(32)).decode()
