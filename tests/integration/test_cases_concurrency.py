"""Optimistic locking (issue 5 item 5): two officers acting on the same case at the same moment — exactly one wins,
the other gets a bilingual conflict and nothing is lost. Real threads, real databases (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, select

from fangpin.cases import Actor, CaseConflict, CaseError, act, add_measure, get_case, history
from fangpin.cases.models import AssistanceMeasure, CaseEvent
from test_cases_factory import CADRE, TOWNSHIP, VILLAGE, at, identify, make_household
from test_cases_workflow import _to_notice

TOWNSHIP_2 = Actor("t9", "吴乡干", "township_officer", VILLAGE[:9])


def _race(engine, jobs):
    """Run each job(conn) in its own thread and transaction, released together by a barrier."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        try:
            with engine.begin() as conn:
                barrier.wait(timeout=30)
                results[i] = ("ok", job(conn))
        except CaseError as e:  # CaseConflict or a refusal
            results[i] = ("err", e)
        except Exception as e:  # noqa: BLE001 — surfaced by the assertion below
            results[i] = ("crash", e)

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r[0] != "crash" for r in results), results
    return results


def test_two_officers_deciding_the_same_case_at_once_exactly_one_wins_policy_5(engine):
    for round_ in range(5):
        hh = f"HH-R{round_}"
        with engine.begin() as conn:
            make_household(conn, hh)
            c = _to_notice(conn, hh=hh)
        v = c.version
        results = _race(engine, [
            lambda conn: act(conn, c.id, "township_audit", TOWNSHIP, expected_version=v, at=at(9)),
            lambda conn: act(conn, c.id, "return", TOWNSHIP_2, expected_version=v, at=at(9), comment="材料不全"),
        ])
        oks = [r for r in results if r[0] == "ok"]
        errs = [r[1] for r in results if r[0] == "err"]
        assert len(oks) == 1 and len(errs) == 1, results
        e = errs[0]
        assert isinstance(e, CaseConflict) and e.code == "CASE_CONFLICT"
        assert "已被他人修改" in e.issue.zh and "changed by someone else" in e.issue.en
        with engine.connect() as conn:
            final = get_case(conn, c.id)
            ev = history(conn, c.id)
        assert final.version == v + 1 and final.state == oks[0][1].state
        assert [x["seq"] for x in ev] == list(range(1, v + 2))  # one event per version, none lost, none doubled
        assert ev[-1]["action"] in ("township_audit", "return")


def test_a_stale_version_is_refused_without_writing_anything_policy_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = _to_notice(conn)
    with engine.begin() as conn:
        act(conn, c.id, "record_objection", CADRE, expected_version=c.version, at=at(4), comment="异议")
    try:
        with engine.begin() as conn:
            act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(9))
        raise AssertionError("stale version accepted")
    except CaseConflict as e:
        assert e.details == {"expected_version": c.version, "current_version": c.version + 1}
    with engine.connect() as conn:
        n = conn.execute(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == c.id)).scalar_one()
    assert n == c.version + 1


def test_two_officers_adding_the_same_dibao_at_once_one_chain_no_duplicate_seed004_5(engine):
    for round_ in range(5):
        hh = f"HH-D{round_}"
        with engine.begin() as conn:
            make_household(conn, hh)
            identify(conn, hh)
        results = _race(engine, [
            lambda conn: add_measure(conn, hh, TOWNSHIP, category="综合保障", subtype="低保", source="civil_affairs",
                                     start_date=date(2025, 4, 1), at=at(30)),
            lambda conn: add_measure(conn, hh, TOWNSHIP_2, category="综合保障", subtype="DIBAO",
                                     start_date=date(2025, 4, 1), at=at(30)),
        ])
        assert sum(r[0] == "ok" for r in results) == 1, results
        loser = next(r[1] for r in results if r[0] == "err")
        assert loser.code in ("CASE_CONFLICT", "PLAN_DUPLICATE_MEASURE")
        with engine.connect() as conn:
            n = conn.execute(select(func.count(AssistanceMeasure.id)).where(AssistanceMeasure.subtype == "DIBAO",
                                                                            AssistanceMeasure.case_id.is_not(None))
                             ).scalar_one()
        assert n == round_ + 1


def test_accepting_a_proposal_while_the_other_side_adds_the_same_dibao_one_wins_seed004_5(engine):
    """Civil affairs accepts the calculators' 低保 proposal while the relapse-prevention officer records 低保 at the
    same moment: one chain, exactly one 低保 (一户一条救助链)."""
    from fangpin.cases import accept_proposal, latest_eligibility

    for round_ in range(3):
        hh = f"HH-P{round_}"
        with engine.begin() as conn:
            make_household(conn, hh, monthly_net=300.0)
            identify(conn, hh)
            rid = next(r["id"] for r in latest_eligibility(conn, hh)["results"] if r["programme"] == "dibao")
        results = _race(engine, [
            lambda conn: accept_proposal(conn, rid, TOWNSHIP, start_date=date(2025, 4, 1), at=at(30)),
            lambda conn: add_measure(conn, hh, TOWNSHIP_2, category="综合保障", subtype="DIBAO",
                                     start_date=date(2025, 4, 1), at=at(30)),
        ])
        assert sum(r[0] == "ok" for r in results) == 1, results
        assert next(r[1] for r in results if r[0] == "err").code in ("CASE_CONFLICT", "PLAN_DUPLICATE_MEASURE")
        with engine.connect() as conn:
            from fangpin.cases.models import AssistancePlan
            from fangpin.registry.models import Household

            hid = conn.execute(select(Household.id).where(Household.hh_no == hh)).scalar_one()
            plan = conn.execute(select(AssistancePlan.id).where(AssistancePlan.household_id == hid)).scalar_one()
            n = conn.execute(select(func.count(AssistanceMeasure.id)).where(
                AssistanceMeasure.plan_id == plan, AssistanceMeasure.subtype == "DIBAO")).scalar_one()
        assert n == 1
