"""Current-state registry tables: one row per household (``household_current``) and per person (``member_current``)
pointing at its latest version, kept up to date by the database itself.

Why: "the latest version per household/person" is a window over every version row. On a county of a million people
that costs seconds per read, and every web page, case step and export asks it (docs/RELIABILITY.md §5, load test).
The answer only changes when a version is appended (versions are append-only, registry/models.py), so the database
maintains it at insert time, in the same transaction as the insert:

* PostgreSQL: one statement-level ``AFTER INSERT`` trigger per version table with a transition table — a bulk
  insert of 100,000 versions does one set-based upsert, not 100,000;
* SQLite: a row-level ``AFTER INSERT`` trigger (in-process, cheap).

"Latest" is the same order the window uses: the largest (valid_from, recorded_at, id). The tables keep only keys and
the columns reads filter on (region, active, dates); every other attribute is read from the version row by its
primary key, so re-encryption during key rotation (which rewrites ciphertexts in the version rows) never leaves a
stale copy here.

:func:`rebuild` recomputes both tables from the version tables (migration 0012 backfill, ``fangpin registry
rebuild-current``); :func:`check` compares them with the window definition (tests and the rebuild command).
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

_PG = """
CREATE OR REPLACE FUNCTION fangpin_household_current() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO household_current (household_id, version_id, hh_no, region_code, active, valid_from, recorded_at)
  SELECT DISTINCT ON (n.household_id) n.household_id, n.id, h.hh_no, n.region_code, n.active, n.valid_from,
         n.recorded_at
  FROM fangpin_new_rows n JOIN household h ON h.id = n.household_id
  ORDER BY n.household_id, n.valid_from DESC, n.recorded_at DESC, n.id DESC
  ON CONFLICT (household_id) DO UPDATE SET version_id = EXCLUDED.version_id, region_code = EXCLUDED.region_code,
    active = EXCLUDED.active, valid_from = EXCLUDED.valid_from, recorded_at = EXCLUDED.recorded_at
  WHERE (household_current.valid_from, household_current.recorded_at, household_current.version_id)
      < (EXCLUDED.valid_from, EXCLUDED.recorded_at, EXCLUDED.version_id);
  RETURN NULL;
END $$;
CREATE TRIGGER household_version_current AFTER INSERT ON household_version
  REFERENCING NEW TABLE AS fangpin_new_rows FOR EACH STATEMENT EXECUTE FUNCTION fangpin_household_current();

CREATE OR REPLACE FUNCTION fangpin_member_current() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO member_current (person_id, version_id, household_id, active, valid_from, recorded_at)
  SELECT DISTINCT ON (n.person_id) n.person_id, n.id, n.household_id, n.active, n.valid_from, n.recorded_at
  FROM fangpin_new_rows n
  ORDER BY n.person_id, n.valid_from DESC, n.recorded_at DESC, n.id DESC
  ON CONFLICT (person_id) DO UPDATE SET version_id = EXCLUDED.version_id, household_id = EXCLUDED.household_id,
    active = EXCLUDED.active, valid_from = EXCLUDED.valid_from, recorded_at = EXCLUDED.recorded_at
  WHERE (member_current.valid_from, member_current.recorded_at, member_current.version_id)
      < (EXCLUDED.valid_from, EXCLUDED.recorded_at, EXCLUDED.version_id);
  RETURN NULL;
END $$;
CREATE TRIGGER member_version_current AFTER INSERT ON member_version
  REFERENCING NEW TABLE AS fangpin_new_rows FOR EACH STATEMENT EXECUTE FUNCTION fangpin_member_current();
"""

_PG_DROP = """
DROP TRIGGER IF EXISTS household_version_current ON household_version;
DROP TRIGGER IF EXISTS member_version_current ON member_version;
DROP FUNCTION IF EXISTS fangpin_household_current();
DROP FUNCTION IF EXISTS fangpin_member_current();
"""

_SQLITE = [
    """CREATE TRIGGER household_version_current AFTER INSERT ON household_version BEGIN
  INSERT INTO household_current (household_id, version_id, hh_no, region_code, active, valid_from, recorded_at)
  VALUES (NEW.household_id, NEW.id, (SELECT hh_no FROM household WHERE id = NEW.household_id), NEW.region_code,
          NEW.active, NEW.valid_from, NEW.recorded_at)
  ON CONFLICT (household_id) DO UPDATE SET version_id = excluded.version_id, region_code = excluded.region_code,
    active = excluded.active, valid_from = excluded.valid_from, recorded_at = excluded.recorded_at
  WHERE (household_current.valid_from, household_current.recorded_at, household_current.version_id)
      < (excluded.valid_from, excluded.recorded_at, excluded.version_id);
