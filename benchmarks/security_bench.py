"""Security benchmarks (issue 7 items 1 and 6; docs/SECURITY.md): ``run(results, work)`` fills

* ``security.encrypt_us`` / ``security.decrypt_us`` / ``security.blind_us`` — microseconds per 18-digit ID for
  AES-256-GCM encryption, decryption and the HMAC blind index (batch forms, 200,000 IDs);
* on a synthetic county in SQLite (``FANGPIN_BENCH_SECURITY_HH`` households, default 20,000; 24 months):
  ``security.rotate_rows_per_s`` (``fangpin keys rotate`` work: re-encrypt + re-index every ID and phone),
  ``security.audit_verify_rows_per_s`` (100,000 audit rows), ``security.backup_seconds`` and
  ``security.restore_seconds`` (verified round trip, table checksums + audit chain).
"""
from __future__ import annotations

import base64
import os
import time
from pathlib import Path

GOALS = {
    "security.encrypt_us": ("≤ 20 µs per value", "AES-256-GCM encrypt per 18-digit ID (batch form)"),
    "security.decrypt_us": ("≤ 20 µs per value", "AES-256-GCM decrypt per ID (batch form)"),
    "security.blind_us": ("≤ 10 µs per value", "HMAC-SHA256 blind index per ID"),
    "security.rotate_rows_per_s": ("≥ 5,000 rows/s", "key rotation: re-encrypt + re-index (SQLite)"),
    "security.audit_verify_rows_per_s": ("≥ 50,000 rows/s", "fangpin audit verify"),
    "security.backup_seconds": ("—", "fangpin backup of the bench county (SQLite, with checksums)"),
    "security.restore_seconds": ("—", "fangpin restore + verification of the same backup"),
}


def run(results: dict, work: Path) -> None:
    from sqlalchemy import text

    from fangpin.db import make_engine, upgrade
    from fangpin.security import audit
    from fangpin.security.backup import backup, restore
    from fangpin.security.crypto import reset_keyring
    from fangpin.security.fields import rotate
    from fangpin.synth.run import SynthParams, run as synth

    work = Path(work) / "security"
    work.mkdir(parents=True, exist_ok=True)
    old_env = os.environ.get("FANGPIN_DATA_KEY")
    k1 = base64.b64encode(os.urandom(32)).decode()
    os.environ["FANGPIN_DATA_KEY"] = k1
    reset_keyring()
    try:
        from fangpin.security.crypto import keyring

        kr = keyring()
        n = 200_000
        vals = [f"5305211980{i % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}X" for i in range(n)]
        t = time.perf_counter()
        enc = kr.encrypt_many(vals, "person.id_number")
        results["security.encrypt_us"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        kr.decrypt_many(enc, "person.id_number")
        results["security.decrypt_us"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        kr.blind_many(vals, "id")
        results["security.blind_us"] = (time.perf_counter() - t) / n * 1e6

        hh = int(os.environ.get("FANGPIN_BENCH_SECURITY_HH", "20000"))
        db = work / "county.db"
        for p in work.glob("county.db*"):
            p.unlink()
        e = make_engine(f"sqlite:///{db}")
        upgrade(e)
        synth(e, SynthParams(households=hh, months=24, seed=7), None)
        os.environ["FANGPIN_DATA_KEY"] = f"{base64.b64encode(os.urandom(32)).decode()},{k1}"
        reset_keyring()
        t = time.perf_counter()
        counts = rotate(e)
        dt = time.perf_counter() - t
        results["security.rotate_rows"] = sum(v for k, v in counts.items() if k != "landing_files")
        results["security.rotate_rows_per_s"] = results["security.rotate_rows"] / dt
        with e.begin() as c:
            for i in range(100_000):
                audit.record(c, f"user:{i % 50}:bench", "export.scores", f"file:s{i}.csv", {"rows": i})
        t = time.perf_counter()
        with e.connect() as c:
            rep = audit.verify(c)
        results["security.audit_verify_rows_per_s"] = rep.rows / (time.perf_counter() - t)
        assert rep.ok
        t = time.perf_counter()
        backup(e, work / "county.bak")
        results["security.backup_seconds"] = time.perf_counter() - t
        target = work / "restored.db"
        for p in work.glob("restored.db*"):
            p.unlink()
        t = time.perf_counter()
        restore(make_engine(f"sqlite:///{target}"), work / "county.bak")
        results["security.restore_seconds"] = time.perf_counter() - t
        with e.connect() as c:
            results["security.bench_persons"] = c.execute(text("SELECT COUNT(*) FROM person")).scalar_one()
        e.dispose()
    finally:
        if old_env is None:
            os.environ.pop("FANGPIN_DATA_KEY", None)
        else:
            os.environ["FANGPIN_DATA_KEY"] = old_env
        reset_keyring()
