"""Load test (issue 7 §5): a synthetic county on PostgreSQL, `fangpin serve` pinned to one core, Locust pinned to
another, N concurrent users of mixed roles for a fixed time on loopback; p95 latency and errors.

    python -m fangpin.reliability.load build --db URL --households 376000 --out users.json
    python -m fangpin.reliability.load run --db URL --users-file users.json --users 100 --minutes 5

``build`` synthesises the county (``fangpin.synth.run``), runs monitoring, and creates load-test accounts
(village cadres of the busiest villages, township and county officers, a department officer, a province viewer,
an administrator). ``run`` starts the server and Locust (``locustfile.py`` next to this module) and returns
{p95_ms, p50_ms, requests, errors, rps}.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

PASSWORD = "load-test-password"
HERE = Path(__file__).parent


def build(db_url: str, households: int, out: Path, seed: int = 11, months: int = 24) -> dict:
    from sqlalchemy import func, select

    from fangpin.alerts.models import Alert
    from fangpin.alerts.service import monitor
    from fangpin.auth import create_user
    from fangpin.auth.models import AppUser
    from fangpin.db import make_engine, upgrade
    from fangpin.synth.run import SynthParams, run

    t0 = time.perf_counter()
    e = make_engine(db_url)
    upgrade(e)
    res = run(e, SynthParams(households=households, months=months, seed=seed), None)
    t1 = time.perf_counter()
    as_of = date(2023 + (months - 1) // 12, (months - 1) % 12 + 1, 28)
    monitor(e, as_of)
    t2 = time.perf_counter()
    with e.begin() as c:
        busy = [r[0] for r in c.execute(select(Alert.region_code, func.count()).where(Alert.status == "open")
                                        .group_by(Alert.region_code).order_by(func.count().desc()).limit(10))]
        plan = [(f"load_v{i}", "village_cadre", v) for i, v in enumerate(busy)]
        plan += [(f"load_t{i}", "township_officer", t) for i, t in enumerate(sorted({v[:9] for v in busy})[:4])]
        county = busy[0][:6]
        plan += [("load_c0", "county_officer", county), ("load_c1", "county_officer", county),
                 ("load_d0", "department_officer", county), ("load_p0", "province_viewer", county[:2]),
                 ("load_a0", "admin", "00")]
        for username, role, region in plan:
            if c.execute(select(AppUser.id).where(AppUser.username == username)).first() is None:
                create_user(c, username, PASSWORD, role, region)
    e.dispose()
    info = {"households": households, "persons": getattr(res, "persons", None), "synth_seconds": round(t1 - t0, 1),
            "monitor_seconds": round(t2 - t1, 1),
            "users": [{"username": u, "role": r, "region_code": g, "password": PASSWORD} for u, r, g in plan]}
    Path(out).write_text(json.dumps(info, ensure_ascii=False, indent=1))
    return info


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _pin(cores: str | None, cmd: list[str]) -> list[str]:
    return (["taskset", "-c", cores] + cmd) if cores and shutil.which("taskset") else cmd


def run(db_url: str, users_file: Path, *, users: int = 100, seconds: int = 300, port: int = 8046,
        server_cores: str | None = "0", load_cores: str | None = "1", work: Path = Path("/tmp/fangpin-load")) -> dict:
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    if not _free(port):
        raise RuntimeError(f"port {port} is busy")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "FANGPIN_SECRET_KEY": "load-test-secret"}
    server = subprocess.Popen(_pin(server_cores, [str(bin_dir / "fangpin"), "serve", "--db", db_url, "--port", str(port)]),
                              stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(240):
            if not _free(port):
                break
            if server.poll() is not None:
                raise RuntimeError("server exited: " + (work / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        prefix = work / "locust"
        cmd = _pin(load_cores, [str(bin_dir / "locust"), "-f", str(HERE / "locustfile.py"), "--headless",
                                "-u", str(users), "-r", str(max(1, users // 10)), "-t", f"{seconds}s",
                                "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary",
                                "--stop-timeout", "10"])
        env_l = {**env, "FANGPIN_LOAD_USERS": str(users_file)}
        subprocess.run(cmd, env=env_l, stdout=open(work / "locust.log", "w"), stderr=subprocess.STDOUT, check=False)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))
    agg = next(r for r in rows if r["Name"] == "Aggregated")
    per = {f'{r["Type"]} {r["Name"]}': {"requests": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                                         "p50_ms": float(r["50%"]), "p95_ms": float(r["95%"])}
           for r in rows if r["Name"] != "Aggregated"}
    return {"users": users, "seconds": seconds, "requests": int(agg["Request Count"]),
            "errors": int(agg["Failure Count"]), "p50_ms": float(agg["50%"]), "p95_ms": float(agg["95%"]),
            "rps": round(float(agg["Requests/s"]), 1), "server_cores": server_cores, "load_cores": load_cores,
            "endpoints": per}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--db", required=True)
    b.add_argument("--households", type=int, default=376_000)
    b.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run")
    r.add_argument("--db", required=True)
    r.add_argument("--users-file", type=Path, required=True)
    r.add_argument("--users", type=int, default=100)
    r.add_argument("--minutes", type=float, default=5)
    r.add_argument("--port", type=int, default=8046)
    a = ap.parse_args()
    if a.cmd == "build":
        print(json.dumps(build(a.db, a.households, a.out), ensure_ascii=False, indent=1))
    else:
        print(json.dumps(run(a.db, a.users_file, users=a.users, seconds=int(a.minutes * 60), port=a.port), indent=1))
