"""Columnar snapshot of the registry (Arrow) for batch work: linkage, monitoring, reports.

``persons(conn, on)`` returns one row per person whose current membership (as of ``on``) is active, with the
identity columns linkage needs and the household attributes monitoring needs. Sensitive columns (ID number,
phone, health, disability) are in the snapshot because batch jobs need them; never log or export it as is.
ID numbers and phones are encrypted at rest and decrypted here, in memory, only for the columns asked for
(``reveal``); the others are null.
"""
from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from fangpin.registry.service import current_households, current_members

PERSON_SCHEMA = pa.schema([
    ("person_id", pa.int64()), ("household_id", pa.int64()), ("hh_no", pa.string()), ("id_number", pa.string()),
    ("name", pa.string()), ("sex", pa.string()), ("birth_date", pa.date32()), ("village_code", pa.string()),
    ("phone", pa.string()), ("relation", pa.string()), ("hh_type", pa.string()), ("health", pa.string()),
    ("labour_skill", pa.string()), ("disability_grade", pa.int64()), ("migrant_months", pa.int64()),
    ("schooling", pa.string()), ("med_insured", pa.bool_()),
])


def persons(conn: Connection, on: date | None = None, known_at: datetime | None = None,
            chunk: int = 100_000, reveal: tuple[str, ...] = ("id_number", "phone")) -> pa.Table:
    from fangpin.security.fields import P_PERSON_ID, P_PHONE, decrypt_column

    h = current_households(on, known_at).subquery()
    m = current_members(on, known_at).subquery()
    q = (select(m.c.person_id, m.c.household_id, h.c.hh_no, m.c.id_number_enc, m.c.name, m.c.sex, m.c.birth_date,
                h.c.region_code, h.c.phone_enc, m.c.relation, h.c.hh_type, m.c.health, m.c.labour_skill,
                m.c.disability_grade, m.c.migrant_months, m.c.schooling, m.c.med_insured)
         .join(h, and_(h.c.household_id == m.c.household_id, h.c.active.is_(True)))
         .where(m.c.active.is_(True)).order_by(m.c.person_id))
    batches = []
    res = conn.execution_options(yield_per=chunk).execute(q)
    for part in res.partitions(chunk):
        cols = list(zip(*part))
        cols[3] = decrypt_column(cols[3], P_PERSON_ID) if "id_number" in reveal else [None] * len(part)
        cols[8] = decrypt_column(cols[8], P_PHONE) if "phone" in reveal else [None] * len(part)
        batches.append(pa.record_batch([pa.array(list(c), type=f.type) for c, f in zip(cols, PERSON_SCHEMA)],
                                       schema=PERSON_SCHEMA))
    if not batches:
        return PERSON_SCHEMA.empty_table()
    return pa.Table.from_batches(batches)
