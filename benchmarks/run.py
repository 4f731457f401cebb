"""`make bench [PART=name]`: run benchmark parts, merge figures into benchmarks/results.json (a flat
{"name": number} map) and rewrite docs/BENCHMARKS.md with the machine, the date and a table.

Each part measures in fresh subprocesses (so peak memory is the part's own) and measures a baseline in the same
run, so figures can be compared across machines.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
WORK = Path(os.environ.get("FANGPIN_BENCH_DIR", "/tmp/fangpin-bench"))

# name → (goal text, description)
GOALS = {
    "synth.seconds_1m_persons": ("< 120", "fangpin synth, ~1M persons (376k households, 24 months) into SQLite, truth Parquet included"),
    "synth.peak_rss_gb_1m_persons": ("—", "peak resident memory of that run (GB)"),
    "synth.persons_1m": ("—", "persons generated in the 1M run"),
    "synth.seconds_10m_persons": ("—", "the same for ~10M persons (3.8M households, Yunnan's villages)"),
    "synth.peak_rss_gb_10m_persons": ("< 24", "peak resident memory of the 10M run (GB): must fit this 24 GB machine"),
    "synth.persons_10m": ("—", "persons generated in the 10M run"),
    "synth.baseline_sqlite_rows_per_s": ("—", "baseline: plain sqlite3 executemany of 2M 6-column rows, same machine, same run"),
    "synth.rows_per_s_1m": ("—", "registry rows written per second in the 1M run (compare with the baseline)"),
    "linkage.precision": ("≥ 0.995", "auto-links on the generator's feeds (exact ID links included)"),
    "linkage.recall": ("≥ 0.99", "auto-links over rows whose person is in the registry"),
    "linkage.review_share": ("≤ 0.01", "share of rows sent to the review queue"),
    "linkage.febrl4_f1_vs_splink": ("≥ 1.0", "our F1 / Splink's default model's F1 on FEBRL4 (same run)"),
    "linkage.seconds_1m_vs_10m": ("< 60", "1M-row feed linked against a 10M-person registry"),
    "linkage.splink_speed_ratio": ("> 1", "Splink's time / ours on the same job"),
    "warning.recall_ratio_k5": ("≥ 1.25", "recall (rules + triggers + model) / recall (income-line rule) at a 5 % visit budget"),
    "warning.auc": ("≥ 0.85", "risk model AUC on a held-out later period"),
    "warning.top1_cause": ("≥ 0.75", "top explained risk type = simulated cause"),
    "warning.lead_time_months": ("≥ 2", "median months of warning before the event"),
    "monitor.seconds_10m": ("< 60", "full monitoring run (features + rules + scoring), 10M persons"),
    "monitor.naive_ratio": ("≥ 20", "straightforward pandas implementation time / ours"),
    "whatif.seconds_1m": ("< 5", "policy what-if replay, 1M persons"),
    "pmt.exclusion_k20": ("< OLS", "proxy-means exclusion error at 20 % coverage (ours)"),
    "pmt.exclusion_k20_ols": ("—", "the same for the OLS baseline, same run"),
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}){mem}, Python {platform.python_version()}"


def child(code: str) -> dict:
    """Run python code in a fresh interpreter; it prints one JSON line; add its peak RSS."""
    wrapper = code + "\nimport resource, json as _j\nprint('@@' + _j.dumps({**RESULT, 'peak_rss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    p = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    line = next(l for l in p.stdout.splitlines() if l.startswith("@@"))
    return json.loads(line[2:])


def part_synth(results: dict, sizes=("1m", "10m")) -> None:
    base = child("""
import sqlite3, time, os, tempfile
d = tempfile.mkdtemp(); c = sqlite3.connect(os.path.join(d, 'b.db'))
c.execute('create table t (a integer primary key, b text, c text, d real, e integer, f text)')
rows = [(i, '2023-01-01', 'x' * 10, i * 0.5, i % 7, '2023-01-01 12:00:00') for i in range(2_000_000)]
t = time.perf_counter(); c.executemany('insert into t values (?,?,?,?,?,?)', rows); c.commit()
RESULT = {'rows_per_s': 2_000_000 / (time.perf_counter() - t)}
""")
    results["synth.baseline_sqlite_rows_per_s"] = round(base["rows_per_s"])
    plans = {"1m": (376_000, "530521"), "10m": (3_760_000, "53")}
    for size in sizes:
        n, region = plans[size]
        db = WORK / f"synth_{size}.db"
        for p in WORK.glob(f"synth_{size}.db*"):
            if p.is_dir():
                import shutil

                shutil.rmtree(p)
            else:
                p.unlink()
        WORK.mkdir(parents=True, exist_ok=True)
        r = child(f"""
import time
from pathlib import Path
from fangpin.db import make_engine
from fangpin.synth.run import run, SynthParams
t = time.perf_counter()
res = run(make_engine('sqlite:///{db}'), SynthParams(households={n}, region='{region}', seed=11), Path('{db}.truth'))
RESULT = {{'seconds': time.perf_counter() - t, 'persons': res.persons, 'rows': sum(res.rows.values())}}
""")
        results[f"synth.seconds_{size}_persons"] = round(r["seconds"], 1)
        results[f"synth.peak_rss_gb_{size}_persons"] = round(r["peak_rss_kb"] / 1024 / 1024, 2)
        results[f"synth.persons_{size}"] = r["persons"]
        if size == "1m":
            results["synth.rows_per_s_1m"] = round(r["rows"] / r["seconds"])
        for p in WORK.glob(f"synth_{size}.db*"):
            if p.is_dir():
                import shutil

                shutil.rmtree(p)
            else:
                p.unlink()


def _discover() -> None:
    """Every ``benchmarks/<part>_bench.py`` is a part: it defines ``run(results, work)`` and may define ``GOALS``
    ({figure: (goal text, description)}). Adding a part means adding a file — this runner does not change."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    for f in sorted((ROOT / "benchmarks").glob("*_bench.py")):
        mod = importlib.import_module(f.stem)
        part = f.stem[: -len("_bench")]
        GOALS.update(getattr(mod, "GOALS", {}))
        PARTS[part] = (lambda m, name: (lambda results: m.run(results, WORK / name)))(mod, part)


PARTS = {"synth": part_synth}
_discover()


def write_doc(results: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}  ",
        f"Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}  ",
        "Produced by `make bench` (`benchmarks/run.py`); raw figures in `benchmarks/results.json`.",
        "Re-measure one part with `make bench PART=<part>` (parts: " + ", ".join(PARTS) + ").",
        "",
        "| figure | value | goal | what |",
        "|---|---|---|---|",
    ]
    for k in sorted(results):
        goal, what = GOALS.get(k, ("—", ""))
        lines.append(f"| `{k}` | {results[k]:,} | {goal} | {what} |")
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", default="all")
    a = ap.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    parts = PARTS if a.part == "all" else {a.part: PARTS[a.part]}
    for name, fn in parts.items():
        t = time.time()
        print(f"[bench] {name} …", flush=True)
        fn(results)
        print(f"[bench] {name} done in {time.time() - t:.0f} s", flush=True)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        write_doc(results)
    print(json.dumps(results, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
