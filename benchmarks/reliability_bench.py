"""Security and reliability figures (issue 7 §2–5, §7): ``run(results, work)`` fills

* ``security.access_leaks`` — the generated access matrix (every route × every role × a record inside and outside
  the user's region; fangpin.reliability.access_matrix) on a 300-household synthetic county;
* ``security.schemathesis_5xx`` — schemathesis (positive and negative generation) against /openapi.json as
  anonymous, village, county and department users, ``RELIABILITY_ST_EXAMPLES`` (default 100) examples per
  operation, mode and user (fangpin.reliability.fuzz_api);
* ``security.importer_fuzz_failures`` — importer fuzzing (roster + every feed contract × 8 mutation kinds ×
  ``RELIABILITY_FUZZ_SEEDS`` seeds, default 10): imports that crashed, wrote rows when refusing, or committed a
  partial batch (fangpin.reliability.fuzz_files);
* ``reliability.kill9_trials`` / ``reliability.kill9_inconsistent`` — SIGKILL at a random moment during feed
  import, monitoring run and visit-list generation, ``RELIABILITY_KILL9_TRIALS`` (default 50) trials each
  (fangpin.reliability.kill9);
* ``load.p95_ms`` / ``load.errors`` / ``load.rps`` — Locust, 100 concurrent users of mixed roles for 5 minutes
  against `fangpin serve` on PostgreSQL (server and generator pinned to different cores) with a synthetic county
  of ``RELIABILITY_LOAD_HOUSEHOLDS`` households (default 376,000 ≈ 1M persons); ``load.persons`` records the size
  actually used. Needs PostgreSQL: FANGPIN_LOAD_PG_URL, else a throw-away server via scripts/pg.sh on port
  ``RELIABILITY_PG_PORT`` (default 55446). ``RELIABILITY_LOAD_REUSE=1`` with FANGPIN_LOAD_PG_URL reuses the county
  an earlier run built there (its ``load_users.json`` in the work directory) instead of building it again.

``RELIABILITY_SKIP`` (comma list of access,schemathesis,fuzz,kill9,load) leaves steps out. Each step's figures are
written to benchmarks/results.json as soon as it ends; a failing step is reported (traceback, and "FAILED" in
``reliability_detail.json``), its figures are removed rather than left stale, the other steps still run, and the
part fails at the end.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

GOALS = {
    "security.access_leaks": ("0", "access-matrix answers that let a role see what it must not (route × role × in/out of region)"),
    "security.access_checks": ("—", "requests the access matrix sent"),
    "security.schemathesis_5xx": ("0", "server errors found by schemathesis against /openapi.json (several roles)"),
    "security.schemathesis_calls": ("—", "requests schemathesis sent"),
    "security.importer_fuzz_failures": ("0", "fuzzed imports that crashed, half-wrote or wrote while refusing"),
    "security.importer_fuzz_attempts": ("—", "fuzzed files imported (roster + every feed contract)"),
    "reliability.kill9_trials": ("≥ 150", "SIGKILL trials: feed import, monitoring run, visit-list report (50 each)"),
    "reliability.kill9_inconsistent": ("0", "trials leaving a partial batch, duplicate/lost rows, a half file, or a re-run that differs"),
    "load.p95_ms": ("< 300", "p95 latency, 100 concurrent mixed-role users for 5 min, PostgreSQL, loopback, pinned cores"),
    "load.errors": ("0", "failed requests in that run"),
    "load.rps": ("—", "requests per second served in that run"),
    "load.persons": ("—", "persons in the county the load test ran against"),
}


def _skip(name: str) -> bool:
    return name in {s.strip() for s in os.environ.get("RELIABILITY_SKIP", "").split(",") if s.strip()}


# figures each step writes: a failed step removes its own (no stale figure from an earlier run stays behind)
STEP_FIGURES = {
    "access": ("security.access_leaks", "security.access_checks"),
    "schemathesis": ("security.schemathesis_5xx", "security.schemathesis_calls"),
    "fuzz": ("security.importer_fuzz_failures", "security.importer_fuzz_attempts"),
    "kill9": ("reliability.kill9_trials", "reliability.kill9_inconsistent"),
    "load": ("load.p95_ms", "load.errors", "load.rps", "load.persons"),
}


def _save(results: dict) -> None:
    """Write the figures so far to benchmarks/results.json now (benchmarks/run.py writes only after a whole part:
    a failure in the last step must not throw away an hour of earlier steps)."""
    f = ROOT / "benchmarks" / "results.json"
    f.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def run(results: dict, work: Path) -> None:
    import time
    import traceback

    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    detail: dict = {"steps": {}}
    county: list[Path] = []

    def small_county() -> Path:
        if not county:
            from fangpin.reliability.county import build_small

            build_small(work / "county.db")
            county.append(work / "county.db")
        return county[0]

    steps = {
        "access": lambda: _access(results, work, detail, small_county()),
        "schemathesis": lambda: _schemathesis(results, work, detail, small_county()),
        "fuzz": lambda: _fuzz(results, work, detail),
        "kill9": lambda: _kill9(results, work, detail),
        "load": lambda: _load(results, work, detail),
    }
    failed = []
    for name, fn in steps.items():
        if _skip(name):
            detail["steps"][name] = "skipped (RELIABILITY_SKIP)"
            continue
        t = time.time()
        print(f"[reliability] {name} …", flush=True)
        try:
            fn()
            detail["steps"][name] = f"done in {time.time() - t:.0f} s"
        except Exception as e:  # noqa: BLE001 — go on with the other steps; fail the part at the end
            traceback.print_exc()
            failed.append(f"{name}: {type(e).__name__}: {e}")
            detail["steps"][name] = f"FAILED: {type(e).__name__}: {e}"
            for k in STEP_FIGURES[name]:
                results.pop(k, None)
        _save(results)
        (work / "reliability_detail.json").write_text(json.dumps(detail, ensure_ascii=False, indent=1, default=str))
        print(f"[reliability] {name}: {detail['steps'][name]}", flush=True)
    print(f"details: {work / 'reliability_detail.json'}")
    if failed:
        raise RuntimeError("reliability steps failed: " + " | ".join(failed))


def _kill9(results: dict, work: Path, detail: dict) -> None:
    from fangpin.reliability.kill9 import run_trials

    k = run_trials(work / "kill9", int(os.environ.get("RELIABILITY_KILL9_TRIALS", "50")), log=print)
    results["reliability.kill9_trials"] = k["total_trials"]
    results["reliability.kill9_inconsistent"] = k["total_inconsistent"]
    detail["kill9"] = k


def _access(results: dict, work: Path, detail: dict, county: Path) -> None:
    from fangpin.reliability.access_matrix import prepare, run_matrix, undeclared
    from fangpin.web.app import create_app

    fx = prepare(county, work / "matrix.db")
    app = create_app(fx.url, secret_key="bench")
    out = run_matrix(app, fx)
    missing = undeclared(app)
    app.state.engine.dispose()
    results["security.access_leaks"] = len(out.leaks)
    results["security.access_checks"] = out.checks
    detail["access"] = {**out.as_dict(), "undeclared_routes": missing}


def _schemathesis(results: dict, work: Path, detail: dict, county: Path) -> None:
    from fangpin.reliability.access_matrix import PASSWORD, prepare
    from fangpin.reliability.fuzz_api import fuzz_api
    from fangpin.web.app import create_app

    fx = prepare(county, work / "st.db")
    app = create_app(fx.url, secret_key="bench")
    n = int(os.environ.get("RELIABILITY_ST_EXAMPLES", "100"))
    st = fuzz_api(app, [(u, PASSWORD) for u in ("m_village", "m_county", "m_department", "m_admin")],
                  max_examples=n)
    app.state.engine.dispose()
    results["security.schemathesis_5xx"] = st.server_errors
    results["security.schemathesis_calls"] = st.calls
    detail["schemathesis"] = st.as_dict()


def _fuzz(results: dict, work: Path, detail: dict) -> None:
    from fangpin.db import make_engine
    from fangpin.reliability.fuzz_files import FEEDS, MUTATIONS, FuzzFileOutcome, attempt, build_samples, mutate

    s = build_samples(work / "fuzz")
    db = work / "fuzz.db"
    shutil.copy(s.template_db, db)
    e = make_engine(f"sqlite:///{db}")
    out = FuzzFileOutcome()
    seeds = int(os.environ.get("RELIABILITY_FUZZ_SEEDS", "10"))
    targets = [f"feed:{f}" for f in FEEDS] + [f"roster:{r}" for r in sorted(s.roster)]
    for t in targets:
        kind, name = t.split(":")
        for m in MUTATIONS:
            for seed in range(seeds):
                src = s.roster[name] if kind == "roster" else random.Random(seed).choice(s.feeds[name])
                blob, ext = mutate(m, src.read_bytes(), seed)
                attempt(e, t, blob, ext, s, work / "fuzz_tmp", f"{t} {m} {seed}", out)
    e.dispose()
    results["security.importer_fuzz_failures"] = len(out.failures)
    results["security.importer_fuzz_attempts"] = out.attempts
    detail["importer_fuzz"] = out.as_dict()


def _load(results: dict, work: Path, detail: dict) -> None:
    from fangpin.reliability import load as L

    households = int(os.environ.get("RELIABILITY_LOAD_HOUSEHOLDS", "376000"))
    url = os.environ.get("FANGPIN_LOAD_PG_URL")
    pg_dir = work / "pg"
    started = False
    users_file = work / "load_users.json"
    reuse = os.environ.get("RELIABILITY_LOAD_REUSE") == "1" and url and users_file.exists()
    if not url:
        port = os.environ.get("RELIABILITY_PG_PORT", "55446")
        # a server left running in pg_dir by an interrupted run would keep the port (and lose its directory)
        subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", str(pg_dir)], check=False,
                       capture_output=True)
        url = subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "start", str(pg_dir), port], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        started = True
    try:
        if reuse:  # the county built by an earlier run into FANGPIN_LOAD_PG_URL (building 1M persons takes ~15 min)
            info = json.loads(users_file.read_text())
            if int(info.get("households", -1)) != households:
                raise RuntimeError(f"{users_file} describes {info.get('households')} households, not {households}: "
                                   "unset RELIABILITY_LOAD_REUSE or point FANGPIN_LOAD_PG_URL at an empty database")
        else:
            info = L.build(url, households, users_file)
        r = L.run(url, users_file, users=int(os.environ.get("RELIABILITY_LOAD_USERS", "100")),
                  seconds=int(os.environ.get("RELIABILITY_LOAD_SECONDS", "300")),
                  port=int(os.environ.get("RELIABILITY_WEB_PORT", "8046")), work=work / "load")
    finally:
        if started:
            subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh"), "stop", str(pg_dir)], check=False)
    results["load.p95_ms"] = r["p95_ms"]
    results["load.errors"] = r["errors"]
    results["load.rps"] = r["rps"]
    results["load.persons"] = info.get("persons")
    detail["load"] = {**r, "build": {k: v for k, v in info.items() if k != "users"}}
