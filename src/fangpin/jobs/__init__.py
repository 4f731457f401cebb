"""Background jobs (后台任务): long work (feed import, roster import, monitoring run, monthly report) runs off the
request in a worker thread of the server, with its state in the durable ``job`` table (migration 0007).

* ``JobRunner.submit`` inserts a ``queued`` row and hands the id to a single worker thread (a 2-core county server:
  one long job at a time; later submissions queue). The worker claims the row (``queued → running`` by a
  conditional UPDATE, so two runners never run the same job), reports ``progress`` (0–1) and a ``stage`` code,
  and finishes with ``done`` + ``result`` (JSON) or ``failed`` + ``error`` (bilingual ``{code, zh, en}``).
* A ticker thread refreshes ``heartbeat_at`` of this runner's queued/running jobs every few seconds. A job whose
  heartbeat is older than ``stale_seconds`` belongs to a dead process (crash, kill -9, restart): ``sweep_stale``
  marks it ``failed`` (``JOB_INTERRUPTED``) — it runs when a runner starts and on every status read, so no job is
  left "running" forever.
* Re-running is safe: the importers are idempotent by content hash (a file imported before comes back
  ``unchanged``) and all-or-nothing; a monitoring run de-duplicates alerts. A submission with the ``dedup_key`` of
  a job still queued/running returns that job instead of starting a second one.
* Kinds are registered with :func:`register_kind` (``fn(engine, params, ctx) -> dict``); ``ctx.progress(f, stage)``
  and ``ctx.save_artefact(bytes, filename)``. The built-in kinds are in :mod:`fangpin.jobs.kinds`.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from fangpin.issues import FangpinValueError
from fangpin.jobs.models import Job

__all__ = ["JobRunner", "JobContext", "JobError", "register_kind", "KINDS", "job_dict", "sweep_stale", "get_job",
           "STAGES"]

log = logging.getLogger(__name__)

#: Stage codes reported by the jobs → labels (zh, en) for the progress bar.
STAGES: dict[str, tuple[str, str]] = {
    "queued": ("排队中", "queued"),
    "start": ("开始", "starting"),
    "read": ("读取文件", "reading the file"),
    "validate": ("逐行校验", "checking rows"),
    "link": ("关联人员与农户", "linking people and households"),
    "write": ("写入数据库", "writing to the database"),
    "snapshot": ("导出快照", "exporting the snapshot"),
    "rules": ("运行预警规则", "running the warning rules"),
    "store": ("保存预警", "storing alerts"),
    "render": ("生成报告", "rendering the report"),
    "done": ("完成", "done"),
    "failed": ("失败", "failed"),
}


class JobError(FangpinValueError):
    """A job refused its input (bilingual); the job ends ``failed`` with this issue as its error."""


@dataclass
class _Kind:
    fn: Callable[[Engine, dict, "JobContext"], dict]
    roles: tuple[str, ...]


KINDS: dict[str, _Kind] = {}


def register_kind(name: str, fn: Callable[[Engine, dict, "JobContext"], dict], roles: tuple[str, ...]) -> None:
    """Make ``fn`` runnable as job kind ``name`` by users of ``roles`` (the generic hook, e.g. for reports)."""
    KINDS[name] = _Kind(fn, tuple(roles))


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def job_dict(row) -> dict:
    """JSON view of a job row (what GET /api/jobs/{id} returns)."""
    m = row._mapping if hasattr(row, "_mapping") else row
    stage = m["stage"] or m["status"]
    zh, en = STAGES.get(stage, (stage, stage))
    return {"id": m["id"], "kind": m["kind"], "status": m["status"], "progress": round(float(m["progress"] or 0), 4),
            "stage": stage, "stage_zh": zh, "stage_en": en, "params": _public_params(m["params"] or {}),
            "result": m["result"], "error": m["error"], "has_artefact": bool(m["artefact"]),
            "created_by_name": m["created_by_name"], "region_code": m["region_code"],
            "created_at": _iso(m["created_at"]), "started_at": _iso(m["started_at"]),
            "finished_at": _iso(m["finished_at"]), "heartbeat_at": _iso(m["heartbeat_at"])}


def _iso(d):
    return d.isoformat(sep=" ") if d else None


def _public_params(p: dict) -> dict:
    # server-side spool paths are not for clients
    return {k: v for k, v in p.items() if k not in ("path", "paths", "spool", "dir")}


def get_job(conn, job_id: int):
    return conn.execute(select(Job.__table__).where(Job.id == job_id)).first()


def sweep_stale(engine: Engine, stale_seconds: float, *, alive_owner: str | None = None) -> int:
    """Mark queued/running jobs with a heartbeat older than ``stale_seconds`` as failed (their process died).

    ``alive_owner``: the calling runner — its own jobs are alive by definition (on SQLite a long import holds the
    write lock, so its heartbeat cannot be written meanwhile; that must not fail it). Candidates are found by a
    read first, so the usual case (nothing stale) never waits for the write lock."""
    cutoff = _now() - timedelta(seconds=stale_seconds)
    j = Job.__table__
    cond = [j.c.status.in_(("queued", "running")), j.c.heartbeat_at < cutoff]
    if alive_owner:
        cond.append(j.c.owner != alive_owner)
    with engine.connect() as conn:
        ids = conn.execute(select(j.c.id).where(*cond)).scalars().all()
    if not ids:
        return 0
    with engine.begin() as conn:
        n = conn.execute(update(j).where(j.c.id.in_(ids), *cond).values(
            status="failed", stage="failed", finished_at=_now(),
            error={"code": "JOB_INTERRUPTED",
                   "zh": "任务因服务器重启或崩溃而中断，未完成的导入不会留下部分数据；请重新提交",
                   "en": "the job was interrupted by a server restart or crash; an unfinished import leaves no "
                         "partial data — submit it again"})).rowcount
    if n:
        log.warning("marked %d interrupted job(s) failed", n)
    return n


class JobContext:
    """What a running job may do: report progress, keep an artefact (e.g. a report file)."""

    def __init__(self, runner: "JobRunner", job_id: int):
        self.runner, self.job_id = runner, job_id
        self._last = 0.0
        self._stage: str | None = None

    def progress(self, fraction: float, stage: str | None = None) -> None:
        import time

        now = time.monotonic()
        if stage == self._stage and now - self._last < 0.5 and fraction < 1.0:
            return  # throttle: at most two writes a second within a stage
        self._last, self._stage = now, stage or self._stage
        vals: dict[str, Any] = {"progress": max(0.0, min(float(fraction), 1.0)), "heartbeat_at": _now()}
        if stage:
            vals["stage"] = stage
        self.runner._update(self.job_id, vals, quiet=True)

    def save_artefact(self, data: bytes, filename: str) -> Path:
        d = self.runner.spool / f"job-{self.job_id}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / Path(filename).name
        tmp = p.with_suffix(p.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, p)
        self.runner._update(self.job_id, {"artefact": str(p)})
        return p


class JobRunner:
    """One per server process. ``submit`` is thread-safe; work runs on one worker thread."""

    def __init__(self, engine: Engine, spool: Path, *, stale_seconds: float = 60.0, heartbeat_seconds: float = 5.0):
        from fangpin.jobs import kinds  # noqa: F401  (registers the built-in kinds)

        self.engine = engine
        self.spool = Path(spool)  # created when first used
        self.stale_seconds = stale_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:80]
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fangpin-job")
        self._stop = threading.Event()
        self.sweep()
        self._ticker = threading.Thread(target=self._tick, name="fangpin-job-heartbeat", daemon=True)
        self._ticker.start()

    # -- public --------------------------------------------------------------------------------------------------
    def submit(self, kind: str, params: dict, *, user=None, region_code: str | None = None,
               dedup_key: str | None = None) -> int:
        """Queue a job (or return the queued/running job with the same ``dedup_key``)."""
        if kind not in KINDS:
            raise KeyError(kind)
        j = Job.__table__
        with self.engine.begin() as conn:
            if dedup_key:
                same = conn.execute(select(j.c.id).where(j.c.dedup_key == dedup_key,
                                                         j.c.status.in_(("queued", "running")))).scalar()
                if same is not None:
                    return int(same)
            now = _now()
            jid = conn.execute(insert(j).values(
                kind=kind, status="queued", params=params, dedup_key=dedup_key, progress=0.0, stage="queued",
                created_by=getattr(user, "id", None), created_by_name=getattr(user, "display_name", None),
                region_code=region_code or getattr(user, "region_code", None) or "00", owner=self.owner,
                created_at=now, heartbeat_at=now).returning(j.c.id)).scalar_one()
        self.pool.submit(self._run, int(jid))
        return int(jid)

    def sweep(self) -> int:
        """Fail the jobs of dead processes (never this runner's own); a busy database skips the sweep this time."""
        try:
            return sweep_stale(self.engine, self.stale_seconds, alive_owner=self.owner)
        except OperationalError:
            log.debug("stale-job sweep skipped (database busy)")
            return 0

    def wait(self, job_id: int, timeout: float = 60.0) -> dict:
        """Block until the job is done or failed (tests, CLI)."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            with self.engine.connect() as conn:
                row = get_job(conn, job_id)
            if row.status in ("done", "failed") or time.monotonic() > deadline:
                return job_dict(row)
            time.sleep(0.1)

    def shutdown(self) -> None:
        """Stop: a running job finishes; queued ones are not started (the next server marks them failed)."""
        self._stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- internals -----------------------------------------------------------------------------------------------
    def _update(self, job_id: int, values: dict, quiet: bool = False) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(update(Job.__table__).where(Job.id == job_id).values(**values))
        except OperationalError:
            if not quiet:
                raise
            log.debug("progress write skipped (database busy)")

    def _tick(self) -> None:
        j = Job.__table__
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(j).where(j.c.owner == self.owner, j.c.status.in_(("queued", "running")))
                                 .values(heartbeat_at=_now()))
            except Exception:  # noqa: BLE001 - a busy database must not kill the ticker; retried next tick
                log.debug("heartbeat skipped", exc_info=True)

    def _run(self, job_id: int) -> None:
        j = Job.__table__
        with self.engine.begin() as conn:
            claimed = conn.execute(update(j).where(j.c.id == job_id, j.c.status == "queued").values(
                status="running", stage="start", started_at=_now(), heartbeat_at=_now(), owner=self.owner)).rowcount
            row = get_job(conn, job_id) if claimed else None
        if not claimed:
            return  # failed meanwhile (stale sweep) or claimed elsewhere
        ctx = JobContext(self, job_id)
        try:
            result = KINDS[row.kind].fn(self.engine, dict(row.params), ctx)
        except FangpinValueError as e:
            self._finish(job_id, "failed", error={"code": e.issue.code, "zh": e.issue.zh, "en": e.issue.en})
        except Exception as e:  # noqa: BLE001 - any crash ends the job as failed, with the reason kept
            log.error("job %s (%s) failed:\n%s", job_id, row.kind, traceback.format_exc())
            self._finish(job_id, "failed", error={"code": "JOB_CRASHED", "zh": f"任务出错：{type(e).__name__}",
                                                  "en": f"the job crashed: {type(e).__name__}: {str(e)[:300]}"})
        else:
            self._finish(job_id, "done", result=result)
        finally:
            self._cleanup(row.params)

    def _finish(self, job_id: int, status: str, *, result: dict | None = None, error: dict | None = None) -> None:
        vals = {"status": status, "stage": "done" if status == "done" else "failed", "finished_at": _now(),
                "heartbeat_at": _now(), "result": result, "error": error}
        if status == "done":
            vals["progress"] = 1.0
        for _ in range(20):  # the final state must land even if the database is briefly busy
            try:
                self._update(job_id, vals)
                return
            except OperationalError:
                import time

                time.sleep(0.5)
        log.error("could not record the end of job %s; the stale sweep will mark it failed", job_id)

    def _cleanup(self, params: dict) -> None:
        """Uploaded files are spooled only until the job ends (the landing zone keeps imported originals)."""
        spool = params.get("spool")
        if spool and Path(spool).is_dir() and Path(spool).resolve().is_relative_to(self.spool.resolve()):
            import shutil

            shutil.rmtree(spool, ignore_errors=True)
