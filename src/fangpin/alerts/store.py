"""Persist a monitoring run's alerts: de-duplicate against open episodes, close what no longer fires.

All in one transaction: a run is recorded whole or not at all (re-running the same as-of is safe: open episodes
are updated, not duplicated).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from fangpin.alerts.models import Alert, MonitorRun
from fangpin.db import upgrade
from fangpin.monitoring.engine import Alert as RunAlert, RunResult


def store_run(engine: Engine, result: RunResult, *, as_of, engine_name: str, mode: str = "full",
              started_at: datetime | None = None, report: dict | None = None) -> dict:
    upgrade(engine)
    started_at = started_at or datetime.now().replace(microsecond=0)
    alerts: list[RunAlert] = result.alerts
    fired = {(a.household_id, a.rule_id): a for a in alerts}
    scope = {int(h) for h in result.features["household_id"].to_pylist()}
    first = alerts[0] if alerts else None
    with engine.begin() as conn:
        run_id = conn.execute(insert(MonitorRun).returning(MonitorRun.id), {
            "as_of": as_of, "engine": engine_name, "mode": mode, "started_at": started_at,
            "households": len(scope), "alerts_fired": len(fired), "digest": result.digest,
            "snapshot": first.snapshot if first else "", "rules_version": first.rules_version if first else "",
            "param_version": first.param_version if first else "", "report": report,
        }).scalar_one()
        open_rows = {(r.household_id, r.rule_id): r.id for r in conn.execute(
            select(Alert.id, Alert.household_id, Alert.rule_id).where(Alert.status.in_(("open", "case_opened"))))}
        new_rows, n_new = [], 0
        for key, a in fired.items():
            if key in open_rows:
                conn.execute(update(Alert).where(Alert.id == open_rows[key]).values(
                    last_run_id=run_id, last_as_of=a.as_of, evidence=a.evidence, sources=a.sources,
                    param_version=a.param_version, rules_version=a.rules_version, snapshot=a.snapshot))
                continue
            n_new += 1
            new_rows.append({
                "household_id": a.household_id, "region_code": a.region_code, "rule_id": a.rule_id,
                "risk_types": a.risk_types, "status": "open", "first_run_id": run_id, "last_run_id": run_id,
                "first_as_of": a.as_of, "last_as_of": a.as_of, "first_evidence": a.evidence, "evidence": a.evidence,
                "sources": a.sources, "param_version": a.param_version, "rules_version": a.rules_version,
                "snapshot": a.snapshot,
            })
        if new_rows:
            conn.execute(insert(Alert), new_rows)
        # an open episode whose household was recomputed and no longer fires is closed (cases keep theirs)
        stale = [aid for key, aid in open_rows.items() if key[0] in scope and key not in fired]
        n_closed = 0
        for i in range(0, len(stale), 500):
            chunk = stale[i:i + 500]
            n_closed += conn.execute(update(Alert).where(Alert.id.in_(chunk), Alert.status == "open").values(
                status="closed", closed_at=datetime.now().replace(microsecond=0))).rowcount
        conn.execute(update(MonitorRun).where(MonitorRun.id == run_id).values(
            alerts_new=n_new, alerts_closed=n_closed, finished_at=datetime.now().replace(microsecond=0)))
    return {"run_id": run_id, "alerts": len(fired), "alerts_new": n_new, "alerts_closed": n_closed,
            "alerts_sha256": result.digest}
