"""`fangpin keys …`, `fangpin audit …`, `fangpin backup`, `fangpin restore` (docs/SECURITY.md)."""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from fangpin.issues import FangpinValueError

console = Console(stderr=True)
keys_app = typer.Typer(help="Data keys: field encryption of ID numbers and phones (docs/SECURITY.md)",
                       no_args_is_help=True)
audit_app = typer.Typer(help="Hash-chained audit log of reveals and exports", no_args_is_help=True)
DbOpt = typer.Option(None, "--db", help="Database URL (default: FANGPIN_DATABASE_URL or sqlite:///fangpin.db)")


def _engine(db: Optional[str]):
    from fangpin.db import make_engine, upgrade

    e = make_engine(db)
    upgrade(e)
    return e


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # pragma: no cover - no user name in a container
        return "cli:unknown"


def audit_export(engine, action: str, path: Path, details: dict) -> None:
    """Audit a file written by a CLI command (``export.scores`` …) in its own transaction."""
    from fangpin.security import audit

    with engine.begin() as conn:
        audit.record(conn, _actor(), action, f"file:{Path(path).name}", details)


def _fail(e: FangpinValueError) -> None:
    console.print(f"[red]{e.issue.zh}[/red]\n{e.issue.en}")
    raise typer.Exit(2)


@keys_app.command("init")
def keys_init(key_file: Optional[Path] = typer.Option(None, "--key-file", help="Default: FANGPIN_KEY_FILE or "
                                                                               "<data home>/keys/fangpin.keys")) -> None:
    """Create the key file (mode 0600) with a new random key, unless it exists."""
    from fangpin.security.crypto import init_key_file

    try:
        path, kid, created = init_key_file(key_file)
    except FangpinValueError as e:
        _fail(e)
    console.print(f"{'created' if created else 'exists'}: {path} (active key {kid}). "
                  "Back this file up OUTSIDE the database backups (key escrow, docs/SECURITY.md).")


@keys_app.command("status")
def keys_status(db: Optional[str] = DbOpt) -> None:
    """Where the keys come from, the active key id, and how many values each key still protects."""
    from fangpin.security.crypto import keyring
    from fangpin.security.fields import key_usage

    try:
        kr = keyring()
        with _engine(db).connect() as conn:
            usage = key_usage(conn)
    except FangpinValueError as e:
        _fail(e)
    print(json.dumps({"source": kr.source, "active": kr.active, "keys": sorted(kr.masters), "usage": usage},
                     indent=2, ensure_ascii=False))


@keys_app.command("rotate")
def keys_rotate(db: Optional[str] = DbOpt,
                new_key: bool = typer.Option(True, "--new-key/--resume",
                                             help="Add a new key to the key file first (default), or only finish "
                                                  "re-encrypting to the active key (after an interruption, or when "
                                                  "the keys come from FANGPIN_DATA_KEY)"),
                batch: int = typer.Option(5000, "--batch", min=1)) -> None:
    """Re-encrypt every ID number, phone and sealed payload value under the active key, batch by batch
    (resumable: a re-run continues; safe to run again). With a key file a new key is added first; with
    FANGPIN_DATA_KEY put the new key FIRST and keep the old ones after it, then run with --resume."""
    import os

    from fangpin.security import audit
    from fangpin.security.crypto import add_key_to_file, keyring, reset_keyring
    from fangpin.security.fields import rotate

    try:
        engine = _engine(db)
        if new_key:
            if os.environ.get("FANGPIN_DATA_KEY"):
                console.print("[red]密钥来自 FANGPIN_DATA_KEY：请把新密钥放在首位后使用 --resume[/red]\n"
                              "Keys come from FANGPIN_DATA_KEY: put the new key first (old keys after it) and run "
                              "`fangpin keys rotate --resume`.")
                raise typer.Exit(2)
            kid = add_key_to_file()
            console.print(f"new active key {kid}")
        reset_keyring()
        counts = rotate(engine, batch=batch, progress=lambda what, n: console.print(f"  {what}: {n}"))
        with engine.begin() as conn:
            audit.record(conn, _actor(), "keys.rotate", f"key:{keyring().active}", {"rows": counts})
    except FangpinValueError as e:
        _fail(e)
    print(json.dumps({"active": keyring().active, "reencrypted": counts}, indent=2))


