"""From an alert in a synthetic county to a monitored household, in the legal order only (issues 4 → 5)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from fangpin.alerts.cases_link import has_open_alerts, open_case_from_alert
from fangpin.alerts.models import Alert
from fangpin.alerts.service import monitor
from fangpin.cases import Actor, CaseError, act
from fangpin.synth.run import SynthParams, run

AUTH = {"commitment_signed": True, "authorisation_signed": True}
T0 = datetime(2025, 1, 6, 9, 0)


def test_alert_opens_a_case_that_follows_the_statutory_chain_policy_4_5(engine, tmp_path):
    run(engine, SynthParams(households=400, months=24, seed=21), None)
    report, _ = monitor(engine, date(2024, 12, 31))
    assert report["alerts"] > 0 and report["stored"]["alerts_new"] == report["alerts"]
    with engine.connect() as c:
        a = c.execute(select(Alert.__table__).where(Alert.rule_id == "INC-LINE").order_by(Alert.id).limit(1)).one()
    village = a.region_code
    cadre = Actor("v", "村干部", "village_cadre", village)
    township = Actor("t", "乡镇干部", "township_officer", village[:9])
    county = Actor("c", "县干部", "county_officer", village[:6])
    with engine.begin() as conn:
        case = open_case_from_alert(conn, a.id, township, at=T0)  # alerts reach the township (POLICY.md §4.3)
        assert conn.execute(select(Alert.status).where(Alert.id == a.id)).scalar_one() == "case_opened"
        # the procedure cannot be skipped: the county cannot approve a fresh lead
        with pytest.raises(CaseError):
            act(conn, case.id, "county_approve", county, expected_version=case.version, at=T0)
    with engine.begin() as conn:
        case = act(conn, case.id, "authorise", cadre, expected_version=case.version, payload=AUTH, at=T0)
        case = act(conn, case.id, "verify_home", cadre, expected_version=case.version, at=T0 + timedelta(days=1),
                   payload={"findings": "入户核实属实"})
        case = act(conn, case.id, "data_check", township, expected_version=case.version, at=T0 + timedelta(days=2))
        case = act(conn, case.id, "village_review", cadre, expected_version=case.version, at=T0 + timedelta(days=3),
                   payload={"monitored_type": "BYYZP"})
        with pytest.raises(CaseError):  # notice ≥ 5 days (POLICY.md §5)
            act(conn, case.id, "township_audit", township, expected_version=case.version, at=T0 + timedelta(days=4))
    with engine.begin() as conn:
        case = act(conn, case.id, "township_audit", township, expected_version=case.version, at=T0 + timedelta(days=9))
        case = act(conn, case.id, "county_approve", county, expected_version=case.version, at=T0 + timedelta(days=11))
        assert case.state == "MONITORED"
        assert case.risk_types  # mapped from the alert's official risk type
        assert not has_open_alerts(conn, a.household_id, date(2025, 2, 1))


def test_demo_seeds_a_case_at_every_step_through_the_domain_services(sqlite_engine):
    from fangpin.demo_cases import PLAN, seed_cases

    run(sqlite_engine, SynthParams(households=600, months=24, seed=22), None)
    monitor(sqlite_engine, date(2024, 12, 31))
    with sqlite_engine.connect() as c:
        from sqlalchemy import func

        village = c.execute(select(Alert.region_code).group_by(Alert.region_code)
                            .order_by(func.count().desc(), Alert.region_code).limit(1)).scalar_one()
        households = c.execute(select(func.count(func.distinct(Alert.household_id)))
                               .where(Alert.region_code == village, Alert.status == "open")).scalar_one()
    cases = seed_cases(sqlite_engine, village, T0)
    assert len(cases) == min(len(PLAN), households) >= 3
    assert [c["state"] for c in cases] == [state for state, _ in PLAN][:len(cases)]
    monitored = [c for c in cases if c["state"] == "MONITORED"]
    if monitored:  # the monitored case has its chain: eligibility run, first visit, helper, measure, delivery
        from fangpin.cases import assistance_chain, latest_eligibility

        with sqlite_engine.connect() as c:
            hid = monitored[0]["household_id"]
            ch = assistance_chain(c, hid, date(2025, 12, 31))
            assert latest_eligibility(c, hid)["trigger"] == "identification"
        assert ch["helpers"] and ch["relapse_prevention"][0]["deliveries"] == 1 and ch["visits"]
