"""Case state machine (issue 5): every path of POLICY.md §5 identification and §9 removal, on SQLite and PostgreSQL.

Each test name cites the rule it checks."""
from __future__ import annotations

import json

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from fangpin.cases import (Actor, CaseError, act, add_measure, apply_self, get_case, history, open_lead,
                           record_delivery, removal_checklist, workflow)
from fangpin.cases.models import AssistanceMeasure, CaseEvent
from fangpin.policy import load_parameters
from test_cases_factory import (ADMIN, AUTH, CADRE, CADRE_B, COUNTY, COUNTY_OTHER, T0, TOWNSHIP, TOWNSHIP_OTHER,
                                VILLAGE, at, end_member, identify, make_household)


def _err(fn, *a, **kw) -> CaseError:
    with pytest.raises(CaseError) as ei:
        fn(*a, **kw)
    return ei.value


def _to_notice(conn, hh="HH-1", start=T0, **lead):
    c = open_lead(conn, CADRE, source="cadre_visit", household=hh, risk_types=lead.pop("risk_types", ["因病"]),
                  at=start, **lead)
    c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=start)
    c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=start + timedelta(days=1))
    c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=start + timedelta(days=2))
    return act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=start + timedelta(days=3),
               payload={"monitored_type": "边缘易致贫户"})


# ------------------------------------------------------------------------------------------------ table
def test_transition_table_is_data_with_a_policy_citation_on_every_row_policy_5_9():
    wf = workflow()
    assert len(wf.table) >= 40
    assert all("POLICY.md" in t.policy for t in wf.table.values())
    # no village cadre can take a township or county step (STYLE.md: order not enforced only in the UI)
    for t in wf.table.values():
        if t.level in ("township", "county"):
            assert "village_cadre" not in t.roles, t
        if t.level == "county":
            assert t.roles == ("county_officer",), t


# ------------------------------------------------------------------------------------------------ approve
def test_full_identification_chain_approves_and_records_every_step_policy_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = identify(conn, "HH-1")
        assert c.state == "MONITORED" and c.identified_on == (T0 + timedelta(days=10)).date()
        assert c.monitored_type == "BYYZP" and c.risk_types == ["ILLNESS"]
        ev = history(conn, c.id)
    assert [e["action"] for e in ev] == ["open", "authorise", "verify_home", "data_check", "village_review",
                                         "township_audit", "county_approve"]
    assert [e["seq"] for e in ev] == list(range(1, 8))
    ps = load_parameters()
    for e in ev:
        assert e["actor_user_id"] and e["actor_role"] and e["at"] and e["policy_version"] == ps.version
        snap = e["household_snapshot"]
        assert snap["hh_no"] == "HH-1" and len(snap["members"]) == 3  # frozen household_as_of view
    audit = ev[5]
    assert audit["policy_values"]["public_notice_min_days"]["value"] == 5
    assert "POLICY.md §5" in audit["policy_values"]["public_notice_min_days"]["reference"]


def test_frozen_snapshot_does_not_change_when_the_registry_changes_later_policy_5(engine):
    with engine.begin() as conn:
        hid = make_household(conn, "HH-1")
        c = identify(conn, "HH-1")
        pid = conn.execute(select(CaseEvent.household_snapshot).where(CaseEvent.case_id == c.id, CaseEvent.seq == 7)
                           ).scalar()["members"][2]["person_id"]
        end_member(conn, pid, hid, date(2025, 4, 1), "迁出")
        snap = conn.execute(select(CaseEvent.household_snapshot).where(CaseEvent.case_id == c.id,
                                                                       CaseEvent.seq == 7)).scalar()
    assert len(snap["members"]) == 3


