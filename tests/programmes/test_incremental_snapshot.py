"""A one-household incremental run (used after a public-welfare job exit) exports only that household's rows and
computes exactly the features a full snapshot gives for it."""
from __future__ import annotations

from datetime import date

import pyarrow.compute as pc

from fangpin.monitoring import engine as E
from fangpin.monitoring import snapshot as S

from .conftest import AS_OF


def test_filtered_snapshot_gives_the_same_features(county, tmp_path):
    e = county["engine"]
    hh = sorted(county["features"]["household_id"].to_pylist())[::37][:8]
    with e.connect() as c:
        full = S.export(c, tmp_path / "full")
        part = S.export(c, tmp_path / "part", households=hh)
    assert part.manifest["tables"]["household"] == len(hh) < full.manifest["tables"]["household"]
    a = E.run(full, AS_OF).features
    b = E.run(part, AS_OF).features
    a = a.filter(pc.is_in(a["household_id"], b["household_id"])).sort_by("household_id")
    b = b.sort_by("household_id")
    assert b.num_rows == len(hh)
    for col in b.column_names:
        assert a[col].to_pylist() == b[col].to_pylist(), col
