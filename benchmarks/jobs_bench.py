"""Benchmark part "jobs" (issue 6): what running a feed import as a background web job costs over calling the
importer directly. ``run(results, work)`` imports the same 20,000-row civil-affairs CSV (FEEDS.md §B layout, valid
ID numbers, every tenth row with a bad 变动类型 so the per-row report has 2,000 entries) into two fresh SQLite
databases: once with :func:`fangpin.exchange.feeds.import_feed`, once through :class:`fangpin.jobs.JobRunner`
(queue row, claim, progress writes, heartbeat, result JSON with the per-row report). Each mode runs in a fresh
subprocess, so neither warms the other's caches.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROWS = 20000

GOALS = {
    "jobs.seconds_feed_20k_direct": ("—", "import_feed of a 20,000-row civil_affairs CSV (10 % bad rows), SQLite"),
    "jobs.seconds_feed_20k_job": ("—", "the same file as a background job (JobRunner: queue, progress, result JSON)"),
    "jobs.overhead_ratio": ("< 1.2", "job time / direct time on the same file and machine, same run"),
}

CHILD = r'''
import json, os, sys, time
from pathlib import Path
from fangpin.db import make_engine, upgrade
mode, work, csv = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
os.environ["FANGPIN_LANDING_DIR"] = str(work / f"landing-{mode}")
e = make_engine(f"sqlite:///{work}/{mode}.db"); upgrade(e)
t = time.perf_counter()
if mode == "direct":
    from fangpin.exchange.feeds import import_feed
    rep = import_feed(e, "civil_affairs", csv).as_dict()
else:
    from fangpin.jobs import JobRunner
    r = JobRunner(e, work / "spool")
    j = r.wait(r.submit("feed_import", {"feed": "civil_affairs", "path": str(csv), "filename": csv.name}), 3600)
    r.shutdown()
    rep = j["result"]
print(json.dumps({"seconds": time.perf_counter() - t, "status": rep["status"], "accepted": rep["accepted"],
                  "errors": len(rep["errors"])}))
'''


def _csv(path: Path) -> None:
    from fangpin.ids import check_digit

    lines = ["姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额"]
    for i in range(ROWS):
        f17 = f"530521{1950 + i % 50}0{1 + i % 9}1{i % 10}{i % 1000:03d}"
        sex = "男" if int(f17[16]) % 2 else "女"
        change = "瞎填" if i % 10 == 0 else "新增"
        lines.append(f"人{i},{f17 + check_digit(f17)},{sex},{f17[6:10]}-{f17[10:12]}-{f17[12:14]},530521100201,"
                     f"低保,{change},2024-11-03,450")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(results: dict, work: Path) -> None:
    work = Path(work) / "jobs"
    work.mkdir(parents=True, exist_ok=True)
    for p in work.glob("*.db*"):
        p.unlink()
    csv = work / "civil_affairs_20k.csv"
    _csv(csv)
    out = {}
    for mode in ("direct", "job"):
        r = subprocess.run([sys.executable, "-c", CHILD, mode, str(work), str(csv)], capture_output=True, text=True,
                           env=os.environ.copy(), check=True)
        out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
        assert out[mode]["status"] == "committed" and out[mode]["errors"] == ROWS // 10, out[mode]
    results["jobs.seconds_feed_20k_direct"] = round(out["direct"]["seconds"], 2)
    results["jobs.seconds_feed_20k_job"] = round(out["job"]["seconds"], 2)
    results["jobs.overhead_ratio"] = round(out["job"]["seconds"] / out["direct"]["seconds"], 3)


if __name__ == "__main__":  # pragma: no cover
    res: dict = {}
    run(res, Path(os.environ.get("FANGPIN_BENCH_DIR", "/tmp/fangpin-bench")))
    print(json.dumps(res, indent=2))
