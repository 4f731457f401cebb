"""Issue 8: the cluster job sizes its shuffle partitions and input splits from the snapshot's row counts
(spark_job.sizing; docs/SCALE.md §3 "Sizing the cluster")."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fangpin.monitoring import spark_job as J
from fangpin.monitoring.snapshot import Snapshot


def _snap(tmp_path: Path, tables: dict[str, int], sizes: dict[str, int]) -> Snapshot:
    for name, size in sizes.items():
        (tmp_path / f"{name}.parquet").write_bytes(b"\0" * size)
    manifest = {"tables": tables, "fingerprint": "t"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return Snapshot(tmp_path, manifest)


def test_a_county_keeps_the_small_defaults(tmp_path):
    s = J.sizing(_snap(tmp_path, {"household": 40_000, "income_record": 150_000}, {"income_record": 3 << 20}))
    assert s["spark.sql.shuffle.partitions"] == "8"
    assert s["spark.sql.files.maxPartitionBytes"] == str(128 << 20)  # fewer rows than one split: untouched
    assert s["spark.sql.adaptive.enabled"] == "true"
    assert s["spark.sql.autoBroadcastJoinThreshold"] == str(10 << 20)  # no table over 200 k rows: the default


def test_no_registry_table_is_broadcast_on_its_compressed_file_size(tmp_path):
    """The 10 M snapshot's household file (3.8 M rows) is 7.5 MB: under Spark's 10 MB default it was collected on
    the 1 GB driver and broadcast — the OutOfMemoryError of issue 8. The threshold goes under that file."""
    s = J.sizing(_snap(tmp_path, {"household": 3_816_793, "income_record": 14_765_264, "dept_event": 190_839},
                       {"household": 7_473_944, "income_record": 261_202_930, "dept_event": 2_000_000}))
    assert int(s["spark.sql.autoBroadcastJoinThreshold"]) == 7_473_943
    assert s["spark.sql.adaptive.autoBroadcastJoinThreshold"] == s["spark.sql.autoBroadcastJoinThreshold"]


def test_10m_persons_get_one_partition_per_100k_households_and_1m_row_splits(tmp_path):
    # the 10 M benchmark snapshot: 3,816,793 households, 14,765,264 income rows in 261 MB
    s = J.sizing(_snap(tmp_path, {"household": 3_816_793, "member_version": 10_198_655,
                                  "income_record": 14_765_264}, {"income_record": 261_202_930}))
    assert s["spark.sql.shuffle.partitions"] == "39"
    split = int(s["spark.sql.files.maxPartitionBytes"])
    assert 8 << 20 <= split < 20 << 20  # ≈ 17.7 MB: ~15 map tasks over income_record instead of 2
    assert 261_202_930 / split >= 14


def test_the_nation_and_the_split_bounds(tmp_path):
    s = J.sizing(_snap(tmp_path, {"household": 190_000_000, "income_record": 740_000_000},
                       {"income_record": 100 << 20}))  # tiny bytes per row → the 8 MB floor
    assert s["spark.sql.shuffle.partitions"] == "1900"
    assert s["spark.sql.files.maxPartitionBytes"] == str(8 << 20)
    s = J.sizing(_snap(tmp_path, {"household": 1_000, "income_record": 2_000_000},
                       {"income_record": 10 << 30}))  # huge rows → the 128 MB ceiling
    assert s["spark.sql.files.maxPartitionBytes"] == str(128 << 20)


def test_a_directory_table_counts_its_county_files(tmp_path):
    d = tmp_path / "income_record.parquet" / "county=530521"
    d.mkdir(parents=True)
    (d / "part-0.parquet").write_bytes(b"\0" * (40 << 20))
    (tmp_path / "income_record.parquet" / "county=530522").mkdir()
    (tmp_path / "income_record.parquet" / "county=530522" / "part-0.parquet").write_bytes(b"\0" * (40 << 20))
    manifest = {"tables": {"household": 500_000, "income_record": 4_000_000}, "fingerprint": "t"}
    s = J.sizing(Snapshot(tmp_path, manifest))
    assert s["spark.sql.files.maxPartitionBytes"] == str(20 << 20)  # 80 MB / 4 M rows × 1 M rows
    assert s["spark.sql.shuffle.partitions"] == "8"


@pytest.mark.heavy
def test_sized_job_keeps_parity_and_an_operator_setting_wins(tmp_path, monkeypatch):
    """The job with many partitions and tiny input splits (sizing scaled down to a 400-household county) still
    gives the embedded alerts; a shuffle-partition count given by the operator is not overridden."""
    from datetime import date

    from fangpin.db import make_engine
    from fangpin.monitoring import engine as E
    from fangpin.monitoring import snapshot as S
    from fangpin.synth.run import SynthParams, run

    as_of = date(2024, 6, 30)
    e = make_engine(f"sqlite:///{tmp_path}/m.db")
    run(e, SynthParams(households=400, months=24, seed=8), tmp_path / "truth")
    with e.connect() as c:
        snap = S.export(c, tmp_path / "snap")
    e.dispose()
    duck = E.run(snap, as_of)
    monkeypatch.setattr(J, "HOUSEHOLDS_PER_PARTITION", 20)   # 400 households → 20 partitions
    monkeypatch.setattr(J, "SPLIT_ROWS", 500)                # → splits at the 8 MB floor (files are small)
    monkeypatch.setattr(J, "MIN_PARTITIONS", 1)
    monkeypatch.setattr(J, "BROADCAST_MAX_ROWS", 100)         # → no registry table broadcast: all joins shuffled
    spark = E.spark_session("local[2]")
    try:
        meta = J.run_job(spark, snap, as_of, tmp_path / "out")
        assert meta["conf"]["spark.sql.shuffle.partitions"] == str(-(-snap.manifest["tables"]["household"] // 20))
        assert int(meta["conf"]["spark.sql.autoBroadcastJoinThreshold"]) < (10 << 20)
        assert J.compare_runs(duck, J.read_alerts(tmp_path / "out"))["parity"] == 1.0
    finally:
        spark.stop()
    spark = E.spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "3"})
    try:
        meta = J.run_job(spark, snap, as_of, tmp_path / "out2")
        assert meta["conf"]["spark.sql.shuffle.partitions"] == "3"
        assert J.compare_runs(duck, J.read_alerts(tmp_path / "out2"))["parity"] == 1.0
    finally:
        spark.stop()
