"""Cases (监测对象识别—帮扶—风险消除): the identification and removal workflow as a state machine in the domain
layer, the household's single assistance chain, time limits and escalation, KPIs and public notices.

Public API — import from here::

    from fangpin.cases import Actor, open_lead, apply_self, act, get_case
    case = open_lead(conn, cadre, source="cadre_visit", household="5301...-0001", risk_types=["因病"])
    case = act(conn, case.id, "authorise", cadre, expected_version=case.version,
               payload={"commitment_signed": True, "authorisation_signed": True})

The transition table is data (``workflow.yaml``); see docs/WORKFLOW.md.
"""
from fangpin.cases.actors import Actor
from fangpin.cases.deadlines import OverdueItem, kpis, overdue
from fangpin.cases.errors import CaseConflict, CaseError
from fangpin.cases.hooks import Hooks, default_hooks, set_default_hooks
from fangpin.cases.notice import NoticeLeak, build_notice, notice_html, notice_pdf, public_text_problems
from fangpin.cases.eligibility import accept_proposal, assess_eligibility, latest_eligibility
from fangpin.cases.plan import (add_measure, assign_helper, assistance_chain, cadre_visit, end_measure, plan_checks,
                                record_delivery, record_visit, schedule_next_visit, schedule_visit, schedule_visits)
from fangpin.cases.removal import Checklist, CheckItem
from fangpin.cases.service import (CaseView, act, allowed_actions, apply_self, find_cases, get_case, history,
                                   open_lead, removal_checklist)
from fangpin.cases.workflow import workflow

__all__ = [
    "accept_proposal", "assess_eligibility", "cadre_visit", "latest_eligibility", "schedule_next_visit",
    "Actor", "CaseConflict", "CaseError", "CaseView", "CheckItem", "Checklist", "Hooks", "NoticeLeak", "OverdueItem",
    "act", "add_measure", "allowed_actions", "apply_self", "assign_helper", "assistance_chain", "build_notice",
    "default_hooks", "end_measure", "find_cases", "get_case", "history", "kpis", "notice_html", "notice_pdf",
    "open_lead", "overdue", "plan_checks", "public_text_problems", "record_delivery", "record_visit",
    "removal_checklist", "schedule_visit", "schedule_visits", "set_default_hooks", "workflow",
]
