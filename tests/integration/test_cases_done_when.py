"""Issue 5 "done when", end to end on SQLite and PostgreSQL: a cadre-visit lead goes through identification, the
single assistance chain (eligibility, helper, measure within a month, deliveries, visits on the dated interval) and
assisted removal through the same review chain — only in the legal order; a disaster-risk household gets measures
before identification (2025 rule) and then the first-measure limit is met; overdue visits and first measures
escalate and count in the KPIs. (Approve / reject / return / natural removal paths: test_cases_workflow.py and the
YAML cases in tests/cases/workflow.)"""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from fangpin.cases import (act, add_measure, assign_helper, assistance_chain, cadre_visit, kpis, latest_eligibility,
                           overdue, record_delivery)
from fangpin.cases.models import AssistanceMeasure, FollowUpVisit
from test_cases_factory import AUTH, CADRE, COUNTY, T0, TOWNSHIP, VILLAGE, at, make_household
from test_cases_workflow import _err


def _through_identification(conn, case, start):
    """The §5 chain after the lead, each step by its own office (POLICY.md §5.1–5.8)."""
    c = act(conn, case.id, "authorise", CADRE, expected_version=case.version, payload=AUTH, at=start)
    c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=start + timedelta(days=1))
    c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=start + timedelta(days=2))
    c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=start + timedelta(days=3),
            payload={"monitored_type": "TFYZKN"})
    c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=start + timedelta(days=8))
    return act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=start + timedelta(days=10))


