"""Issue 7 items 1 and 6: encryption at rest with blind indexes and key rotation, the hash-chained audit log and
its tamper detection, backup/restore round trips, and the upgrade of an existing database (migration 0006)."""
from __future__ import annotations

import base64
import json
import os
from datetime import date, datetime

import pytest
from sqlalchemy import insert, select, text

from fangpin.db import make_engine, upgrade
from fangpin.registry.models import Household, HouseholdVersion, MemberVersion, Person
from fangpin.security import audit
from fangpin.security.backup import BackupError, backup, restore, table_checksums
from fangpin.security.crypto import PURPOSE_ID, Keyring, KeyError_, blind_all, keyring, kid_of, reset_keyring
from fangpin.security.fields import P_PERSON_ID, household_values, key_usage, person_values, rotate
from fangpin.security.models import AuditLog

HEAD = "530521198005010017"
WIFE = "53052119820201002X"
PHONE = "13812345678"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _household(conn, hh_no="H1", head=HEAD, wife=WIFE, phone=PHONE):
    rec = datetime(2024, 1, 1)
    hid = conn.execute(insert(Household).values(hh_no=hh_no, created_at=rec).returning(Household.id)).scalar_one()
    conn.execute(text("INSERT INTO region (code, level, name, source) SELECT '530521100001', 5, 'v', 't' "
                      "WHERE NOT EXISTS (SELECT 1 FROM region WHERE code = '530521100001')"))
    for idn, name, sex in ((head, "张三", "男"), (wife, "李四", "女")):
        if idn is None:
            continue
        pid = conn.execute(insert(Person).values(**person_values(idn), created_at=rec).returning(Person.id)).scalar_one()
        conn.execute(insert(MemberVersion).values(person_id=pid, household_id=hid, valid_from=date(2024, 1, 1),
                                                  recorded_at=rec, active=True, name=name, sex=sex,
                                                  birth_date=date(1980, 5, 1)))
    conn.execute(insert(HouseholdVersion).values(household_id=hid, valid_from=date(2024, 1, 1), recorded_at=rec,
                                                 region_code="530521100001", hh_type="脱贫户", relocated=False,
                                                 active=True, **household_values(phone, head)))
    return hid


def _dump_text(engine) -> str:
    """Every value of every table as text: what someone with a copy of the database files sees."""
    out = []
    with engine.connect() as c:
        for t in ("person", "household_version", "member_version", "feed_record", "case_file", "audit_log"):
            out.append(repr(c.execute(text(f"SELECT * FROM {t}")).all()))
    return "\n".join(out)


# -- encryption at rest ---------------------------------------------------------------------------------------------

def test_ids_and_phones_are_ciphertext_at_rest_and_found_by_blind_index(engine):
    with engine.begin() as c:
        _household(c)
    dump = _dump_text(engine)
    assert HEAD not in dump and WIFE not in dump and PHONE not in dump and "13812345678" not in dump
    with engine.connect() as c:
        pid = c.execute(select(Person.id).where(Person.id_number_bidx.in_(blind_all(WIFE, PURPOSE_ID)))).scalar()
        enc = c.execute(select(Person.id_number_enc).where(Person.id == pid)).scalar()
    assert pid is not None and keyring().decrypt(enc, P_PERSON_ID) == WIFE
    # a ciphertext moved to another column (other associated data) does not decrypt
    with pytest.raises(KeyError_) as e:
        keyring().decrypt(enc, "household_version.head_id")
    assert e.value.issue.code == "KEY_BAD_CIPHERTEXT"


def test_ciphertext_formats_keys_and_errors_are_clear():
    a, b = os.urandom(32), os.urandom(32)
    kr = Keyring(kid_of(a), {kid_of(a): a})
    t1, t2 = kr.encrypt(HEAD, "x"), kr.encrypt(HEAD, "x")
    assert t1 != t2 and t1.startswith(f"v1:{kid_of(a)}:")  # random nonce: equal values do not show
    assert kr.blind(HEAD, "id") == kr.blind(HEAD, "id") != kr.blind(HEAD, "phone")
    assert kr.decrypt_many([t1, None, t2], "x") == [HEAD, None, HEAD]
    other = Keyring(kid_of(b), {kid_of(b): b})
    with pytest.raises(KeyError_) as e:
        other.decrypt(t1, "x")
    assert e.value.issue.code == "KEY_UNKNOWN_KID" and kid_of(a) in e.value.issue.en
    both = Keyring(kid_of(b), {kid_of(b): b, kid_of(a): a})
    assert both.decrypt(t1, "x") == HEAD and kr.blind(HEAD, "id") in both.blind_all(HEAD, "id")
    tampered = t1[:-6] + ("A" if t1[-6] != "A" else "B") + t1[-5:]
    with pytest.raises(KeyError_):
        kr.decrypt(tampered, "x")


