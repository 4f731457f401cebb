"""Guards (checks that may refuse a transition) and effects (case changes a transition makes), by the names used
in ``workflow.yaml``. Guards only read; effects fill ``ctx.changes`` (columns of ``case_file`` written by the
same optimistic-locked UPDATE) or ``ctx.after`` (writes done after that UPDATE succeeded)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.cases.actors import Actor
from fangpin.cases.common import has_labour, household_region, members_on, param, resolve_household
from fangpin.cases.errors import refuse
from fangpin.cases.hooks import Hooks
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, CaseEvent, CaseFile
from fangpin.cases.removal import Checklist, assisted_checklist, natural_checklist
from fangpin.cases.workflow import Transition
from fangpin.policy import ParameterSet

__all__ = ["Ctx", "GUARDS", "EFFECTS", "removal_checklist_for"]


@dataclass
class Ctx:
    conn: Connection
    case: dict[str, Any]
    tr: Transition
    actor: Actor
    payload: dict[str, Any]
    comment: str | None
    at: datetime
    on: date
    ps: ParameterSet
    hooks: Hooks
    hh_no: str | None
    changes: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)  # parameters used (value + reference), stored on the event
    record: dict[str, Any] = field(default_factory=dict)  # extra facts stored in the event payload
    after: list[Callable[[], None]] = field(default_factory=list)

    def get(self, col: str) -> Any:
        return self.changes.get(col, self.case.get(col))

    @property
    def region(self) -> str:
        return self.case["region_code"]


# ------------------------------------------------------------------------------------------------- proposal
def normalise_proposal(ctx: Ctx) -> None:
    """Monitored type and risk types from the payload, validated against the code lists (POLICY.md §2, §7)."""
    p = ctx.payload
    if p.get("monitored_type") is not None:
        c = codes.lookup("monitored_types", p["monitored_type"])
        if c is None:
            allowed = "、".join(f"{x.code} {x.zh}" for x in codes.load_code_lists()["monitored_types"])
            raise refuse("CASE_BAD_MONITORED_TYPE", f"监测对象类别“{p['monitored_type']}”无效,可选:{allowed}",
                         f"Unknown monitored household type {p['monitored_type']!r}")
        ctx.changes["monitored_type"] = c.code
    if p.get("risk_types") is not None:
        ctx.changes["risk_types"] = parse_risk_types(p["risk_types"], ctx.ps, ctx.region, ctx.on, ctx.used)


def parse_risk_types(values: Any, ps: ParameterSet, region: str, on: date, used: dict | None = None) -> list[str]:
    if isinstance(values, str):
        values = [v for v in values.replace("、", ",").split(",") if v.strip()]
    out: list[str] = []
    for v in values or []:
        c = codes.lookup("risk_types", v)
        if c is None:
            raise refuse("CASE_BAD_RISK_TYPE", f"风险类型“{v}”不在代码表中", f"Unknown risk type {v!r}")
        if c.code not in out:
            out.append(c.code)
    mx = int(param(ps, "max_risk_types_per_household", region, on, used))
    if len(out) > mx:
        raise refuse("CASE_TOO_MANY_RISKS", f"每户最多登记 {mx} 项风险类型,实际 {len(out)} 项",
                     f"At most {mx} risk types per household, got {len(out)}", limit=mx)
    return out


# ------------------------------------------------------------------------------------------------- guards
def g_commitment_and_authorisation(ctx: Ctx) -> None:
    """POLICY.md §4.1, §5.1: the household signs the commitment and the authorisation to check its assets."""
    if ctx.case["source"] == "self_application":
        a = ctx.case.get("applicant") or {}
        ok = a.get("consent") is True and a.get("authorisation") is True
    else:
        ok = ctx.payload.get("commitment_signed") is True and ctx.payload.get("authorisation_signed") is True
    if not ok:
        raise refuse("CASE_NO_AUTHORISATION", "农户未签署承诺书和家庭财产查询授权书,不能进入核实程序",
                     "The household has not signed the commitment and the authorisation to check its assets; the "
                     "case cannot proceed to verification (payload commitment_signed and authorisation_signed)")


def g_household_linked(ctx: Ctx) -> None:
    """The case must name a registry household before home verification; it must lie in the case's village and
    have no other open case (one open case per household)."""
    hid = ctx.case.get("household_id")
    if ctx.payload.get("hh_no") is not None:
        new_id, hh_no = resolve_household(ctx.conn, str(ctx.payload["hh_no"]))
        if hid is not None and hid != new_id:
            raise refuse("CASE_HOUSEHOLD_MISMATCH", "本案已关联其他农户,不能改为另一户",
                         "This case is already linked to another household")
        hid = new_id
        ctx.hh_no = hh_no
        ctx.changes["household_id"] = new_id
    if hid is None:
        raise refuse("CASE_HOUSEHOLD_NOT_LINKED", "入户核实须确定农户(提供户编号 hh_no)",
                     "Home verification needs the registry household (give hh_no)")
    region = household_region(ctx.conn, hid, ctx.on)
    if region != ctx.region:
        raise refuse("CASE_HOUSEHOLD_OTHER_VILLAGE", f"该户登记在 {region},不在本案所在村 {ctx.region}",
                     f"The household is registered in {region}, not in this case's village {ctx.region}")
    other = ctx.conn.execute(select(CaseFile.case_no).where(
        CaseFile.household_id == hid, CaseFile.closed_on.is_(None), CaseFile.id != ctx.case["id"])).scalar()
    if other:
        raise refuse("CASE_ALREADY_OPEN", f"该户已有在办案件 {other}", f"The household already has open case {other}",
                     case_no=other)


def g_current_dibao_recipient(ctx: Ctx) -> None:
    """POLICY.md §5.3: the cross-department comparison is not repeated for current 低保 recipients."""
    hid = ctx.case.get("household_id")
    if hid is None or not ctx.hooks.is_current_dibao(ctx.conn, hid, ctx.on):
        raise refuse("CASE_SKIP_NOT_ALLOWED", "该户不是现行低保对象,不能免于部门信息比对",
                     "The household is not a current 低保 recipient: the cross-department data check cannot be "
                     "skipped")
    ctx.record["data_check_skipped"] = {"reason": "current_dibao_recipient", "policy": "POLICY.md §5.3"}


def g_notice_elapsed(ctx: Ctx) -> None:
    """POLICY.md §5.4: public notice ≥ public_notice_min_days; the audit waits for the notice to run."""
    start = ctx.case.get("notice_start")
    if start is None:
        raise refuse("CASE_NO_NOTICE", "尚未公示", "No public notice has been posted")
    days = int(param(ctx.ps, "public_notice_min_days", ctx.region, start, ctx.used))
    ends = start + timedelta(days=days)
    if ctx.on < ends:
        raise refuse("CASE_NOTICE_NOT_ELAPSED",
                     f"公示期不少于 {days} 天:公示自 {start} 起,{ends} 起方可审核(今天 {ctx.on})",
                     f"The public notice must run at least {days} days: it started on {start}, the audit is "
                     f"possible from {ends} (today {ctx.on})", notice_start=str(start), audit_from=str(ends))


def open_objections(conn: Connection, case_id: int, since_seq: int = 0) -> dict[int, str]:
    rows = conn.execute(select(CaseEvent.seq, CaseEvent.action, CaseEvent.payload, CaseEvent.comment)
                        .where(CaseEvent.case_id == case_id, CaseEvent.seq > since_seq,
                               CaseEvent.action.in_(["record_objection", "resolve_objection"]))
                        .order_by(CaseEvent.seq)).all()
    out: dict[int, str] = {}
    for seq, action, payload, comment in rows:
        if action == "record_objection":
            out[seq] = comment or ""
        else:
            out.pop(int((payload or {}).get("objection", -1)), None)
    return out


def g_no_open_objections(ctx: Ctx) -> None:
    """POLICY.md §5.4: objections raised during the notice must be answered before the audit."""
    still = open_objections(ctx.conn, ctx.case["id"])
    if still:
        raise refuse("CASE_OPEN_OBJECTIONS", f"尚有 {len(still)} 条公示异议未答复", f"{len(still)} objection(s) not "
                     "yet answered", objections=sorted(still))


def g_type_and_risks(ctx: Ctx) -> None:
    """POLICY.md §2 type; §7 1–5 risk types and the consistency check 因务工就业不稳 needs working labour."""
    t = ctx.get("monitored_type")
    risks = ctx.get("risk_types") or []
    if not t:
        raise refuse("CASE_TYPE_MISSING", "须确定监测对象类别(脱贫不稳定户/边缘易致贫户/突发严重困难户)",
                     "The monitored household type must be set (TPBWD / BYYZP / TFYZKN)")
    if not risks:
        raise refuse("CASE_RISKS_MISSING", "须登记至少一项致贫返贫风险类型", "At least one risk type must be recorded")
    if "UNSTABLE_EMPLOYMENT" in risks and ctx.hh_no:
        if not any(has_labour(m) for m in members_on(ctx.conn, ctx.hh_no, ctx.on)):
            raise refuse("CASE_RISK_INCONSISTENT", "“因务工就业不稳”与家庭无劳动力成员矛盾",
                         "Risk 'unstable employment' contradicts a household with no labour (POLICY.md §7)")


def removal_checklist_for(ctx_or_case: dict, conn: Connection, on: date, ps: ParameterSet, hooks: Hooks,
                          hh_no: str, method: str | None, reason: str | None, person_id: int | None,
                          used: dict | None = None) -> Checklist:
    case = ctx_or_case
    kw = dict(household_id=case["household_id"], hh_no=hh_no, region=case["region_code"],
              identified_on=case.get("identified_on"), on=on, params=ps, used=used)
    if method == "ZRXC":
        return natural_checklist(conn, reason=reason, person_id=person_id, **kw)
    return assisted_checklist(conn, hooks=hooks, **kw)


def g_removal_conditions(ctx: Ctx) -> None:
    """POLICY.md §9: refuse removal while any condition fails (natural removal: the reason must be confirmed)."""
    method = ctx.payload.get("method", ctx.case.get("removal_method"))
    if ctx.tr.action == "propose_removal":
        c = codes.lookup("risk_removal_methods", method)
        if c is None:
            raise refuse("CASE_BAD_REMOVAL_METHOD", "须选择风险消除方式:帮扶消除(BFXC)或自然消除(ZRXC)",
                         "Choose the removal method: BFXC (assisted) or ZRXC (natural)")
        method = c.code
        ctx.changes["removal_method"] = method
        ctx.changes["removal_reason"] = ctx.payload.get("reason") if method == "ZRXC" else None
        pid = ctx.payload.get("person_id") if method == "ZRXC" else None
        ctx.changes["removal_person_id"] = int(pid) if pid is not None else None
    reason = ctx.get("removal_reason")
    person_id = ctx.get("removal_person_id")
    cl = removal_checklist_for(ctx.case, ctx.conn, ctx.on, ctx.ps, ctx.hooks, ctx.hh_no, method, reason, person_id,
                               ctx.used)
    ctx.record["removal_checklist"] = [{"code": i.code, "ok": i.ok} for i in cl.items]
    ctx.record["early_removal_flag"] = cl.early_removal_flag
    if not cl.ok:
        bad = cl.failing
        raise refuse("CASE_REMOVAL_CONDITIONS", "风险消除条件未满足:" + ";".join(i.zh for i in bad),
                     "Risk removal conditions not met: " + "; ".join(i.en for i in bad),
                     failing=[i.code for i in bad])


GUARDS: dict[str, Callable[[Ctx], None]] = {
    "commitment_and_authorisation": g_commitment_and_authorisation,
    "household_linked": g_household_linked,
    "current_dibao_recipient": g_current_dibao_recipient,
    "notice_elapsed": g_notice_elapsed,
    "no_open_objections": g_no_open_objections,
    "type_and_risks": g_type_and_risks,
    "removal_conditions": g_removal_conditions,
}


# ------------------------------------------------------------------------------------------------- effects
def e_record_proposal(ctx: Ctx) -> None:
    pass  # done by normalise_proposal before the guards, so that guards see the proposed values


def e_start_notice(ctx: Ctx) -> None:
    """POLICY.md §5.4: the notice starts on the review day or later (never back-dated)."""
    raw = ctx.payload.get("notice_start")
    start = date.fromisoformat(raw) if isinstance(raw, str) else (raw or ctx.on)
    if start < ctx.on:
        raise refuse("CASE_NOTICE_BACKDATED", f"公示开始日期 {start} 不能早于评议日期 {ctx.on}",
                     f"The notice cannot start ({start}) before the review date ({ctx.on})")
    ctx.changes["notice_start"] = start


def e_add_objection(ctx: Ctx) -> None:
    ctx.record["objection"] = {"by": ctx.payload.get("by"), "channel": ctx.payload.get("channel")}


def e_resolve_objection(ctx: Ctx) -> None:
    target = ctx.payload.get("objection")
    still = open_objections(ctx.conn, ctx.case["id"])
    if target is None or int(target) not in still:
        raise refuse("CASE_OBJECTION_UNKNOWN", f"没有待答复的异议 {target}(待答复:{sorted(still) or '无'})",
                     f"No open objection {target} (open: {sorted(still) or 'none'})")


def e_record_data_check(ctx: Ctx) -> None:
    ctx.record["data_check"] = ctx.payload.get("findings", {})


def e_identify(ctx: Ctx) -> None:
    """County approval (POLICY.md §5.6–5.8): the household is monitored from today. After the case row is written:
    the first follow-up visit is scheduled ``follow_up_visit_interval_days`` ahead (POLICY.md §4.2; seed 004 line 45)
    and the household's eligibility for civil-affairs programmes is computed on its single assistance chain (seed 004
    §五 一户一条救助链; POLICY.md §10) — a household the calculators cannot decide on is recorded as such, never
    blocking the approval."""
    ctx.changes["identified_on"] = ctx.on
    ctx.changes["decided_on"] = ctx.on
    hid = ctx.get("household_id")

    def after() -> None:
        from fangpin.cases.eligibility import assess_eligibility
        from fangpin.cases.plan import schedule_next_visit

        schedule_next_visit(ctx.conn, hid, case_id=ctx.case["id"], after=ctx.on, by=ctx.actor.user_id, at=ctx.at,
                            params=ctx.ps)
        assess_eligibility(ctx.conn, hid, None, on=ctx.on, trigger="identification", case_id=ctx.case["id"],
                           hooks=ctx.hooks, at=ctx.at)

    ctx.after.append(after)


def e_record_removal_method(ctx: Ctx) -> None:
    pass  # set by the removal_conditions guard (it must know the method to check the conditions)


def e_clear_removal(ctx: Ctx) -> None:
    ctx.changes["removal_method"] = None
    ctx.changes["removal_reason"] = None
    ctx.changes["removal_person_id"] = None


def e_remove_risk(ctx: Ctx) -> None:
    """POLICY.md §9: risk removed; relapse-prevention measures end except those that continue ([L] microcredit,
    public-welfare job). Civil-affairs measures are not touched (civil affairs decides them)."""
    ctx.changes["removed_on"] = ctx.on
    hid = ctx.case["household_id"]
    on = ctx.on

    def end_measures() -> None:
        plan = select(AssistancePlan.id).where(AssistancePlan.household_id == hid).scalar_subquery()
        ctx.conn.execute(update(AssistanceMeasure).where(
            AssistanceMeasure.plan_id == plan, AssistanceMeasure.source == "relapse_prevention",
            AssistanceMeasure.continues_after_removal.is_(False),
            or_(AssistanceMeasure.end_date.is_(None), AssistanceMeasure.end_date > on),
        ).values(end_date=on, ended_reason="risk_removed"))

    ctx.after.append(end_measures)


EFFECTS: dict[str, Callable[[Ctx], None]] = {
    "record_proposal": e_record_proposal,
    "start_notice": e_start_notice,
    "add_objection": e_add_objection,
    "resolve_objection": e_resolve_objection,
    "record_data_check": e_record_data_check,
    "identify": e_identify,
    "record_removal_method": e_record_removal_method,
    "clear_removal": e_clear_removal,
    "remove_risk": e_remove_risk,
}
