"""Benchmark part "growth" (issue 8 item 2): the cost-growth table — every batch job at 1M, 2M, 5M and 10M persons —
and the national capacity estimate fitted to it. ``make bench PART=growth``.

Sizes (``<number>m`` or ``<number>k`` persons, e.g. ``0.1m``, ``50k``):

* ``FANGPIN_GROWTH_SIZES`` (default ``1m,2m,5m,10m``) — monitoring, previews, what-if, linkage, synthesis, imports;
* ``FANGPIN_GROWTH_SPARK_SIZES`` (default ``1m,2m``; empty = no cluster) — the Spark standalone cluster;
* ``FANGPIN_GROWTH_IMPORT_SIZES`` (default = the sizes) — synthesis into SQLite + feed/roster import (a SQLite
  registry of that many persons is built by the generator for each; the 10M one takes ≈ 20 min quiet);
* ``FANGPIN_GROWTH_JOBS`` (default ``monitor,link,import,spark``) — which groups to run;
* ``FANGPIN_GROWTH_LINK_FEED_ROWS`` (default 100000), ``FANGPIN_GROWTH_FEED_ROWS`` (default 20000),
  ``FANGPIN_GROWTH_ROSTER_HOUSEHOLDS`` (default 5000) — the fixed workload sizes.

Nothing is re-implemented here; each group calls the code of the part that owns it, in a fresh interpreter per
size (peak RSS is that size's own):

* **monitor** — ``scale_bench.measure_size`` (snapshot from ``warning_bench.big_snapshot``, reused from
  ``/tmp/fangpin-bench/warning/snap_<size>`` when the warning part built it): full DuckDB run, cold preview, warm
  previews (server/in-memory and CLI/Parquet, median of 5), policy what-if (line × 1.1). The snapshot is built in
  a separate interpreter first, so it is not in the measured CPU. The top-level calls of ``engine.run``,
  ``preview.preview`` and ``whatif.compare`` are wrapped with a timer (wall, process CPU seconds of all threads,
  1-minute load average sampled every second during the call) — the code measured is unchanged;
* **link** — ``linkage_bench.build_speed_data`` (a Parquet registry of that many persons and a fixed-size feed of
  95 % perturbed registry persons + 5 % outsiders), ``linkage_bench.job_index`` (registry-side index, built once per
  registry) and ``linkage_bench.job_ours`` (the link given the index): seconds, CPU, peak RSS, rows/s;
* **import** — ``fangpin.synth.run.run`` builds a SQLite registry of that many persons (``synth.*``-style rows/s),
  then the real importers run against it: ``exchange.feeds.import_feed`` with a fixed civil-affairs CSV
  (FEEDS.md §B 民政 layout; persons drawn from the registry, valid ID numbers → the exact-ID link path, then
  household/village look-ups against the registry) and ``exchange.roster.import_roster`` with a fixed roster of
  new households (FEEDS.md §A, exported by ``synth.roster.write_roster`` from a Guizhou-coded synthetic county, so
  no ID collides with the Yunnan registry). rows/s = data rows / import seconds (the roster counts the rows of
  all four files);
* **spark** — ``scale_bench.measure_spark`` (2 workers × 1 core × 2 GB, parity with DuckDB at the first size).

Every figure is ``growth.<what>_<size>``; with it ``..._cpu_seconds_<size>``, ``..._peak_rss_gb_<size>`` and
``..._load_<size>`` (mean 1-minute load average during that measurement). The measurements of sizes the scale
part knows also refresh its figure names (``scale.monitor_seconds_1m``, ``preview.seconds_10m`` …).

``python benchmarks/growth_bench.py render`` rewrites the table of docs/SCALE.md §4 and the estimate of §5 (between
``<!-- growth:... -->`` markers) from benchmarks/results.json; ``run`` does it after every measurement.
"""
from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOC = ROOT / "docs" / "SCALE.md"
RESULTS = HERE / "results.json"
PY = sys.executable
if str(HERE) not in sys.path:  # scale_bench / linkage_bench / warning_bench are imported by name
    sys.path.insert(0, str(HERE))

DEFAULT_SIZES = "1m,2m,5m,10m"
DOC_SIZES = ("1m", "2m", "5m", "10m")
NATION_PERSONS_M = 500.0  # ≈ 190 M rural households × 2.62 (SCALE.md §5)
PERSONS_PER_HOUSEHOLD = 2.655  # the generator's mean household size (run.py part_synth: 376k households ≈ 1M)


