"""A small synthetic county (SQLite, monitored) for the reliability checks — the same recipe as the web tests."""
from __future__ import annotations

from datetime import date
from pathlib import Path

AS_OF = date(2024, 12, 31)


def build_small(path: Path, households: int = 300, seed: int = 3) -> str:
    """Synthesise ``households`` households (24 months), run monitoring; returns the SQLite URL."""
    from fangpin.alerts.service import monitor
    from fangpin.db import make_engine, upgrade
    from fangpin.synth.run import SynthParams, run

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    url = f"sqlite:///{path}"
    e = make_engine(url)
    upgrade(e)
    run(e, SynthParams(households=households, months=24, seed=seed), None)
    monitor(e, AS_OF)
    e.dispose()
    return url
