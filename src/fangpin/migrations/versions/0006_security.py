"""security: encrypt ID numbers and phones at rest (+ blind indexes), seal feed payloads, hash-chained audit log

Existing databases upgrade in place: the plaintext columns are read batch-wise, encrypted with the active data
key (fangpin.security.crypto: FANGPIN_DATA_KEY or the key file, created on first use), written to the new
columns, and then dropped. The downgrade decrypts back (needs the same key).

Revision ID: 0006
Revises: 0005
"""
import json

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

BATCH = 20_000

_PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (%% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW
  EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT
  EXECUTE FUNCTION audit_log_append_only();
"""
_SQLITE_GUARD = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (DELETE refused)'); END",
]


def _convert(conn, table, reads, writes, fn):
    """Batch-wise: SELECT id + ``reads`` for rows with any of them set, UPDATE ``writes`` = fn(values)."""
    t = sa.table(table, sa.column('id'), *[sa.column(c) for c in reads + writes])
    last = 0
    cond = sa.or_(*[t.c[c].isnot(None) for c in reads])
    upd = t.update().where(t.c.id == sa.bindparam('_id')).values({w: sa.bindparam('_' + w) for w in writes})
    while True:
        rows = conn.execute(sa.select(t.c.id, *[t.c[c] for c in reads]).where(cond, t.c.id > last)
                            .order_by(t.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for r in rows:
            vals = fn(*r[1:])
            params.append({'_id': r[0], **{'_' + w: v for w, v in zip(writes, vals)}})
        conn.execute(upd, params)
        last = rows[-1][0]


def upgrade() -> None:
    from fangpin.security.crypto import PURPOSE_ID, keyring
    from fangpin.security.fields import P_APPLICANT, P_HEAD_ID, P_PAYLOAD, P_PERSON_ID, P_PHONE

    conn = op.get_bind()
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
    if conn.dialect.name == 'postgresql':
        op.execute(_PG_GUARD.replace('%%', '%'))
    else:
        for s in _SQLITE_GUARD:
            op.execute(s)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('id_number_bidx', sa.String(length=32), nullable=True))
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('head_id_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('head_id_bidx', sa.String(length=32), nullable=True))

    kr = keyring() if _has_rows(conn) else None
    if kr is not None:
        _convert(conn, 'person', ['id_number'], ['id_number_enc', 'id_number_bidx'],
                 lambda v: (kr.encrypt(v, P_PERSON_ID), kr.blind(v, PURPOSE_ID)))
        _convert(conn, 'household_version', ['phone', 'head_id_number'], ['phone_enc', 'head_id_enc', 'head_id_bidx'],
                 lambda ph, hid: (kr.encrypt(ph, P_PHONE), kr.encrypt(hid, P_HEAD_ID), kr.blind(hid, PURPOSE_ID)))
        _seal_payloads(conn, kr, P_PAYLOAD)
        # self-applications (农户自主申报): the applicant's ID and phone
        _seal_json(conn, kr, 'case_file', 'applicant', ['id_number', 'phone'], P_APPLICANT, bidx_of='id_number')

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint('uq_person_id_number', type_='unique')
        batch_op.drop_column('id_number')
        batch_op.create_unique_constraint(batch_op.f('uq_person_id_number_bidx'), ['id_number_bidx'])
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.drop_column('phone')
        batch_op.drop_column('head_id_number')
        batch_op.create_index(batch_op.f('ix_household_version_head_id_bidx'), ['head_id_bidx'], unique=False)


def _has_rows(conn) -> bool:
    return any(conn.execute(sa.text(f'SELECT 1 FROM {t} LIMIT 1')).first() is not None
               for t in ('person', 'household_version', 'feed_record', 'case_file'))


def _payload_keys():
    """Sensitive payload keys of every contract (same rule as fangpin.security.fields.sensitive_keys)."""
    from fangpin.exchange.contracts import load_contracts
    from fangpin.security.fields import sensitive_keys

    keys = set()
    for c in load_contracts().values():
        keys |= sensitive_keys(c)
    return keys


def _seal_payloads(conn, kr, purpose) -> None:
    _seal_json(conn, kr, 'feed_record', 'payload', _payload_keys(), purpose)


def _seal_json(conn, kr, table, column, keys, purpose, bidx_of=None) -> None:
    """Encrypt the values of ``keys`` inside a JSON column (rows already sealed are left alone)."""
    t = sa.table(table, sa.column('id'), sa.column(column, sa.JSON()))
    upd = t.update().where(t.c.id == sa.bindparam('_id')).values({column: sa.bindparam('_p', type_=sa.JSON())})
    last = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c[column]).where(t.c.id > last, t.c[column].isnot(None))
                            .order_by(t.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for rid, p in rows:
            p = p if isinstance(p, dict) else json.loads(p or 'null')
            if not isinstance(p, dict):
                continue
            todo = [k for k in keys if p.get(k) not in (None, '')
                    and not (isinstance(p[k], str) and p[k].startswith('v1:'))]
            if todo:
                new = {**p, **{k: kr.encrypt(str(p[k]), purpose) for k in todo}}
                if bidx_of and bidx_of in todo:
                    new[bidx_of + '_bidx'] = kr.blind(str(p[bidx_of]), 'id')
                params.append({'_id': rid, '_p': new})
        if params:
            conn.execute(upd, params)
        last = rows[-1][0]


def downgrade() -> None:
    from fangpin.security.crypto import keyring
    from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE

    conn = op.get_bind()
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_number', sa.String(length=18), nullable=True))
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('head_id_number', sa.String(length=18), nullable=True))
    if _has_rows(conn):
        kr = keyring()
        _convert(conn, 'person', ['id_number_enc'], ['id_number'], lambda v: (kr.decrypt(v, P_PERSON_ID),))
        _convert(conn, 'household_version', ['phone_enc', 'head_id_enc'], ['phone', 'head_id_number'],
                 lambda ph, hid: (kr.decrypt(ph, P_PHONE), kr.decrypt(hid, P_HEAD_ID)))
        # feed payloads stay sealed: fangpin.security.fields.open_payload reads them
    with op.batch_alter_table('household_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_version_head_id_bidx'))
        batch_op.drop_column('head_id_bidx')
        batch_op.drop_column('head_id_enc')
        batch_op.drop_column('phone_enc')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_person_id_number_bidx'), type_='unique')
        batch_op.drop_column('id_number_bidx')
        batch_op.drop_column('id_number_enc')
        batch_op.create_unique_constraint('uq_person_id_number', ['id_number'])
    if conn.dialect.name == 'postgresql':
        op.execute('DROP TABLE audit_log')
        op.execute('DROP FUNCTION IF EXISTS audit_log_append_only()')
    else:
        op.drop_table('audit_log')