END""",
    """CREATE TRIGGER member_version_current AFTER INSERT ON member_version BEGIN
  INSERT INTO member_current (person_id, version_id, household_id, active, valid_from, recorded_at)
  VALUES (NEW.person_id, NEW.id, NEW.household_id, NEW.active, NEW.valid_from, NEW.recorded_at)
  ON CONFLICT (person_id) DO UPDATE SET version_id = excluded.version_id, household_id = excluded.household_id,
    active = excluded.active, valid_from = excluded.valid_from, recorded_at = excluded.recorded_at
  WHERE (member_current.valid_from, member_current.recorded_at, member_current.version_id)
      < (excluded.valid_from, excluded.recorded_at, excluded.version_id);
END""",
]
_SQLITE_DROP = ["DROP TRIGGER IF EXISTS household_version_current", "DROP TRIGGER IF EXISTS member_version_current"]

_REBUILD = [
    "DELETE FROM household_current",
    """INSERT INTO household_current (household_id, version_id, hh_no, region_code, active, valid_from, recorded_at)
SELECT x.household_id, x.id, h.hh_no, x.region_code, x.active, x.valid_from, x.recorded_at FROM (
  SELECT household_id, id, region_code, active, valid_from, recorded_at,
         row_number() OVER (PARTITION BY household_id ORDER BY valid_from DESC, recorded_at DESC, id DESC) AS rn
  FROM household_version) x JOIN household h ON h.id = x.household_id WHERE x.rn = 1""",
    "DELETE FROM member_current",
    """INSERT INTO member_current (person_id, version_id, household_id, active, valid_from, recorded_at)
SELECT person_id, id, household_id, active, valid_from, recorded_at FROM (
  SELECT person_id, id, household_id, active, valid_from, recorded_at,
         row_number() OVER (PARTITION BY person_id ORDER BY valid_from DESC, recorded_at DESC, id DESC) AS rn
  FROM member_version) x WHERE x.rn = 1""",
]

_CHECK = {
    "household_current": """
SELECT count(*) FROM (
  SELECT household_id, id FROM (
    SELECT household_id, id, row_number() OVER (PARTITION BY household_id
                                                ORDER BY valid_from DESC, recorded_at DESC, id DESC) AS rn
    FROM household_version) w WHERE rn = 1) w
FULL OUTER JOIN household_current c ON c.household_id = w.household_id AND c.version_id = w.id
WHERE c.household_id IS NULL OR w.household_id IS NULL""",
    "member_current": """
SELECT count(*) FROM (
  SELECT person_id, id FROM (
    SELECT person_id, id, row_number() OVER (PARTITION BY person_id
                                             ORDER BY valid_from DESC, recorded_at DESC, id DESC) AS rn
    FROM member_version) w WHERE rn = 1) w
FULL OUTER JOIN member_current c ON c.person_id = w.person_id AND c.version_id = w.id
WHERE c.person_id IS NULL OR w.person_id IS NULL""",
}


def install_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG)
    else:
        for s in _SQLITE:
            conn.exec_driver_sql(s)


def drop_triggers(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_DROP)
    else:
        for s in _SQLITE_DROP:
            conn.exec_driver_sql(s)


def rebuild(conn: Connection) -> dict[str, int]:
    """Recompute both current tables from the version tables (inside the caller's transaction)."""
    for s in _REBUILD:
        conn.execute(text(s))
    return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in _CHECK}


def check(conn: Connection) -> dict[str, int]:
    """Rows where a current table disagrees with the window definition (0 and 0 when consistent)."""
    return {t: int(conn.execute(text(q)).scalar_one()) for t, q in _CHECK.items()}
