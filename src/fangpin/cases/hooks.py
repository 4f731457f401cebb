"""Seams other modules plug into (the lead wires them; defaults are safe and documented).

* ``has_open_alerts(conn, household_id, on) -> bool`` — the monitoring module answers "is there an open alert
  (new risk) for this household?" (POLICY.md §9 "no new risk"). Default: no open alerts.
* ``is_current_dibao(conn, household_id, on) -> bool`` — "is the household a current 低保 recipient?"
  (POLICY.md §5.3: the data check is not repeated for them). Default: an active DIBAO measure on the household's
  single assistance chain (which the civil-affairs feed import can fill).
* ``eligibility(conn, household_id, on) -> list[dict]`` — civil-affairs eligibility suggestions from the
  calculators in ``fangpin.assistance`` (seed 004 §五; POLICY.md §10). Default: the latest run recorded on the
  household's chain by ``fangpin.cases.eligibility.assess_eligibility`` (run at county approval and on request).
  Each suggestion is a dict ``{"subtype": "DIBAO", "programme", "eligible": bool, "rule_id", "proposal",
  "result_id", "reason_zh": str, "reason_en": str}``; the plan view shows it beside the measures so help is
  neither missed nor duplicated.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Callable

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

__all__ = ["Hooks", "default_hooks", "set_default_hooks"]


def _no_alerts(conn: Connection, household_id: int, on: date) -> bool:
    return False


def _dibao_on_chain(conn: Connection, household_id: int, on: date) -> bool:
    from fangpin.cases.models import AssistanceMeasure as M, AssistancePlan as P

    q = (select(M.id).join(P, P.id == M.plan_id)
         .where(P.household_id == household_id, M.subtype == "DIBAO", M.start_date <= on,
                or_(M.end_date.is_(None), M.end_date >= on)).limit(1))
    return conn.execute(q).first() is not None


def _recorded_suggestions(conn: Connection, household_id: int, on: date) -> list[dict[str, Any]]:
    from fangpin.cases.eligibility import eligibility_suggestions

    return eligibility_suggestions(conn, household_id, on)


@dataclass(frozen=True)
class Hooks:
    has_open_alerts: Callable[[Connection, int, date], bool] = _no_alerts
    is_current_dibao: Callable[[Connection, int, date], bool] = _dibao_on_chain
    eligibility: Callable[[Connection, int, date], list[dict[str, Any]]] = _recorded_suggestions

    def with_(self, **kw: Any) -> "Hooks":
        return replace(self, **kw)


_DEFAULT = [Hooks()]


def default_hooks() -> Hooks:
    return _DEFAULT[0]


def set_default_hooks(hooks: Hooks) -> None:
    """Install process-wide hooks (the CLI / web app call this once at start-up)."""
    _DEFAULT[0] = hooks
