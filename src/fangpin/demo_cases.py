"""Demo only: open cases from alerts in one village and leave them at every step of the procedure (POLICY.md §5),
so the workbench shows each state; the monitored one gets an assistance chain (helper, measure, delivery). Goes through the domain services like any user would — no step is skipped."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fangpin.alerts.cases_link import open_case_from_alert
from fangpin.alerts.models import Alert
from fangpin.cases import Actor, act

AUTH = {"commitment_signed": True, "authorisation_signed": True}
# (state to stop at, the steps that lead there)
PLAN = [
    ("LEAD", []),
    ("AUTHORISED", ["authorise"]),
    ("VERIFIED", ["authorise", "verify_home"]),
    ("DATA_CHECKED", ["authorise", "verify_home", "data_check"]),
    ("UNDER_NOTICE", ["authorise", "verify_home", "data_check", "village_review"]),
    ("TOWNSHIP_AUDITED", ["authorise", "verify_home", "data_check", "village_review", "township_audit"]),
    ("MONITORED", ["authorise", "verify_home", "data_check", "village_review", "township_audit", "county_approve"]),
    ("REJECTED", ["authorise", "verify_home", "data_check", "reject"]),
]


def seed_cases(engine: Engine, village: str, start: datetime) -> list[dict]:
    cadre = Actor("demo-v", "示范村干部", "village_cadre", village)
    township = Actor("demo-t", "示范乡镇干部", "township_officer", village[:9])
    county = Actor("demo-c", "示范县级干部", "county_officer", village[:6])
    who = {"authorise": cadre, "verify_home": cadre, "data_check": township, "village_review": cadre,
           "township_audit": township, "county_approve": county, "reject": cadre}
    day = {"authorise": 0, "verify_home": 1, "data_check": 2, "village_review": 3, "township_audit": 9,
           "county_approve": 11, "reject": 3}
    payload = {"authorise": AUTH, "verify_home": {"findings": "入户核实情况属实（演示）"},
               "village_review": {"monitored_type": "BYYZP"}}
    with engine.connect() as c:
        alerts = c.execute(select(Alert.id).where(Alert.region_code == village, Alert.status == "open")
                           .order_by(Alert.household_id, Alert.id)).scalars().all()
    out, used = [], set()
    for state, steps in PLAN:
        with engine.connect() as c:
            aid = next((a for a in alerts if a not in used and c.execute(
                select(Alert.status).where(Alert.id == a)).scalar() == "open"), None)
        if aid is None:
            break
        used.add(aid)
        with engine.begin() as conn:
            case = open_case_from_alert(conn, aid, township, at=start, comment="演示：由预警生成线索")
            for s in steps:
                case = act(conn, case.id, s, who[s], expected_version=case.version, at=start + timedelta(days=day[s]),
                           payload=payload.get(s), comment="演示数据" if s == "reject" else None)
            if case.state == "MONITORED":  # its assistance chain: helper, a development measure, a delivery (§8)
                _seed_plan(conn, case.household_id, township, start + timedelta(days=day["county_approve"]))
        out.append({"case_id": case.id, "state": case.state, "household_id": case.household_id})
    return out


def _seed_plan(conn, household_id: int, township: Actor, approved: datetime) -> None:
    """Demo assistance chain of the monitored case, through the domain services (POLICY.md §8; §5 first measure
    within a month). Eligibility and the first follow-up visit were recorded by the county approval itself."""
    from fangpin.cases import add_measure, assign_helper, record_delivery

    on = approved + timedelta(days=3)
    assign_helper(conn, household_id, township, name="示范帮扶干部", unit="县农业农村局（演示）", phone=None,
                  start_date=on.date(), at=on)
    mid = add_measure(conn, household_id, township, category="EMPLOYMENT", start_date=on.date(),
                      description="就业帮扶：推荐县内务工岗位（演示）", at=on)
    record_delivery(conn, mid, township, delivered_on=(on + timedelta(days=2)).date(), note="已到岗（演示）",
                    at=on + timedelta(days=2))


__all__ = ["seed_cases", "PLAN", "date"]
