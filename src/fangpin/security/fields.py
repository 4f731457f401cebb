"""Which columns are encrypted, how feed payloads are sealed, and key rotation over all of them.

Encrypted columns (ciphertext column, purpose = AES-GCM associated data, blind-index column, blind-index purpose):

=====================  ================  =========================  =================  ==========
table                  ciphertext        purpose (AAD)              blind index        bidx kind
=====================  ================  =========================  =================  ==========
person                 id_number_enc     person.id_number           id_number_bidx     id
household_version      head_id_enc       household_version.head_id  head_id_bidx       id
household_version      phone_enc         household_version.phone    (none)             -
feed_record            payload values    feed_record.payload        (none)             -
=====================  ================  =========================  =================  ==========

Feed payloads keep every normalised department field as JSON; the values of the sensitive columns of the contract
(``type: id`` / ``certificate``, identity ``phone`` / ``address``) are replaced by ciphertexts (:func:`seal_payload`)
and :func:`open_payload` restores them in memory.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection, Engine

from fangpin.security.crypto import PREFIX, PURPOSE_ID, PURPOSE_PHONE, Keyring, keyring

P_PERSON_ID = "person.id_number"
P_HEAD_ID = "household_version.head_id"
P_PHONE = "household_version.phone"
P_PAYLOAD = "feed_record.payload"
log = logging.getLogger(__name__)
P_APPLICANT = "case_file.applicant"  # id_number and phone inside the self-application JSON


@dataclass(frozen=True)
class EncColumn:
    table: str
    column: str
    purpose: str
    bidx_column: str | None = None
    bidx_purpose: str | None = None


# JSON columns whose sealed values (strings starting "v1:") are re-encrypted by a rotation
JSON_COLUMNS = [("feed_record", "payload", "feed_record.payload"), ("case_file", "applicant", "case_file.applicant")]

COLUMNS = [
    EncColumn("person", "id_number_enc", P_PERSON_ID, "id_number_bidx", PURPOSE_ID),
    EncColumn("household_version", "head_id_enc", P_HEAD_ID, "head_id_bidx", PURPOSE_ID),
    EncColumn("household_version", "phone_enc", P_PHONE),
]


def person_values(id_number: str | None) -> dict[str, str | None]:
    """Column values of a ``person`` row for ``id_number`` (for single inserts: ``insert(Person).values(**...)``)."""
    kr = keyring()
    return {"id_number_enc": kr.encrypt(id_number, P_PERSON_ID), "id_number_bidx": kr.blind(id_number, PURPOSE_ID)}


def household_values(phone: str | None, head_id_number: str | None) -> dict[str, str | None]:
    """Column values of a ``household_version`` row for its phone and head ID."""
    kr = keyring()
    return {"phone_enc": kr.encrypt(phone, P_PHONE), "head_id_enc": kr.encrypt(head_id_number, P_HEAD_ID),
            "head_id_bidx": kr.blind(head_id_number, PURPOSE_ID)}


def sensitive_keys(contract) -> set[str]:
    """Payload keys of a feed contract that are sealed (tests/unit/test_feed_contracts.py uses the same rule)."""
    return {c.key for c in contract.columns if c.type in ("id", "certificate") or c.identity in ("address", "phone")}


def seal_payload(payload: dict[str, Any], keys: Iterable[str], kr: Keyring | None = None) -> dict[str, Any]:
    kr = kr or keyring()
    out = dict(payload)
    for k in keys:
        v = out.get(k)
        if v is not None and v != "":
            out[k] = kr.encrypt(str(v), P_PAYLOAD)
    return out


def open_payload(payload: dict[str, Any] | None, kr: Keyring | None = None) -> dict[str, Any]:
    """The payload with every sealed value decrypted (in memory only)."""
    if not payload:
        return {}
    kr = kr or keyring()
    return {k: kr.decrypt(v, P_PAYLOAD) if isinstance(v, str) and v.startswith(PREFIX) else v
            for k, v in payload.items()}


def decrypt_column(tokens: Iterable[str | None], purpose: str, kr: Keyring | None = None) -> list[str | None]:
    """Decrypt a column of ciphertexts in memory; equal ciphertexts (a household's phone repeated on every member
    row of a snapshot) are decrypted once."""
    kr = kr or keyring()
    tokens = list(tokens)
    uniq = list({t for t in tokens if t})
    plain = dict(zip(uniq, kr.decrypt_many(uniq, purpose)))
    return [plain.get(t) if t else None for t in tokens]


# -- sealed files (landing zone copies of delivered feed files) ------------------------------------------------------

SEALED_SUFFIX = ".enc"
_MAGIC = b"FPSEAL1\0"


def seal_file(blob: bytes, sha: str, kr: Keyring | None = None) -> bytes:
    """``FPSEAL1\\0`` + key id (8 ASCII) + nonce (12) + sha256 hex of the plaintext (64) + AES-GCM(blob, associated
    data = that sha256): the content address is authenticated with the content."""
    kr = kr or keyring()
    k = kr._keys[kr.active]
    nonce = os.urandom(12)
    return _MAGIC + kr.active.encode() + nonce + sha.encode() + k.aead.encrypt(nonce, blob, sha.encode())


def is_sealed(blob: bytes) -> bool:
    return blob[:len(_MAGIC)] == _MAGIC


def sealed_kid(blob: bytes) -> str:
    return blob[len(_MAGIC):len(_MAGIC) + 8].decode()


def open_file(blob: bytes, kr: Keyring | None = None) -> bytes:
    """The plaintext of a sealed file; the associated data (sha256) is checked against the plaintext too."""
    import hashlib

    from cryptography.exceptions import InvalidTag

    from fangpin.security.crypto import _err

    kr = kr or keyring()
    kid = sealed_kid(blob)
    k = kr._keys.get(kid)
    if k is None:
        raise _err("KEY_UNKNOWN_KID", f"缺少密钥 {kid}", f"data key {kid} is not configured (docs/SECURITY.md)")
    off = len(_MAGIC) + 8
    nonce, body = blob[off:off + 12], blob[off + 12:]
    sha, body = body[:64].decode(), body[64:]
    try:
        plain = k.aead.decrypt(nonce, body, sha.encode())
    except InvalidTag:
        raise _err("KEY_BAD_CIPHERTEXT", "落地文件校验失败（被篡改或密钥不符）",
                   "landed file failed authentication (tampered with, or wrong key)")
    if hashlib.sha256(plain).hexdigest() != sha:  # pragma: no cover - implied by the tag
        raise _err("KEY_BAD_CIPHERTEXT", "落地文件校验失败", "landed file checksum mismatch")
    return plain


def rotate_landing(root: Path, kr: Keyring | None = None) -> int:
    """Re-encrypt every sealed landing file that is not under the active key (atomic per file)."""
    kr = kr or keyring()
    n = 0
    if not root.exists():
        return 0
    for p in sorted(root.rglob(f"*{SEALED_SUFFIX}")):
        blob = p.read_bytes()
        if not is_sealed(blob) or sealed_kid(blob) == kr.active:
            continue
        if sealed_kid(blob) not in kr.masters:  # sealed with a key we do not hold: left alone, reported
            log.warning("landing file %s is sealed with unknown key %s; not rotated", p.name, sealed_kid(blob))
            continue
        plain = open_file(blob, kr)
        import hashlib

        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(seal_file(plain, hashlib.sha256(plain).hexdigest(), kr))
        os.replace(tmp, p)
        n += 1
    return n


# -- key rotation ---------------------------------------------------------------------------------------------------

def _not_active(col, kr: Keyring):
    return col.isnot(None) & ~col.like(f"{PREFIX}{kr.active}:%")


def rotate(engine: Engine, *, batch: int = 5_000, progress=None) -> dict[str, int]:
    """Re-encrypt every ciphertext that is not under the active key and recompute its blind index.

    Batch-wise: each batch is its own transaction, so an interrupted rotation keeps what it did and a re-run goes
    on from there (rows already under the active key are skipped). Safe to run any number of times; reading keeps
    working during the rotation because lookups ask for the blind index under every known key."""
    from sqlalchemy import MetaData, Table, update

    kr = keyring()
    md = MetaData()
    counts: dict[str, int] = {}
    for spec in COLUMNS:
        t = Table(spec.table, md, autoload_with=engine)
        col = t.c[spec.column]
        n = 0
        while True:
            with engine.begin() as conn:
                rows = conn.execute(select(t.c.id, col).where(_not_active(col, kr)).order_by(t.c.id).limit(batch)).all()
                if not rows:
                    break
                plain = kr.decrypt_many([r[1] for r in rows], spec.purpose)
                enc = kr.encrypt_many(plain, spec.purpose)
                bidx = kr.blind_many(plain, spec.bidx_purpose) if spec.bidx_column else None
                vals = {spec.column: bindparam("_enc")}
                if spec.bidx_column:
                    vals[spec.bidx_column] = bindparam("_bidx")
                conn.execute(update(t).where(t.c.id == bindparam("_id")).values(vals),
                             [{"_id": r[0], "_enc": enc[i], **({"_bidx": bidx[i]} if bidx else {})}
                              for i, r in enumerate(rows)])
                n += len(rows)
            if progress:
                progress(f"{spec.table}.{spec.column}", n)
        counts[f"{spec.table}.{spec.column}"] = n
    for table, column, purpose in JSON_COLUMNS:
        counts[f"{table}.{column}"] = _rotate_json(engine, kr, table, column, purpose, batch, progress)
    from fangpin.exchange.feeds import landing_root

    counts["landing_files"] = rotate_landing(landing_root(), kr)
    return counts


def _rotate_json(engine: Engine, kr: Keyring, table: str, column: str, purpose: str, batch: int, progress) -> int:
    from sqlalchemy import MetaData, Table, update

    t = Table(table, MetaData(), autoload_with=engine)
    last, n = 0, 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(t.c.id, t.c[column]).where(t.c.id > last, t.c[column].isnot(None))
                                .order_by(t.c.id).limit(batch)).all()
            if not rows:
                break
            for rid, p in rows:
                p = p if isinstance(p, dict) else json.loads(p or "{}")
                old = [k for k, v in p.items() if isinstance(v, str) and v.startswith(PREFIX)
                       and kr.kid_in(v) != kr.active]
                if not old:
                    continue
                new = dict(p)
                for k in old:
                    new[k] = kr.encrypt(kr.decrypt(p[k], purpose), purpose)
                    if k == "id_number" and "id_number_bidx" in new:
                        new["id_number_bidx"] = kr.blind(kr.decrypt(new[k], purpose), PURPOSE_ID)
                conn.execute(update(t).where(t.c.id == rid).values({column: new}))
                n += 1
            last = rows[-1][0]
        if progress:
            progress(f"{table}.{column}", n)
    return n


def key_usage(conn: Connection) -> dict[str, dict[str, int]]:
    """{column: {kid: rows}} - what each key still protects (``keys status``; ``keys retire`` refuses a used key)."""
    out: dict[str, dict[str, int]] = {}
    for spec in COLUMNS:
        kid = f"substr({spec.column}, 4, 8)"
        rows = conn.execute(text(f"SELECT {kid}, COUNT(*) FROM {spec.table} WHERE {spec.column} IS NOT NULL "
                                 f"GROUP BY {kid}")).all()
        out[f"{spec.table}.{spec.column}"] = {r[0]: int(r[1]) for r in rows}
    kr = keyring()
    for table, column, _ in JSON_COLUMNS:
        pay: dict[str, int] = {}
        as_text = f"CAST({column} AS TEXT)" if conn.dialect.name == "postgresql" else column
        for kid in kr.masters:
            pay[kid] = int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {as_text} LIKE :p"),
                                        {"p": f'%"{PREFIX}{kid}:%'}).scalar_one())
        out[f"{table}.{column}"] = {k: v for k, v in pay.items() if v}
    return out


__all__ = ["COLUMNS", "EncColumn", "P_PERSON_ID", "P_HEAD_ID", "P_PHONE", "P_PAYLOAD", "seal_payload",
           "open_payload", "decrypt_column", "person_values", "household_values", "sensitive_keys", "rotate", "key_usage", "PURPOSE_ID", "PURPOSE_PHONE"]
