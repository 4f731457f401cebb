"""`fangpin keys seal-landing` (issue 7, docs/SECURITY.md §1): feed files landed before encryption existed are
re-written sealed (the importer's format), the manifest and the batches point at the sealed copies, the plaintext
is deleted; an interruption at any step leaves every reference pointing at a complete file, and a re-run finishes
the job; a run with nothing left changes nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

import fangpin.security.landing as landing_mod
from fangpin.db import make_engine, upgrade
from fangpin.exchange.feeds import import_feed, replay
from fangpin.registry.models import ImportBatch
from fangpin.security.fields import is_sealed, open_file
from fangpin.security.landing import plaintext_files, seal_landing

HEAD = "姓名,证件号码,事件,日期,月收入\n"
IDS = ["530102199001011234", "530102198505052345", "53010219770707345X"]


def _legacy_landing(engine, tmp_path: Path) -> Path:
    """Three delivered files landed as before migration 0006: plaintext copies, manifest and batches pointing at
    them (made by importing today and then undoing the sealing)."""
    root = tmp_path / "landing"
    for i, idn in enumerate(IDS):
        f = tmp_path / f"d{i}.csv"
        f.write_text(HEAD + f"张{i},{idn},失业登记,2024-04-0{i + 1},0\n", encoding="utf-8")
        assert import_feed(engine, "employment", f, landing_dir=root).status == "committed"
    for p in root.glob("*/*.enc"):
        p.with_name(p.name[:-4]).write_bytes(open_file(p.read_bytes()))
        p.unlink()
    mf = root / "manifest.jsonl"
    mf.write_text(mf.read_text(encoding="utf-8").replace(".csv.enc", ".csv"), encoding="utf-8")
    with engine.begin() as c:
        for bid, files in c.execute(select(ImportBatch.id, ImportBatch.files)).all():
            c.execute(update(ImportBatch).where(ImportBatch.id == bid).values(
                files=[{**f, "landing": f["landing"].removesuffix(".enc")} for f in files]))
    assert len(plaintext_files(root)) == 3 and any(IDS[0].encode() in p.read_bytes() for p in plaintext_files(root))
    return root


def _manifest(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]


def _refs_complete(engine, root: Path) -> None:
    """Every manifest entry and every batch points at a file that exists and opens to its SHA-256."""
    import hashlib

    with engine.connect() as c:
        batch_refs = [f["landing"] for (files,) in c.execute(select(ImportBatch.files)) for f in files]
    for ref in [e["file"] for e in _manifest(root)] + batch_refs:
        blob = (root / ref).read_bytes()
        plain = open_file(blob) if is_sealed(blob) else blob
        assert hashlib.sha256(plain).hexdigest() == Path(ref).name[:64]


def _replays(tmp_path: Path, root: Path, name: str, source=None) -> int:
    e = make_engine(f"sqlite:///{tmp_path}/{name}.db")
    upgrade(e)
    reps = replay(e, landing_dir=root, source=source)
    assert [r.status for r in reps] == ["committed"] * 3
    with e.connect() as c:
        n = c.execute(select(func.count()).select_from(ImportBatch).where(ImportBatch.kind == "feed:employment")
                      ).scalar()
    e.dispose()
    assert sum(r.rows for r in reps) == 3
    return n


def _sealed_state(engine, root: Path) -> None:
    files = sorted(p for p in root.glob("*/*") if p.is_file())
    assert len(files) == 3 and all(p.suffix == ".enc" and is_sealed(p.read_bytes()) for p in files)
    assert not any(idn.encode() in p.read_bytes() for p in root.rglob("*") if p.is_file() for idn in IDS)
    assert all(e["file"].endswith(".csv.enc") for e in _manifest(root))
    _refs_complete(engine, root)


def test_seal_landing_seals_repoints_and_a_rerun_is_a_no_op(engine, tmp_path):
    root = _legacy_landing(engine, tmp_path)
    rep = seal_landing(root, engine)
    assert (rep.sealed, rep.plaintext_removed, rep.manifest_entries, rep.batches) == (3, 3, 3, 3)
    assert rep.left_alone == []
    _sealed_state(engine, root)
    assert oct((next(root.glob("*/*.enc"))).stat().st_mode & 0o777) == "0o600"
    # the sealed landing zone still replays, from the manifest and from the database's batches
    assert _replays(tmp_path, root, "r1") == 3
    assert _replays(tmp_path, root, "r2", source=engine) == 3
    # re-importing a delivered file is still "unchanged" and lands nothing new
    assert import_feed(engine, "employment", next(root.glob("*/*.enc")), landing_dir=root).status == "unchanged"
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    again = seal_landing(root, engine)
    assert (again.sealed, again.already_sealed, again.plaintext_removed, again.manifest_entries, again.batches) == \
        (0, 0, 0, 0, 0)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so no handler in the code under test swallows it."""


@pytest.mark.parametrize("stage", ["second_file", "manifest", "database", "delete"])
def test_interrupted_seal_landing_keeps_references_whole_and_a_rerun_finishes(engine, tmp_path, monkeypatch, stage):
    root = _legacy_landing(engine, tmp_path)
    real_write, real_repoint, real_unlink = landing_mod._write_atomic, landing_mod._repoint_batches, Path.unlink
    calls = {"n": 0}

    def write(dest, data):
        calls["n"] += 1
        if (stage == "second_file" and calls["n"] == 2) or (stage == "manifest" and dest.name == "manifest.jsonl"):
            # killed mid-write: a partial temporary file is left behind
            dest.with_name(f".{dest.name}.seal.4242.tmp").write_bytes(data[:10])
            raise Killed
        real_write(dest, data)

    def repoint(*a):
        if stage == "database":
            raise Killed
        real_repoint(*a)

    def unlink(self, missing_ok=False):
        if stage == "delete" and self.suffix == ".csv" and not getattr(unlink, "once", False):
            unlink.once = True
            real_unlink(self, missing_ok)
            raise Killed
        real_unlink(self, missing_ok)

    monkeypatch.setattr(landing_mod, "_write_atomic", write)
    monkeypatch.setattr(landing_mod, "_repoint_batches", repoint)
    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(Killed):
        seal_landing(root, engine)
    monkeypatch.undo()
    _refs_complete(engine, root)  # after the kill: nothing points at a missing or partial file
    assert _replays(tmp_path, root, "mid") == 3
    rep = seal_landing(root, engine)
    assert not list(root.glob("*/.*.tmp"))
    _sealed_state(engine, root)
    assert rep.sealed + rep.already_sealed == {"second_file": 3, "manifest": 3, "database": 3, "delete": 2}[stage]
    assert _replays(tmp_path, root, "after", source=engine) == 3


def test_cli_seal_landing_reports_and_leaves_foreign_files_alone(engine, tmp_path):
    from fangpin.cli.main import app

    root = _legacy_landing(engine, tmp_path)
    odd = root / "employment" / ("0" * 64 + ".csv")
    odd.write_text("not the content its name says", encoding="utf-8")
    url = engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(app, ["keys", "seal-landing", "--db", url, "--landing", str(root)])
    assert out.exit_code == 1, out.output  # something was left alone: said, and a non-zero exit
    rep = json.loads(out.output[out.output.index("{"):])
    assert rep["sealed"] == 3 and rep["plaintext_removed"] == 3 and len(rep["left_alone"]) == 1
    assert "does not match" in rep["left_alone"][0] and odd.exists()
    with engine.connect() as c:
        from fangpin.security.models import AuditLog

        assert c.execute(select(AuditLog.action).where(AuditLog.action == "keys.seal_landing")).scalar()
