"""kill -9 crash safety (issue 7 §4): run a job in a child process on a small synthetic county, SIGKILL it at a
random moment, check the database and the output files, re-run the job to completion and compare the result with
an uninterrupted run.

Jobs (pluggable: add a :class:`Job` to ``JOBS``):

* ``feed_import`` — four department files imported one after another (``fangpin.exchange.feeds.import_feed``).
  After the kill: every import batch is whole (``committed``, finished, ``feed_record`` rows = ``rows_accepted``,
  no duplicate row numbers); the landing manifest has no torn entry that replay would trip on. After the re-run:
  the same batches, rows, links and manifest entries as an uninterrupted run.
* ``monitor`` — a full monitoring run (``fangpin.alerts.service.monitor``). After the kill: no unfinished
  ``monitor_run``, no alert without its run, no duplicate open episode. After the re-run: exactly one finished
  run and the same alerts as an uninterrupted run.
* ``report`` — the ranked visit list (``fangpin.risk.write_scores_csv``, as ``fangpin monitor --scores-out``
  writes it) plus, when present, the plug-ins in ``REPORT_PLUGINS`` (e.g. the monthly report). After the kill: a
  file under its final name is complete (identical to the uninterrupted output); after the re-run all are there.

``python scripts/kill9.py --trials 50`` (all jobs) prints a JSON summary; ``benchmarks/reliability_bench.py``
records ``reliability.kill9_trials`` and ``reliability.kill9_inconsistent``.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

__all__ = ["JOBS", "REPORT_PLUGINS", "prepare_base", "run_trials"]

AS_OF = date(2025, 12, 31)  # the last month of the 36-month synthetic county
FEED_FILES = 4


def _engine(d: Path):
    from fangpin.db import make_engine

    return make_engine(f"sqlite:///{d / 'db.sqlite'}")


def prepare_base(work: Path, households: int = 150, seed: int = 5) -> Path:
    """The shared starting point: registry (SQLite), feed files, a trained risk model. Built once."""
    from fangpin.reliability.fuzz_files import build_samples

    base = Path(work) / "base"
    if (base / "ready").exists():
        return base
    s = build_samples(base / "county", households=households, seed=seed, months=36)
    shutil.copy(s.template_db, base / "db.sqlite")
    files = sorted((p for ps in s.feeds.values() for p in ps if p.parent.name in
                    ("medical", "civil_affairs", "disability", "employment", "public_security")), key=lambda p: p.name)
    rng = random.Random(seed)
    chosen = rng.sample(files, min(FEED_FILES, len(files)))
    (base / "feeds").mkdir(exist_ok=True)
    plan = []
    for i, p in enumerate(chosen):
        dst = base / "feeds" / f"{i:02d}_{p.name}"
        shutil.copy(p, dst)
        plan.append({"feed": p.parent.name, "file": dst.name})
    (base / "feeds.json").write_text(json.dumps(plan))
    # a risk model for the visit list, trained on the county's own synthetic truth
    import tempfile

    from fangpin.db import make_engine
    from fangpin.monitoring import dept_events as D
    from fangpin.monitoring import snapshot as S
    from fangpin.risk.train import train

    e = make_engine(f"sqlite:///{base / 'db.sqlite'}")
    with tempfile.TemporaryDirectory() as tmp:
        with e.connect() as conn:
            S.export(conn, Path(tmp))
        D.write(Path(tmp), D.from_synth_truth(base / "county" / "truth"))
        model, _, _ = train(S.open_snapshot(Path(tmp)), base / "county" / "truth")
        model.save(base / "model")
    e.dispose()
    (base / "ready").write_text("ok")
    return base


# ---------------------------------------------------------------------------------------------------------------
# Jobs


class Job:
    name = ""

    def setup(self, base: Path, d: Path) -> None:
        shutil.copy(base / "db.sqlite", d / "db.sqlite")

    def run(self, base: Path, d: Path) -> None:  # in the child, and again (to completion) in the parent
        raise NotImplementedError

    def check(self, base: Path, d: Path) -> list[str]:  # invariants right after the kill
        return []

    def fingerprint(self, base: Path, d: Path) -> Any:  # the finished state, compared with an uninterrupted run
        raise NotImplementedError


class FeedImport(Job):
    name = "feed_import"

    def run(self, base, d):
        from fangpin.exchange.feeds import import_feed

        e = _engine(d)
        for i, item in enumerate(json.loads((base / "feeds.json").read_text())):
            import_feed(e, item["feed"], base / "feeds" / item["file"], landing_dir=d / "landing",
                        as_of=date(2025, 12, 1), recorded_at=datetime(2025, 12, 1, 8, 0, i))
        e.dispose()

    def check(self, base, d):
        from fangpin.exchange.feeds import _manifest_lines
        from fangpin.exchange.models import FeedRecord
        from fangpin.registry.models import ImportBatch

        problems = []
        e = _engine(d)
        with e.connect() as c:
            for b in c.execute(select(ImportBatch.__table__).where(ImportBatch.kind.like("feed:%"))):
                n = c.execute(select(func.count()).select_from(FeedRecord).where(FeedRecord.batch_id == b.id)).scalar_one()
                if b.status != "committed" or b.finished_at is None or b.report is None:
                    problems.append(f"batch {b.id} not whole: status={b.status} finished={b.finished_at}")
                if n != b.rows_accepted:
                    problems.append(f"batch {b.id}: {n} feed rows but rows_accepted={b.rows_accepted}")
            dup = c.execute(select(FeedRecord.batch_id, FeedRecord.row_number).group_by(
                FeedRecord.batch_id, FeedRecord.row_number).having(func.count() > 1)).first()
            if dup is not None:
                problems.append(f"duplicate feed row {tuple(dup)}")
            orphans = c.execute(select(func.count()).select_from(FeedRecord).where(
                ~FeedRecord.batch_id.in_(select(ImportBatch.id)))).scalar_one()
            if orphans:
                problems.append(f"{orphans} feed rows without a batch")
        e.dispose()
        root = d / "landing"
        for ent in _manifest_lines(root) if root.exists() else []:
            if not (root / ent["file"]).exists():
                problems.append(f"manifest lists a file that was never landed: {ent['file']}")
        return problems

    def fingerprint(self, base, d):
        from fangpin.exchange.feeds import _manifest_lines
        from fangpin.security.fields import open_payload
        from fangpin.exchange.models import FeedRecord
        from fangpin.registry.models import ImportBatch

        e = _engine(d)
        with e.connect() as c:
            batches = sorted((b.kind, b.content_sha256, b.rows_total, b.rows_accepted, b.rows_rejected) for b in c.execute(
                select(ImportBatch.__table__).where(ImportBatch.kind.like("feed:%"))))
            rows = sorted((r.feed, r.row_number, r.person_id, r.household_id, r.link_method,
                           # sealed values carry a random nonce: compare what they say, not their ciphertext
                           str(sorted(open_payload(r.payload).items())))
                          for r in c.execute(select(FeedRecord.__table__)))
        e.dispose()
        manifest = sorted((m["feed"], m["sha256"]) for m in _manifest_lines(d / "landing"))
        return {"batches": batches, "rows": hashlib.sha256(repr(rows).encode()).hexdigest(), "n_rows": len(rows),
                "manifest": manifest}


class Monitor(Job):
    name = "monitor"

    def run(self, base, d):
        from fangpin.alerts.service import monitor

        e = _engine(d)
        monitor(e, AS_OF)
        e.dispose()

    def check(self, base, d):
        from fangpin.alerts.models import Alert, MonitorRun

        problems = []
        e = _engine(d)
        with e.connect() as c:
            unfinished = c.execute(select(func.count()).select_from(MonitorRun).where(
                MonitorRun.finished_at.is_(None))).scalar_one()
            if unfinished:
                problems.append(f"{unfinished} unfinished monitor_run row(s)")
            dup = c.execute(select(Alert.household_id, Alert.rule_id).where(Alert.status.in_(("open", "case_opened")))
                            .group_by(Alert.household_id, Alert.rule_id).having(func.count() > 1)).first()
            if dup is not None:
                problems.append(f"duplicate open alert episode {tuple(dup)}")
            runs = c.execute(select(func.count()).select_from(MonitorRun)).scalar_one()
            alerts = c.execute(select(func.count()).select_from(Alert)).scalar_one()
            if runs == 0 and alerts:
                problems.append(f"{alerts} alerts without a monitoring run")
        e.dispose()
        return problems

    def fingerprint(self, base, d):
        from fangpin.alerts.models import Alert, MonitorRun

        e = _engine(d)
        with e.connect() as c:
            runs = c.execute(select(MonitorRun.as_of, MonitorRun.alerts_fired, MonitorRun.digest).where(
                MonitorRun.finished_at.is_not(None))).all()
            alerts = sorted((a.household_id, a.rule_id, a.status, a.region_code) for a in c.execute(
                select(Alert.household_id, Alert.rule_id, Alert.status, Alert.region_code)))
        e.dispose()
        # a re-run after a kill that landed just after the commit records a second identical run: the audit trail
        # grows, the outcome (alerts, digest) must not change
        return {"runs": sorted({tuple(map(str, r)) for r in runs}), "alerts": alerts}


def _visit_list(base: Path, d: Path, out: Path) -> None:
    """`fangpin monitor --scores-out`: score the snapshot with the model, write the ranked visit list."""
    import tempfile

    from fangpin.monitoring import engine as E
    from fangpin.monitoring import snapshot as S
    from fangpin.risk import load, score, write_scores_csv

    e = _engine(d)
    with tempfile.TemporaryDirectory() as tmp:
        with e.connect() as conn:
            snap = S.export(conn, Path(tmp))
        result = E.run(snap, AS_OF)
        write_scores_csv(out / "visit_list.csv", score(S.open_snapshot(Path(tmp)), AS_OF, load(base / "model")),
                         result.alerts)
    e.dispose()


# name → function(base, trial dir, output dir) writing its files there; the monthly report (w6) plugs in here
REPORT_PLUGINS: dict[str, Any] = {"visit_list": _visit_list}


class Report(Job):
    name = "report"

    def setup(self, base, d):
        super().setup(base, d)
        (d / "out").mkdir(exist_ok=True)

    def run(self, base, d):
        for fn in REPORT_PLUGINS.values():
            fn(base, d, d / "out")

    def _finals(self, d: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((d / "out").iterdir())
                if p.is_file() and not p.name.startswith(".")}

    def check(self, base, d):
        ref = json.loads((base / "report_reference.json").read_text()) if (base / "report_reference.json").exists() else {}
        return [f"{name} is under its final name but not complete" for name, h in self._finals(d).items()
                if ref and ref.get(name) != h]

    def fingerprint(self, base, d):
        return self._finals(d)


JOBS: dict[str, Job] = {j.name: j for j in (FeedImport(), Monitor(), Report())}


# ---------------------------------------------------------------------------------------------------------------
# Trials


def _child_cmd(job: str, base: Path, d: Path) -> list[str]:
    return [sys.executable, "-m", "fangpin.reliability.kill9", "child", job, str(base), str(d)]


def _spawn(job: str, base: Path, d: Path, cores: str | None) -> subprocess.Popen:
    cmd = _child_cmd(job, base, d)
    if cores and shutil.which("taskset"):
        cmd = ["taskset", "-c", cores] + cmd
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _wait_ready(p: subprocess.Popen) -> None:
    line = p.stdout.readline()
    if line.strip() != "READY":
        p.kill()
        raise RuntimeError(f"child did not start: {line!r}")


@dataclass
class JobStats:
    trials: int = 0
    killed: int = 0  # killed while working (the rest finished before the kill time)
    inconsistent: int = 0
    work_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _reference(job: Job, base: Path, work: Path) -> tuple[Any, float]:
    d = work / f"ref_{job.name}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    job.setup(base, d)
    p = _spawn(job.name, base, d, None)
    _wait_ready(p)
    t0 = time.perf_counter()
    p.wait()
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"uninterrupted {job.name} run failed ({p.returncode})")
    fp = job.fingerprint(base, d)
    if job.name == "report":
        (base / "report_reference.json").write_text(json.dumps(fp))
    return fp, dt


def run_trials(work: Path, trials: int = 50, jobs: list[str] | None = None, seed: int = 0,
               households: int = 150, log=None) -> dict:
    """``trials`` kill -9 trials of each job; returns {job: stats} plus totals."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    base = prepare_base(work, households=households)
    rng = random.Random(seed)
    out: dict[str, Any] = {}
    for name in jobs or list(JOBS):
        job = JOBS[name]
        ref, dt = _reference(job, base, work)
        st = JobStats(work_seconds=round(dt, 2))
        for k in range(trials):
            d = work / f"trial_{name}"
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            job.setup(base, d)
            p = _spawn(name, base, d, None)
            _wait_ready(p)
            time.sleep(rng.uniform(0, dt * 1.05))
            alive = p.poll() is None
            if alive:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
            st.trials += 1
            st.killed += alive
            problems = job.check(base, d)
            try:
                job.run(base, d)  # the re-run completes
                if job.fingerprint(base, d) != ref:
                    problems.append("after the re-run the result differs from an uninterrupted run")
            except Exception as e:  # noqa: BLE001 — a re-run that cannot complete is the worst outcome
                problems.append(f"re-run failed: {type(e).__name__}: {e}")
            if problems:
                st.inconsistent += 1
                st.problems.append(f"trial {k}: " + "; ".join(problems))
            if log:
                log(f"{name} trial {k + 1}/{trials}: {'killed' if alive else 'finished first'}"
                    f"{' INCONSISTENT ' + '; '.join(problems) if problems else ''}")
        out[name] = {"trials": st.trials, "killed_while_working": st.killed, "inconsistent": st.inconsistent,
                     "work_seconds": st.work_seconds, "problems": st.problems[:10]}
    out["total_trials"] = sum(v["trials"] for k, v in out.items() if isinstance(v, dict))
    out["total_inconsistent"] = sum(v["inconsistent"] for k, v in out.items() if isinstance(v, dict))
    return out


def _child(job: str, base: str, d: str) -> None:
    j = JOBS[job]
    import fangpin.exchange.feeds  # noqa: F401  (imports before READY: the kill lands in the work, not in imports)
    import fangpin.alerts.service  # noqa: F401
    import fangpin.risk  # noqa: F401
    from fangpin.db import upgrade

    upgrade(_engine(Path(d)))
    print("READY", flush=True)
    j.run(Path(base), Path(d))
    print("DONE", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit("usage: python -m fangpin.reliability.kill9 child <job> <base> <dir> (see scripts/kill9.py)")
