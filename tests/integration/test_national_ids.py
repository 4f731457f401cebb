"""Issue 8 / docs/SCALE.md §3: county exports with nationally unique ids (county × 10^10 + local id), unioned
and monitored in one run, give back — after the write-back by hh_no — exactly each county's own embedded run."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.alerts.store import store_run
from fangpin.db import make_engine
from fangpin.issues import FangpinValueError
from fangpin.monitoring import engine as E
from fangpin.monitoring import national_ids as NI
from fangpin.monitoring import snapshot as S
from fangpin.synth.run import SynthParams, run

AS_OF = date(2024, 6, 30)
COUNTIES = {"530521": 8, "530523": 9}  # two Baoshan (Yunnan) counties, each database numbered from 1


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    d = tmp_path_factory.mktemp("natids")
    out = {}
    for code, seed in COUNTIES.items():
        e = make_engine(f"sqlite:///{d}/{code}.db")
        run(e, SynthParams(households=150, months=24, seed=seed, region=code), d / f"truth{code}")
        with e.connect() as c:
            local = S.export(c, d / f"local{code}")
            national = S.export(c, d / f"nat{code}", national_ids=True)
        e.dispose()
        out[code] = {"db": d / f"{code}.db", "local": local, "national": national,
                     "own": E.run(local, AS_OF)}
    out["union"] = S.union([out[c]["national"] for c in COUNTIES], d / "union")
    out["dir"] = d
    return out


def _stored(db: Path) -> list[tuple]:
    e = make_engine(f"sqlite:///{db}")
    with e.connect() as c:
        rows = c.execute(select(Alert.household_id, Alert.rule_id, Alert.region_code, Alert.status, Alert.risk_types,
                                Alert.first_evidence, Alert.evidence, Alert.sources, Alert.param_version,
                                Alert.rules_version, Alert.first_as_of, Alert.last_as_of)).all()
    e.dispose()
    return sorted((tuple(json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for v in r)
                   for r in rows))


def test_the_two_counties_local_ids_really_collide_and_national_ids_do_not(two):
    a, b = (two[c] for c in COUNTIES)
    for table, col in (("household", "id"), ("member_version", "person_id"), ("income_record", "id"),
                       ("guarantee_status", "id"), ("household_version", "household_id")):
        la = set(pq.read_table(a["local"].path(table), columns=[col])[col].to_pylist())
        lb = set(pq.read_table(b["local"].path(table), columns=[col])[col].to_pylist())
        assert len(la & lb) > 0, (table, col)  # a plain union would mix two counties' households
        na = set(pq.read_table(a["national"].path(table), columns=[col])[col].to_pylist())
        nb = set(pq.read_table(b["national"].path(table), columns=[col])[col].to_pylist())
        assert not (na & nb) and len(na) == len(la) and len(nb) == len(lb)
    # a union of the local exports would merge households of both counties into one (hh_no says they differ)
    hh = [pq.read_table(two[c]["local"].path("household")) for c in COUNTIES]
    assert set(hh[0]["id"].to_pylist()) & set(hh[1]["id"].to_pylist())
    assert not set(hh[0]["hh_no"].to_pylist()) & set(hh[1]["hh_no"].to_pylist())


def test_export_offsets_every_id_column_and_records_the_scheme(two):
    for code in COUNTIES:
        loc, nat = two[code]["local"], two[code]["national"]
        ids = nat.manifest["ids"]
        assert ids["scheme"] == NI.SCHEME and ids["counties"] == [code] and ids["multiplier"] == 10 ** 10
        off = int(code) * 10 ** 10
        for table in loc.manifest["tables"]:
            lt, nt = pq.read_table(loc.path(table)), pq.read_table(nat.path(table))
            assert lt.num_rows == nt.num_rows and lt.schema == nt.schema
            cols = [c for c in lt.column_names if c in ("id", "household_id", "person_id")]
            assert ids["columns"][table] == cols
            for c in lt.column_names:
                want = [None if v is None else v + off for v in lt[c].to_pylist()] if c in cols else lt[c].to_pylist()
                assert nt[c].to_pylist() == want, (table, c)
    assert two["union"].manifest["ids"]["counties"] == sorted(COUNTIES)
    assert 659999 * 10 ** 10 + 10 ** 10 < 2 ** 63


def test_union_run_written_back_equals_each_countys_own_run(two, tmp_path):
    """One DuckDB run over the union; each county's part restored by hh_no and stored in a copy of its database
    gives the same alert rows (household, rule, evidence, sources, risk types) as its own embedded run."""
    national = E.run(two["union"], AS_OF)
    assert national.features.num_rows == sum(two[c]["own"].features.num_rows for c in COUNTIES)
    for code in COUNTIES:
        own = two[code]["own"]
        mine = NI.for_county(national, code)
        e = make_engine(f"sqlite:///{two[code]['db']}")
        with e.connect() as c:
            back = NI.localise(mine, c)
        e.dispose()
        assert len(own.alerts) > 0 and back.digest == own.digest
        key = lambda a: (a.household_id, a.rule_id)  # noqa: E731
        strip = lambda a: replace(a, snapshot="")  # noqa: E731  (the fingerprint names the snapshot read)
        assert sorted(map(strip, back.alerts), key=key) == sorted(map(strip, own.alerts), key=key)
        assert sorted(back.features["household_id"].to_pylist()) == sorted(own.features["household_id"].to_pylist())
        # stored: the same alert rows as storing the county's own run
        dbs = {k: tmp_path / f"{code}-{k}.db" for k in ("own", "union")}
        for k, res in (("own", own), ("union", back)):
            shutil.copy(two[code]["db"], dbs[k])
            eng = make_engine(f"sqlite:///{dbs[k]}")
            store_run(eng, res, as_of=AS_OF, engine_name="duckdb")
            eng.dispose()
        assert _stored(dbs["own"]) == _stored(dbs["union"]) and len(_stored(dbs["own"])) >= len(own.alerts)


def test_write_back_refuses_other_counties_and_unknown_households_all_or_nothing(two):
    a, b = list(COUNTIES)
    national = E.run(two["union"], AS_OF)
    e = make_engine(f"sqlite:///{two[a]['db']}")
    with e.connect() as c:
        with pytest.raises(FangpinValueError) as err:  # the whole union into county a
            NI.localise(national, c)
        assert err.value.code == "national_ids.other_county" and b in str(err.value)
        with pytest.raises(FangpinValueError) as err:  # county b's part into county a's database
            NI.localise(NI.for_county(national, b), c, county=b)
        assert err.value.code == "national_ids.unknown_household"
        mine = NI.for_county(national, a)
        bad = replace(mine.alerts[0], hh_no="530521H999999999")
        with pytest.raises(FangpinValueError) as err:
            NI.localise(E.RunResult(mine.features, [bad, *mine.alerts[1:]]), c)
        assert err.value.code == "national_ids.unknown_household" and "530521H999999999" in str(err.value)
        assert err.value.issue.zh and err.value.issue.en
    e.dispose()


def test_union_refuses_local_exports_and_duplicate_counties(two, tmp_path):
    a, b = list(COUNTIES)
    with pytest.raises(FangpinValueError) as err:
        S.union([two[a]["national"], two[b]["local"]], tmp_path / "u1")
    assert err.value.code == "national_ids.union_local"
    with pytest.raises(FangpinValueError) as err:
        S.union([two[a]["national"], two[a]["national"]], tmp_path / "u2")
    assert err.value.code == "national_ids.union_duplicate"
    with pytest.raises(FangpinValueError) as err:  # a union of several counties cannot be one county= directory
        S.union([two["union"]], tmp_path / "u3", layout="directory")
    assert err.value.code == "national_ids.union_nested"
    again = S.union([two["union"]], tmp_path / "u4")  # files → files: a province union joins the nation's
    assert again.manifest["ids"]["counties"] == sorted(COUNTIES)
    assert again.manifest["tables"] == two["union"].manifest["tables"]


def test_bad_county_code_and_out_of_range_ids_are_refused(two):
    with pytest.raises(FangpinValueError) as err:
        NI.check_county("053052")
    assert err.value.code == "national_ids.bad_county"
    import pyarrow as pa

    with pytest.raises(FangpinValueError) as err:
        NI.apply(pa.table({"id": pa.array([1, 10 ** 10], pa.int64())}), "530521", "household")
    assert err.value.code == "national_ids.id_range" and err.value.issue.zh


FANGPIN = Path(sys.executable).parent / "fangpin"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(FANGPIN), *args], capture_output=True, text=True)


def test_cli_export_and_union(two, tmp_path):
    dirs = []
    for code in COUNTIES:
        dirs.append(tmp_path / code)
        p = _cli("snapshot-export", "--db", f"sqlite:///{two[code]['db']}", "--out", str(dirs[-1]))
        assert p.returncode == 0, p.stderr
        assert S.open_snapshot(dirs[-1]).manifest == two[code]["national"].manifest
    for layout in ("files", "directory"):
        p = _cli("snapshot-union", "--out", str(tmp_path / layout), "--layout", layout, *map(str, dirs))
        assert p.returncode == 0, p.stderr
        m = S.open_snapshot(tmp_path / layout).manifest
        assert (m["tables"], m["ids"], m["fingerprint"]) == \
               (two["union"].manifest["tables"], two["union"].manifest["ids"], two["union"].fingerprint)
    assert (tmp_path / "directory" / "household.parquet" / "county=530523" / "part-0.parquet").is_file()
    p = _cli("snapshot-export", "--db", f"sqlite:///{two['530521']['db']}", "--out", str(tmp_path / "loc"),
             "--local-ids")
    assert p.returncode == 0 and "ids" not in S.open_snapshot(tmp_path / "loc").manifest
    p = _cli("snapshot-union", "--out", str(tmp_path / "bad"), str(dirs[1]), str(tmp_path / "loc"))
    err = "".join(p.stderr.split())
    assert p.returncode == 2 and "--national-ids" in err and "不能合并" in err


def test_a_database_without_one_county_code_needs_county(tmp_path):
    """No households → no county code to build national ids from: a bilingual refusal before Spark starts."""
    p = _cli("spark-monitor", "--db", f"sqlite:///{tmp_path}/empty.db", "--as-of", AS_OF.isoformat())
    err = "".join(p.stderr.split())
    assert p.returncode == 2 and "--county" in err and "县级代码" in err
    p = _cli("snapshot-export", "--db", f"sqlite:///{tmp_path}/empty.db", "--out", str(tmp_path / "s"),
             "--county", "53052")
    assert p.returncode == 2 and "6digits" in "".join(p.stderr.split())


@pytest.mark.heavy
def test_spark_union_run_then_load_alerts_per_county(two, tmp_path):
    """The cluster job (Spark local mode) over the national layout (each table a directory of county files),
    then `fangpin load-alerts --county` into each county database: the stored alerts equal those of the county's
    own embedded run; a county's partition loaded into the other county's database is refused (exit 2, nothing
    stored)."""
    from fangpin.monitoring import spark_job as J

    snap = S.union([two[c]["national"] for c in COUNTIES], tmp_path / "snap", layout="directory")
    spark = E.spark_session("local[1]")
    try:
        meta = J.run_job(spark, snap, AS_OF, tmp_path / "out")
    finally:
        spark.stop()
    assert meta["ids"]["counties"] == sorted(COUNTIES)
    assert meta["households"] == sum(two[c]["own"].features.num_rows for c in COUNTIES)
    for code in COUNTIES:
        own_db, back_db = tmp_path / f"{code}-own.db", tmp_path / f"{code}-back.db"
        shutil.copy(two[code]["db"], own_db)
        shutil.copy(two[code]["db"], back_db)
        eng = make_engine(f"sqlite:///{own_db}")
        store_run(eng, two[code]["own"], as_of=AS_OF, engine_name="duckdb")
        eng.dispose()
        p = _cli("load-alerts", "--db", f"sqlite:///{back_db}", "--from", str(tmp_path / "out"), "--county", code)
        assert p.returncode == 0, p.stderr[-3000:]
        # evidence numbers may differ by a cent between engines (docs/SCALE.md §1); here both are compared
        # after the same JSON rounding, and the synthetic counties have no half-cent values
        assert _stored(own_db) == _stored(back_db)
    a, b = list(COUNTIES)
    wrong = tmp_path / "wrong.db"
    shutil.copy(two[a]["db"], wrong)
    before = _stored(wrong)
    p = _cli("load-alerts", "--db", f"sqlite:///{wrong}", "--from", str(tmp_path / "out"), "--county", b)
    assert p.returncode == 2 and "hh_no" in p.stderr and "户编号" in p.stderr
    assert _stored(wrong) == before


def test_round_trip_on_each_database_kind(engine, tmp_path):
    """Export with national ids, run, restore by hh_no and store — on SQLite and PostgreSQL (the county code comes
    from the database's region codes)."""
    run(engine, SynthParams(households=60, months=24, seed=11, region="530523"), tmp_path / "truth")
    with engine.connect() as c:
        assert NI.county_of(c) == "530523"
        local = E.run(S.export(c, tmp_path / "local"), AS_OF)
        nat = S.export(c, tmp_path / "nat", national_ids=True)
        national = E.run(nat, AS_OF)
        assert min(national.features["household_id"].to_pylist()) > 530523 * 10 ** 10
        back = NI.localise(national, c)
    strip = lambda a: replace(a, snapshot="")  # noqa: E731
    key = lambda a: (a.household_id, a.rule_id)  # noqa: E731
    assert len(local.alerts) > 0
    assert sorted(map(strip, back.alerts), key=key) == sorted(map(strip, local.alerts), key=key)
    stored = store_run(engine, back, as_of=AS_OF, engine_name="spark")
    assert stored["alerts_new"] == len({key(a) for a in local.alerts})
