"""Seal landing files written before encryption existed (``fangpin keys seal-landing``; docs/SECURITY.md §1).

Feed files landed before migration 0006 sit in the landing zone as plaintext ``<feed>/<sha256><ext>`` (IDs, phones,
addresses). :func:`seal_landing` re-writes each as ``<feed>/<sha256><ext>.enc`` in exactly the format the importer
writes today (:func:`fangpin.security.fields.seal_file`), points ``manifest.jsonl`` (and, given a database, the
batches' ``import_batch.files``) at the sealed copy, and only then deletes the plaintext. Order and atomicity make it
kill-safe and resumable:

1. seal: write ``.<name>.enc.seal.<pid>.tmp`` (0600), fsync, ``os.replace`` onto ``<name>.enc`` — a sealed file is
   either absent or complete; an existing ``.enc`` is checked (it must open to the same SHA-256) and kept;
2. manifest: the whole file is re-written to a temporary file, fsynced and renamed over the old one (entries that
   point at a plaintext file whose sealed copy exists now point at the copy; torn lines are kept as they are);
3. database (optional): the batches' landing references, in one transaction;
4. delete each plaintext file whose sealed copy was verified.

A kill at any point leaves every manifest entry pointing at a complete file (plaintext or sealed); running the
command again finishes the job, and running it when nothing is left changes nothing. A plaintext file whose content
does not match its name (not a landed copy, or damaged) is reported and left alone. Deleting a file does not wipe
the disk blocks: on a disk that held plaintext landing files, also follow the deployment's media handling rules.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from fangpin.security.crypto import Keyring, keyring
from fangpin.security.fields import SEALED_SUFFIX, is_sealed, open_file, seal_file

__all__ = ["SealReport", "seal_landing", "plaintext_files"]

log = logging.getLogger("fangpin.security")

MANIFEST = "manifest.jsonl"
_LANDED = re.compile(r"^[0-9a-f]{64}(\.[A-Za-z0-9]{1,8})?$")  # <sha256><ext>, as fangpin.exchange.feeds._land names
_OUR_TMP = re.compile(r"^\..+\.seal\.\d+\.tmp$")


@dataclass
class SealReport:
    sealed: int = 0  # plaintext files sealed by this run
    already_sealed: int = 0  # plaintext files whose sealed copy existed already (an interrupted earlier run)
    plaintext_removed: int = 0
    manifest_entries: int = 0  # manifest lines re-pointed at a sealed copy
    batches: int = 0  # import_batch rows re-pointed (with a database)
    left_alone: list[str] = field(default_factory=list)  # plaintext files not sealed, with the reason

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def plaintext_files(root: Path) -> list[Path]:
    """Plaintext landed copies under ``root`` (``<feed>/<sha256><ext>`` without ``.enc``)."""
    if not root.exists():
        return []
    return sorted(p for p in root.glob("*/*") if p.is_file() and _LANDED.match(p.name))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.seal.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)


def _sealed_ok(dest: Path, sha: str, kr: Keyring) -> bool:
    try:
        return hashlib.sha256(open_file(dest.read_bytes(), kr)).hexdigest() == sha
    except Exception:  # unknown key, failed authentication, unreadable: not a good copy
        return False


def _rewrite_manifest(root: Path, rep: SealReport) -> None:
    mf = root / MANIFEST
    for _ in range(5):  # an import appending meanwhile: read again and redo
        if not mf.exists():
            return
        st = mf.stat()
        raw = mf.read_bytes()
        out, changed = [], 0
        for line in raw.decode("utf-8", errors="surrogateescape").splitlines(keepends=True):
            try:
                e = json.loads(line)
            except ValueError:
                out.append(line)  # a torn line: the importer skips it; keep it as it is
                continue
            f = e.get("file") if isinstance(e, dict) else None
            if isinstance(f, str) and not f.endswith(SEALED_SUFFIX) and (root / (f + SEALED_SUFFIX)).exists():
                e["file"] = f + SEALED_SUFFIX
                changed += 1
                nl = "\n" if line.endswith("\n") else ""
                line = json.dumps(e, ensure_ascii=False) + nl
            out.append(line)
        if not changed:
            return
        data = "".join(out).encode("utf-8", errors="surrogateescape")
        now = mf.stat()
        if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            continue
        _write_atomic(mf, data)
        rep.manifest_entries += changed
        return
    raise RuntimeError("manifest.jsonl keeps changing (imports running?); run seal-landing again")


def _repoint_batches(engine: Engine, root: Path, rep: SealReport) -> None:
    from fangpin.registry.models import ImportBatch

    with engine.begin() as conn:
        rows = conn.execute(select(ImportBatch.id, ImportBatch.files).where(ImportBatch.kind.like("feed:%"))).all()
        for bid, files in rows:
            new, n = [], 0
            for f in files or []:
                land = f.get("landing") if isinstance(f, dict) else None
                if isinstance(land, str) and not land.endswith(SEALED_SUFFIX) \
                        and (root / (land + SEALED_SUFFIX)).exists():
                    f = {**f, "landing": land + SEALED_SUFFIX}
                    n += 1
                new.append(f)
            if n:
                conn.execute(update(ImportBatch).where(ImportBatch.id == bid).values(files=new))
                rep.batches += 1


def seal_landing(root: Path, engine: Engine | None = None, kr: Keyring | None = None) -> SealReport:
    """Seal every plaintext landed file under ``root`` (see the module docstring). Idempotent and resumable."""
    kr = kr or keyring()
    rep = SealReport()
    root = Path(root)
    for stale in (p for p in root.glob("*/.*") if _OUR_TMP.match(p.name)):  # left by a killed run
        stale.unlink(missing_ok=True)
    done: list[Path] = []
    for p in plaintext_files(root):
        blob = p.read_bytes()
        rel = p.relative_to(root).as_posix()
        if is_sealed(blob):
            rep.left_alone.append(f"{rel}: sealed content under a plaintext name")
            continue
        sha = hashlib.sha256(blob).hexdigest()
        if p.name[:64] != sha:
            rep.left_alone.append(f"{rel}: content does not match its SHA-256 name")
            continue
        dest = p.with_name(p.name + SEALED_SUFFIX)
        if dest.exists() and _sealed_ok(dest, sha, kr):
            rep.already_sealed += 1
        else:
            _write_atomic(dest, seal_file(blob, sha, kr))
            if not _sealed_ok(dest, sha, kr):  # pragma: no cover - would be a crypto bug
                raise RuntimeError(f"sealed copy of {rel} does not open")
            rep.sealed += 1
        done.append(p)
    _rewrite_manifest(root, rep)
    if engine is not None:
        _repoint_batches(engine, root, rep)
    for p in done:
        p.unlink(missing_ok=True)
        rep.plaintext_removed += 1
    for d in {p.parent for p in done}:
        _fsync_dir(d)
    if rep.left_alone:
        log.warning("seal-landing left %d file(s) alone: %s", len(rep.left_alone), "; ".join(rep.left_alone[:5]))
    return rep
