"""Eligibility wired into the case service (seed 004 §五 lines 66–77 一户一条救助链; POLICY.md §10): county approval
computes the household's eligibility from ONE income calculation, records every decision (rule, parameters, the
arithmetic, parameter version) on the household's single chain and proposes measures without duplicating the chain.
Follow-up visits are scheduled from the dated parameter follow_up_visit_interval_days (POLICY.md §4.2)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from fangpin.cases import add_measure, assistance_chain, record_visit
from fangpin.cases.eligibility import accept_proposal, assess_eligibility, latest_eligibility
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, EligibilityRun, FollowUpVisit
from test_cases_factory import TOWNSHIP, CADRE, at, identify, make_household
from test_cases_workflow import _err

POOR = dict(monthly_net=300.0)  # 3 persons × 3,600 a year → 1,200 per capita, below every 低保 standard


def _by(run, programme, member=None):
    return next(r for r in run["results"] if r["programme"] == programme and (member is None or r["member"] == member))


def test_county_approval_records_eligibility_from_one_income_calculation_policy_10(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1", **POOR)
        c = identify(conn, "HH-1")
        run = latest_eligibility(conn, "HH-1")
    assert run["ok"] and run["trigger"] == "identification" and run["case_id"] == c.id
    assert run["on_date"] == at(10).date()
    assert run["parameter_version"].startswith("policy:") and "+assistance:" in run["parameter_version"]
    # one income calculation: 12 complete months before 2025-03-13 (2024-03 … 2025-02) × 300 = 3,600 for 3 persons
    assert run["inputs"]["months_found"] == 12 and run["income"]["size"] == 3
    assert run["income"]["net_income"] == 3600.0 and run["income"]["net_per_capita_year"] == 1200.0
    assert "DIBAO" in run["income"]["categories"] and "MONITORED" in run["income"]["categories"]
    dibao = _by(run, "dibao")
    assert dibao["eligible"] and dibao["rule_id"] == "dibao.eligible"
    # national average standard 7,500 from 2024 [V]: (7,500 − 1,200) × 3 ÷ 12 = 1,575 a month
    assert dibao["amount_month"] == 1575.0
    assert dibao["proposal"] == "measure" and dibao["subtype"] == "DIBAO"
    assert dibao["decision"]["parameters"]["dibao_standard_rural_year"]["reference"]
    assert any("1575" in s["zh"] for s in dibao["steps"])  # the arithmetic is kept
    # every calculator saw the same income (no second calculation)
    for r in run["results"]:
        if r["programme"] in ("dibao", "dibao_edge", "rigid_spending", "tekun"):
            assert r["decision"]["details"].get("size", 3) == 3
    assert _by(run, "dibao_edge")["rule_id"] == "dibao_edge.is_dibao" and _by(run, "dibao_edge")["proposal"] is None
    # pension contribution (seed 004 line 73): the monitored 低保 head aged 44 → referral
    assert _by(run, "pension", "张三")["eligible"] and _by(run, "pension", "张三")["proposal"] == "referral"


def test_household_in_both_chains_has_one_chain_and_no_duplicate_measure_seed004_5(engine):
    with engine.begin() as conn:
        hid = make_household(conn, "HH-1", **POOR)
        # civil affairs already pays 低保 (recorded by civil affairs on the same chain) …
        mid = add_measure(conn, "HH-1", TOWNSHIP, category="综合保障", subtype="低保", source="civil_affairs",
                          start_date=date(2025, 1, 1), external_ref="民政〔2025〕7号", at=datetime(2025, 1, 2))
        # … then the relapse-prevention chain identifies the household
        identify(conn, "HH-1")
        run = latest_eligibility(conn, "HH-1")
        dibao = _by(run, "dibao")
        assert dibao["eligible"] and dibao["proposal"] == "on_chain" and dibao["measure_id"] == mid
        e = _err(accept_proposal, conn, dibao["id"], TOWNSHIP, start_date=at(11).date(), at=at(11))
        assert e.code == "PLAN_PROPOSAL_NOT_A_MEASURE"
        chain = assistance_chain(conn, "HH-1", at(11).date())
        sugg = {s["programme"]: s for s in chain["eligibility_suggestions"] if s["member"] is None}
        assert sugg["dibao"]["already_on_chain"] is True
        assert [m["subtype"] for m in chain["civil_affairs"]] == ["DIBAO"]
        assert conn.execute(select(func.count(AssistancePlan.id)).where(AssistancePlan.household_id == hid)
                            ).scalar_one() == 1
        assert conn.execute(select(func.count(AssistanceMeasure.id)).where(AssistanceMeasure.subtype == "DIBAO")
                            ).scalar_one() == 1


def test_accepting_a_proposal_puts_it_on_the_chain_once_seed004_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1", **POOR)
        identify(conn, "HH-1")
        dibao = _by(latest_eligibility(conn, "HH-1"), "dibao")
        mid = accept_proposal(conn, dibao["id"], TOWNSHIP, start_date=at(12).date(), at=at(12))
        m = conn.execute(select(AssistanceMeasure.__table__).where(AssistanceMeasure.id == mid)).mappings().one()
        assert (m["source"], m["subtype"], m["category"]) == ("civil_affairs", "DIBAO", "COMPREHENSIVE_PROTECTION")
        assert _err(accept_proposal, conn, dibao["id"], TOWNSHIP, start_date=at(13).date(), at=at(13)
                    ).code == "PLAN_PROPOSAL_NOT_A_MEASURE"
        # a later run (civil-affairs view) sees it on the chain and proposes nothing new
        again = assess_eligibility(conn, "HH-1", TOWNSHIP, trigger="civil_affairs", at=at(20))
        assert _by(again, "dibao")["proposal"] == "on_chain" and _by(again, "dibao")["measure_id"] == mid
        # and a second 低保 by the relapse-prevention side is refused by the chain
        assert _err(add_measure, conn, "HH-1", TOWNSHIP, category="综合保障", subtype="低保", start_date=at(21).date(),
                    at=at(21)).code == "PLAN_DUPLICATE_MEASURE"


def test_civil_affairs_view_assesses_a_household_that_is_not_monitored_policy_10(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")  # 4,000 a month: 16,000 per capita — above 低保 and 低保边缘 lines
        run = assess_eligibility(conn, "HH-1", TOWNSHIP, trigger="civil_affairs", at=at(5))
    assert run["ok"] and run["case_id"] is None and run["income"]["categories"] == []
    assert _by(run, "dibao")["rule_id"] == "dibao.income_not_below_standard" and _by(run, "dibao")["proposal"] is None
    assert "MONITORED" not in run["income"]["categories"]


def test_a_household_the_calculators_cannot_decide_on_never_blocks_approval(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1", monthly_net=None)  # no income records at all
        c = identify(conn, "HH-1")
        run = latest_eligibility(conn, "HH-1")
        assert c.state == "MONITORED"
        assert run["ok"] is False and "无收入记录" in run["error"]["zh"] and "no income records" in run["error"]["en"]
        assert conn.execute(select(func.count(EligibilityRun.id))).scalar_one() == 1
        assert assistance_chain(conn, "HH-1", at(11).date())["eligibility_suggestions"] == []


def test_assessment_outside_the_officers_region_is_refused(engine):
    from test_cases_factory import TOWNSHIP_OTHER

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        e = _err(assess_eligibility, conn, "HH-1", TOWNSHIP_OTHER, at=at(5))
    assert e.code == "CASE_OUTSIDE_REGION"


def test_follow_up_visits_follow_the_dated_interval_parameter_policy_4_2(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        identify(conn, "HH-1")  # approved at T0+10
        first = conn.execute(select(FollowUpVisit.__table__)).mappings().one()
        assert first["due_date"] == at(40).date()
        assert first["schedule_basis"]["parameter"] == "follow_up_visit_interval_days"
        nxt = record_visit(conn, first["id"], CADRE, done_on=at(38).date(), result="务工收入稳定", at=at(38))
        second = conn.execute(select(FollowUpVisit.__table__).where(FollowUpVisit.id == nxt)).mappings().one()
        assert second["due_date"] == at(68).date() and second["done_on"] is None


def test_a_yearly_income_row_is_the_12_month_income_when_months_are_missing_feeds_income(engine):
    from sqlalchemy import insert

    from fangpin.registry.models import IncomeRecord

    with engine.begin() as conn:
        hid = make_household(conn, "HH-1", monthly_net=None)
        conn.execute(insert(IncomeRecord).values(
            household_id=hid, period="2024", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31),
            recorded_at=datetime(2025, 1, 5), wage=3600, business=0, property=0, transfer=0, business_cost=0, claims=0,
            medical_oop=0, education_cost=0))
        run = assess_eligibility(conn, "HH-1", TOWNSHIP, on=date(2025, 3, 1), at=at(0))
    assert run["ok"] and run["inputs"]["income_basis"] == "year" and run["inputs"]["months"] == ["2024"]
    assert run["income"]["net_income"] == 3600.0 and _by(run, "dibao")["eligible"]
