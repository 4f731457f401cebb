"""benchmarks/growth_bench.py (issue 8 item 2): the cost-growth table and the capacity slope rendered from
results.json, and the part itself run end to end at a tiny size."""
from __future__ import annotations

import importlib
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
G = importlib.import_module("growth_bench")


def test_sizes_parse():
    assert [G.persons(t) for t in ("1m", "0.1m", "2.5m", "50k")] == [1_000_000, 100_000, 2_500_000, 50_000]
    with pytest.raises(ValueError):
        G.persons("10 million")


def test_slope_is_least_squares_over_all_points():
    assert G.slope([(1, 10.0), (2, 20.0), (5, 50.0), (10, 100.0)]) == pytest.approx(10.0)
    # Σ(x-x̄)(y-ȳ) / Σ(x-x̄)²: x̄ = 4.5, ȳ = 52.5 → 655 / 49, not the two-end-point 120 / 9
    assert G.slope([(1, 10.0), (2, 20.0), (5, 50.0), (10, 130.0)]) == pytest.approx(655 / 49)
    assert G.slope([(1, 10.0)]) is None


def _linear_results() -> dict:
    r = {}
    for t in ("1m", "2m", "5m", "10m"):
        x = G.persons(t) / 1e6
        r.update({f"growth.monitor_seconds_{t}": 3 * x + 1, f"growth.monitor_cpu_seconds_{t}": 7 * x + 2,
                  f"growth.peak_rss_gb_{t}": 0.5 * x + 0.2, f"growth.snapshot_mb_{t}": 36 * x})
    r.update({"growth.spark_seconds_1m": 100.0, "growth.spark_seconds_2m": 130.0, "growth.spark_seconds_5m": 220.0})
    return r


def test_capacity_reads_the_slope_of_the_measured_curve():
    c = G.capacity(_linear_results())
    assert c["c"] == pytest.approx(7.0)  # CPU-seconds slope, not 2 × wall of one point
    assert c["mem"] == pytest.approx(0.5)
    assert c["snap"] == pytest.approx(36.0)
    assert c["f"] == pytest.approx(30.0 / 3.0)  # Spark slope / embedded slope over 1M, 2M and 5M
    text = G.render_capacity(_linear_results())
    assert "c = 7.0 core-seconds per million persons" in text
    assert f"{7.0 * 500:,.0f} core-s" in text


def test_spark_factor_never_comes_from_a_falling_two_point_curve():
    """Measured on the quiet machine: Spark 72.3 s at 1M (JVM warm-up) and 51.5 s at 2M. A two-point slope is
    negative and gave f = -7.7 and 'minus six cores'; the factor is then the ratio at the largest size."""
    r = _linear_results()
    r.update({"growth.spark_seconds_1m": 72.3, "growth.spark_seconds_2m": 51.5})
    del r["growth.spark_seconds_5m"]
    c = G.capacity(r)
    assert c["f"] == pytest.approx(51.5 / (3 * 2 + 1)) and c["f"] > 0 and "largest size" in c["f_basis"]
    assert not re.search(r"(≈|=|\*\*) ?-\d", G.render_capacity(r))  # no negative cores or hours


def test_capacity_falls_back_to_older_wall_figures():
    r = {"scale.monitor_seconds_1m": 20.0, "scale.monitor_seconds_10m": 110.0}
    c = G.capacity(r)
    assert c["c"] == pytest.approx(20.0) and "upper bound" in c["c_basis"]


def test_update_doc_rewrites_only_between_markers(tmp_path):
    doc = tmp_path / "SCALE.md"
    shutil.copy(ROOT / "docs" / "SCALE.md", doc)
    G.update_doc(_linear_results(), doc)
    text = doc.read_text(encoding="utf-8")
    assert "## 6. Operator steps" in text and "## 3. Partitioning and skew" in text
    table = text.split("<!-- growth:table:begin -->")[1].split("<!-- growth:table:end -->")[0]
    assert "| 1M persons | 2M persons | 5M persons | 10M persons |" in table
    assert "| monitoring run, DuckDB, features + all rules + alerts (s) | 4.0 (cpu 9.0 s) |" in table
    G.update_doc(_linear_results(), doc)  # idempotent
    assert doc.read_text(encoding="utf-8") == text


@pytest.mark.heavy
def test_growth_part_at_a_tiny_size_fills_every_row(tmp_path, monkeypatch):
    """The whole part (monitor, link, import; Spark is the scale part's cluster test) at 20k persons: every row of
    the rendered table has a measured value for that size."""
    monkeypatch.setenv("FANGPIN_GROWTH_SIZES", "20k")
    monkeypatch.setenv("FANGPIN_GROWTH_JOBS", "monitor,link,import")
    monkeypatch.setenv("FANGPIN_GROWTH_LINK_FEED_ROWS", "1000")
    monkeypatch.setenv("FANGPIN_GROWTH_FEED_ROWS", "500")
    monkeypatch.setenv("FANGPIN_GROWTH_ROSTER_HOUSEHOLDS", "200")
    monkeypatch.setenv("FANGPIN_GROWTH_NO_DOC", "1")
    results: dict = {}
    G.run(results, tmp_path)
    table = G.render_table(results, ("20k",))
    rows = [l for l in table.splitlines() if l.startswith("| ") and not l.startswith("| job")]
    assert len(rows) == len(G.TABLE_ROWS)
    for label, stem, *_ in G.TABLE_ROWS:
        if stem in ("spark_seconds", "spark_parity"):  # the cluster is not run here
            continue
        assert results.get(f"growth.{stem}_20k") is not None, stem
    for line in rows:
        if "Spark" not in line:
            assert "—" not in line.split("|")[2], line
    assert results["growth.feed_import_rows"] == 500
    assert results["growth.link_feed_rows"] == 1000
    for k in ("monitor", "whatif", "feed_import", "roster_import", "synth", "link"):
        assert results[f"growth.{k}_load_20k"] >= 0
    assert not list(tmp_path.glob("import/registry_20k.db*"))  # the part removes its registries
