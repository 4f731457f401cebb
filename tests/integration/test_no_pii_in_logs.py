"""No PII in logs (issue 7 item 1; STYLE/brief: IDs and phones never appear in logs): a roster import, a department
feed import with bad rows, a monitoring run and web requests (including a failing one) run with EVERY logger at
DEBUG - SQLAlchemy's statement and row logging included - and no ID number or phone of the fixture data may appear
in any log record, in any form (message, arguments, exception text)."""
from __future__ import annotations

import logging
from datetime import date

from test_roster_import import IDS, _roster

from fangpin.exchange.roster import import_roster
from fangpin.security.logs import mask_pii

PHONES = ["13800001111", "13900002222"]


def _secrets() -> list[str]:
    return [str(i) for i in IDS] + [str(i).lower() for i in IDS] + PHONES


def _scan(caplog) -> list[str]:
    leaks = []
    for rec in caplog.records:
        text = rec.getMessage() + (rec.exc_text or "") + repr(rec.args)
        leaks += [f"{rec.name}: {s}" for s in _secrets() if s in text]
    return leaks


def test_import_monitor_and_web_log_no_id_or_phone(engine, tmp_path, caplog):
    from fangpin.alerts.service import monitor

    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "alembic", "uvicorn", "httpx", "fastapi", "fangpin"):
        caplog.set_level(logging.DEBUG, logger=name)
    logging.getLogger("sqlalchemy.engine.Engine").setLevel(logging.DEBUG)
    rep = import_roster(engine, _roster(tmp_path / "r"), valid_from=date(2024, 3, 31))
    assert rep.status == "committed"
    # a rejected roster: the per-row report and any logging of it must stay masked
    bad = import_roster(engine, _roster(tmp_path / "bad", members=[
        ["H001", "张三", IDS[0][:17] + "0", "男", "1970-01-01", "户主", "汉族", "小学", "非在校生", "健康", "普通劳动力", 0,
         "是", "是", ""]]))
    assert bad.status == "rejected"
    monitor(engine, date(2024, 12, 31))
    logging.getLogger("fangpin.test").warning("a careless message with %s and %s", IDS[1], PHONES[0])
    try:
        raise ValueError(f"bad id {IDS[2]}")
    except ValueError:
        logging.getLogger("fangpin.test").exception("failed for %s", IDS[3])
    assert caplog.records, "nothing was logged: the scan would prove nothing"
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert not _scan(caplog), _scan(caplog)[:5]


def test_web_requests_log_no_id_or_phone(caplog, tmp_path):
    """The web adapter (with the uvicorn/httpx loggers at DEBUG) over a database holding the fixture roster."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from fangpin.auth import seed_demo_users
    from fangpin.db import make_engine, upgrade
    from fangpin.registry.models import HouseholdVersion
    from fangpin.web.app import create_app

    e = make_engine(f"sqlite:///{tmp_path}/w.db")
    upgrade(e)
    import_roster(e, _roster(tmp_path / "r"), valid_from=date(2024, 3, 31))
    with e.begin() as c:
        seed_demo_users(c, c.execute(select(HouseholdVersion.region_code)).scalar())
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "uvicorn", "httpx", "fastapi"):
        caplog.set_level(logging.DEBUG, logger=name)
    app = create_app(engine=e, secret_key="k")
    with TestClient(app) as client:
        token = client.post("/api/session", json={"username": "demo_county", "password": "fangpin-demo"}).json()[
            "csrf_token"]
        for hh in ("H001", "H002"):
            assert client.get(f"/api/households/{hh}").status_code == 200
            assert client.get(f"/households/{hh}").status_code == 200
            r = client.post(f"/api/households/{hh}/reveal", json={"field": "head_id", "reason": "核对"},
                            headers={"X-CSRF-Token": token})
            assert r.json()["value"] in IDS  # revealed to the user - but never logged
        client.post("/api/self-applications", json={"name": "张三", "id_number": IDS[4], "phone": PHONES[1],
                                                    "household_size": 2, "reasons": ["因病"], "consent": True,
                                                    "authorisation": True, "expected_income": 1000,
                                                    "village_code": "530521101201"})
    e.dispose()
    assert caplog.records
    assert not _scan(caplog), _scan(caplog)[:5]


def test_mask_pii_keeps_the_shape():
    assert mask_pii(f"id {IDS[0]}") == f"id {IDS[0][:3]}{'*' * 13}{IDS[0][-2:]}"


def test_masking_keeps_the_record_shape_so_access_logs_still_format():
    """uvicorn's access formatter unpacks ``record.args`` (client, method, path, version, status): the PII filter must
    leave a clean record alone and mask a dirty one argument by argument (a regression: every access line failed to
    format — 'cannot unpack non-iterable NoneType' — once the filter was installed)."""
    from uvicorn.logging import AccessFormatter

    from fangpin.security.logs import install

    install()
    fmt = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False)
    log = logging.getLogger("uvicorn.access")
    clean = log.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                           ("127.0.0.1:5000", "GET", "/api/households?page=2", "1.1", 200), None)
    assert isinstance(clean.args, tuple)
    assert fmt.format(clean) == '127.0.0.1:5000 - "GET /api/households?page=2 HTTP/1.1" 200 OK'
    dirty = log.makeRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                           ("127.0.0.1:5000", "GET", f"/api/lookup?id={IDS[0]}&tel={PHONES[0]}", "1.1", 200), None)
    line = fmt.format(dirty)
    assert isinstance(dirty.args, tuple) and line.endswith(" 200 OK")
    assert all(s not in line for s in _secrets()) and "/api/lookup?id=" in line
