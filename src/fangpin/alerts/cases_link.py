"""Alerts ↔ cases: an alert opens a lead (POLICY.md §4 channel 3, 部门筛查预警); open alerts block risk removal
("no new risk", POLICY.md §9)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.alerts.models import Alert


def has_open_alerts(conn: Connection, household_id: int, on: date) -> bool:
    """True when an alert episode raised by ``on`` is still open for the household (not the one a case came from)."""
    return conn.execute(select(Alert.id).where(Alert.household_id == household_id, Alert.status == "open",
                                               Alert.first_as_of <= on).limit(1)).first() is not None


def _risk_codes(names: list[str]) -> list[str]:
    out = []
    for n in names:
        c = codes.lookup("risk_types", n)
        if c is not None and c.code not in out:
            out.append(c.code)
    return out


def open_case_from_alert(conn: Connection, alert_id: int, actor, *, comment: str | None = None,
                         at: datetime | None = None):
    """Open a lead from an alert; the alert (and the household's other open alerts) move to `case_opened`."""
    from fangpin.cases import open_lead

    a = conn.execute(select(Alert.__table__).where(Alert.id == alert_id)).one()
    case = open_lead(conn, actor, source="alert", household=a.household_id, risk_types=_risk_codes(a.risk_types),
                     source_ref=f"alert:{a.id}:{a.rule_id}", comment=comment, at=at)
    conn.execute(update(Alert).where(Alert.household_id == a.household_id, Alert.status == "open")
                 .values(status="case_opened", case_id=case.id))
    return case


def install_hooks() -> None:
    """Connect the workflow's "no open alerts" removal condition to the alert table."""
    from fangpin.cases.hooks import default_hooks, set_default_hooks

    set_default_hooks(default_hooks().with_(has_open_alerts=has_open_alerts))