# ------------------------------------------------------------------------------------------------ reject / return
@pytest.mark.parametrize("who,state_actions", [
    ("village", ["reject"]),  # 民主评议未通过 at DATA_CHECKED
    ("township", ["village_review", "reject"]),
    ("county", ["village_review", "township_audit", "reject"]),
])
def test_reject_is_possible_at_every_level_and_closes_the_case_policy_5(engine, who, state_actions):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", risk_types=["因病"], at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=at(2))
        for a in state_actions[:-1]:
            actor = {"village_review": CADRE, "township_audit": TOWNSHIP}[a]
            c = act(conn, c.id, a, actor, expected_version=c.version, at=at(3 if a == "village_review" else 8),
                    payload={"monitored_type": "TPBWD"} if a == "village_review" else None)
        actor = {"village": CADRE, "township": TOWNSHIP, "county": COUNTY}[who]
        e = _err(act, conn, c.id, "reject", actor, expected_version=c.version, at=at(9))
        assert e.code == "CASE_COMMENT_REQUIRED"  # 不予纳入 needs a reason (应纳尽纳, no quotas)
        c = act(conn, c.id, "reject", actor, expected_version=c.version, at=at(9), comment="收入高于监测标准")
        assert c.state == "REJECTED" and c.closed_on == at(9).date() and c.decided_on == at(9).date()
        e = _err(act, conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(10))
        assert e.code == "CASE_STEP_NOT_ALLOWED"
        # a closed case frees the household for a new lead
        c2 = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=at(20))
        assert c2.state == "LEAD"


def test_return_for_correction_goes_back_down_and_repeats_review_and_notice_policy_5(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = _to_notice(conn)
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(8))
        c = act(conn, c.id, "return", COUNTY, expected_version=c.version, at=at(9), comment="风险类型需补正")
        assert c.state == "RETURNED_TO_TOWNSHIP"
        c = act(conn, c.id, "return", TOWNSHIP, expected_version=c.version, at=at(9), comment="请村级补正")
        assert c.state == "RETURNED_TO_VILLAGE"
        c = act(conn, c.id, "correct", CADRE, expected_version=c.version, at=at(10), comment="已补正",
                payload={"risk_types": ["因病", "因学"]})
        assert c.state == "VERIFIED" and c.risk_types == ["ILLNESS", "SCHOOLING"]
        c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=at(10))
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=at(11))
        assert c.notice_start == at(11).date()  # a new notice: the corrected case is noticed again
        e = _err(act, conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(13))
        assert e.code == "CASE_NOTICE_NOT_ELAPSED"


