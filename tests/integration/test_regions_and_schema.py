"""Division catalogue (POLICY.md §12) and schema/migrations on both databases."""
from __future__ import annotations

import pyarrow.compute as pc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from fangpin.db import current_revision
from fangpin.registry import regions
import fangpin.exchange.models  # noqa: F401  (feed tables: part of Base.metadata, migration 0002)
from fangpin.registry.models import Base, Region


def test_catalogue_holds_the_whole_country_down_to_villages():
    t = regions.catalogue()
    counts = dict(zip(*[x.to_pylist() for x in pc.value_counts(t["level"]).flatten()]))
    assert counts[1] == 31 and counts[3] > 2900 and counts[4] > 41000 and counts[5] > 620000
    # every code is 12 digits and its parent exists (township 3 digits, village 3 digits)
    codes = set(t["code"].to_pylist())
    assert all(len(c) == 12 and c.isdigit() for c in list(codes)[:5000])
    sample = t.filter(pc.equal(t["level"], 5)).slice(0, 2000)
    assert all(p in codes for p in sample["parent_code"].to_pylist())


def test_level_and_parent_follow_the_12_digit_layout_policy_12():
    assert regions.level_of("530000000000") == 1
    assert regions.level_of("530500000000") == 2
    assert regions.level_of("530521000000") == 3
    assert regions.level_of("530521101000") == 4
    assert regions.level_of("530521101201") == 5
    assert regions.parent_of("530521101201") == "530521101000"
    assert regions.parent_of("530521101000") == "530521000000"


def test_unknown_area_is_soft():
    assert regions.is_known_area("530521")
    assert not regions.is_known_area("532121")  # retired 保山地区 code: a warning elsewhere, never a rejection


def test_migrations_match_models_and_load_regions(engine):
    assert current_revision(engine) is not None
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    assert diff == []
    with engine.begin() as c:
        n = regions.load_into_db(c, ["530521"])
        again = regions.load_into_db(c, ["530521"])
        total = c.execute(select(func.count()).select_from(Region)).scalar_one()
        name = c.execute(select(Region.name).where(Region.code == "530521000000")).scalar_one()
    assert n == total and again == 0
    assert name == "施甸县"