def persons(tag: str) -> int:
    """``"1m"`` → 1,000,000; ``"0.1m"`` → 100,000; ``"50k"`` → 50,000."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mk])", tag.strip().lower())
    if not m:
        raise ValueError(f"size {tag!r}: expected e.g. 1m, 0.2m or 50k")
    return int(round(float(m.group(1)) * (1_000_000 if m.group(2) == "m" else 1_000)))


def _sizes(var: str, default: str) -> list[str]:
    tags = [s.strip() for s in os.environ.get(var, default).split(",") if s.strip()]
    for t in tags:
        persons(t)
    return sorted(tags, key=persons)


def _env_int(var: str, default: int) -> int:
    return int(os.environ.get(var, default))


# figure stem → description; also the legacy (scale part) name each one refreshes
FIGURES = {
    "households": ("households in the snapshot", "scale.households_"),
    "snapshot_mb": ("Parquet snapshot size on disk (MB)", "scale.snapshot_mb_"),
    "monitor_seconds": ("full embedded monitoring run (DuckDB: features + all rules + alerts)", "scale.monitor_seconds_"),
    "monitor_cpu_seconds": ("CPU seconds (all threads) of that run", None),
    "monitor_load": ("mean 1-minute load average during that run", None),
    "preview_cold_seconds": ("first (cold) rule preview: features computed and cached", "preview.seconds_cold_"),
    "preview_cold_cpu_seconds": ("CPU seconds of the cold preview", None),
    "preview_seconds": ("warm rule preview, server (in-memory), median of 5", "preview.seconds_"),
    "preview_parquet_seconds": ("warm rule preview from the cached Parquet (CLI), median of 5", "preview.seconds_parquet_"),
    "preview_resident_load_seconds": ("one-time load of the cached features into server memory", "preview.seconds_resident_load_"),
    "whatif_seconds": ("policy what-if, line × 1.1 (features included)", "scale.whatif_seconds_"),
    "whatif_cpu_seconds": ("CPU seconds of the what-if", None),
    "whatif_load": ("mean 1-minute load average during the what-if", None),
    "peak_rss_gb": ("peak memory of the monitoring/preview/what-if interpreter (GB)", "scale.peak_rss_gb_"),
    "link_seconds": ("fixed-size feed linked against a registry of this size, prebuilt index", None),
    "link_cpu_seconds": ("CPU seconds of that link", None),
    "link_peak_rss_gb": ("peak memory of the link (GB)", None),
    "link_load": ("mean 1-minute load average during the link", None),
    "link_rows_per_s": ("feed rows linked per second", None),
    "link_precision": ("precision of the auto-links in that run", None),
    "link_recall": ("recall of the auto-links in that run", None),
    "link_index_seconds": ("building + saving the registry-side link index (once per registry)", None),
    "link_index_cpu_seconds": ("CPU seconds of the index build", None),
    "link_index_peak_rss_gb": ("peak memory of the index build (GB)", None),
    "synth_seconds": ("generator: synthetic registry of this size into SQLite (truth Parquet included)", None),
    "synth_rows_per_s": ("generator: registry rows written per second", None),
    "synth_cpu_seconds": ("CPU seconds of the generator run", None),
    "synth_peak_rss_gb": ("peak memory of the generator run (GB)", None),
    "synth_load": ("mean 1-minute load average during the generator run", None),
    "synth_persons": ("persons the generator wrote", None),
    "feed_import_seconds": ("civil-affairs feed (fixed size, exact-ID rows) imported into the SQLite registry", None),
    "feed_import_rows_per_s": ("feed rows imported per second", None),
    "feed_import_cpu_seconds": ("CPU seconds of the feed import", None),
    "feed_import_load": ("mean 1-minute load average during the feed import", None),
    "roster_import_seconds": ("roster of new households (fixed size, four files) imported into the SQLite registry", None),
    "roster_import_rows_per_s": ("roster rows (all four files) imported per second", None),
    "roster_import_cpu_seconds": ("CPU seconds of the roster import", None),
    "roster_import_load": ("mean 1-minute load average during the roster import", None),
    "spark_seconds": ("monitoring job on the Spark standalone cluster (2 workers × 1 core × 2 GB)", "spark.cluster_seconds_"),
    "spark_parity": ("Spark cluster alerts identical to the DuckDB run of the same snapshot (1 = yes; "
                     "FANGPIN_SPARK_PARITY=all checks every Spark size, else the smallest only)", None),
}

GOALS = {
    "growth.spark_parity": ("= 1", "Spark cluster alerts identical to the DuckDB run at the smallest Spark size (growth part)"),
    "growth.spark_startup_seconds": ("—", "standalone cluster start (master + 2 workers ALIVE)"),
    "growth.spark_cpu_seconds": ("—", "CPU seconds of the whole cluster measurement (driver + JVMs reaped), all Spark sizes + parity"),
    "growth.spark_load": ("—", "mean 1-minute load average during the cluster measurement"),
    "growth.spark_cluster_rss_gb": ("—", "peak resident memory of all the cluster's JVMs together (master, 2 workers, 2 executors), GB"),
    "growth.spark_executor_rss_gb": ("—", "peak resident memory of the largest cluster JVM (an executor: 2 GB heap + overhead), GB"),
    "growth.spark_driver_rss_gb": ("—", "peak resident memory of the driver process (Python + driver JVM; includes the DuckDB parity runs), GB"),
    "growth.link_feed_rows": ("—", "rows of the fixed linkage feed"),
    "growth.feed_import_rows": ("—", "data rows of the fixed civil-affairs feed"),
    "growth.roster_import_rows": ("—", "data rows (four files) of the fixed roster"),
}
try:  # a mistyped size must not break run.py's discovery of the other parts (run() raises on it)
    _goal_sizes = set(_sizes("FANGPIN_GROWTH_SIZES", DEFAULT_SIZES)) | set(_sizes("FANGPIN_GROWTH_SPARK_SIZES", "1m,2m"))
except ValueError:
    _goal_sizes = set()
for _t in sorted(set(DOC_SIZES) | _goal_sizes, key=persons):
    for _k, (_d, _) in FIGURES.items():
        GOALS[f"growth.{_k}_{_t}"] = ("—", f"{_d}, {_t} persons")


# ------------------------------------------------------------------------------------------------------------
# measurement plumbing


class LoadSampler:
    """The 1-minute load average, sampled every ``every`` seconds in a daemon thread."""

    def __init__(self, every: float = 1.0):
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while True:
            self.samples.append((time.perf_counter(), os.getloadavg()[0]))
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "LoadSampler":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()
        self.samples.append((time.perf_counter(), os.getloadavg()[0]))

    def mean(self, t0: float | None = None, t1: float | None = None) -> float:
        xs = [v for t, v in self.samples if (t0 is None or t >= t0) and (t1 is None or t <= t1)]
        if not xs:  # a call shorter than the sampling step: the sample nearest to it
            ref = t0 if t0 is not None else time.perf_counter()
            xs = [min(self.samples, key=lambda s: abs(s[0] - ref))[1]] if self.samples else [os.getloadavg()[0]]
        return sum(xs) / len(xs)


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _child(code: str, timeout: float = 7200) -> dict:
    """Run ``code`` (which sets ``RESULT``) in a fresh interpreter; add its wall, CPU (with its reaped children),
    peak RSS and the mean load average around it."""
    wrapper = (f"import sys; sys.path.insert(0, {str(HERE)!r})\n" + code +
               "\nimport resource as _r, json as _j\n"
               "RESULT['peak_rss_gb'] = _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024 / 1024\n"
               "print('@@' + _j.dumps(RESULT, default=str))\n")
    c0 = _children_cpu()
    with LoadSampler(2.0) as load:
        t0 = time.perf_counter()
        p = subprocess.run([PY, "-c", wrapper], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
        wall = time.perf_counter() - t0
    if p.returncode != 0:
        # a Java stack buries the cause above thousands of frames: keep the exception/cause lines, then the tail
        causes = [ln.strip()[:400] for ln in p.stderr.splitlines()
                  if ("Exception" in ln or "Error" in ln or ln.startswith("Caused by")) and not ln.lstrip().startswith("at ")]
        raise RuntimeError("\n".join(dict.fromkeys(causes[:30])) + "\n…\n" + p.stderr[-2000:])
    out = json.loads(next(l for l in p.stdout.splitlines() if l.startswith("@@"))[2:])
    out["_wall"], out["_cpu"], out["_load"] = wall, _children_cpu() - c0, load.mean()
    return out


# ------------------------------------------------------------------------------------------------------------
# monitor group: scale_bench.measure_size, instrumented


def snapshot_child(work: str, tag: str) -> dict:
    import scale_bench as B

    B.PERSONS[tag] = persons(tag)
    snap = B.snapshot_for(Path(work), tag)
    return {"root": str(snap.root)}


def monitor_child(work: str, tag: str) -> dict:
    """scale_bench.measure_size with its top-level engine.run / preview.preview / whatif.compare calls timed."""
    import scale_bench as B

    from fangpin.monitoring import engine as E
    from fangpin.monitoring import preview as PV
    from fangpin.monitoring import whatif as W

    B.PERSONS[tag] = persons(tag)
    calls: list[dict] = []
    depth = [0]
    sampler = LoadSampler(1.0)

    def timed(label, fn):
        def wrapper(*a, **k):
            if depth[0]:
                return fn(*a, **k)
            depth[0] += 1
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                t1 = time.perf_counter()
                calls.append({"call": label, "seconds": t1 - t0, "cpu_seconds": time.process_time() - c0,
                              "load": sampler.mean(t0, t1)})
                depth[0] -= 1
        return wrapper

    E.run, PV.preview, W.compare = timed("run", E.run), timed("preview", PV.preview), timed("whatif", W.compare)
    with sampler:
        r = B.measure_size(Path(work), tag)
    first = {}
    for c in calls:
        first.setdefault(c["call"], c)
    r["calls"] = calls
    r["monitor"], r["preview_cold"], r["whatif"] = first["run"], first["preview"], first["whatif"]
    return r


def measure_monitor(results: dict, work: Path, tag: str, details: dict) -> None:
    _child(f"import growth_bench as G; RESULT = G.snapshot_child({str(work)!r}, {tag!r})")
    r = _child(f"import growth_bench as G; RESULT = G.monitor_child({str(work)!r}, {tag!r})")
    details[f"monitor_{tag}"] = r
    g = {
        "households": r["households"], "snapshot_mb": round(r["snapshot_mb"], 1),
        "monitor_seconds": round(r["monitor"]["seconds"], 2),
        "monitor_cpu_seconds": round(r["monitor"]["cpu_seconds"], 1), "monitor_load": round(r["monitor"]["load"], 2),
        "preview_cold_seconds": round(r["preview_cold"]["seconds"], 2),
        "preview_cold_cpu_seconds": round(r["preview_cold"]["cpu_seconds"], 1),
        "preview_seconds": round(r["preview_resident_seconds"], 3),
        "preview_parquet_seconds": round(r["preview_parquet_seconds"], 3),
        "preview_resident_load_seconds": round(r["preview_resident_load_seconds"], 2),
        "whatif_seconds": round(r["whatif"]["seconds"], 2), "whatif_cpu_seconds": round(r["whatif"]["cpu_seconds"], 1),
        "whatif_load": round(r["whatif"]["load"], 2), "peak_rss_gb": round(r["peak_rss_gb"], 2),
    }
    _put(results, tag, g)


def _put(results: dict, tag: str, figures: dict) -> None:
    for k, v in figures.items():
        results[f"growth.{k}_{tag}"] = v
        legacy = FIGURES[k][1]
        if legacy and tag in ("1m", "2m", "5m", "10m"):
            results[f"{legacy}{tag}"] = v  # the scale part's name for the same measurement


# ------------------------------------------------------------------------------------------------------------
# link group: linkage_bench, one registry per size, one fixed feed size


def measure_link(results: dict, work: Path, tag: str, details: dict) -> None:
    n, rows = persons(tag), _env_int("FANGPIN_GROWTH_LINK_FEED_ROWS", 100_000)
    d = work / "linkage"
    b = _child(f"import linkage_bench as L; from pathlib import Path; "
               f"RESULT = {{'paths': [str(p) for p in L.build_speed_data(Path({str(d)!r}), {n}, {rows})]}}")
    reg, feed = b["paths"]
    index = d / f"index_{tag}"
    shutil.rmtree(index, ignore_errors=True)
    try:
        ix = _child(f"import linkage_bench as L; RESULT = L.job_index({reg!r}, {str(index)!r})")
        lk = _child(f"import linkage_bench as L; RESULT = L.job_ours({reg!r}, {feed!r}, {str(index)!r})")
    finally:
        shutil.rmtree(index, ignore_errors=True)  # ours, ≈ 0.2 GB per million persons
    details[f"link_{tag}"] = {"index": ix, "link": lk}
    results["growth.link_feed_rows"] = lk["rows"]
    _put(results, tag, {
        "link_seconds": round(lk["seconds"], 2), "link_cpu_seconds": round(lk["cpu_seconds"], 1),
        "link_peak_rss_gb": round(lk["peak_rss_gb"], 2), "link_load": round(lk["_load"], 2),
        "link_rows_per_s": round(lk["rows"] / lk["seconds"]), "link_precision": round(lk["precision"], 4),
        "link_recall": round(lk["recall"], 4), "link_index_seconds": round(ix["seconds"], 2),
        "link_index_cpu_seconds": round(ix["cpu_seconds"], 1), "link_index_peak_rss_gb": round(ix["peak_rss_gb"], 2),
    })


# ------------------------------------------------------------------------------------------------------------
# import group: the generator builds a SQLite registry; the real importers run against it


def synth_child(db: str, households: int, region: str) -> dict:
    from fangpin.db import make_engine
    from fangpin.synth.run import SynthParams, run

    t0, c0 = time.perf_counter(), time.process_time()
    with LoadSampler(2.0) as load:
        res = run(make_engine(f"sqlite:///{db}"), SynthParams(households=households, region=region, seed=11),
                  Path(f"{db}.truth"))
    secs = time.perf_counter() - t0
    return {"seconds": secs, "cpu_seconds": time.process_time() - c0, "persons": res.persons,
            "rows": sum(res.rows.values()), "load": load.mean()}


def feed_csv(truth: Path, path: Path, rows: int, seed: int = 3) -> int:
    """A civil-affairs file (FEEDS.md §B 民政): ``rows`` distinct registry persons with their valid ID numbers —
    what a department sends; the importer links them by ID and looks up their households."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    p = pq.read_table(truth / "persons.parquet", columns=["id_number", "name", "sex", "birth_date", "village",
                                                         "in_registry"])
    p = p.filter(pc.equal(p["in_registry"], True))
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(p.num_rows, min(rows, p.num_rows), replace=False))
    p = p.take(take).to_pylist()
    kinds = ["低保", "特困", "低保边缘", "临时救助"]
    lines = ["姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额"]
    for i, r in enumerate(p):
        lines.append(f"{r['name']},{r['id_number']},{r['sex']},{r['birth_date']},{r['village']},{kinds[i % 4]},"
                     f"新增,2024-11-03,{300 + i % 400}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(p)


def import_child(kind: str, db: str, source: str, landing: str) -> dict:
    os.environ["FANGPIN_LANDING_DIR"] = landing
    from fangpin.db import make_engine, upgrade

    e = make_engine(f"sqlite:///{db}")
    upgrade(e)  # the schema check is not part of the import being measured
    with LoadSampler(1.0) as load:
        t0, c0 = time.perf_counter(), time.process_time()
        if kind == "feed":
            from fangpin.exchange.feeds import import_feed

            rep = import_feed(e, "civil_affairs", Path(source)).as_dict()
            rows, status = rep["accepted"], rep["status"]
            extra = {"linked_exact": rep.get("linked_exact"), "errors": len(rep["errors"])}
        else:
            from fangpin.exchange.roster import import_roster

            rep = import_roster(e, Path(source))
            rows, status = sum(rep.rows.values()), rep.status
            extra = {"errors": len(rep.errors), "message": rep.message_en}
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": secs, "cpu_seconds": cpu, "rows": rows, "status": status, "load": load.mean(), **extra}


def _roster(work: Path) -> Path:
    """The fixed roster: new households of a Guizhou-coded synthetic county (IDs cannot collide with Yunnan's)."""
    n = _env_int("FANGPIN_GROWTH_ROSTER_HOUSEHOLDS", 5000)
    out = work / f"roster_{n}"
    if (out / "members.csv").exists():
        return out
    src = work / f"roster_src_{n}.db"
    for p in work.glob(f"roster_src_{n}.db*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    subprocess.run([str(Path(PY).parent / "fangpin"), "synth", "-n", str(n), "--region", "520102", "--seed", "5",
                    "--db", f"sqlite:///{src}", "--roster-dir", str(out)], check=True, capture_output=True, cwd=ROOT)
    return out