def test_key_file_is_created_0600_and_a_readable_key_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("FANGPIN_DATA_KEY", raising=False)
    monkeypatch.setenv("FANGPIN_KEY_FILE", str(tmp_path / "k" / "fangpin.keys"))
    reset_keyring()
    try:
        kr = keyring()  # created on first use
        p = tmp_path / "k" / "fangpin.keys"
        assert p.stat().st_mode & 0o777 == 0o600
        assert json.loads(p.read_text())["active"] == kr.active
        p.chmod(0o644)
        reset_keyring()
        with pytest.raises(KeyError_) as e:
            keyring()
        assert e.value.issue.code == "KEY_FILE_MODE"
        monkeypatch.setenv("FANGPIN_REQUIRE_KEY", "1")
        monkeypatch.setenv("FANGPIN_KEY_FILE", str(tmp_path / "none"))
        reset_keyring()
        with pytest.raises(KeyError_) as e:
            keyring()
        assert e.value.issue.code == "KEY_MISSING"
    finally:
        reset_keyring()


def test_key_rotation_reencrypts_everything_is_resumable_and_lookups_work_meanwhile(engine, monkeypatch, tmp_path):
    from fangpin.security.fields import is_sealed, open_file, seal_file, sealed_kid

    old = os.environ["FANGPIN_DATA_KEY"]
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))
    (tmp_path / "landing" / "employment").mkdir(parents=True)
    landed = tmp_path / "landing" / "employment" / "x.csv.enc"
    landed.write_bytes(seal_file(b"a,b\n1,2\n", __import__("hashlib").sha256(b"a,b\n1,2\n").hexdigest()))
    with engine.begin() as c:
        for i in range(7):
            _household(c, f"H{i}", head=f"53052119800501{i:03d}", wife=None, phone=f"1381234{i:04d}")
    new = _key()
    monkeypatch.setenv("FANGPIN_DATA_KEY", f"{new},{old}")  # new key first, old one still readable
    reset_keyring()
    try:
        kr = keyring()
        # interrupted rotation: the second batch fails
        calls = {"n": 0}

        def boom(what, n):
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            rotate(engine, batch=3, progress=boom)
        with engine.connect() as c:
            usage = key_usage(c)
            # some person rows moved to the new key, others not yet - and every ID is still found
            assert usage["person.id_number_enc"].get(kr.active) and len(usage["person.id_number_enc"]) == 2
            for i in range(7):
                idn = f"53052119800501{i:03d}"
                assert c.execute(select(Person.id).where(Person.id_number_bidx.in_(blind_all(idn, PURPOSE_ID)))
                                 ).scalar() is not None
        counts = rotate(engine, batch=3)  # resume
        again = rotate(engine, batch=3)  # nothing left
        assert sum(again.values()) == 0 and counts["household_version.phone_enc"] > 0
        assert counts["landing_files"] == 1 and sealed_kid(landed.read_bytes()) == kr.active
        assert is_sealed(landed.read_bytes()) and open_file(landed.read_bytes()) == b"a,b\n1,2\n"
        with engine.connect() as c:
            usage = key_usage(c)
            assert all(set(v) <= {kr.active} for v in usage.values()), usage
            pid = c.execute(select(Person.id).where(Person.id_number_bidx == kr.blind("53052119800501003",
                                                                                      PURPOSE_ID))).scalar()
            assert pid is not None
        # the old key can go now: data reads with the new key alone
        monkeypatch.setenv("FANGPIN_DATA_KEY", new)
        reset_keyring()
        with engine.connect() as c:
            encs = c.execute(select(Person.id_number_enc)).scalars().all()
        assert sorted(keyring().decrypt_many(encs, P_PERSON_ID)) == [f"53052119800501{i:03d}" for i in range(7)]
    finally:
        monkeypatch.setenv("FANGPIN_DATA_KEY", old)
        reset_keyring()


# -- audit log ------------------------------------------------------------------------------------------------------