@keys_app.command("seal-landing")
def keys_seal_landing(db: Optional[str] = DbOpt,
                      landing: Optional[Path] = typer.Option(None, "--landing",
                                                             help="Landing zone (default FANGPIN_LANDING_DIR or "
                                                                  "<data home>/landing)")) -> None:
    """Seal feed files landed before encryption existed (plaintext <feed>/<sha256><ext> → .enc, the importer's
    format), re-point manifest.jsonl and the database's batches at them, then delete the plaintext. Kill-safe and
    resumable: run it again after an interruption; with nothing left it changes nothing."""
    from fangpin.exchange.feeds import landing_root
    from fangpin.security import audit
    from fangpin.security.landing import seal_landing

    try:
        engine = _engine(db)
        rep = seal_landing(landing or landing_root(), engine)
        if rep.sealed or rep.plaintext_removed or rep.manifest_entries or rep.batches:
            with engine.begin() as conn:
                audit.record(conn, _actor(), "keys.seal_landing", "landing", {
                    k: v for k, v in rep.as_dict().items() if k != "left_alone"})
    except FangpinValueError as e:
        _fail(e)
    print(json.dumps(rep.as_dict(), indent=2, ensure_ascii=False))
    if rep.left_alone:
        raise typer.Exit(1)


@keys_app.command("retire")
def keys_retire(kid: str = typer.Argument(..., help="Key id to remove from the key file"),
                db: Optional[str] = DbOpt) -> None:
    """Remove an old key from the key file - refused while any value is still encrypted with it."""
    from fangpin.security.crypto import remove_key_from_file
    from fangpin.security.fields import key_usage

    with _engine(db).connect() as conn:
        usage = key_usage(conn)
    used = {col: n[kid] for col, n in usage.items() if n.get(kid)}
    if used:
        console.print(f"[red]密钥 {kid} 仍在使用：先运行 fangpin keys rotate --resume[/red]\n"
                      f"key {kid} still protects {used}; run `fangpin keys rotate --resume` first")
        raise typer.Exit(2)
    try:
        remove_key_from_file(kid)
    except FangpinValueError as e:
        _fail(e)
    console.print(f"retired {kid}")


@audit_app.command("verify")
def audit_verify(db: Optional[str] = DbOpt,
                 expect_head: Optional[str] = typer.Option(None, "--expect-head",
                                                           help="Chain head recorded earlier (detects rows removed "
                                                                "at the end)")) -> None:
    """Recompute the hash chain; exit 1 and list the rows when anything was edited, deleted or reordered."""
    from fangpin.security.audit import verify

    with _engine(db).connect() as conn:
        rep = verify(conn, expect_head=expect_head)
    print(json.dumps(rep.as_dict(), indent=2, ensure_ascii=False))
    if not rep.ok:
        console.print("[red]审计日志校验失败：记录被修改、删除或调换[/red] / audit log verification FAILED")
        raise typer.Exit(1)
    console.print(f"审计日志完整 / audit log intact: {rep.rows} rows, head {rep.head}")


@audit_app.command("list")
def audit_list(db: Optional[str] = DbOpt, limit: int = typer.Option(50, "--limit", min=1),
               action: Optional[str] = typer.Option(None, "--action")) -> None:
    """The latest audit rows (no sensitive values are ever stored in them)."""
    from sqlalchemy import select

    from fangpin.security.models import AuditLog

    q = select(AuditLog.id, AuditLog.at, AuditLog.actor, AuditLog.action, AuditLog.target, AuditLog.details) \
        .order_by(AuditLog.id.desc()).limit(limit)
    if action:
        q = q.where(AuditLog.action == action)
    with _engine(db).connect() as conn:
        for r in conn.execute(q):
            print(json.dumps({"id": r.id, "at": r.at.isoformat(sep=" "), "actor": r.actor, "action": r.action,
                              "target": r.target, "details": json.loads(r.details)}, ensure_ascii=False))


def backup_cmd(db: Optional[str] = DbOpt,
               out: Path = typer.Option(..., "--out", help="Backup file to write (tar: manifest + dump)"),
               no_checksums: bool = typer.Option(False, "--no-checksums", help="Skip per-table checksums")) -> None:
    """Back up the database (SQLite: online backup API; PostgreSQL: pg_dump). The data key is NOT included."""
    from fangpin.db import make_engine
    from fangpin.security.backup import backup

    try:
        m = backup(make_engine(db), out, checksums=not no_checksums)
    except FangpinValueError as e:
        _fail(e)
    rows = sum(t["rows"] for t in (m["tables"] or {}).values())
    console.print(f"backup written: {out} ({m['engine']}, {len(m['tables'] or {})} tables, {rows} rows, "
                  f"audit head {m['audit']['head'][:16]}…). Keep the data key in escrow separately.")


def restore_cmd(db: Optional[str] = DbOpt,
                src: Path = typer.Option(..., "--in", help="Backup file written by `fangpin backup`"),
                force: bool = typer.Option(False, "--force", help="Replace the content of a non-empty database")) -> None:
    """Restore a backup, then verify every table's count and checksum and the audit chain."""
    from fangpin.db import make_engine
    from fangpin.security.backup import restore

    try:
        r = restore(make_engine(db), src, force=force)
    except FangpinValueError as e:
        _fail(e)
    console.print(f"restored and verified: {len(r['manifest']['tables'] or {})} tables identical, audit chain "
                  f"intact ({r['audit']['rows']} rows)")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
