"""Eligibility on the household's single assistance chain (一户一条救助链 — seed 004 §五 lines 66–77; POLICY.md §10).

The seam between the case service and the calculators in :mod:`fangpin.assistance`:

* :func:`registry_household` turns the registry as of a date into the calculators' :class:`~fangpin.assistance.Household`
  (members, the last ``income_rolling_months`` complete months of income records, compliant medical and education
  spending, 脱贫户 type, monitored type of the open case, current 低保 from the chain);
* :func:`assess_eligibility` runs 低保, 低保边缘, 刚性支出困难, 特困 (each counted member) and the pension contribution
  (each counted member) from ONE :func:`~fangpin.assistance.household_income` result (via
  :func:`~fangpin.assistance.low_income_profile`), records every decision — rule, parameters with references, the
  arithmetic, the parameter-set version — as an ``eligibility_run`` with ``eligibility_result`` rows on the chain, and
  proposes the matching measure or referral, marked ``on_chain`` when the chain already holds it (so help is neither
  missed nor duplicated, whichever system — relapse prevention or civil affairs — recorded it);
* :func:`accept_proposal` puts a proposed civil-affairs measure on the chain through
  :func:`fangpin.cases.plan.add_measure` (which refuses a duplicate 低保/特困/低保边缘 under the chain's lock).

The case service calls :func:`assess_eligibility` when a case is approved (county_approve → MONITORED); civil-affairs
and officers can run it at any time (CLI ``fangpin plan assess``, the household's assistance page, the API).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.cases.actors import Actor
from fangpin.cases.common import jsonable, measure_rules, now, resolve_household
from fangpin.cases.errors import refuse
from fangpin.cases.hooks import Hooks, default_hooks
from fangpin.cases.models import (AssistanceMeasure, AssistancePlan, CaseFile, EligibilityResult, EligibilityRun)
from fangpin.cases.removal import add_months

__all__ = ["registry_household", "assess_eligibility", "latest_eligibility", "accept_proposal",
           "eligibility_suggestions", "RegistryDataError", "PROGRAMMES"]

# Calculator → the measure it proposes on the chain (POLICY.md §8 综合保障 = 低保/特困/低保边缘; §10). Programmes with
# no measure of their own are referrals (转介): 刚性支出困难 → special assistance (专项救助), pension contribution →
# 城乡居民养老保险代缴 (seed 004 lines 73–75).
PROGRAMMES: dict[str, dict[str, Any]] = {
    "dibao": {"category": "COMPREHENSIVE_PROTECTION", "subtype": "DIBAO", "zh": "低保", "en": "Minimum living guarantee"},
    "tekun": {"category": "COMPREHENSIVE_PROTECTION", "subtype": "TEKUN", "zh": "特困", "en": "Destitute support"},
    "dibao_edge": {"category": "COMPREHENSIVE_PROTECTION", "subtype": "DIBAO_EDGE", "zh": "低保边缘",
                   "en": "Near-dibao household"},
    "rigid_spending": {"category": None, "subtype": None, "zh": "刚性支出困难(专项救助)",
                       "en": "Rigid-spending hardship (special assistance)"},
    "pension": {"category": None, "subtype": None, "zh": "养老保险代缴", "en": "Pension contribution paid"},
}
_STUDENT_STAGES = {"PRIMARY", "JUNIOR", "SENIOR", "SECONDARY_VOCATIONAL", "HIGHER_VOCATIONAL", "UNDERGRADUATE"}
_HELD_RULES = {"dibao.eligible", "dibao.taper", "dibao.separate_coverage"}


class RegistryDataError(ValueError):
    """The registry does not hold what the calculators need ("English / 中文"). 基础数据不足以测算。"""


@dataclass(frozen=True)
class _Reg:
    household: Any  # fangpin.assistance.Household
    inputs: dict[str, Any]


def _code(list_name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    c = codes.lookup(list_name, str(value))
    return c.code if c else None


def registry_household(conn: Connection, household: int | str, on: date, *, monitored_type: str | None = None,
                       current_dibao: bool = False, rules: Any = None) -> _Reg:
    """The calculators' household from registry data as of ``on`` (no PII is copied: names only as labels).

    Income: the ``income_rolling_months`` (POLICY.md §3 [L], 12) complete months before ``on`` from ``income_record``
    (household-level wage, business, business costs, property, transfers; medical out-of-pocket and education as rigid
    spending); without a full window of monthly rows, the latest complete calendar year recorded as one row (FEEDS.md
    income period YYYY). A partial window is used as recorded and flagged in ``inputs`` (months_found < expected). The registry records transfers as one figure, so items the civil-affairs income excludes (pensions,
    assistance received …) cannot be separated and stay counted — the officer corrects that on the calculator form."""
    from fangpin.assistance import Household, Income, Member, Spending, load_rules
    from fangpin.registry.service import current_income, household_as_of

    rules = rules or load_rules()
    hid, hh_no = resolve_household(conn, household)
    view = household_as_of(conn, hh_no, on)
    if view is None or not view.members:
        raise RegistryDataError(f"household {hh_no} has no members on {on} / 户 {hh_no} 在 {on} 无在册成员,无法测算")
    region = str(view.attributes["region_code"])
    n = int(rules.policy.get("income_rolling_months", region, on).value)
    first = date(on.year, on.month, 1)
    months = [add_months(first, -k).strftime("%Y-%m") for k in range(1, n + 1)]
    inc = current_income(on).subquery()
    rows = list(conn.execute(select(inc).where(and_(inc.c.household_id == hid, inc.c.period.in_(months))))
                .mappings())
    basis = "months"
    if len(rows) < n:
        # FEEDS.md income: period = YYYY-MM or YYYY. Without a full window of monthly records, the latest complete
        # calendar year recorded as one row is the 12-month income (POLICY.md §3 [L] 12 months).
        year = conn.execute(select(inc).where(inc.c.household_id == hid, func.length(inc.c.period) == 4,
                                              inc.c.period_end < on).order_by(inc.c.period.desc()).limit(1)
                            ).mappings().first()
        if year is not None:
            rows, basis = [year], "year"
    if not rows:
        raise RegistryDataError(f"household {hh_no} has no income records in the {n} months {months[-1]}–{months[0]} / "
                                f"户 {hh_no} 近 {n} 个月({months[-1]}–{months[0]})无收入记录,无法测算")

    def tot(k: str) -> Decimal:
        return sum((Decimal(str(r[k] or 0)) for r in rows), Decimal(0))

    members = []
    for i, m in enumerate(view.members):
        rel = _code("relation_to_head", m.get("relation"))
        if rel is None:
            rel = "02" if i == 0 and not any(_code("relation_to_head", x.get("relation")) == "02"
                                             for x in view.members) else "97"
        school = _code("schooling", m.get("schooling"))
        members.append(Member(
            name=f"{m.get('name') or ''}", relation=rel, birth_date=m["birth_date"],
            labour=_code("labour_skill", m.get("labour_skill")) or "NONE",  # unknown labour counts as none (§8)
            health=_code("health", m.get("health")) or "HEALTHY",
            disability_grade=_code("disability_grade", m.get("disability_grade")),
            disability_category=_code("disability_category", m.get("disability_category")),
            is_student=school in _STUDENT_STAGES))
    h = Household(
        region_code=region, date=on, members=members,
        income=Income(wage=tot("wage"), business=tot("business"), business_cost=tot("business_cost"),
                      property=tot("property"), transfer=tot("transfer")),
        spending=Spending(medical_oop=tot("medical_oop"), education=tot("education_cost")),
        household_type=_code("household_types", view.attributes.get("hh_type")),
        monitored_type=monitored_type, current_dibao=current_dibao)
    inputs = {"hh_no": hh_no, "region_code": region, "income_basis": basis, "months_expected": n,
              "months_found": 12 if basis == "year" else len(rows), "months": sorted(r["period"] for r in rows),
              "members": len(members),
              "monitored_type": monitored_type, "current_dibao": current_dibao,
              "note_zh": "转移性收入按基础数据库总额计入(无法区分不计入项目)",
              "note_en": "transfers counted as the registry total (excluded items cannot be separated)"}
    return _Reg(h, inputs)


def _active_subtypes(conn: Connection, plan_id: int, on: date) -> dict[str, int]:
    q = select(AssistanceMeasure.subtype, AssistanceMeasure.id).where(
        AssistanceMeasure.plan_id == plan_id, AssistanceMeasure.subtype.is_not(None),
        AssistanceMeasure.start_date <= on, or_(AssistanceMeasure.end_date.is_(None), AssistanceMeasure.end_date >= on))
    return {s: int(i) for s, i in conn.execute(q).all()}


def _clashes(subtype: str) -> set[str]:
    out = {subtype}
    for a, b in measure_rules().get("exclusive_subtypes", []):
        if subtype == a:
            out.add(b)
        elif subtype == b:
            out.add(a)
    return out


def _f(x: Decimal | None) -> float | None:
    return float(x) if x is not None else None


def assess_eligibility(conn: Connection, household: int | str, actor: Actor | None, *, on: date | None = None,
                       trigger: str = "manual", case_id: int | None = None, rules: Any = None,
                       hooks: Hooks | None = None, at: datetime | None = None) -> dict:
    """Run the calculators on the registry household (ONE income calculation), record the run on the chain and return
    it as :func:`latest_eligibility` does. A household the calculators cannot decide on gets a run with ``ok`` false
    and a bilingual ``error`` — it never blocks the case step that triggered it."""
    from fangpin.assistance import EligibilityInputError, assess_pension_contribution, load_rules, low_income_profile
    from fangpin.cases.plan import ensure_plan
    from fangpin.policy import ParameterLookupError

    at = at or now()
    on = on or at.date()
    hooks = hooks or default_hooks()
    rules = rules or load_rules()
    hid, hh_no = resolve_household(conn, household)
    if actor is not None:
        from fangpin.cases.actors import check_actor, require_region
        from fangpin.cases.common import household_region

        check_actor(actor)
        require_region(actor, household_region(conn, hid, on), "household")
    case = conn.execute(select(CaseFile.__table__).where(CaseFile.household_id == hid, CaseFile.closed_on.is_(None))
                        ).mappings().first()
    if case_id is None and case is not None:
        case_id = int(case["id"])
    monitored = case["monitored_type"] if case is not None and case["identified_on"] is not None else None
    plan = ensure_plan(conn, hid, at)
    base = dict(plan_id=plan["id"], case_id=case_id, on_date=on, trigger=trigger[:30],
                parameter_version=rules.version[:80], recorded_by=actor.user_id if actor else "system", recorded_at=at)
    try:
        reg = registry_household(conn, hid, on, monitored_type=monitored,
                                 current_dibao=bool(hooks.is_current_dibao(conn, hid, on)), rules=rules)
        profile = low_income_profile(reg.household, rules)
        results = []
        for key, d in profile.decisions.items():
            prog, _, member = key.partition(":")
            results.append((prog, member or None, d))
        inc = profile.income
        for i, e in enumerate(inc.membership):
            if e.counted:
                label = e.member.label
                d = assess_pension_contribution(reg.household, i, profile.pension_groups(label), rules)
                results.append(("pension", label, d))
    except (EligibilityInputError, RegistryDataError, ParameterLookupError) as e:
        msg = str(e)
        en, _, zh = msg.partition(" / ")
        run_id = conn.execute(insert(EligibilityRun).values(
            **base, ok=False, error={"zh": zh or msg, "en": en}, income=None, inputs=None,
        ).returning(EligibilityRun.id)).scalar_one()
        return latest_eligibility(conn, hid, run_id=int(run_id))  # type: ignore[return-value]
    income = {"size": inc.size, "net_income": _f(inc.net_income), "assessed_income": _f(inc.assessed_income),
              "net_per_capita_year": _f(inc.net_per_capita_year), "per_capita_year": _f(inc.per_capita_year),
              "categories": profile.categories, "primary": profile.primary,
              "medical_category": profile.medical_category(),
              "parameters": {k: p.to_dict() for k, p in inc.parameters.items()},
              "steps": [{"zh": s.zh, "en": s.en} for s in profile.steps]}
    run_id = int(conn.execute(insert(EligibilityRun).values(
        **base, ok=True, error=None, income=jsonable(income), inputs=jsonable(reg.inputs),
    ).returning(EligibilityRun.id)).scalar_one())
    held = set(profile.categories)
    active = _active_subtypes(conn, plan["id"], on)
    proposed: set[str] = set()
    rows: list[dict[str, Any]] = []
    for prog, member, d in results:
        spec = PROGRAMMES.get(prog, {})
        proposal = category = subtype = None
        measure_id = None
        if d.eligible or (prog == "dibao" and d.rule_id in _HELD_RULES):
            subtype = spec.get("subtype")
            category = spec.get("category")
            if subtype is not None:
                code = {"DIBAO": "DIBAO", "TEKUN": "TEKUN", "DIBAO_EDGE": "DIBAO_EDGE"}[subtype]
                if code not in held or subtype in proposed:
                    # 特困 is one measure per household chain; a household whose every member is 特困 is not 低保
                    subtype = category = None
                else:
                    proposed.add(subtype)
                    hit = next((active[s] for s in sorted(_clashes(subtype)) if s in active), None)
                    proposal, measure_id = ("on_chain", hit) if hit is not None else ("measure", None)
            else:
                proposal = "referral"
        rows.append(dict(
            run_id=run_id, programme=prog, member=member, eligible=bool(d.eligible), rule_id=d.rule_id,
            reference=d.reference, amount_month=_f(d.amount_month), amount_year=_f(d.amount_year),
            decision=jsonable(d.to_dict()), proposal=proposal, category=category, subtype=subtype,
            measure_id=measure_id))
    conn.execute(insert(EligibilityResult.__table__), rows)  # one executemany
    return latest_eligibility(conn, hid, run_id=run_id)  # type: ignore[return-value]


def latest_eligibility(conn: Connection, household: int | str, *, run_id: int | None = None) -> dict | None:
    """The latest recorded run for the household (or run ``run_id``) with its results and proposals; ``None`` if the
    household was never assessed."""
    hid, hh_no = resolve_household(conn, household)
    q = (select(EligibilityRun.__table__).join(AssistancePlan, AssistancePlan.id == EligibilityRun.plan_id)
         .where(AssistancePlan.household_id == hid))
    q = q.where(EligibilityRun.id == run_id) if run_id is not None else q.order_by(EligibilityRun.id.desc()).limit(1)
    run = conn.execute(q).mappings().first()
    if run is None:
        return None
    out = dict(run)
    out["hh_no"] = hh_no
    out["results"] = []
    for r in conn.execute(select(EligibilityResult.__table__).where(EligibilityResult.run_id == run["id"])
                          .order_by(EligibilityResult.id)).mappings():
        d = dict(r)
        spec = PROGRAMMES.get(d["programme"], {})
        d["programme_zh"], d["programme_en"] = spec.get("zh", d["programme"]), spec.get("en", d["programme"])
        d["steps"] = d["decision"].get("steps", [])
        out["results"].append(d)
    return out


def accept_proposal(conn: Connection, result_id: int, actor: Actor, *, start_date: date,
                    external_ref: str | None = None, at: datetime | None = None) -> int:
    """Record a proposed civil-affairs measure on the chain (source ``civil_affairs``) — refused as a duplicate by
    :func:`~fangpin.cases.plan.add_measure` if the chain already holds it."""
    from fangpin.cases.plan import add_measure

    r = conn.execute(select(EligibilityResult.__table__, EligibilityRun.plan_id)
                     .join(EligibilityRun, EligibilityRun.id == EligibilityResult.run_id)
                     .where(EligibilityResult.id == result_id)).mappings().first()
    if r is None:
        raise refuse("PLAN_PROPOSAL_NOT_FOUND", f"测算结果 {result_id} 不存在", f"Eligibility result {result_id} not found")
    if r["proposal"] != "measure" or not r["subtype"]:
        raise refuse("PLAN_PROPOSAL_NOT_A_MEASURE", "该测算结果没有可登记的救助措施(已在救助链上或仅为转介)",
                     "This result proposes no measure to record (already on the chain, or a referral only)")
    hid = int(conn.execute(select(AssistancePlan.household_id).where(AssistancePlan.id == r["plan_id"])).scalar_one())
    mid = add_measure(conn, hid, actor, category=r["category"], subtype=r["subtype"], source="civil_affairs",
                      start_date=start_date, external_ref=external_ref or f"eligibility:{result_id}",
                      description=f"{r['rule_id']} ({r['reference']})", at=at)
    conn.execute(update(EligibilityResult).where(EligibilityResult.id == result_id)
                 .values(proposal="on_chain", measure_id=mid))
    return mid


def eligibility_suggestions(conn: Connection, household_id: int, on: date) -> list[dict[str, Any]]:
    """Default ``Hooks.eligibility``: the latest recorded run's decisions as suggestions for the chain view."""
    run = latest_eligibility(conn, household_id)
    if run is None or not run["ok"]:
        return []
    return [{"subtype": r["subtype"], "programme": r["programme"], "member": r["member"], "eligible": r["eligible"],
             "rule_id": r["rule_id"], "proposal": r["proposal"], "result_id": r["id"],
             "reason_zh": (r["steps"][-1]["zh"] if r["steps"] else r["rule_id"]),
             "reason_en": (r["steps"][-1]["en"] if r["steps"] else r["rule_id"])} for r in run["results"]]