def _audit_rows(engine, n=5):
    with engine.begin() as c:
        for i in range(n):
            audit.record(c, f"user:{i}:u{i}", "export.scores", f"file:scores-{i}.csv", {"rows": i})


def _tamper(engine, sql: str):
    """Get around the append-only guard (as a database owner could) and run ``sql``."""
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            c.exec_driver_sql(sql)
            c.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            c.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            c.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
            c.exec_driver_sql(sql)


def test_audit_log_is_append_only(engine):
    _audit_rows(engine, 2)
    for sql in ("UPDATE audit_log SET actor = 'x' WHERE id = 1", "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(Exception) as e:
            with engine.begin() as c:
                c.execute(text(sql))
        assert "append-only" in str(e.value)
    if engine.dialect.name == "postgresql":
        with pytest.raises(Exception):
            with engine.begin() as c:
                c.execute(text("TRUNCATE audit_log"))
    with engine.connect() as c:
        assert audit.verify(c).ok and audit.verify(c).rows == 2


@pytest.mark.parametrize("attack,problem", [
    ("UPDATE audit_log SET actor = 'user:9:someone_else' WHERE id = 3", "hash"),
    ("UPDATE audit_log SET details = '{\"rows\":99}' WHERE id = 2", "hash"),
    ("DELETE FROM audit_log WHERE id = 3", "gap"),
    ("UPDATE audit_log SET at = '2020-01-01 00:00:00' WHERE id = 1", "hash"),
])
def test_audit_verify_detects_edits_and_deletions(engine, attack, problem):
    _audit_rows(engine)
    _tamper(engine, attack)
    with engine.connect() as c:
        rep = audit.verify(c)
    assert not rep.ok and problem in {p["problem"] for p in rep.problems}, rep.problems


def test_audit_verify_detects_reordering_and_a_recomputed_row(engine):
    _audit_rows(engine)
    # swap the content of rows 2 and 3 (ids stay): both hashes and links break
    _tamper(engine, "UPDATE audit_log SET target = CASE id WHEN 2 THEN 'file:scores-2.csv' ELSE 'file:scores-1.csv' "
                    "END, details = CASE id WHEN 2 THEN '{\"rows\":2}' ELSE '{\"rows\":1}' END WHERE id IN (2, 3)")
    with engine.connect() as c:
        assert not audit.verify(c).ok
    # an attacker who recomputes the edited row's hash still breaks the NEXT row's link
    e2 = engine
    with e2.connect() as c:
        r = c.execute(select(AuditLog).where(AuditLog.id == 2)).one()
    h = audit.row_hash(r.prev_hash, r.id, r.at, r.actor, r.action, r.target, r.details)
    _tamper(e2, f"UPDATE audit_log SET hash = '{h}' WHERE id = 2")
    with e2.connect() as c:
        probs = audit.verify(c).problems
    assert any(p["problem"] == "prev_hash" and p["id"] == 3 for p in probs)


def test_audit_cut_tail_is_seen_against_the_expected_head(engine):
    _audit_rows(engine)
    with engine.connect() as c:
        head = audit.verify(c).head
    _tamper(engine, "DELETE FROM audit_log WHERE id = 5")
    with engine.connect() as c:
        assert audit.verify(c).ok  # the table alone cannot show a cut tail ...
        rep = audit.verify(c, expect_head=head)  # ... the head kept elsewhere does
    assert not rep.ok and rep.problems[-1]["problem"] == "head"


def test_audit_record_refuses_pii_in_details(engine):
    with engine.begin() as c:
        with pytest.raises(Exception) as e:
            audit.record(c, "user:1:a", "reveal.phone", "household:H1", {"value": PHONE})
    assert "AUDIT_PII" in repr(e.value.issue)


def test_cli_audit_verify_exit_codes(engine, tmp_path):
    from typer.testing import CliRunner

    from fangpin.cli.main import app

    _audit_rows(engine, 3)
    url = engine.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 3
    _tamper(engine, "UPDATE audit_log SET action = 'export.other' WHERE id = 2")
    r = CliRunner().invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 1 and json.loads(r.stdout)["problems"][0]["id"] == 2


# -- backup and restore ---------------------------------------------------------------------------------------------

def _fresh_target(engine, tmp_path):
    if engine.dialect.name == "sqlite":
        return make_engine(f"sqlite:///{tmp_path}/restored.db"), None
    import uuid

    admin = make_engine(os.environ["FANGPIN_TEST_PG_URL"], isolation_level="AUTOCOMMIT")
    name = "t_" + uuid.uuid4().hex[:12]
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    e = make_engine(os.environ["FANGPIN_TEST_PG_URL"].rsplit("/", 1)[0] + "/" + name)
    return e, (admin, name)


def test_backup_restore_round_trip_keeps_every_table_and_the_audit_chain(engine, tmp_path):
    with engine.begin() as c:
        _household(c)
    _audit_rows(engine, 4)
    out = tmp_path / "b" / "fangpin.bak"
    m = backup(engine, out)
    assert out.stat().st_mode & 0o777 == 0o600 and m["key_included"] is False
    assert m["tables"]["person"]["rows"] == 2 and m["audit"]["rows"] == 4
    raw = out.read_bytes()
    assert HEAD.encode() not in raw and PHONE.encode() not in raw  # the backup holds ciphertexts only
    target, cleanup = _fresh_target(engine, tmp_path)
    try:
        res = restore(target, out)
        assert res["verified"] and res["audit"]["ok"] and res["audit"]["head"] == m["audit"]["head"]
        assert table_checksums(target) == table_checksums(engine)
        with target.connect() as c:
            pid = c.execute(select(Person.id).where(Person.id_number_bidx.in_(blind_all(HEAD, PURPOSE_ID)))).scalar()
            assert pid is not None
        # the restored database is live: migrations are current and the chain continues
        upgrade(target)
        with target.begin() as c:
            audit.record(c, "user:1:a", "export.scores", "file:x.csv", {})
        with target.connect() as c:
            assert audit.verify(c).ok
        # a non-empty target is refused without --force
        with pytest.raises(BackupError) as e:
            restore(target, out)
        assert e.value.issue.code == "RESTORE_NOT_EMPTY"
        res = restore(target, out, force=True)
        assert table_checksums(target) == table_checksums(engine)
    finally:
        target.dispose()
        if cleanup:
            admin, name = cleanup
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def test_restore_refuses_a_corrupt_backup(sqlite_engine, tmp_path):
    import tarfile

    out = tmp_path / "a.bak"
    backup(sqlite_engine, out)
    bad = tmp_path / "bad.bak"
    with tarfile.open(out) as src, tarfile.open(bad, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "db.sqlite":
                data = data[:-10] + b"x" * 10
            m.size = len(data)
            import io

            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(BackupError) as e:
        restore(make_engine(f"sqlite:///{tmp_path}/t.db"), bad)
    assert e.value.issue.code == "RESTORE_CORRUPT"
    (tmp_path / "junk.bak").write_bytes(b"not a tar")
    with pytest.raises(BackupError) as e:
        restore(make_engine(f"sqlite:///{tmp_path}/t2.db"), tmp_path / "junk.bak")
    assert e.value.issue.code == "RESTORE_BAD_FILE"


# -- upgrade of an existing database --------------------------------------------------------------------------------

def test_migration_0006_encrypts_an_existing_database(engine):
    from alembic import command

    from fangpin.db import alembic_config

    command.downgrade(alembic_config(engine), "0005")
    payload = json.dumps({"name": "张三", "id_number": HEAD, "phone": PHONE, "grade": "2"}, ensure_ascii=False)
    with engine.begin() as c:
        c.execute(text("INSERT INTO household (id, hh_no, created_at) VALUES (1, 'H1', '2024-01-01 00:00:00')"))
        c.execute(text("INSERT INTO region (code, level, name, source) VALUES ('530521100001', 5, 'v', 't')"))
        c.execute(text("INSERT INTO person (id, id_number, created_at) VALUES (1, :i, '2024-01-01 00:00:00')"),
                  {"i": HEAD})
        c.execute(text("INSERT INTO household_version (household_id, valid_from, recorded_at, region_code, hh_type, "
                       "relocated, phone, head_id_number, active) VALUES (1, '2024-01-01', '2024-01-01 00:00:00', "
                       "'530521100001', '脱贫户', false, :p, :i, true)"), {"p": PHONE, "i": HEAD})
        c.execute(text("INSERT INTO import_batch (id, kind, content_sha256, files, status, valid_from, started_at, "
                       "rows_total, rows_accepted, rows_rejected) VALUES (1, 'feed:disability', 'x', '[]', "
                       "'committed', '2024-01-01', '2024-01-01 00:00:00', 1, 1, 0)"))
        c.execute(text("INSERT INTO feed_record (batch_id, feed, row_number, link_method, payload, recorded_at) "
                       "VALUES (1, 'disability', 2, 'exact', :p, '2024-01-01 00:00:00')"), {"p": payload})
        c.execute(text("INSERT INTO case_file (case_no, region_code, source, state, version, opened_on, opened_at, "
                       "updated_at, risk_types, applicant) VALUES ('FP1', '530521100001', 'self_application', 'LEAD', "
                       "1, '2024-01-01', '2024-01-01 00:00:00', '2024-01-01 00:00:00', '[]', :a)"),
                  {"a": json.dumps({"name": "张三", "id_number": WIFE, "phone": PHONE, "consent": True})})
    upgrade(engine)
    dump = _dump_text(engine)
    assert HEAD not in dump and PHONE not in dump and WIFE not in dump
    from fangpin.registry.service import household_as_of
    from fangpin.security.fields import open_payload

    with engine.connect() as c:
        v = household_as_of(c, "H1")
        assert keyring().decrypt(v.attributes["head_id_enc"], "household_version.head_id") == HEAD
        p = c.execute(text("SELECT payload FROM feed_record")).scalar()
        p = p if isinstance(p, dict) else json.loads(p)
        assert open_payload(p)["id_number"] == HEAD and p["grade"] == "2" and p["name"] == "张三"
        assert c.execute(select(Person.id).where(Person.id_number_bidx.in_(blind_all(HEAD, PURPOSE_ID)))).scalar() == 1
        a = c.execute(text("SELECT applicant FROM case_file")).scalar()
        a = a if isinstance(a, dict) else json.loads(a)
        assert keyring().decrypt(a["id_number"], "case_file.applicant") == WIFE and a["consent"] is True
        assert a["id_number_bidx"] in blind_all(WIFE, PURPOSE_ID)
    # and back down (same key): plaintext columns restored
    command.downgrade(alembic_config(engine), "0005")
    with engine.connect() as c:
        assert c.execute(text("SELECT id_number FROM person")).scalar() == HEAD
    upgrade(engine)


def test_scores_export_and_masked_id_pattern_helpers():
    from fangpin.security.logs import contains_pii, mask_pii

    s = f"row {HEAD} phone {PHONE} landline 0871-6512345 old 530521800501001 amount 123456.78 code 530521100001"
    m = mask_pii(s)
    assert HEAD not in m and PHONE not in m and "6512345" not in m and "530521800501001" not in m
    assert "123456.78" in m and "530521100001" in m  # money and 12-digit region codes are not PII
    assert contains_pii(HEAD) and not contains_pii("530521100001")


def test_cli_keys_backup_restore_and_audited_export(sqlite_engine, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fangpin.cli.main import app

    with sqlite_engine.begin() as c:
        _household(c)
    url = sqlite_engine.url.render_as_string(hide_password=False)
    run = CliRunner().invoke
    r = run(app, ["review", "export", str(tmp_path / "pairs.parquet"), "--db", url])
    assert r.exit_code == 0, r.output
    r = run(app, ["audit", "list", "--db", url])
    assert json.loads(r.stdout.splitlines()[0])["action"] == "export.labelled_pairs"
    # rotation with keys from the environment: new key first, --resume
    old = os.environ["FANGPIN_DATA_KEY"]
    new = _key()
    monkeypatch.setenv("FANGPIN_DATA_KEY", f"{new},{old}")
    reset_keyring()
    try:
        assert run(app, ["keys", "rotate", "--db", url]).exit_code == 2  # env keys: must use --resume
        r = run(app, ["keys", "rotate", "--resume", "--db", url])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["reencrypted"]["person.id_number_enc"] == 2
        usage = json.loads(run(app, ["keys", "status", "--db", url]).stdout)["usage"]
        assert usage["person.id_number_enc"] == {kid_of(base64.b64decode(new)): 2}
        r = run(app, ["backup", "--db", url, "--out", str(tmp_path / "b.tar")])
        assert r.exit_code == 0, r.output
        r = run(app, ["restore", "--db", f"sqlite:///{tmp_path}/r.db", "--in", str(tmp_path / "b.tar")])
        assert r.exit_code == 0, r.output
        r = run(app, ["audit", "verify", "--db", f"sqlite:///{tmp_path}/r.db"])
        assert r.exit_code == 0 and json.loads(r.stdout)["rows"] == 2  # the export and the rotation
    finally:
        monkeypatch.setenv("FANGPIN_DATA_KEY", old)
        reset_keyring()
