"""Runtime configuration: database URL and the data home.

Resolution order for the database: explicit ``--db URL`` > ``FANGPIN_DATABASE_URL`` > SQLite file
``fangpin.db`` in the current directory (embedded, zero set-up; DESIGN.md "Storage and engines").
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SQLITE_FILE = "fangpin.db"


def database_url(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    env = os.environ.get("FANGPIN_DATABASE_URL")
    if env:
        return env
    return f"sqlite:///{DEFAULT_SQLITE_FILE}"


def data_home() -> Path:
    """Where downloaded reference data (administrative divisions) is cached.

    ``FANGPIN_HOME`` wins; otherwise ``~/.cache/fangpin``.
    """
    env = os.environ.get("FANGPIN_HOME")
    p = Path(env) if env else Path.home() / ".cache" / "fangpin"
    p.mkdir(parents=True, exist_ok=True)
    return p