def _drop_db(db: Path) -> None:
    for p in db.parent.glob(db.name + "*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _synthesised(db: Path, tag: str, n: int, region: str) -> dict:
    """Synthesise the registry (measured); with FANGPIN_GROWTH_KEEP_DB=<dir> the fresh database, its truth and
    the synthesis figures are kept there and later runs copy them instead of synthesising again (a 10M-person
    county takes a quarter of an hour; the imports are then re-measured against an identical registry)."""
    keep = os.environ.get("FANGPIN_GROWTH_KEEP_DB")
    kdir = Path(keep) if keep else None
    fig = kdir / f"synth_{tag}.json" if kdir else None
    if fig is not None and fig.exists():
        for p in kdir.glob(f"registry_{tag}.db*"):
            dest = db.parent / p.name
            shutil.copytree(p, dest) if p.is_dir() else shutil.copyfile(p, dest)
        return {**json.loads(fig.read_text()), "reused_from": str(kdir)}
    s = _child(f"import growth_bench as G; RESULT = G.synth_child({str(db)!r}, "
               f"{max(1, round(n / PERSONS_PER_HOUSEHOLD))}, {region!r})")
    if kdir is not None:
        kdir.mkdir(parents=True, exist_ok=True)
        for p in db.parent.glob(db.name + "*"):
            dest = kdir / p.name
            shutil.rmtree(dest, ignore_errors=True) if dest.is_dir() else dest.unlink(missing_ok=True)
            shutil.copytree(p, dest) if p.is_dir() else shutil.copyfile(p, dest)
        fig.write_text(json.dumps(s))
    return s


def measure_import(results: dict, work: Path, tag: str, details: dict) -> None:
    n = persons(tag)
    d = work / "import"
    d.mkdir(parents=True, exist_ok=True)
    roster = _roster(d)
    db = d / f"registry_{tag}.db"
    _drop_db(db)
    region = "530521" if n <= 1_500_000 else "53"  # one county up to ~1.5M persons, else Yunnan's villages
    try:
        s = _synthesised(db, tag, n, region)
        csv = d / f"civil_affairs_{tag}.csv"
        n_feed = feed_csv(Path(f"{db}.truth"), csv, _env_int("FANGPIN_GROWTH_FEED_ROWS", 20_000))
        f = _child(f"import growth_bench as G; RESULT = G.import_child('feed', {str(db)!r}, {str(csv)!r}, "
                   f"{str(d / ('landing_' + tag))!r})")
        assert f["status"] == "committed" and f["rows"] == n_feed, f
        r = _child(f"import growth_bench as G; RESULT = G.import_child('roster', {str(db)!r}, {str(roster)!r}, "
                   f"{str(d / ('landing_' + tag))!r})")
        assert r["status"] == "committed", r
    finally:
        _drop_db(db)
        shutil.rmtree(d / f"landing_{tag}", ignore_errors=True)
    details[f"import_{tag}"] = {"synth": s, "feed": f, "roster": r}
    results["growth.feed_import_rows"] = f["rows"]
    results["growth.roster_import_rows"] = r["rows"]
    _put(results, tag, {
        "synth_seconds": round(s["seconds"], 1), "synth_rows_per_s": round(s["rows"] / s["seconds"]),
        "synth_cpu_seconds": round(s["cpu_seconds"], 1), "synth_peak_rss_gb": round(s["peak_rss_gb"], 2),
        "synth_load": round(s["load"], 2), "synth_persons": s["persons"],
        "feed_import_seconds": round(f["seconds"], 2), "feed_import_rows_per_s": round(f["rows"] / f["seconds"]),
        "feed_import_cpu_seconds": round(f["cpu_seconds"], 1), "feed_import_load": round(f["load"], 2),
        "roster_import_seconds": round(r["seconds"], 2), "roster_import_rows_per_s": round(r["rows"] / r["seconds"]),
        "roster_import_cpu_seconds": round(r["cpu_seconds"], 1), "roster_import_load": round(r["load"], 2),
    })


# ------------------------------------------------------------------------------------------------------------
# spark group


def spark_child(work: str, tags: str) -> dict:
    import scale_bench as B

    for t in tags.split(","):
        B.PERSONS[t] = persons(t)
    return B.measure_spark_str(work, tags)


def measure_spark(results: dict, work: Path, tags: list[str], details: dict) -> None:
    for t in tags:  # snapshots first, outside the measured interpreter
        _child(f"import growth_bench as G; RESULT = G.snapshot_child({str(work)!r}, {t!r})")
    r = _child(f"import growth_bench as G; RESULT = G.spark_child({str(work)!r}, {','.join(tags)!r})")
    details["spark"] = r
    results["growth.spark_startup_seconds"] = round(r["startup_seconds"], 1)
    results["growth.spark_parity"] = r["parity"]
    results["growth.spark_cpu_seconds"] = round(r["_cpu"], 1)
    results["growth.spark_load"] = round(r["_load"], 2)
    results["growth.spark_cluster_rss_gb"] = round(r["cluster_rss_gb"], 2)
    results["growth.spark_executor_rss_gb"] = round(r["jvm_rss_gb_max"], 2)
    results["growth.spark_driver_rss_gb"] = round(r["peak_rss_gb"], 2)
    for t in tags:
        _put(results, t, {"spark_seconds": round(r[f"seconds_{t}"], 1)})
        if f"parity_{t}" in r:
            _put(results, t, {"spark_parity": r[f"parity_{t}"]})


# ------------------------------------------------------------------------------------------------------------


def run(results: dict, work: Path) -> None:
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = _sizes("FANGPIN_GROWTH_SIZES", DEFAULT_SIZES)
    spark = _sizes("FANGPIN_GROWTH_SPARK_SIZES", "1m,2m")
    imports = _sizes("FANGPIN_GROWTH_IMPORT_SIZES", ",".join(sizes))
    jobs = {j.strip() for j in os.environ.get("FANGPIN_GROWTH_JOBS", "monitor,link,import,spark").split(",")}
    details_path = work / "growth_details.json"
    details = json.loads(details_path.read_text()) if details_path.exists() else {}
    steps = ([("monitor", t, measure_monitor) for t in sizes] + [("link", t, measure_link) for t in sizes]
             + [("import", t, measure_import) for t in imports])
    for job, tag, fn in steps:
        if job not in jobs:
            continue
        t0 = time.time()
        print(f"[growth] {job} {tag} …", flush=True)
        fn(results, work, tag, details)
        print(f"[growth] {job} {tag} done in {time.time() - t0:.0f} s", flush=True)
        details_path.write_text(json.dumps(details, indent=1, default=str))
    if "spark" in jobs and spark:
        t0 = time.time()
        print(f"[growth] spark {','.join(spark)} …", flush=True)
        measure_spark(results, work, spark, details)
        print(f"[growth] spark done in {time.time() - t0:.0f} s", flush=True)
    details_path.write_text(json.dumps(details, indent=1, default=str))
    if os.environ.get("FANGPIN_GROWTH_NO_DOC") != "1":
        update_doc(results)


# ------------------------------------------------------------------------------------------------------------
# rendering: SCALE.md §4 table and §5 estimate from results.json


def _get(results: dict, stem: str, tag: str):
    """growth.<stem>_<tag>, else the scale part's older figure of the same measurement (marked legacy)."""
    v = results.get(f"growth.{stem}_{tag}")
    if v is not None:
        return v, False
    legacy = FIGURES.get(stem, ("", None))[1]
    if legacy and results.get(f"{legacy}{tag}") is not None:
        return results[f"{legacy}{tag}"], True
    return None, False


def _fmt(v, digits: int) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and v != v:
        return "—"
    return f"{v:,.{digits}f}"


# (label, value stem, digits, CPU stem, load stem)
TABLE_ROWS = [
    ("households", "households", 0, None, None),
    ("snapshot on disk (MB)", "snapshot_mb", 1, None, None),
    ("monitoring run, DuckDB, features + all rules + alerts (s)", "monitor_seconds", 1, "monitor_cpu_seconds", "monitor_load"),
    ("rule preview, cold: features computed + cached (s)", "preview_cold_seconds", 1, "preview_cold_cpu_seconds", None),
    ("rule preview, warm, server (in-memory) — median of 5 (s)", "preview_seconds", 3, None, None),
    ("rule preview, warm, CLI (cached Parquet) — median of 5 (s)", "preview_parquet_seconds", 3, None, None),
    ("preview: one-time load into server memory (s)", "preview_resident_load_seconds", 2, None, None),
    ("policy what-if, line × 1.1 (s)", "whatif_seconds", 1, "whatif_cpu_seconds", "whatif_load"),
    ("peak memory, monitoring/preview/what-if (GB)", "peak_rss_gb", 2, None, None),
    ("linkage: registry index build, once per registry (s)", "link_index_seconds", 1, "link_index_cpu_seconds", None),
    ("linkage: {link} feed rows vs the registry, prebuilt index (s)", "link_seconds", 1, "link_cpu_seconds", "link_load"),
    ("linkage throughput (feed rows/s)", "link_rows_per_s", 0, None, None),
    ("linkage peak memory (GB)", "link_peak_rss_gb", 2, None, None),
    ("synthesis: generator into SQLite (s)", "synth_seconds", 1, "synth_cpu_seconds", "synth_load"),
    ("synthesis throughput (registry rows/s)", "synth_rows_per_s", 0, None, None),
    ("feed import: {feed} civil-affairs rows into that registry (rows/s)", "feed_import_rows_per_s", 0, None, "feed_import_load"),
    ("roster import: {roster} rows of new households into that registry (rows/s)", "roster_import_rows_per_s", 0, None, "roster_import_load"),
    ("Spark standalone cluster, 2 workers × 1 core × 2 GB (s)", "spark_seconds", 1, None, None),
    ("Spark parity: alerts identical to DuckDB on that snapshot (1 = yes)", "spark_parity", 0, None, None),
]


def render_table(results: dict, sizes: tuple[str, ...] | list[str] = DOC_SIZES) -> str:
    """The §4 cost-growth table (markdown) from a results map. Cells: wall value; ``cpu`` = CPU seconds of the
    same measurement (all threads); ``load`` = mean 1-minute load average during it; † = the scale part's older
    figure (no growth run at that size yet)."""
    fill = {"link": f"{results.get('growth.link_feed_rows', _env_int('FANGPIN_GROWTH_LINK_FEED_ROWS', 100_000)):,}",
            "feed": f"{results.get('growth.feed_import_rows', _env_int('FANGPIN_GROWTH_FEED_ROWS', 20_000)):,}",
            "roster": f"{results['growth.roster_import_rows']:,}" if "growth.roster_import_rows" in results else "fixed"}
    head = "| job | " + " | ".join(f"{persons(t) / 1e6:g}M persons" for t in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    legacy_used = False
    for label, stem, digits, cpu, load in TABLE_ROWS:
        cells = []
        for t in sizes:
            v, legacy = _get(results, stem, t)
            s = _fmt(v, digits)
            if v is not None:
                if legacy:
                    s += " †"
                    legacy_used = True
                extra = []
                if cpu and results.get(f"growth.{cpu}_{t}") is not None:
                    c = results[f"growth.{cpu}_{t}"]
                    extra.append(f"cpu {c:,.1f} s" if c < 100 else f"cpu {c:,.0f} s")
                if load and results.get(f"growth.{load}_{t}") is not None:
                    extra.append(f"load {results[f'growth.{load}_{t}']:.1f}")
                if extra:
                    s += " (" + ", ".join(extra) + ")"
            cells.append(s)
        lines.append(f"| {label.format(**fill)} | " + " | ".join(cells) + " |")
    notes = ["", "Cells: wall-clock value; `cpu` = CPU seconds of the same measurement (all threads); `load` = mean "
             "1-minute load average of the machine during it. \"—\" = not measured."]
    if legacy_used:
        notes.append("† = the scale part's older figure of the same measurement (`make bench PART=scale`; most of "
                     "them measured on the shared machine under load ≈ 20, the warm previews on a quiet one); no "
                     "growth run at that size yet.")
    if results.get("growth.spark_parity") is not None and any(f"growth.spark_seconds_{t}" in results for t in sizes):
        notes.append(f"Spark: cluster startup {_fmt(results.get('growth.spark_startup_seconds'), 1)} s; "
                     f"`growth.spark_parity` = {results['growth.spark_parity']:g} (1 = identical alerts to the "
                     "embedded run at the smallest Spark size).")
    return "\n".join(lines + notes)


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of y on x (x in millions of persons); None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)


def _curve(results: dict, stem: str, sizes) -> list[tuple[float, float]]:
    pts = []
    for t in sizes:
        v, _ = _get(results, stem, t)
        if v is not None:
            pts.append((persons(t) / 1e6, float(v)))
    return pts


def _measured_sizes(results: dict) -> list[str]:
    tags = set(DOC_SIZES)
    for k in results:
        m = re.fullmatch(r"(?:growth\.\w+?|scale\.\w+?|spark\.cluster_seconds)_(\d+(?:\.\d+)?[mk])", k)
        if m:
            tags.add(m.group(1))
    return sorted((t for t in tags if persons(t) >= 1_000_000), key=persons)  # ≥ 1M: the proof runs stay out


def capacity(results: dict) -> dict[str, Any]:
    """Slopes per million persons fitted over every measured size ≥ 1M, and the national figures they give."""
    sizes = _measured_sizes(results)
    out: dict[str, Any] = {"sizes": sizes}
    cpu_pts = [(x, y) for x, y in _curve(results, "monitor_cpu_seconds", sizes)]
    wall_pts = _curve(results, "monitor_seconds", sizes)
    if len({x for x, _ in cpu_pts}) >= 2:
        out["c"], out["c_basis"], out["c_points"] = slope(cpu_pts), "CPU seconds, all threads", cpu_pts
    elif len({x for x, _ in wall_pts}) >= 2:  # older runs have wall time only: 2 cores × wall is an upper bound
        out["c"], out["c_basis"], out["c_points"] = 2 * slope(wall_pts), "2 × wall seconds, an upper bound", wall_pts
    mem = _curve(results, "peak_rss_gb", sizes)
    if len({x for x, _ in mem}) >= 2:
        out["mem"], out["mem_points"] = slope(mem), mem
    snap = _curve(results, "snapshot_mb", sizes)
    if len({x for x, _ in snap}) >= 2:
        out["snap"], out["snap_points"] = slope(snap), snap
    sp = _curve(results, "spark_seconds", sizes)
    dw = dict(wall_pts)
    both = [(x, y) for x, y in sp if x in dw]
    # a slope needs three sizes and must come out positive: with two small sizes the JVM warm-up of the first run
    # can make the larger size faster (measured: 1M 72 s, 2M 52 s), and a negative slope means nothing
    f_slope = None
    if len({x for x, _ in both}) >= 3 and slope([(x, dw[x]) for x, _ in both]) > 0:
        f_slope = slope(both) / slope([(x, dw[x]) for x, _ in both])
    if f_slope is not None and f_slope > 0:
        out["f"] = f_slope
        out["f_basis"] = "slope of the Spark curve / slope of the embedded curve over " + \
            ", ".join(f"{x:g}M" for x, _ in both)
    elif both:
        x, y = max(both)
        out["f"] = y / dw[x]
        out["f_basis"] = (f"Spark seconds / embedded seconds at the largest size both ran ({x:g}M; fixed costs "
                          f"included, so pessimistic; a slope needs ≥ 3 Spark sizes and came out "
                          f"{'negative' if len(both) >= 2 and slope(both) <= 0 else 'unavailable'})")
    out["alerts_per_m"] = None
    return out


def render_capacity(results: dict) -> str:
    c = capacity(results)
    N = NATION_PERSONS_M
    pts = lambda p: ", ".join(f"{x:g}M → {y:,.1f}" for x, y in p)  # noqa: E731
    lines = [f"Slopes are least-squares fits (per million persons) over the measured sizes ≥ 1M "
             f"({', '.join(c['sizes'])}; a size without the figure is left out), from `benchmarks/results.json`.", ""]
    if "c" not in c:
        return "\n".join(lines + ["Not enough sizes measured for a slope (need two). Run `make bench PART=growth`."])
    lines.append(f"* monitoring run: **c = {c['c']:,.1f} core-seconds per million persons** "
                 f"(slope of {c['c_basis']}: {pts(c['c_points'])});")
    if "mem" in c:
        lines.append(f"* peak memory: **{c['mem']:.2f} GB per million persons** (slope; {pts(c['mem_points'])} GB);")
    if "snap" in c:
        lines.append(f"* snapshot: **{c['snap']:.1f} MB per million persons** (slope; {pts(c['snap_points'])} MB; "
                     "24 months of history, zstd Parquet);")
    if "f" in c:
        lines.append(f"* Spark overhead **f = {c['f']:.1f}** ({c['f_basis']}).")
    core_h = c["c"] * N / 3600
    lines += ["", f"Nation, N ≈ {N:,.0f} M persons, one as-of date:", "", "| quantity | arithmetic | result |",
              "|---|---|---|",
              f"| CPU, embedded-engine equivalent | c × N = {c['c']:,.1f} × {N:,.0f} | {c['c'] * N:,.0f} core-s = "
              f"**{core_h:,.1f} core-hours** |"]
    if "f" in c:
        sh = core_h * c["f"]
        lines += [f"| CPU on Spark | × f = {core_h:,.1f} × {c['f']:.1f} | **{sh:,.0f} core-hours** |",
                  f"| cluster for a 1-hour run | {sh:,.0f} core-hours / 1 h | **≈ {sh:,.0f} cores**; for a 4-hour "
                  f"nightly window ≈ {sh / 4:,.0f} cores |"]
    if "mem" in c:
        lines.append(f"| memory, all at once (no spill) | {c['mem']:.2f} GB × {N:,.0f} | {c['mem'] * N:,.0f} GB "
                     "aggregate executor memory; Spark spills below that |")
    if "snap" in c:
        lines.append(f"| storage per monthly snapshot | {c['snap']:.1f} MB × {N:,.0f} | **{c['snap'] * N / 1000:,.1f} "
                     f"GB**; 12 months ≈ {c['snap'] * N * 12 / 1e6:,.2f} TB |")
    prov = 50.0
    lines += ["", f"A {prov:g} M-person province on one server (embedded engine): {c['c'] * prov / 2 / 60:,.0f} min on "
              f"2 cores, {c['c'] * prov / 32 / 60:,.1f} min on 32 cores if it scaled perfectly"
              + (f", ≈ {c['mem'] * prov:,.0f} GB RAM." if "mem" in c else ".")]
    return "\n".join(lines)


MARKERS = {"table": ("<!-- growth:table:begin -->", "<!-- growth:table:end -->"),
           "capacity": ("<!-- growth:capacity:begin -->", "<!-- growth:capacity:end -->")}


def update_doc(results: dict, doc: Path = DOC) -> None:
    text = doc.read_text(encoding="utf-8")
    sizes = tuple(_sizes("FANGPIN_GROWTH_DOC_SIZES", ",".join(DOC_SIZES)))
    blocks = {"table": render_table(results, sizes), "capacity": render_capacity(results)}
    for key, (a, b) in MARKERS.items():
        i, j = text.find(a), text.find(b)
        if i < 0 or j < i:
            raise ValueError(f"{doc}: markers {a} … {b} not found")
        text = text[: i + len(a)] + "\n" + blocks[key] + "\n" + text[j:]
    doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["render"]:
        update_doc(json.loads(RESULTS.read_text()))
        print(f"rewrote the growth blocks of {DOC}")
    else:
        res: dict = {}
        run(res, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/fangpin-bench/growth"))
        print(json.dumps(res, indent=1))