def test_cadre_visit_lead_to_assisted_removal_end_to_end_policy_4_5_8_9(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        out = cadre_visit(conn, "HH-1", CADRE, done_on=T0.date(), result="户主因病住院,收入骤减", open_lead=True,
                          risk_types=["因病"], at=T0)
        c = conn.execute(select(FollowUpVisit.id)).scalar_one()  # the unscheduled visit is on the chain
        from fangpin.cases import get_case

        lead = get_case(conn, out["case_id"])
        assert lead.state == "LEAD" and lead.source == "cadre_visit"
        # the county cannot approve a lead, the village cannot audit: only the legal order works
        assert _err(act, conn, lead.id, "county_approve", COUNTY, expected_version=lead.version,
                    at=at(1)).code == "CASE_STEP_NOT_ALLOWED"
        case = _through_identification(conn, lead, T0)
        assert case.state == "MONITORED" and case.identified_on == at(10).date()
        run = latest_eligibility(conn, "HH-1")
        assert run["ok"] and run["trigger"] == "identification" and run["case_id"] == case.id
        # measure within a month, delivered, helper assigned: the §8 checks pass
        mid = add_measure(conn, "HH-1", TOWNSHIP, category="就业帮扶", start_date=at(20).date(), at=at(20))
        record_delivery(conn, mid, TOWNSHIP, delivered_on=at(25).date(), amount=3000, at=at(25))
        assign_helper(conn, "HH-1", TOWNSHIP, name="陈帮扶", unit="县人社局", phone=None, start_date=at(20).date(),
                      at=at(20))
        assert all(ch.ok for ch in assistance_chain(conn, "HH-1", at(26).date())["checks"])
        # visits every follow_up_visit_interval_days, recorded by the cadre on time
        day = 40
        while day < 200:
            due = conn.execute(select(FollowUpVisit.due_date).where(FollowUpVisit.done_on.is_(None))).scalar_one()
            assert due == at(day).date()
            cadre_visit(conn, "HH-1", CADRE, done_on=due, result="务工收入稳定", at=at(day))
            day += 30
        assert c is not None
        # assisted removal (POLICY.md §9) through the same review chain, > 6 months after identification
        later = at(day - 30 + 5)
        case = act(conn, case.id, "propose_removal", CADRE, expected_version=get_case(conn, case.id).version,
                   at=later, payload={"method": "BFXC"})
        case = act(conn, case.id, "verify_home", CADRE, expected_version=case.version, at=later + timedelta(days=1))
        case = act(conn, case.id, "village_review", CADRE, expected_version=case.version, at=later + timedelta(days=2))
        assert _err(act, conn, case.id, "county_approve", COUNTY, expected_version=case.version,
                    at=later + timedelta(days=3)).code == "CASE_STEP_NOT_ALLOWED"
        case = act(conn, case.id, "township_audit", TOWNSHIP, expected_version=case.version,
                   at=later + timedelta(days=7))
        case = act(conn, case.id, "county_approve", COUNTY, expected_version=case.version, at=later + timedelta(days=8))
        assert case.state == "RISK_REMOVED" and case.removal_method == "BFXC"
        end = conn.execute(select(AssistanceMeasure.end_date).where(AssistanceMeasure.id == mid)).scalar_one()
        assert end == (later + timedelta(days=8)).date()
        # the visit pending at removal is no longer owed once its due date passes after the case closed
        assert [i for i in overdue(conn, (later + timedelta(days=90)).date()) if i.rule == "VISIT"] == []
        k = kpis(conn, VILLAGE[:6], (date(2025, 1, 1), date(2025, 12, 31)), today=(later + timedelta(days=9)).date())
    assert k["identification_on_time"]["value"] == 1.0 and k["measures_within_month"]["value"] == 1.0
    assert k["visits_on_time"]["value"] == 1.0 and k["counts"]["removed"] == 1


def test_disaster_household_gets_measures_before_identification_then_is_identified_policy_1(engine):
    from fangpin.cases import open_lead

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        lead = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", risk_types=["因自然灾害"], at=T0)
        mid = add_measure(conn, "HH-1", TOWNSHIP, category="住房安全保障", start_date=at(1).date(), at=at(1))
        assert conn.execute(select(AssistanceMeasure.pre_identification).where(AssistanceMeasure.id == mid)).scalar()
        case = _through_identification(conn, lead, T0)
        assert case.state == "MONITORED"
        # the measure given before identification meets the first-measure limit: nothing to escalate
        assert {i.rule for i in overdue(conn, at(45).date())} == {"VISIT"}
        k = kpis(conn, VILLAGE[:6], (date(2025, 1, 1), date(2025, 12, 31)), today=at(45).date())
    assert k["measures_within_month"]["value"] == 1.0


def test_first_measure_late_escalates_to_the_county_and_counts_in_kpis_policy_5(engine):
    from test_cases_factory import identify

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")  # approved T0+10; first measure due T0+40
        assert "FIRST_MEASURE" not in {i.rule for i in overdue(conn, at(40).date())}
        item = next(i for i in overdue(conn, at(41).date()) if i.rule == "FIRST_MEASURE")
        assert item.escalated_to_level == "county" and item.parameters["first_measure_max_days"]["value"] == 30
        add_measure(conn, "HH-1", TOWNSHIP, category="产业帮扶", start_date=at(45).date(), at=at(45))
        assert "FIRST_MEASURE" not in {i.rule for i in overdue(conn, at(46).date())}
        k = kpis(conn, VILLAGE[:6], (date(2025, 1, 1), date(2025, 12, 31)), today=at(46).date())
    assert k["measures_within_month"]["value"] == 0.0 and k["measures_within_month"]["denominator"] == 1


def test_demo_chain_of_the_monitored_case_goes_through_the_domain_services(engine):
    from fangpin.demo_cases import _seed_plan
    from test_cases_factory import identify

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = identify(conn, "HH-1")
        _seed_plan(conn, c.household_id, TOWNSHIP, at(10))
        ch = assistance_chain(conn, "HH-1", at(20).date())
        assert latest_eligibility(conn, "HH-1")["trigger"] == "identification"
    assert all(x.ok for x in ch["checks"]) and ch["relapse_prevention"][0]["deliveries"] == 1 and ch["visits"]
