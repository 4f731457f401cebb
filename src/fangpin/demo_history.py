"""Demo only: a year of identifications across the county, so the dashboard and the monthly report have a
history to show. Every case goes through the domain services (open from an alert → … → county approval), like a
user would; a few decisions are deliberately late (> 15 days, POLICY.md §5) and a few first measures later than a
month, so the SLA figures are not all 100 %. Nothing here is used outside `fangpin demo`."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fangpin.alerts.cases_link import open_case_from_alert
from fangpin.alerts.models import Alert
from fangpin.cases import Actor, act, add_measure

TYPES = ("TPBWD", "BYYZP", "TFYZKN")
STEPS = ("authorise", "verify_home", "data_check", "village_review", "township_audit", "county_approve")
DAY = {"authorise": 0, "verify_home": 1, "data_check": 2, "village_review": 3, "township_audit": 9}
CATEGORIES = ("EMPLOYMENT", "INDUSTRY", "HEALTH", "COMPREHENSIVE_PROTECTION", "FINANCE")


def seed_history(engine: Engine, year: int, per_month: int = 4, skip_region: str | None = None) -> list[int]:
    """Identify ``per_month`` alerted households a month through ``year`` (spread over townships, skipping the
    village ``skip_region`` that the step-by-step demo cases use). Returns the case ids."""
    with engine.connect() as c:
        rows = c.execute(select(Alert.id, Alert.household_id, Alert.region_code).where(Alert.status == "open")
                         .order_by(Alert.region_code, Alert.id)).all()
    by_town: dict[str, list] = {}
    seen: set[int] = set()
    for aid, hid, region in rows:
        if hid in seen or (skip_region and region == skip_region):
            continue
        seen.add(hid)
        by_town.setdefault(region[:9], []).append((aid, region))
    towns = sorted(by_town)
    picks = []
    k = 0
    while len(picks) < 12 * per_month and any(by_town.values()):
        t = towns[k % len(towns)]
        if by_town[t]:
            picks.append(by_town[t].pop(0))
        k += 1
    out = []
    for i, (aid, village) in enumerate(picks):
        month = 1 + i // per_month
        opened = datetime(year, month, 2 + (i % per_month) * 5, 9)
        cadre = Actor("demo-v", "示范村干部", "village_cadre", village)
        town = Actor("demo-t", "示范乡镇干部", "township_officer", village[:9])
        county = Actor("demo-c", "示范县级干部", "county_officer", village[:6])
        who = {"authorise": cadre, "verify_home": cadre, "data_check": town, "village_review": cadre,
               "township_audit": town, "county_approve": county}
        late = i % 7 == 3  # decided after the 15-day limit
        days = dict(DAY, county_approve=19 if late else 11)
        payload = {"authorise": {"commitment_signed": True, "authorisation_signed": True},
                   "verify_home": {"findings": "入户核实情况属实（演示）"},
                   "village_review": {"monitored_type": TYPES[i % 3]}}
        with engine.begin() as conn:
            case = open_case_from_alert(conn, aid, town, at=opened, comment="演示：历史识别")
            for s in STEPS:
                case = act(conn, case.id, s, who[s], expected_version=case.version,
                           at=opened + timedelta(days=days[s]), payload=payload.get(s))
            identified = (opened + timedelta(days=days["county_approve"])).date()
            if i % 5 != 4:  # most get a first measure, some after the one-month limit
                start = identified + timedelta(days=40 if i % 9 == 2 else 10)
                if start <= date(year, 12, 31):
                    add_measure(conn, case.household_id, cadre, category=CATEGORIES[i % len(CATEGORIES)],
                                start_date=start, description="演示帮扶措施",
                                at=datetime.combine(start, datetime.min.time()).replace(hour=10))
        out.append(case.id)
    return out


__all__ = ["seed_history"]