def test_village_return_of_an_incomplete_application_and_withdrawal_policy_5_1(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        c = act(conn, c.id, "return", CADRE, expected_version=c.version, at=T0, comment="缺少收入说明")
        assert c.state == "RETURNED_TO_APPLICANT"
        c = act(conn, c.id, "correct", CADRE, expected_version=c.version, at=at(1), comment="已补充")
        c = act(conn, c.id, "withdraw", ADMIN, expected_version=c.version, at=at(1), comment="重复线索")
        assert c.state == "WITHDRAWN" and c.closed_on is not None


# ------------------------------------------------------------------------------------------------ order / roles / region
@pytest.mark.parametrize("action,actor", [
    ("verify_home", CADRE),          # before commitment & authorisation
    ("data_check", TOWNSHIP),        # before home verification
    ("village_review", CADRE),
    ("township_audit", TOWNSHIP),
    ("county_approve", COUNTY),      # a county cannot approve a bare lead
    ("propose_removal", CADRE),
])
def test_skipping_a_step_is_refused_by_the_domain_layer_policy_5(engine, action, actor):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", risk_types=["因病"], at=T0)
        e = _err(act, conn, c.id, action, actor, expected_version=c.version, at=at(20),
                 payload={"monitored_type": "TPBWD", "method": "BFXC"})
        assert e.code == "CASE_STEP_NOT_ALLOWED"
        assert "authorise" in e.details["allowed"] and "线索待受理" in e.issue.zh
        assert get_case(conn, c.id).version == 1  # nothing written


def test_a_lower_office_cannot_take_a_higher_offices_step_policy_5_5_5_6(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = _to_notice(conn)
        e = _err(act, conn, c.id, "township_audit", CADRE, expected_version=c.version, at=at(9))
        assert e.code == "CASE_ROLE_NOT_ALLOWED" and "乡镇干部" in e.issue.zh
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(9))
        e = _err(act, conn, c.id, "county_approve", TOWNSHIP, expected_version=c.version, at=at(9))
        assert e.code == "CASE_ROLE_NOT_ALLOWED"


@pytest.mark.parametrize("outsider", [CADRE_B, TOWNSHIP_OTHER, COUNTY_OTHER])
def test_acting_outside_your_region_is_refused_policy_5(engine, outsider):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        action = {"village_cadre": "data_check", "township_officer": "data_check",
                  "county_officer": "data_check"}[outsider.role]
        e = _err(act, conn, c.id, action, outsider, expected_version=c.version, at=at(2))
        assert e.code in ("CASE_OUTSIDE_REGION", "CASE_ROLE_NOT_ALLOWED")
        if outsider.role != "village_cadre":
            assert e.code == "CASE_OUTSIDE_REGION" and VILLAGE in e.issue.en
        e = _err(open_lead, conn, outsider, source="manual", household="HH-1", at=at(2))
        assert e.code in ("CASE_OUTSIDE_REGION", "CASE_ALREADY_OPEN")


def test_actor_region_must_match_the_role_level():
    from fangpin.cases.actors import check_actor

    with pytest.raises(CaseError) as ei:
        check_actor(Actor("x", "某", "township_officer", VILLAGE))  # 12 digits for a township officer
    assert ei.value.code == "CASE_BAD_ACTOR_REGION"


# ------------------------------------------------------------------------------------------------ day limits
def test_township_audit_before_five_notice_days_is_refused_policy_5_4(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = _to_notice(conn)  # notice starts T0+3 days
        for d in (3, 4, 7):
            e = _err(act, conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(d))
            assert e.code == "CASE_NOTICE_NOT_ELAPSED" and e.details["audit_from"] == str(at(8).date())
            assert "公示期不少于 5 天" in e.issue.zh
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(8))
        assert c.state == "TOWNSHIP_AUDITED"


def test_notice_cannot_be_backdated_policy_5_4(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", risk_types=["因病"], at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=at(2))
        e = _err(act, conn, c.id, "village_review", CADRE, expected_version=c.version, at=at(3),
                 payload={"notice_start": str(at(-3).date())})
        assert e.code == "CASE_NOTICE_BACKDATED"


def test_open_objections_block_the_audit_until_answered_policy_5_4(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = _to_notice(conn)
        c = act(conn, c.id, "record_objection", CADRE, expected_version=c.version, at=at(4), comment="村民反映有车辆",
                payload={"channel": "当面"})
        seq = c.version
        e = _err(act, conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(9))
        assert e.code == "CASE_OPEN_OBJECTIONS"
        c = act(conn, c.id, "resolve_objection", TOWNSHIP, expected_version=c.version, at=at(6),
                comment="核实为亲属车辆,不影响", payload={"objection": seq})
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(9))
        assert c.state == "TOWNSHIP_AUDITED"


# ------------------------------------------------------------------------------------------------ data check skip
def test_data_check_is_skipped_only_for_current_dibao_recipients_and_the_skip_is_recorded_policy_5_3(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        e = _err(act, conn, c.id, "skip_data_check", TOWNSHIP, expected_version=c.version, at=at(1),
                 comment="现低保户")
        assert e.code == "CASE_SKIP_NOT_ALLOWED"
        add_measure(conn, "HH-1", TOWNSHIP, category="综合保障", subtype="低保", source="civil_affairs",
                    start_date=date(2024, 6, 1), at=at(1))
        c = act(conn, c.id, "skip_data_check", TOWNSHIP, expected_version=c.version, at=at(2), comment="现低保户")
        assert c.state == "DATA_CHECKED"
        ev = history(conn, c.id)[-1]
    assert ev["action"] == "skip_data_check" and ev["payload"]["data_check_skipped"]["policy"] == "POLICY.md §5.3"


def test_authorisation_is_required_before_verification_policy_5_1(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        e = _err(act, conn, c.id, "authorise", CADRE, expected_version=c.version, at=T0,
                 payload={"commitment_signed": True})
        assert e.code == "CASE_NO_AUTHORISATION"


def test_county_approval_needs_type_and_at_most_five_risk_types_policy_2_7(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=T0)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=at(2))
        e = _err(act, conn, c.id, "village_review", CADRE, expected_version=c.version, at=at(3),
                 payload={"risk_types": ["因病", "因残", "因学", "因灾", "缺劳动力", "住房安全问题"]})
        assert e.code == "CASE_TOO_MANY_RISKS" and e.details["limit"] == 5
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=at(3))
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=at(8))
        e = _err(act, conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=at(9))
        assert e.code == "CASE_TYPE_MISSING"
        e = _err(act, conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=at(9),
                 payload={"monitored_type": "突发严重困难户"})
        assert e.code == "CASE_RISKS_MISSING"
        c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=at(9),
                payload={"monitored_type": "突发严重困难户", "risk_types": ["因意外事故"]})
        assert c.state == "MONITORED" and c.monitored_type == "TFYZKN"


