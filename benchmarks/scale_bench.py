"""Scale benchmarks (issue 8): cost growth of the batch jobs at 1M/2M/5M/10M persons, rule preview, and the
monitoring job on a Spark standalone cluster (master + 2 workers on loopback) with its parity to DuckDB.

``make bench PART=scale`` (= ``.venv/bin/python benchmarks/run.py --part scale``). Sizes:
``FANGPIN_SCALE_SIZES=1m,2m,5m,10m`` (default), Spark sizes ``FANGPIN_SCALE_SPARK_SIZES=1m,2m`` (default; empty =
no cluster); ``FANGPIN_SCALE_PREVIEW_ONLY=1`` re-measures only the warm previews of sizes already run.

Snapshots: warning_bench.big_snapshot (Parquet in the snapshot layout, numpy-generated; reused from the warning
part's directory when it already built them). Every size is measured in a fresh interpreter (peak RSS is that
size's own). Figures, all seconds unless named otherwise:

* ``scale.monitor_seconds_<n>`` — full embedded run (DuckDB features + all rules + alert objects): the baseline
  the preview is compared with, same run;
* ``preview.seconds_cold_<n>`` — first preview of a (snapshot, as-of): features computed and cached as Parquet;
* ``preview.seconds_<n>`` — warm preview as the web server answers it (median of 5: INC-LINE with line × 1.1,
  SPEND-RIGID, a condition, INC-DROP with another ratio, a township scope) over the in-memory copy of the cached
  features — the user-facing figure, goal < 1 s at 10M; ``preview.seconds_resident_load_<n>`` is that copy's
  one-time load; ``preview.seconds_parquet_<n>`` the same previews straight from the cached Parquet (the CLI);
* ``scale.whatif_seconds_<n>`` — monitoring.whatif.compare (line × 1.1), features included;
* ``scale.peak_rss_gb_<n>`` — peak memory of that interpreter; ``scale.snapshot_mb_<n>`` — snapshot size on disk;
* ``spark.cluster_seconds_<n>`` — spark_job.run_job on the standalone cluster (2 workers × 1 core × 2 GB),
  alerts written as Parquet partitioned by county; ``spark.cluster_startup_seconds``;
* ``spark.parity`` — 1 when the cluster's alerts equal the DuckDB run's at the smallest Spark size
  (spark_job.compare_runs: identical (household, rule) pairs, risk types, sources; evidence numbers within a cent).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

AS_OF = date(2024, 12, 31)
PERSONS = {"50k": 50_000, "1m": 1_000_000, "2m": 2_000_000, "5m": 5_000_000, "10m": 10_000_000}

GOALS = {
    "preview.seconds_10m": ("< 1", "warm rule preview ('how many households match this rule now', per township), 10M persons; median of 5"),
    "preview.seconds_cold_10m": ("—", "first preview of a snapshot/as-of at 10M: computes + caches the features"),
    "scale.monitor_seconds_10m": ("—", "baseline, same run: full embedded monitoring run at 10M (DuckDB)"),
    "spark.parity": ("= 1", "Spark standalone cluster (master + 2 workers) alerts identical to the embedded run"),
    "spark.cluster_startup_seconds": ("—", "start master + 2 workers on loopback until all ALIVE"),
}
for _t in PERSONS:
    GOALS.setdefault(f"preview.seconds_{_t}", ("—", f"warm rule preview, {_t} persons (median of 5)"))
    GOALS.setdefault(f"preview.seconds_cold_{_t}", ("—", f"first (cold) preview, {_t} persons: features computed and cached"))
    GOALS.setdefault(f"preview.seconds_parquet_{_t}", ("—", f"warm preview from the cached Parquet (CLI), {_t} persons"))
    GOALS.setdefault(f"preview.seconds_resident_load_{_t}", ("—", f"one-time load of the cached features into the server's memory, {_t} persons"))
    GOALS.setdefault(f"scale.monitor_seconds_{_t}", ("—", f"full embedded monitoring run (DuckDB), {_t} persons"))
    GOALS.setdefault(f"scale.whatif_seconds_{_t}", ("—", f"policy what-if (line × 1.1), {_t} persons"))
    GOALS.setdefault(f"scale.peak_rss_gb_{_t}", ("—", f"peak memory of the {_t} measurements (GB)"))
    GOALS.setdefault(f"scale.snapshot_mb_{_t}", ("—", f"Parquet snapshot size on disk, {_t} persons (MB)"))
    GOALS.setdefault(f"scale.households_{_t}", ("—", f"households in the {_t} snapshot"))
    GOALS.setdefault(f"spark.cluster_seconds_{_t}", ("—", f"monitoring job on the 2-worker standalone cluster, {_t} persons"))

HERE = Path(__file__).resolve().parent


def snapshot_for(work: Path, tag: str):
    sys.path.insert(0, str(HERE))
    from warning_bench import big_snapshot

    shared = work.parent / "warning" / f"snap_{tag}"  # built by the warning part already?
    root = shared if (shared / "manifest.json").exists() else work / f"snap_{tag}"
    return big_snapshot(root, PERSONS[tag])


def measure_size(work: Path, tag: str) -> dict:
    """One size, in this (fresh) interpreter."""
    from fangpin.monitoring import engine as E
    from fangpin.monitoring import preview as PV
    from fangpin.monitoring import whatif as W

    t = time.perf_counter()
    snap = snapshot_for(work, tag)
    out = {"gen_seconds": time.perf_counter() - t,
           "snapshot_mb": sum(p.stat().st_size for p in snap.root.glob("*.parquet")) / 1e6}
    rules = E.load_rules()
    t = time.perf_counter()
    res = E.run(snap, AS_OF, rules=rules)
    out["monitor_seconds"] = time.perf_counter() - t
    out["households"] = res.features.num_rows
    out["alerts"] = len(res.alerts)
    del res
    cache = work / f"cache_{tag}"
    import shutil

    shutil.rmtree(cache, ignore_errors=True)
    t = time.perf_counter()
    first = PV.preview(snap, AS_OF, rule="INC-LINE", line_factor=1.1, rules=rules, cache=cache)
    out["preview_cold_seconds"] = time.perf_counter() - t
    assert first["cache"] == "cold"
    out.update(measure_preview(snap, cache, rules))
    out["preview_matching_inc_line_x1_1"] = first["matching"]
    t = time.perf_counter()
    W.compare(snap, AS_OF, {"monitoring_line_factor": 1.1}, rules=rules)
    out["whatif_seconds"] = time.perf_counter() - t
    return out


def measure_preview(snap, cache: Path, rules) -> dict:
    """Warm previews over the cached features: from the Parquet file (a fresh CLI process) and from the
    in-memory copy a long-running server keeps (``resident``; its one-time load timed separately)."""
    from fangpin.monitoring import preview as PV

    first = PV.preview(snap, AS_OF, rule="INC-LINE", rules=rules, cache=cache)
    town = sorted(first["townships"])[0]
    asks = [dict(rule="INC-LINE", line_factor=1.1), dict(rule="SPEND-RIGID"),
            dict(when="n_elderly > 0 AND pc_net_12m < 1.2 * monitoring_line"),
            dict(rule="INC-DROP", params={"sharp_drop_ratio": 0.3}), dict(rule="INC-LINE", scope=town)]
    out = {}
    t = time.perf_counter()
    PV.preview(snap, AS_OF, rule="INC-LINE", rules=rules, cache=cache, resident=True)
    out["preview_resident_load_seconds"] = time.perf_counter() - t
    for mode, resident in (("parquet", False), ("resident", True)):
        times = []
        for a in asks:
            t = time.perf_counter()
            r = PV.preview(snap, AS_OF, rules=rules, cache=cache, resident=resident, **a)
            times.append(time.perf_counter() - t)
            assert r["cache"] == "warm"
        out[f"preview_{mode}_seconds"] = statistics.median(times)
        out[f"preview_{mode}_seconds_all"] = times
    return out


def _jvm_rss_gb(sessions: set[int]) -> tuple[float, float]:
    """(sum, largest) resident memory in GB of the processes in these sessions (the cluster's master, workers
    and the executors the workers forked: every JVM of LocalCluster runs in its own session)."""
    total = largest = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            sid = int(stat[stat.rindex(")") + 2:].split()[3])
            if sid not in sessions:
                continue
            rss = next(int(l.split()[1]) for l in (d / "status").read_text().splitlines() if l.startswith("VmRSS:"))
        except (OSError, ValueError, StopIteration, IndexError):
            continue
        total += rss
        largest = max(largest, rss)
    return total / 1024 / 1024, largest / 1024 / 1024


def measure_spark(work: Path, tags: list[str]) -> dict:
    """The standalone cluster: startup, the job per size (in one driver session, as an operator's run of several
    snapshots would), parity with DuckDB at the first size — at every size with ``FANGPIN_SPARK_PARITY=all``.
    Peak memory: the driver process (``peak_rss_gb``, added by the caller) and the cluster's JVMs (sampled every
    second: ``cluster_rss_gb`` all JVMs together, ``jvm_rss_gb_max`` the largest one, i.e. an executor)."""
    import threading

    from fangpin.monitoring import engine as E
    from fangpin.monitoring import spark_job as J
    from fangpin.monitoring.cluster import LocalCluster

    out: dict = {"cluster_rss_gb": 0.0, "jvm_rss_gb_max": 0.0}
    c = LocalCluster(work / "cluster", workers=2, cores=1, memory="2g")
    stop = threading.Event()

    def sample():
        while not stop.wait(1.0):
            total, largest = _jvm_rss_gb({p.pid for p in c.procs})
            out["cluster_rss_gb"] = max(out["cluster_rss_gb"], total)
            out["jvm_rss_gb_max"] = max(out["jvm_rss_gb_max"], largest)

    sampler = threading.Thread(target=sample, daemon=True)
    t = time.perf_counter()
    try:
        c.start()
        sampler.start()
        out["startup_seconds"] = time.perf_counter() - t
        spark = c.session(executor_memory="2g")
        try:
            for tag in tags:
                snap = snapshot_for(work, tag)
                t = time.perf_counter()
                meta = J.run_job(spark, snap, AS_OF, work / f"spark_out_{tag}")
                out[f"seconds_{tag}"] = time.perf_counter() - t
                out[f"alerts_{tag}"] = meta["alerts"]
                out[f"conf_{tag}"] = meta["conf"]
        finally:
            spark.stop()
    finally:
        stop.set()
        c.stop()
    every = os.environ.get("FANGPIN_SPARK_PARITY") == "all"
    for i, tag in enumerate(tags if every else tags[:1]):
        snap = snapshot_for(work, tag)
        duck = E.run(snap, AS_OF)
        theirs = J.read_alerts(work / f"spark_out_{tag}")
        cmp = J.compare_runs(duck, theirs)
        del duck, theirs
        out[f"parity_{tag}"] = cmp["parity"]
        if i == 0:
            out["parity"] = cmp["parity"]
            out["parity_pairs"] = cmp["pairs"]
            out["parity_evidence_differences"] = cmp["evidence_differences"]
        out[f"parity_pairs_{tag}"] = cmp["pairs"]
        out[f"parity_evidence_differences_{tag}"] = cmp["evidence_differences"]
    return out


def _child(fn: str, *args) -> dict:
    code = (f"import sys, json, resource; sys.path.insert(0, {str(HERE)!r}); import scale_bench as B; "
            f"from pathlib import Path; r = B.{fn}(*{args!r}); "
            "r['peak_rss_kb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; print('@@' + json.dumps(r))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=HERE.parent)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(next(l for l in p.stdout.splitlines() if l.startswith("@@"))[2:])


def run(results: dict, work: Path) -> None:
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = [s for s in os.environ.get("FANGPIN_SCALE_SIZES", "1m,2m,5m,10m").split(",") if s]
    spark_sizes = [s for s in os.environ.get("FANGPIN_SCALE_SPARK_SIZES", "1m,2m").split(",") if s]
    details = {}
    if os.environ.get("FANGPIN_SCALE_PREVIEW_ONLY"):  # re-measure warm previews over already cached features
        for tag in sizes:
            r = _child("measure_preview_str", str(work), tag)
            results[f"preview.seconds_{tag}"] = round(r["preview_resident_seconds"], 3)
            results[f"preview.seconds_parquet_{tag}"] = round(r["preview_parquet_seconds"], 3)
            results[f"preview.seconds_resident_load_{tag}"] = round(r["preview_resident_load_seconds"], 2)
            details[f"preview_{tag}"] = r
        (work / "scale_details_preview.json").write_text(json.dumps(details, indent=2))
        return
    for tag in sizes:
        r = _child("measure_size_str", str(work), tag)
        details[tag] = r
        results[f"scale.monitor_seconds_{tag}"] = round(r["monitor_seconds"], 2)
        results[f"preview.seconds_cold_{tag}"] = round(r["preview_cold_seconds"], 2)
        results[f"preview.seconds_{tag}"] = round(r["preview_resident_seconds"], 3)
        results[f"preview.seconds_parquet_{tag}"] = round(r["preview_parquet_seconds"], 3)
        results[f"preview.seconds_resident_load_{tag}"] = round(r["preview_resident_load_seconds"], 2)
        results[f"scale.whatif_seconds_{tag}"] = round(r["whatif_seconds"], 2)
        results[f"scale.peak_rss_gb_{tag}"] = round(r["peak_rss_kb"] / 1024 / 1024, 2)
        results[f"scale.snapshot_mb_{tag}"] = round(r["snapshot_mb"], 1)
        results[f"scale.households_{tag}"] = r["households"]
        (work / "scale_details.json").write_text(json.dumps(details, indent=2))
    if spark_sizes:
        r = _child("measure_spark_str", str(work), ",".join(spark_sizes))
        details["spark"] = r
        results["spark.cluster_startup_seconds"] = round(r["startup_seconds"], 1)
        for tag in spark_sizes:
            results[f"spark.cluster_seconds_{tag}"] = round(r[f"seconds_{tag}"], 1)
        results["spark.parity"] = r["parity"]
    (work / "scale_details.json").write_text(json.dumps(details, indent=2))


def measure_size_str(work: str, tag: str) -> dict:
    return measure_size(Path(work), tag)


def measure_preview_str(work: str, tag: str) -> dict:
    """Re-measure only the warm previews of a size whose features are already cached (after a full run)."""
    from fangpin.monitoring import engine as E

    work = Path(work)
    return measure_preview(snapshot_for(work, tag), work / f"cache_{tag}", E.load_rules())


def measure_spark_str(work: str, tags: str) -> dict:
    return measure_spark(Path(work), tags.split(","))


if __name__ == "__main__":
    out: dict = {}
    run(out, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fangpin-bench/scale"))
    print(json.dumps(out, indent=1))
