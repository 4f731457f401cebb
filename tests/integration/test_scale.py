"""Issue 8: the monitoring job on a Spark standalone cluster (master + 2 workers on loopback) agrees with the
embedded DuckDB run; rule preview counts agree with the engine's alerts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from fangpin.db import make_engine
from fangpin.monitoring import engine as E
from fangpin.monitoring import preview as PV
from fangpin.monitoring import snapshot as S
from fangpin.synth.run import SynthParams, run

AS_OF = date(2024, 6, 30)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    d = tmp_path_factory.mktemp("scale")
    e = make_engine(f"sqlite:///{d}/m.db")
    run(e, SynthParams(households=400, months=24, seed=8), d / "truth")
    with e.connect() as c:
        snap = S.export(c, d / "snap")
    e.dispose()
    return {"dir": d, "url": f"sqlite:///{d}/m.db", "snap": snap}


def _evidence_close(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or abs(x - y) > 0.011:
                return False
        elif x != y:
            return False
    return True


def assert_same_alerts(duck: E.RunResult, other: E.RunResult) -> None:
    """Sorted (household, rule) pairs equal, and every alert's numbers, risk types and sources equal."""
    pairs = lambda r: sorted((a.household_id, a.rule_id) for a in r.alerts)  # noqa: E731
    assert pairs(duck) == pairs(other) and len(duck.alerts) > 0
    assert duck.digest == other.digest
    theirs = {(a.household_id, a.rule_id): a for a in other.alerts}
    for a in duck.alerts:
        b = theirs[(a.household_id, a.rule_id)]
        assert (a.as_of, a.hh_no, a.region_code, a.risk_types, a.param_version) == \
               (b.as_of, b.hh_no, b.region_code, b.risk_types, b.param_version), (a.household_id, a.rule_id)
        assert _evidence_close(a.evidence, b.evidence), (a.rule_id, a.evidence, b.evidence)
        assert a.sources == b.sources, (a.rule_id, a.sources, b.sources)
    assert sorted(duck.features["household_id"].to_pylist()) == sorted(other.features["household_id"].to_pylist())


# ---------------------------------------------------------------------------------------------------------------
# rule preview

def test_preview_of_a_rule_counts_what_the_engine_alerts_per_township(county, tmp_path):
    snap = county["snap"]
    res = E.run(snap, AS_OF)
    first = PV.preview(snap, AS_OF, rule="INC-LINE", cache=tmp_path)
    assert first["cache"] == "cold"
    by_town = Counter(a.region_code[:9] for a in res.alerts if a.rule_id == "INC-LINE")
    assert first["matching"] == sum(by_town.values()) > 0
    assert {t: v["matching"] for t, v in first["townships"].items() if v["matching"]} == dict(by_town)
    assert first["households"] == res.features.num_rows
    again = PV.preview(snap, AS_OF, rule="INC-LINE", cache=tmp_path)
    assert again["cache"] == "warm" and again["matching"] == first["matching"]


def test_preview_with_a_changed_line_matches_a_full_rerun_policy_3(county, tmp_path):
    snap = county["snap"]
    up = E.run(snap, AS_OF, overrides={"monitoring_line_factor": 1.2})
    r = PV.preview(snap, AS_OF, rule="INC-LINE", line_factor=1.2, cache=tmp_path)
    assert r["matching"] == sum(a.rule_id == "INC-LINE" for a in up.alerts)
    assert r["matching"] > r["matching_base"]
    # an absolute line (元/person/year) instead of a factor: 8700 × 1.2 = 10440 (Yunnan 2024 line, POLICY.md §3 [L])
    r2 = PV.preview(snap, AS_OF, rule="INC-LINE", params={"monitoring_line": 10440}, cache=tmp_path)
    assert r2["matching"] == r["matching"]


def test_preview_of_a_condition_and_scope(county, tmp_path):
    snap = county["snap"]
    feats = E.run(snap, AS_OF).features.to_pylist()
    want = [f for f in feats if f["size"] >= 4 and (f["n_elderly"] or 0) > 0]
    r = PV.preview(snap, AS_OF, when="size >= 4 AND n_elderly > 0", cache=tmp_path)
    assert r["matching"] == len(want) > 0
    town = sorted(r["townships"])[0]
    r = PV.preview(snap, AS_OF, when="size >= 4 AND n_elderly > 0", scope=town, cache=tmp_path)
    assert list(r["townships"]) == [town]
    assert r["matching"] == sum(f["region_code"].startswith(town) for f in want)
    # the web server's in-memory copy of the cached features answers the same
    m = PV.preview(snap, AS_OF, when="size >= 4 AND n_elderly > 0", scope=town, cache=tmp_path, resident=True)
    assert (m["matching"], m["townships"]) == (r["matching"], r["townships"])


@pytest.mark.parametrize("bad,code", [
    ("size > (SELECT 1)", "PREVIEW_NOT_ALLOWED"),
    ("read_csv('/etc/passwd') IS NOT NULL", "PREVIEW_NOT_ALLOWED"),
    ("no_such_column > 1", "PREVIEW_COLUMN"),
    ("size >", "PREVIEW_SYNTAX"),
    ("size > 1; DROP TABLE x", "PREVIEW_SYNTAX"),
])
def test_preview_rejects_anything_but_a_simple_condition_with_a_bilingual_error(county, tmp_path, bad, code):
    with pytest.raises(PV.PreviewError) as e:
        PV.preview(county["snap"], AS_OF, when=bad, cache=tmp_path)
    assert e.value.code == code and e.value.issue.zh and e.value.issue.en