def test_one_open_case_per_household(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = open_lead(conn, CADRE, source="cadre_visit", household="HH-1", at=T0)
        e = _err(open_lead, conn, TOWNSHIP, source="alert", household="HH-1", at=T0)
        assert e.code == "CASE_ALREADY_OPEN" and e.details["case_no"] == c.case_no


# ------------------------------------------------------------------------------------------------ self-application
FORM = {"name": "张 三", "id_number": None, "phone": "138-1234-5678", "village_code": VILLAGE, "household_size": 3,
        "reasons": ["因病", "因学"], "description": "妻子住院,孩子上学开支大", "expected_income": 12000,
        "consent": True, "authorisation": True, "date": "2025-03-03"}


def test_self_application_creates_a_lead_with_a_tracking_number_and_links_the_household_feeds_c(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        from fangpin.registry.models import HouseholdVersion

        from fangpin.security.crypto import decrypt
        from fangpin.security.fields import P_HEAD_ID

        head = decrypt(conn.execute(select(HouseholdVersion.head_id_enc)).scalar(), P_HEAD_ID)
        c = apply_self(conn, {**FORM, "id_number": head}, at=T0)
        stored = json.dumps(conn.execute(text("SELECT applicant FROM case_file")).scalar(), default=str)
        assert head not in stored and "13812345678" not in stored  # sealed at rest (docs/SECURITY.md)
        assert c.case_no.startswith("FP20250303") and len(c.case_no) == 16
        assert c.state == "LEAD" and c.source == "self_application" and c.household_id is not None
        assert c.risk_types == ["ILLNESS", "SCHOOLING"]
        # township accepts (the form carried consent + authorisation: POLICY.md §4.1)
        c = act(conn, c.case_no, "authorise", TOWNSHIP, expected_version=c.version, at=at(1))
        assert c.state == "AUTHORISED"


def test_self_application_requires_consent_and_authorisation_and_reports_every_problem_feeds_c(engine):
    with engine.begin() as conn:
        e = _err(apply_self, conn, {**FORM, "id_number": "123", "consent": False, "authorisation": None,
                                    "phone": "abc", "reasons": []}, at=T0)
    assert e.code == "SELF_APP_INVALID"
    assert {"SELF_APP_ID", "SELF_APP_NO_CONSENT", "SELF_APP_NO_AUTHORISATION", "SELF_APP_PHONE",
            "SELF_APP_REASONS"} <= set(e.details["issues"])


def test_unlinked_self_application_must_name_the_household_at_home_verification_feeds_c(engine):
    from fangpin.ids import check_digit

    with engine.begin() as conn:
        make_household(conn, "HH-1")
        idn = "53010219900101" + "123"
        idn += check_digit(idn)
        c = apply_self(conn, {**FORM, "id_number": idn}, at=T0)
        assert c.household_id is None
        c = act(conn, c.id, "authorise", TOWNSHIP, expected_version=c.version, at=T0)
        e = _err(act, conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1))
        assert e.code == "CASE_HOUSEHOLD_NOT_LINKED"
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=at(1), payload={"hh_no": "HH-1"})
        assert c.household_id is not None and c.state == "VERIFIED"


# ------------------------------------------------------------------------------------------------ removal
def _monitored_with_delivery(conn, hh="HH-1", **kw):
    make_household(conn, hh, **kw)
    c = identify(conn, hh)
    mid = add_measure(conn, hh, TOWNSHIP, category="就业帮扶", start_date=at(12).date(), at=at(12))
    record_delivery(conn, mid, TOWNSHIP, delivered_on=at(15).date(), at=at(15))
    return c


LATER = datetime(2025, 10, 6, 9)  # > 6 months after identification (2025-03-13)


def test_assisted_removal_through_the_same_review_chain_policy_9(engine):
    with engine.begin() as conn:
        c = _monitored_with_delivery(conn)
        cl = removal_checklist(conn, c.id, on=LATER.date())
        assert cl.ok, [(i.code, i.detail) for i in cl.failing]
        c = act(conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER, payload={"method": "帮扶消除"})
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=LATER + timedelta(days=1))
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=LATER + timedelta(days=2))
        e = _err(act, conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=LATER + timedelta(days=4))
        assert e.code == "CASE_NOTICE_NOT_ELAPSED"
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=LATER + timedelta(days=7))
        c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=LATER + timedelta(days=8))
        assert c.state == "RISK_REMOVED" and c.removal_method == "BFXC" and c.closed_on is not None
        # the employment measure ended on removal; nothing else was touched
        m = conn.execute(select(AssistanceMeasure.end_date, AssistanceMeasure.ended_reason)).one()
        assert m == ((LATER + timedelta(days=8)).date(), "risk_removed")


