"""Executable workflow cases (tests/cases/workflow/*.yaml), readable by a policy officer (OpenFisca style, STYLE.md).

Each file: name, policy (the line it checks), households (factory options), steps. A step has ``day`` (days after
2025-03-03, or ``date``), ``actor`` (village_cadre, township_officer, county_officer, admin, village_cadre_b,
other_township_officer, other_county_officer), ``do`` (a workflow action, or open_lead / apply_self / add_measure /
deliver / member_leaves / checklist / overdue) and ``expect`` (resulting state) or ``expect_error`` (refusal code).
Every file runs on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from fangpin.cases import CaseError, act, add_measure, apply_self, history, open_lead, overdue, record_delivery
from fangpin.cases import removal_checklist
from fangpin.registry.models import Household, HouseholdVersion
from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_HEAD_ID
from test_cases_factory import ACTORS, T0, end_member, make_household

CASES = sorted((Path(__file__).parents[1] / "cases" / "workflow").glob("*.yaml"))
PRESETS = {
    "no_labour": [{"name": "王老", "relation": "户主", "labour_skill": "丧失劳动力"},
                  {"name": "刘老", "relation": "配偶", "labour_skill": "无劳动力"}],
}


def test_there_are_at_least_fifteen_cases_each_citing_policy():
    assert len(CASES) >= 15
    for p in CASES:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
        assert "POLICY.md" in doc["policy"] or "seed 004" in doc["policy"] or "FEEDS.md" in doc["policy"], p.name
        assert doc["steps"], p.name


def _when(step: dict) -> datetime:
    if "date" in step:
        d = step["date"] if isinstance(step["date"], date) else date.fromisoformat(str(step["date"]))
        return datetime.combine(d, time(9))
    return T0 + timedelta(days=int(step.get("day", 0)))


def _run_step(conn, step: dict, st: dict):
    when = _when(step)
    actor = ACTORS.get(step.get("actor", "village_cadre"))
    do = step["do"]
    if do == "open_lead":
        c = open_lead(conn, actor, source=step.get("source", "cadre_visit"), household=step.get("household", "HH-1"),
                      risk_types=step.get("risk_types"), monitored_type=step.get("monitored_type"), at=when)
        st["case"] = c.id
        return c.state
    if do == "apply_self":
        form = dict(step["form"])
        if form.get("id_number") == "HEAD":
            hid = conn.execute(select(Household.id).where(Household.hh_no == step.get("household", "HH-1"))).scalar()
            form["id_number"] = decrypt(conn.execute(select(HouseholdVersion.head_id_enc)
                                                     .where(HouseholdVersion.household_id == hid)).scalar(), P_HEAD_ID)
        c = apply_self(conn, form, at=when)
        st["case"] = c.id
        return c.state
    if do == "add_measure":
        start = step.get("start_day")
        mid = add_measure(conn, step.get("household", "HH-1"), actor, category=step["category"],
                          subtype=step.get("subtype"), source=step.get("source", "relapse_prevention"),
                          start_date=(T0 + timedelta(days=start)).date() if start is not None else when.date(), at=when)
        st.setdefault("measures", {})[step.get("as", "m")] = mid
        return "OK"
    if do == "deliver":
        record_delivery(conn, st["measures"][step.get("measure", "m")], actor, delivered_on=when.date(), at=when)
        return "OK"
    if do == "member_leaves":
        snap = history(conn, st["case"])[-1]["household_snapshot"]
        hid = snap["household_id"]
        for m in snap["members"]:
            end_member(conn, m["person_id"], hid, when.date(), step.get("reason", "死亡"))
        return "OK"
    if do == "checklist":
        cl = removal_checklist(conn, st["case"], on=when.date(), method=step.get("method", "BFXC"))
        assert sorted(i.code for i in cl.failing) == sorted(step.get("expect_failing", [])), \
            [(i.code, i.detail) for i in cl.failing]
        return "OK"
    if do == "eligibility":  # seed 004 §五 / POLICY.md §10: the run recorded on the chain (or a new one)
        from fangpin.cases import assess_eligibility, latest_eligibility

        hh = step.get("household", "HH-1")
        run = (assess_eligibility(conn, hh, actor, trigger=step["assess"], at=when) if step.get("assess")
               else latest_eligibility(conn, hh))
        assert run["ok"], run["error"]
        got = {r["programme"]: r for r in run["results"] if r["member"] is None}
        for prog, want in (step.get("expect_results") or {}).items():
            assert {k: got[prog][k] for k in want} == want, (prog, got[prog]["rule_id"], got[prog]["proposal"])
        st["results"] = {k: r["id"] for k, r in got.items()}
        return "OK"
    if do == "accept":
        from fangpin.cases import accept_proposal

        mid = accept_proposal(conn, st["results"][step["programme"]], actor, start_date=when.date(), at=when)
        st.setdefault("measures", {})[step.get("as", step["programme"])] = mid
        return "OK"
    if do == "visit":  # POLICY.md §4.2 cadre visit (records the due visit; may open a cadre-visit lead)
        from fangpin.cases import cadre_visit, get_case

        out = cadre_visit(conn, step.get("household", "HH-1"), actor, done_on=when.date(),
                          result=step.get("result", "走访"), new_risk=bool(step.get("new_risk")),
                          open_lead=bool(step.get("open_lead")), risk_types=step.get("risk_types"), at=when)
        if out["case_id"] is not None:
            st["case"] = out["case_id"]
            return get_case(conn, out["case_id"]).state
        return "OK"
    if do == "overdue":
        items = overdue(conn, when.date())
        assert sorted(i.rule for i in items) == sorted(step.get("expect_rules", []))
        if "expect_levels" in step:
            assert sorted(i.escalated_to_level for i in items) == sorted(step["expect_levels"])
        return "OK"
    c = history(conn, st["case"])[-1]
    from fangpin.cases import get_case

    cur = get_case(conn, st["case"])
    payload = dict(step.get("payload") or {})
    if payload.get("objection") == "LAST":
        payload["objection"] = max(e["seq"] for e in history(conn, st["case"]) if e["action"] == "record_objection")
    res = act(conn, st["case"], do, actor, expected_version=cur.version, comment=step.get("comment"),
              payload=payload, at=when)
    assert c is not None
    return res.state


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_workflow_case(engine, path):
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    with engine.begin() as conn:
        for hh, opts in (doc.get("households") or {"HH-1": {}}).items():
            opts = dict(opts or {})
            if isinstance(opts.get("members"), str):
                opts["members"] = [dict(m) for m in PRESETS[opts["members"]]]
            if "income_months" in opts:
                opts["income_months"] = tuple(opts["income_months"])
            make_household(conn, hh, **opts)
        st: dict = {}
        for i, step in enumerate(doc["steps"]):
            where = f"{path.name} step {i + 1} ({step['do']})"
            if "expect_error" in step:
                with pytest.raises(CaseError) as ei:
                    _run_step(conn, step, st)
                assert ei.value.code == step["expect_error"], f"{where}: {ei.value}"
                for w in step.get("expect_failing", []):
                    assert w in ei.value.details.get("failing", []), f"{where}: {ei.value.details}"
            else:
                got = _run_step(conn, step, st)
                if "expect" in step:
                    assert got == step["expect"], f"{where}: got {got}"
