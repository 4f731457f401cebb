"""Backup and restore (issue 7 item 6) for SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore).

A backup is ONE tar file::

    manifest.json   format, engine, created, schema revision, per-table row counts and SHA-256 of the rows,
                    audit chain head, SHA-256 of the payload file
    db.sqlite       SQLite: a consistent copy made with the online backup API (the server may keep writing)
    db.dump         PostgreSQL: pg_dump custom format (a consistent snapshot)

``restore`` checks the payload's SHA-256, restores, then recomputes every table's count and checksum and verifies
the audit chain (its head must equal the manifest's); any difference is an error. The data key is NOT in the
backup (the ID numbers and phones stay encrypted in it): keep the key in escrow separately (docs/SECURITY.md).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.engine import Engine, make_url

from fangpin.db import current_revision, make_engine
from fangpin.issues import FangpinValueError, Issue

FORMAT = "fangpin-backup/1"

__all__ = ["backup", "restore", "table_checksums", "BackupError", "pg_bin"]


class BackupError(FangpinValueError):
    pass


def _err(code: str, zh: str, en: str) -> BackupError:
    return BackupError(Issue(code, zh, en))


def pg_bin(name: str) -> str:
    """A PostgreSQL client program: ``FANGPIN_PG_BIN``/name, else the newest /usr/lib/postgresql/*/bin (as
    scripts/pg.sh finds them), else the PATH."""
    env = os.environ.get("FANGPIN_PG_BIN")
    if env and (Path(env) / name).exists():
        return str(Path(env) / name)
    cands = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")])
    if cands:
        return str(cands[-1])
    found = shutil.which(name)
    if not found:
        raise _err("BACKUP_NO_PG_TOOLS", f"找不到 {name}（请安装 PostgreSQL 客户端或设置 FANGPIN_PG_BIN）",
                   f"{name} not found (install the PostgreSQL client programs or set FANGPIN_PG_BIN)")
    return found


def _libpq_url(engine: Engine) -> str:
    u = engine.url.set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def _norm(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    if isinstance(v, float):
        return repr(round(v, 6))
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    if isinstance(v, (bytes, memoryview)):
        return bytes(v).hex()
    return v


def table_checksums(engine: Engine) -> dict[str, dict]:
    """{table: {"rows": n, "sha256": ...}} over every table (rows in primary-key order, values normalised)."""
    with engine.connect() as conn:
        return _checksums(conn)


def _checksums(conn) -> dict[str, dict]:
    md = MetaData()
    md.reflect(conn)
    out: dict[str, dict] = {}
    for name in sorted(md.tables):
        t = md.tables[name]
        order = list(t.primary_key.columns) or list(t.columns)
        h = hashlib.sha256()
        n = 0
        for part in conn.execution_options(yield_per=50_000).execute(select(t).order_by(*order)).partitions():
            for r in part:
                h.update(json.dumps([_norm(v) for v in r], ensure_ascii=False, default=str).encode())
                h.update(b"\n")
                n += 1
        out[name] = {"rows": n, "sha256": h.hexdigest()}
    return out


def _sha_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sqlite_path(engine: Engine) -> Path:
    db = make_url(str(engine.url)).database
    if not db or db == ":memory:":
        raise _err("BACKUP_SQLITE_MEMORY", "内存数据库不能备份", "an in-memory SQLite database cannot be backed up")
    return Path(db)


def backup(engine: Engine, out: Path, *, checksums: bool = True) -> dict:
    """Write a backup of the database behind ``engine`` to ``out`` (tar); returns the manifest."""
    from fangpin.security import audit

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        tmp = Path(tmp)
        if engine.dialect.name == "sqlite":
            payload = tmp / "db.sqlite"
            src = sqlite3.connect(str(_sqlite_path(engine)))
            dst = sqlite3.connect(str(payload))
            try:
                with dst:
                    src.backup(dst)  # online backup API: a consistent copy while others keep writing
            finally:
                dst.close()
                src.close()
            pe = _payload_engine(payload)
            with pe.connect() as conn:
                n, head = audit.head(conn)
                tables = _checksums(conn) if checksums else None
            pe.dispose()
        elif engine.dialect.name == "postgresql":
            payload = tmp / "db.dump"
            # one snapshot for the dump AND the manifest: pg_dump --snapshot joins this transaction's snapshot
            with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
                snap = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                r = subprocess.run([pg_bin("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                                    "--snapshot", snap, "--file", str(payload), "--dbname", _libpq_url(engine)],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise _err("BACKUP_PG_DUMP", "pg_dump 失败：" + r.stderr.strip()[-500:],
                               "pg_dump failed: " + r.stderr.strip()[-500:])
                n, head = audit.head(conn)
                tables = _checksums(conn) if checksums else None
        else:  # pragma: no cover
            raise _err("BACKUP_ENGINE", "不支持的数据库", f"unsupported database {engine.dialect.name}")
        manifest = {
            "format": FORMAT, "engine": engine.dialect.name, "created": datetime.now().replace(microsecond=0).isoformat(),
            "revision": current_revision(engine), "payload": payload.name, "payload_sha256": _sha_file(payload),
            "audit": {"rows": n, "head": head}, "tables": tables, "key_included": False,
        }
        part = out.with_name(out.name + ".part")
        with tarfile.open(part, "w") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            ti = tarfile.TarInfo("manifest.json")
            ti.size = len(data)
            ti.mode = 0o600
            tar.addfile(ti, io.BytesIO(data))
            tar.add(payload, arcname=payload.name)
        os.chmod(part, 0o600)
        os.replace(part, out)
    return manifest


def _payload_engine(p: Path) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(f"sqlite:///{p}")  # no pragmas: the copy is read, not changed


def read_manifest(path: Path) -> dict:
    with tarfile.open(path, "r") as tar:
        return json.load(tar.extractfile("manifest.json"))


def _is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()


def restore(engine: Engine, src: Path, *, force: bool = False, checksums: bool = True) -> dict:
    """Restore the backup ``src`` into the database behind ``engine`` and verify it. Refuses a database that has
    tables unless ``force`` (then its content is replaced). Returns {"manifest", "verified", "audit"}."""
    from fangpin.security import audit

    src = Path(src)
    if not src.exists():
        raise _err("RESTORE_NO_FILE", f"备份文件不存在：{src}", f"backup file not found: {src}")
    try:
        manifest = read_manifest(src)
    except (tarfile.TarError, KeyError, json.JSONDecodeError):
        raise _err("RESTORE_BAD_FILE", "不是 fangpin 备份文件", "not a fangpin backup file")
    if manifest.get("format") != FORMAT:
        raise _err("RESTORE_BAD_FORMAT", "备份格式不符", f"unknown backup format {manifest.get('format')!r}")
    if manifest["engine"] != engine.dialect.name:
        raise _err("RESTORE_ENGINE", f"备份来自 {manifest['engine']}，不能恢复到 {engine.dialect.name}",
                   f"the backup is of {manifest['engine']}; cannot restore into {engine.dialect.name}")
    if not force and not _is_empty(engine):
        raise _err("RESTORE_NOT_EMPTY", "目标数据库不是空的（确认覆盖请加 --force）",
                   "the target database is not empty (add --force to replace its content)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with tarfile.open(src, "r") as tar:
            member = tar.getmember(manifest["payload"])
            if not member.isfile() or "/" in member.name:
                raise _err("RESTORE_BAD_FILE", "备份文件内容异常", "unexpected content in the backup file")
            tar.extract(member, tmp, filter="data")
        payload = tmp / manifest["payload"]
        if _sha_file(payload) != manifest["payload_sha256"]:
            raise _err("RESTORE_CORRUPT", "备份文件已损坏（校验和不符）", "the backup file is corrupt (checksum mismatch)")
        if engine.dialect.name == "sqlite":
            engine.dispose()
            target = _sqlite_path(engine)
            s = sqlite3.connect(str(payload))
            d = sqlite3.connect(str(target))
            try:
                with d:
                    s.backup(d)
            finally:
                d.close()
                s.close()
        else:
            engine.dispose()
            r = subprocess.run([pg_bin("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                                "--exit-on-error", "--single-transaction", "--dbname", _libpq_url(engine),
                                str(payload)], capture_output=True, text=True)
            if r.returncode != 0:
                raise _err("RESTORE_PG", "pg_restore 失败：" + r.stderr.strip()[-500:],
                           "pg_restore failed: " + r.stderr.strip()[-500:])
    problems = []
    if checksums and manifest.get("tables"):
        now = table_checksums(engine)
        for name, want in manifest["tables"].items():
            if now.get(name) != want:
                problems.append({"table": name, "want": want, "got": now.get(name)})
    with engine.connect() as conn:
        rep = audit.verify(conn, expect_head=manifest["audit"]["head"])
    if problems or not rep.ok:
        raise _err("RESTORE_VERIFY", "恢复后校验失败：" + json.dumps(problems[:5] + rep.problems[:5], ensure_ascii=False),
                   "the restored database does not match the backup: "
                   + json.dumps(problems[:5] + rep.problems[:5], ensure_ascii=False))
    return {"manifest": manifest, "verified": bool(checksums and manifest.get("tables")), "audit": rep.as_dict()}