@pytest.mark.parametrize("breaker,code", [
    ({"monthly_net": 1000.0}, "INCOME_STABLE"),
    ({"medical_oop": 3000.0}, "RIGID_SPENDING"),
    ({"guarantees": {"water_safe": False}}, "GUARANTEES"),
    ({"income_months": ("2024-01", "2025-07")}, "INCOME_STABLE"),  # months missing: stability not shown
])
def test_removal_is_refused_while_a_condition_fails_policy_9(engine, breaker, code):
    with engine.begin() as conn:
        c = _monitored_with_delivery(conn, **breaker)
        cl = removal_checklist(conn, c.id, on=LATER.date())
        assert code in [i.code for i in cl.failing]
        e = _err(act, conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER,
                 payload={"method": "BFXC"})
        assert e.code == "CASE_REMOVAL_CONDITIONS" and code in e.details["failing"]
        assert get_case(conn, c.id).state == "MONITORED"


def test_removal_before_six_months_and_without_delivery_is_refused_policy_9(engine):
    with engine.begin() as conn:
        make_household(conn, "HH-1")
        c = identify(conn, "HH-1")
        cl = removal_checklist(conn, c.id, on=at(60).date())
        assert {"MONTHS_SINCE_ID", "MEASURE_DELIVERED"} <= {i.code for i in cl.failing}


def test_no_labour_household_stays_monitored_policy_9(engine):
    members = [{"name": "王老", "relation": "户主", "labour_skill": "丧失劳动力", "birth": date(1940, 1, 1)},
               {"name": "刘老", "relation": "配偶", "labour_skill": "无劳动力", "birth": date(1942, 1, 1)}]
    with engine.begin() as conn:
        c = _monitored_with_delivery(conn, members=members)
        cl = removal_checklist(conn, c.id, on=LATER.date())
        assert [i.code for i in cl.failing] == ["HAS_LABOUR"]


def test_open_alert_hook_blocks_removal_no_new_risk_policy_9(engine):
    from fangpin.cases import Hooks

    with engine.begin() as conn:
        c = _monitored_with_delivery(conn)
        hooks = Hooks(has_open_alerts=lambda conn, hid, on: True)
        e = _err(act, conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER,
                 payload={"method": "BFXC"}, hooks=hooks)
        assert e.details["failing"] == ["NO_NEW_RISK"]


def test_natural_removal_needs_registry_confirmation_and_is_flagged_when_early_policy_9(engine):
    with engine.begin() as conn:
        hid = make_household(conn, "HH-1")
        c = identify(conn, "HH-1")  # identified T0 + 10 days, no measure, only 5 days later:
        when = at(15)
        e = _err(act, conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=when,
                 payload={"method": "自然消除", "reason": "HOUSEHOLD_DECEASED"})
        assert e.code == "CASE_REMOVAL_CONDITIONS"
        snap = history(conn, c.id)[-1]["household_snapshot"]
        for m in snap["members"]:
            end_member(conn, m["person_id"], hid, when.date(), "死亡")
        c = act(conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=when,
                payload={"method": "自然消除", "reason": "HOUSEHOLD_DECEASED"})
        ev = history(conn, c.id)[-1]
        assert ev["payload"]["early_removal_flag"] is True  # within a month of identification (flag, not refusal)
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=when)
        c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=when)
        c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=when + timedelta(days=5))
        c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=when + timedelta(days=6))
        assert c.state == "RISK_REMOVED" and c.removal_method == "ZRXC"


def test_removal_rejected_returns_the_household_to_monitoring_policy_9(engine):
    with engine.begin() as conn:
        c = _monitored_with_delivery(conn)
        c = act(conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER, payload={"method": "BFXC"})
        c = act(conn, c.id, "reject", TOWNSHIP, expected_version=c.version, at=LATER, comment="收入仍不稳定")
        assert c.state == "MONITORED" and c.removal_method is None and c.closed_on is None


def test_workflow_doc_lists_every_transition_of_the_table():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "WORKFLOW.md").read_text(encoding="utf-8")
    for (s, a), t in workflow().table.items():
        assert f"| {s} " in doc and f"`{a}`" in doc and t.policy in doc, (s, a)
