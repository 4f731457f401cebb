"""Background jobs on SQLite and PostgreSQL: progress is visible while a job runs; a job whose process is killed is
marked failed (never left running) and leaves nothing half-saved; re-running it is safe."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from sqlalchemy import func, select

from fangpin.exchange import feeds as feeds_mod
from fangpin.exchange.models import FeedRecord
from fangpin.jobs import JobRunner, get_job, job_dict
from fangpin.registry.models import ImportBatch

CSV = ("姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额\n"
       "李甲,,男,1960-05-01,530521100201,低保,新增,2024-11-03,450\n"
       "李乙,,女,1972-02-11,530521100201,特困,新增,2024-11-04,600\n")

CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from fangpin.db import make_engine
    from fangpin.jobs import JobRunner
    url, spool, path = sys.argv[1:4]
    r = JobRunner(make_engine(url), Path(spool), stale_seconds=2, heartbeat_seconds=0.3)
    print(r.submit("feed_import", {"feed": "civil_affairs", "path": path, "filename": "c.csv"}), flush=True)
    time.sleep(600)
""")


def _count(engine, model) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(model)).scalar_one()


def test_killed_job_is_marked_failed_and_rerun_imports_whole(engine, tmp_path, monkeypatch):
    f = tmp_path / "c.csv"
    f.write_text(CSV, encoding="utf-8")
    marker = tmp_path / "inside_tx"
    env = {**os.environ, feeds_mod.PAUSE_ENV: str(marker), "FANGPIN_LANDING_DIR": str(tmp_path / "landing")}
    url = engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path / "spool"), str(f)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "timeout"
        jid = int(proc.stdout.readline())
        with engine.connect() as c:
            j = job_dict(get_job(c, jid))
        assert j["status"] == "running" and j["stage"] == "write" and 0.5 <= j["progress"] < 1  # progress is visible
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the server dies inside the import's transaction
        proc.wait()
    engine.dispose()
    time.sleep(3.5)  # the dead runner's heartbeat (second resolution) goes stale (> 2 s)
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))
    r = JobRunner(engine, tmp_path / "spool2", stale_seconds=2)  # a restarted server
    try:
        with engine.connect() as c:
            j = job_dict(get_job(c, jid))
        assert j["status"] == "failed" and j["error"]["code"] == "JOB_INTERRUPTED", j
        assert _count(engine, ImportBatch) == 0 and _count(engine, FeedRecord) == 0  # nothing half-saved
        again = r.wait(r.submit("feed_import", {"feed": "civil_affairs", "path": str(f), "filename": "c.csv"}))
        assert again["status"] == "done" and again["result"]["status"] == "committed"
        assert _count(engine, FeedRecord) == 2
        twice = r.wait(r.submit("feed_import", {"feed": "civil_affairs", "path": str(f), "filename": "c.csv"}))
        assert twice["result"]["status"] == "unchanged" and _count(engine, FeedRecord) == 2
    finally:
        r.shutdown()


def test_same_job_twice_while_queued_returns_the_first(engine, tmp_path):
    from fangpin.jobs import register_kind

    gate = {"open": False}

    def slow(engine_, params, ctx):
        while not gate["open"]:
            time.sleep(0.05)
        return {"ok": True}

    register_kind("test_slow", slow, ("admin",))
    r = JobRunner(engine, tmp_path / "spool")
    try:
        a = r.submit("test_slow", {}, region_code="00", dedup_key="k1")
        b = r.submit("test_slow", {}, region_code="00", dedup_key="k1")
        assert a == b
        gate["open"] = True
        assert r.wait(a)["status"] == "done"
        c = r.submit("test_slow", {}, region_code="00", dedup_key="k1")  # finished: a new run is allowed
        assert c != a and r.wait(c)["status"] == "done"
    finally:
        gate["open"] = True
        r.shutdown()


def test_a_live_runner_never_fails_its_own_job_but_another_process_does(engine, tmp_path):
    """On SQLite a long import holds the write lock, so the heartbeat cannot be written: the runner that owns the job
    knows it is alive; only another (restarted) process may judge it stale."""
    from datetime import datetime, timedelta

    from sqlalchemy import update

    from fangpin.jobs import register_kind
    from fangpin.jobs.models import Job

    gate = {"open": False}

    def slow(engine_, params, ctx):
        while not gate["open"]:
            time.sleep(0.05)
        return {}

    register_kind("test_slow2", slow, ("admin",))
    r = JobRunner(engine, tmp_path / "a", stale_seconds=5, heartbeat_seconds=3600)
    other = None
    try:
        jid = r.submit("test_slow2", {}, region_code="00")
        deadline = time.time() + 30
        while time.time() < deadline:  # claimed (the claim writes a fresh heartbeat)
            with engine.connect() as c:
                if get_job(c, jid).status == "running":
                    break
            time.sleep(0.05)
        old = datetime.now().replace(microsecond=0) - timedelta(minutes=5)
        with engine.begin() as c:
            c.execute(update(Job).where(Job.id == jid).values(heartbeat_at=old))
        assert r.sweep() == 0
        other = JobRunner(engine, tmp_path / "b", stale_seconds=5)  # a second server process judges it dead
        with engine.connect() as c:
            assert get_job(c, jid).status == "failed"
    finally:
        gate["open"] = True
        r.shutdown()
        if other:
            other.shutdown()
