"""Monitoring engine (issue 4): rules as data, no look-ahead, DuckDB and Spark agree."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fangpin.db import make_engine
from fangpin.monitoring import engine as E
from fangpin.monitoring import snapshot as S
from fangpin.synth.run import SynthParams, run

AS_OF = date(2024, 6, 30)


@pytest.fixture(scope="module")
def snap(tmp_path_factory):
    d = tmp_path_factory.mktemp("mon")
    e = make_engine(f"sqlite:///{d}/m.db")
    run(e, SynthParams(households=1500, months=24, seed=8), d / "truth")
    with e.connect() as c:
        return S.export(c, d / "snap")


def test_rules_load_and_cite_policy():
    rules = E.load_rules()
    assert {"INC-LINE", "SPEND-RIGID", "G-HOUSING", "G-DROPOUT", "G-WATER", "G-INSURANCE"} <= {r.id for r in rules.rules}
    assert all("POLICY.md" in r.reference or "seed 004" in r.reference for r in rules.rules)


def test_income_line_rule_compares_with_the_yunnan_2024_line_policy_3(snap):
    res = E.run(snap, AS_OF)
    inc = [a for a in res.alerts if a.rule_id == "INC-LINE"]
    assert inc, "a county of 1,500 households has households below the line"
    assert all(a.evidence["monitoring_line"] == 8700.0 for a in inc)  # POLICY.md §3 [L] Yunnan 2024
    assert all(a.evidence["pc_net_12m"] < 8700 for a in inc)
    assert all(a.sources and a.param_version for a in inc)
    f = res.features
    below = f.filter(pc.and_(pc.not_equal(f["income_source"], "none"), pc.less(f["pc_net_12m"], 8700.0)))
    assert below.num_rows == len(inc)


def _cut(snap: S.Snapshot, out, as_of: date, *, scramble: bool) -> S.Snapshot:
    """Drop (or scramble) every row not true or not known by as_of."""
    known_before = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    out.mkdir()
    date_col = {"household_version": "valid_from", "member_version": "valid_from", "income_record": "period_end",
                "guarantee_status": "status_date"}
    for t in E.FEATURE_TABLES:
        tab = pq.read_table(snap.path(t))
        if t in date_col:
            future = pc.or_(pc.greater(tab[date_col[t]], pa.scalar(as_of, pa.date32())),
                            pc.greater_equal(tab["recorded_at"], pa.scalar(known_before, pa.timestamp("us"))))
            if scramble and t == "income_record":
                wage = pc.if_else(future, pc.multiply(tab["wage"], 0.0), tab["wage"])
                tab = tab.set_column(tab.schema.get_field_index("wage"), "wage", wage)
                # business income (business_12m, business_yoy_3m): a later collapse must not show
                bus = pc.if_else(future, pc.multiply(tab["business"], 0.01), tab["business"])
                tab = tab.set_column(tab.schema.get_field_index("business"), "business", bus)
            elif scramble and t == "guarantee_status":
                hs = pc.if_else(future, pa.scalar(False), tab["housing_safe"])
                tab = tab.set_column(tab.schema.get_field_index("housing_safe"), "housing_safe", hs)
            elif not scramble:
                tab = tab.filter(pc.invert(future))
        pq.write_table(tab, out / f"{t}.parquet")
    return S.Snapshot(out, {"fingerprint": "cut"})


@pytest.mark.parametrize("scramble", [False, True])
def test_no_feature_reads_data_after_the_as_of_date(snap, tmp_path, scramble):
    full = E.run(snap, AS_OF).features
    cut = E.run(_cut(snap, tmp_path / "cut", AS_OF, scramble=scramble), AS_OF).features
    assert full.drop_columns([]).equals(cut), "features changed when only later data changed"


def test_alert_digest_is_stable_and_order_free():
    assert E.alerts_digest([(2, "A"), (1, "B")]) == E.alerts_digest([(1, "B"), (2, "A"), (1, "B")])


def test_incremental_run_matches_full_run_for_affected_households(snap):
    full = E.run(snap, AS_OF)
    hh = pa.array(sorted({a.household_id for a in full.alerts})[:50], pa.int64())
    part = E.run(snap, AS_OF, households=hh)
    want = {(a.household_id, a.rule_id) for a in full.alerts if a.household_id in set(hh.to_pylist())}
    assert {(a.household_id, a.rule_id) for a in part.alerts} == want


def test_what_if_line_plus_10_percent_flags_more(snap):
    base = E.run(snap, AS_OF)
    up = E.run(snap, AS_OF, overrides={"monitoring_line_factor": 1.1})
    n = lambda r: sum(a.rule_id == "INC-LINE" for a in r.alerts)  # noqa: E731
    assert n(up) > n(base)


@pytest.mark.heavy
def test_duckdb_and_spark_give_identical_alerts_and_features(snap):
    duck = E.run(snap, AS_OF)
    spark = E.run(snap, AS_OF, engine="spark")
    assert duck.digest == spark.digest and len(duck.alerts) == len(spark.alerts) > 0
    a, b = duck.features, spark.features
    assert a.column_names == b.column_names and a.num_rows == b.num_rows
    for name in a.column_names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        if pa.types.is_floating(a[name].type):
            assert all((u is None and v is None) or abs(u - v) <= 1e-6 * max(1, abs(u)) for u, v in zip(x, y)), name
        else:
            assert x == y, name
