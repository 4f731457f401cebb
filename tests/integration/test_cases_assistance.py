"""Assistance chain (POLICY.md §8, §9; seed 004 §五): plan, helper, measures, deliveries, visits, checks, one
chain per household with civil-affairs measures, pre-identification disaster measures (2025 rule), time limits,
escalation and KPIs."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from fangpin.cases import (Hooks, act, add_measure, assign_helper, assistance_chain, kpis, open_lead,
                           overdue, plan_checks, record_delivery, record_visit, schedule_visits)
from fangpin.cases.models import AssistanceMeasure, CaseEscalation, FollowUpVisit
from test_cases_factory import AUTH, CADRE, CADRE_B, COUNTY, T0, TOWNSHIP, VILLAGE, at, identify, make_household
from test_cases_workflow import LATER, _err


def test_labour_household_needs_a_development_measure_and_a_helper_policy_8(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")
        on = at(20).date()
        checks = {c.code: c.ok for c in plan_checks(conn, "HH-1", on)}
        assert checks == {"DEVELOPMENT_FOR_LABOUR": False, "HELPER_ASSIGNED": False}
        add_measure(conn, "HH-1", TOWNSHIP, category="健康帮扶", start_date=on, at=at(20))
        assert not {c.code: c.ok for c in plan_checks(conn, "HH-1", on)}["DEVELOPMENT_FOR_LABOUR"]
        add_measure(conn, "HH-1", TOWNSHIP, category="产业帮扶", start_date=on, at=at(20))
        assign_helper(conn, "HH-1", TOWNSHIP, name="陈帮扶", unit="县农业农村局", phone="0871-6512 3456", start_date=on,
                      at=at(20))
        assert all(c.ok for c in plan_checks(conn, "HH-1", on))


def test_no_labour_household_must_be_covered_by_social_protection_policy_8(engine):
    members = [{"name": "王老", "relation": "户主", "labour_skill": "丧失劳动力"}]
    with engine.begin() as conn:
        make_household(conn, "HH-1", members=members)
        identify(conn, "HH-1", risk_types=["LACK_OF_LABOUR"])
        on = at(20).date()
        assert [c.code for c in plan_checks(conn, "HH-1", on) if not c.ok][0] == "PROTECTION_FOR_NO_LABOUR"
        add_measure(conn, "HH-1", TOWNSHIP, category="综合保障", subtype="特困", source="civil_affairs", start_date=on,
                    at=at(20))
        assert {c.code: c.ok for c in plan_checks(conn, "HH-1", on)}["PROTECTION_FOR_NO_LABOUR"]


def test_unstable_employment_with_no_labour_is_inconsistent_policy_7(engine):
    members = [{"name": "王老", "relation": "户主", "labour_skill": "无劳动力"}]
    with engine.begin() as conn:
        make_household(conn, "HH-1", members=members)
        e = _err(identify, conn, "HH-1", risk_types=["因务工就业不稳"])
    assert e.code == "CASE_RISK_INCONSISTENT"


def test_measures_need_a_monitored_household_except_disaster_households_from_2025_policy_1(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        make_household(conn, "HH-2")
        make_household(conn, "HH-3")
        e = _err(add_measure, conn, "HH-1", TOWNSHIP, category="产业帮扶", start_date=date(2025, 3, 5), at=at(2))
        assert e.code == "PLAN_NOT_MONITORED"
        # 2025: a disaster-risk lead may get measures before identification (dated parameter true from 2025-01-01)
        open_lead(conn, CADRE, source="cadre_visit", household="HH-2", risk_types=["因自然灾害"], at=T0)
        mid = add_measure(conn, "HH-2", TOWNSHIP, category="住房安全保障", start_date=date(2025, 3, 4), at=at(1))
        assert conn.execute(select(AssistanceMeasure.pre_identification).where(AssistanceMeasure.id == mid)).scalar()
        # 2024: the same lead could not (parameter false before 2025)
        open_lead(conn, CADRE, source="cadre_visit", household="HH-3", risk_types=["因自然灾害"],
                  at=datetime(2024, 6, 1, 9))
        e = _err(add_measure, conn, "HH-3", TOWNSHIP, category="住房安全保障", start_date=date(2024, 6, 2),
                 at=datetime(2024, 6, 2, 9))
        assert e.code == "PLAN_NOT_MONITORED" and e.details["disaster_rule"] is False


def test_one_assistance_chain_refuses_a_duplicate_dibao_and_shows_both_views_seed004_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")
        add_measure(conn, "HH-1", TOWNSHIP, category="综合保障", subtype="低保", source="civil_affairs",
                    start_date=date(2025, 1, 1), external_ref="民政〔2025〕1号", at=at(11))
        e = _err(add_measure, conn, "HH-1", TOWNSHIP, category="兜底保障", subtype="DIBAO",
                 start_date=date(2025, 4, 1), at=at(30))
        assert e.code == "PLAN_DUPLICATE_MEASURE" and "民政社会救助" in e.issue.zh
        e = _err(add_measure, conn, "HH-1", TOWNSHIP, category="综合保障", subtype="低保边缘", source="civil_affairs",
                 start_date=date(2025, 4, 1), at=at(30))
        assert e.code == "PLAN_DUPLICATE_MEASURE"  # 低保边缘 excludes 低保 (POLICY.md §10)
        add_measure(conn, "HH-1", TOWNSHIP, category="就业帮扶", start_date=date(2025, 3, 20), at=at(17))
        add_measure(conn, "HH-1", TOWNSHIP, category="综合保障", subtype="临时救助", source="civil_affairs",
                    start_date=date(2025, 3, 20), end_date=date(2025, 3, 20), at=at(17))
        hooks = Hooks(eligibility=lambda conn, hid, on: [
            {"subtype": "DIBAO", "eligible": True, "reason_zh": "收入低于低保标准", "reason_en": "below standard"},
            {"subtype": "TEKUN", "eligible": False, "reason_zh": "有劳动能力", "reason_en": "has labour"}])
        chain = assistance_chain(conn, "HH-1", date(2025, 3, 25), hooks=hooks)
    assert [m["category"] for m in chain["relapse_prevention"]] == ["EMPLOYMENT"]
    assert sorted(m["subtype"] for m in chain["civil_affairs"]) == ["DIBAO", "TEMPORARY"]
    assert len(chain["all"]) == 3
    sug = {s["subtype"]: s["already_on_chain"] for s in chain["eligibility_suggestions"]}
    assert sug == {"DIBAO": True, "TEKUN": False}  # the calculators' seam: help neither missed nor duplicated


def test_measures_marked_to_continue_after_removal_keep_running_policy_9(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = identify(conn, "HH-1")
        credit = add_measure(conn, "HH-1", TOWNSHIP, category="小额信贷", start_date=at(12).date(),
                             end_date=date(2027, 3, 1), at=at(12))
        job = add_measure(conn, "HH-1", TOWNSHIP, category="公益岗位", start_date=at(12).date(), at=at(12))
        ind = add_measure(conn, "HH-1", TOWNSHIP, category="产业帮扶", start_date=at(12).date(), at=at(12))
        record_delivery(conn, ind, TOWNSHIP, delivered_on=at(20).date(), amount=3000, at=at(20))
        c = act(conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER, payload={"method": "BFXC"})
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=LATER)
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=LATER)
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=LATER + timedelta(days=5))
        c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=LATER + timedelta(days=6))
        rows = {r.id: r for r in conn.execute(select(AssistanceMeasure.id, AssistanceMeasure.end_date,
                                                     AssistanceMeasure.continues_after_removal))}
    assert rows[credit].continues_after_removal and rows[credit].end_date == date(2027, 3, 1)
    assert rows[job].continues_after_removal and rows[job].end_date is None
    assert not rows[ind].continues_after_removal and rows[ind].end_date == (LATER + timedelta(days=6)).date()


def test_plan_changes_are_region_checked(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")
        e = _err(add_measure, conn, "HH-1", CADRE_B, category="产业帮扶", start_date=at(12).date(), at=at(12))
    assert e.code == "CASE_OUTSIDE_REGION"


def test_delivery_outside_the_measure_period_is_refused(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")
        mid = add_measure(conn, "HH-1", TOWNSHIP, category="产业帮扶", start_date=at(12).date(),
                          end_date=at(40).date(), at=at(12))
        e = _err(record_delivery, conn, mid, TOWNSHIP, delivered_on=at(50).date(), at=at(50))
    assert e.code == "PLAN_DELIVERY_OUTSIDE"


# ------------------------------------------------------------------------------------------------ time limits
def test_overdue_items_are_escalated_once_to_the_next_level_policy_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        make_household(conn, "HH-2")
        c1 = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        c1 = act(conn, c1.id, "authorise", CADRE, expected_version=c1.version, payload=AUTH, at=T0)
        c2 = identify(conn, "HH-2")  # identified at T0+10, no measure
    with engine.begin() as conn:
        assert overdue(conn, at(3).date()) == []  # home verification due by T0+3
        items = overdue(conn, at(4).date())
        assert [(i.rule, i.escalated_to_level, i.escalated_to_region) for i in items] == [
            ("HOME_VERIFY", "township", VILLAGE[:9])]
        assert items[0].newly_escalated and items[0].parameters["home_verification_days"]["value"] == 3
        again = overdue(conn, at(5).date())
        assert [i.newly_escalated for i in again] == [False]  # idempotent
        assert conn.execute(select(func.count(CaseEscalation.id))).scalar_one() == 1
        later = {i.rule: i for i in overdue(conn, at(50).date())}
        # identification schedules the first follow-up visit one follow_up_visit_interval_days (30) ahead
        assert set(later) == {"HOME_VERIFY", "IDENTIFY", "FIRST_MEASURE", "VISIT"}
        assert later["VISIT"].due_date == at(40).date() and later["VISIT"].escalated_to_level == "township"
        assert later["IDENTIFY"].due_date == at(15).date()
        assert later["FIRST_MEASURE"].due_date == at(40).date()
        assert later["FIRST_MEASURE"].escalated_to_level == "county"
        # acting answers the escalation; a measure answers FIRST_MEASURE
        c1 = act(conn, c1.id, "verify_home", CADRE, expected_version=c1.version, at=at(50))
        add_measure(conn, "HH-2", TOWNSHIP, category="就业帮扶", start_date=at(50).date(), at=at(50))
        open_esc = conn.execute(select(CaseEscalation.rule).where(CaseEscalation.resolved_on.is_(None))).scalars().all()
        assert sorted(open_esc) == ["IDENTIFY", "VISIT"]
    assert c2.state == "MONITORED"


def test_visits_not_done_on_schedule_are_overdue_and_counted_in_kpis_seed004_line45(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")
        add_measure(conn, "HH-1", TOWNSHIP, category="就业帮扶", start_date=at(12).date(), at=at(12))
        v = schedule_visits(conn, "HH-1", CADRE, first_due=date(2025, 4, 1), every_days=30, count=3, at=at(12))
        record_visit(conn, v[0], CADRE, done_on=date(2025, 3, 30), result="收入稳定", at=at(27))
        record_visit(conn, v[1], CADRE, done_on=date(2025, 5, 9), result="务工中", at=datetime(2025, 5, 9))
        # the visit scheduled at identification (T0+10 + follow_up_visit_interval_days 30 = 2025-04-12)
        auto = conn.execute(select(FollowUpVisit.id, FollowUpVisit.due_date, FollowUpVisit.schedule_basis)
                            .where(FollowUpVisit.id.not_in(v))).one()
        assert auto.due_date == at(40).date() and auto.schedule_basis["value"] == 30
        assert "seed 004 line 45" in auto.schedule_basis["reference"]
        items = overdue(conn, date(2025, 6, 5))
        assert [(i.rule, i.subject) for i in items] == [("VISIT", f"visit:{auto.id}"), ("VISIT", f"visit:{v[2]}")]
        assert record_visit(conn, auto.id, CADRE, done_on=date(2025, 6, 5), result="补访", at=datetime(2025, 6, 5)) is None
        k = kpis(conn, VILLAGE[:6], (date(2025, 1, 1), date(2025, 12, 31)), today=date(2025, 6, 5))
    assert k["visits_on_time"]["numerator"] == 1 and k["visits_on_time"]["denominator"] == 4
    assert k["identification_on_time"]["value"] == 1.0
    assert k["measures_within_month"]["value"] == 1.0
    assert k["counts"]["identified"] == 1 and k["counts"]["open_escalations"] == 1  # v[2]; the late one answered


def test_kpis_count_late_identification_late_measures_and_early_removals_policy_5_9(engine):
    from test_cases_factory import end_member
    from fangpin.cases import history

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        hid = make_household(conn, "HH-2")
        # HH-1: identified 20 days after the lead (limit 15), measure 40 days later (limit 30)
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", risk_types=["因病"], at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=at(2))
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=at(3), payload={"monitored_type": "TPBWD"})
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(18))
        c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=at(20))
        add_measure(conn, "HH-1", TOWNSHIP, category="就业帮扶", start_date=at(60).date(), at=at(60))
        # HH-2: identified on time, naturally removed 10 days later (flagged)
        c2 = identify(conn, "HH-2")
        for m in history(conn, c2.id)[-1]["household_snapshot"]["members"]:
            end_member(conn, m["person_id"], hid, at(15).date(), "死亡")
        c2 = act(conn, c2.id, "propose_removal", CADRE, expected_version=c2.version, at=at(15),
                 payload={"method": "ZRXC", "reason": "HOUSEHOLD_DECEASED"})
        c2 = act(conn, c2.id, "verify_home", CADRE, expected_version=c2.version, at=at(15))
        c2 = act(conn, c2.id, "village_review", CADRE, expected_version=c2.version, at=at(15))
        c2 = act(conn, c2.id, "township_audit", TOWNSHIP, expected_version=c2.version, at=at(20))
        c2 = act(conn, c2.id, "county_approve", COUNTY, expected_version=c2.version, at=at(21))
        k = kpis(conn, VILLAGE, (date(2025, 3, 1), date(2025, 12, 31)), today=date(2025, 12, 31))
    assert (k["identification_on_time"]["numerator"], k["identification_on_time"]["denominator"]) == (1, 2)
    assert (k["measures_within_month"]["numerator"], k["measures_within_month"]["denominator"]) == (0, 2)
    assert k["early_removal_flags"]["value"] == 1 and k["early_removal_flags"]["cases"] == [c2.case_no]
    assert k["counts"]["removed"] == 1