def test_preview_rejects_unknown_rules_and_parameters(county, tmp_path):
    with pytest.raises(PV.PreviewError) as e:
        PV.preview(county["snap"], AS_OF, rule="NO-SUCH", cache=tmp_path)
    assert e.value.code == "PREVIEW_RULE"
    with pytest.raises(PV.PreviewError) as e:
        PV.preview(county["snap"], AS_OF, rule="INC-LINE", params={"hh_type": 1}, cache=tmp_path)
    assert e.value.code == "PREVIEW_PARAM"


def test_preview_cli_over_the_registry(county, tmp_path):
    exe = Path(sys.executable).parent / "fangpin"
    env = {**os.environ, "FANGPIN_PREVIEW_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "p.json"
    p = subprocess.run([str(exe), "preview", "--db", county["url"], "--as-of", AS_OF.isoformat(), "--rule",
                        "INC-LINE", "--line-factor", "1.1", "--report-json", str(out)],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    up = E.run(county["snap"], AS_OF, overrides={"monitoring_line_factor": 1.1})
    assert r["matching"] == sum(a.rule_id == "INC-LINE" for a in up.alerts)
    p = subprocess.run([str(exe), "preview", "--db", county["url"], "--as-of", AS_OF.isoformat(), "--when",
                        "size > (SELECT 1)"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "not allowed" in " ".join(p.stderr.split())


# ---------------------------------------------------------------------------------------------------------------
# Spark standalone cluster

def _jvm_pids(work: Path) -> list[int]:
    """Spark JVMs whose command line names this test's cluster directory (for the no-orphans check)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "java" in cmd and str(work) in cmd:
                out.append(int(d.name))
    return out


@pytest.mark.heavy
def test_standalone_cluster_run_gives_the_embedded_alerts(county, tmp_path):
    from fangpin.monitoring import spark_job as J
    from fangpin.monitoring.cluster import LocalCluster

    snap = county["snap"]
    duck = E.run(snap, AS_OF)
    work = tmp_path / "cluster"
    cluster = LocalCluster(work, workers=2, cores=1, memory="1g")
    try:
        cluster.start()
        status = cluster.status()
        assert status["status"] == "ALIVE" and sum(w["state"] == "ALIVE" for w in status["workers"]) == 2
        # 1. in-process driver against spark://127.0.0.1:<port>
        spark = cluster.session()
        try:
            assert spark.sparkContext.master == cluster.url
            meta = J.run_job(spark, snap, AS_OF, tmp_path / "out_session")
        finally:
            spark.stop()
        assert meta["master"] == cluster.url
        assert_same_alerts(duck, J.read_alerts(tmp_path / "out_session"))
        # 2. spark-submit of the driver entry point
        p = cluster.submit([J.__file__, "--snapshot", str(snap.root), "--as-of", AS_OF.isoformat(),
                            "--out", str(tmp_path / "out_submit")], timeout=900)
        assert p.returncode == 0, p.stderr[-3000:]
        assert json.loads(p.stdout.strip().splitlines()[-1])["master"] == cluster.url
        assert_same_alerts(duck, J.read_alerts(tmp_path / "out_submit"))
        # the applications really ran on the cluster's executors
        apps = cluster.status()["completedapps"] + cluster.status()["activeapps"]
        assert len(apps) >= 2
    finally:
        cluster.stop()
    assert cluster.alive_pids() == [] and _jvm_pids(work) == [], "orphan Spark JVMs"


@pytest.mark.heavy
def test_spark_monitor_then_load_alerts_for_one_county(county, tmp_path):
    """`fangpin spark-monitor` (export → Spark job, local mode here → store) on one copy of the database, then
    `fangpin load-alerts --county` of the job's Parquet output into another copy."""
    import shutil

    from sqlalchemy import func, select

    from fangpin.alerts.models import Alert

    duck = E.run(county["snap"], AS_OF)
    exe = Path(sys.executable).parent / "fangpin"

    def alerts_in(db: Path) -> int:
        e = make_engine(f"sqlite:///{db}")
        with e.connect() as c:
            n = c.execute(select(func.count()).select_from(Alert)).scalar_one()
        e.dispose()
        return n

    one, two = tmp_path / "one.db", tmp_path / "two.db"
    shutil.copy(county["dir"] / "m.db", one)
    shutil.copy(county["dir"] / "m.db", two)
    before = alerts_in(one)
    rep = tmp_path / "r1.json"
    p = subprocess.run([str(exe), "spark-monitor", "--db", f"sqlite:///{one}", "--as-of", AS_OF.isoformat(),
                        "--spark-master", "local[2]", "--out", str(tmp_path / "out"), "--report-json", str(rep)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    r1 = json.loads(rep.read_text())
    assert r1["alerts_sha256"] == duck.digest and r1["households"] == duck.features.num_rows
    assert alerts_in(one) - before == len({(a.household_id, a.rule_id) for a in duck.alerts})
    counties = sorted({a.region_code[:6] for a in duck.alerts})
    rep = tmp_path / "r2.json"
    p = subprocess.run([str(exe), "load-alerts", "--db", f"sqlite:///{two}", "--from", str(tmp_path / "out"),
                        "--county", counties[0], "--report-json", str(rep)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    want = len({(a.household_id, a.rule_id) for a in duck.alerts if a.region_code.startswith(counties[0])})
    assert alerts_in(two) - before == want == json.loads(rep.read_text())["alerts"] > 0
