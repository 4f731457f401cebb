"""Case service (监测对象识别—帮扶—风险消除): the only way to change a case.

Every change goes through :func:`act`, which looks the (state, action) pair up in the transition table
(``workflow.yaml``), checks the actor's role and region, runs the guards, and writes the new state with an
optimistic lock (``UPDATE … WHERE id = ? AND version = ?``) plus an append-only event carrying the actor, role,
time, comment, a frozen household snapshot and the policy-parameter version. Callers pass a Connection inside
their own transaction (``with engine.begin() as conn``); on any refusal nothing of the call is written.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from fangpin.security.crypto import PURPOSE_ID, blind, blind_all, encrypt
from fangpin.security.fields import P_APPLICANT
from fangpin import codes
from fangpin.cases.actors import Actor, check_actor, require_region
from fangpin.cases.common import jsonable, now, params_or_default, resolve_household, household_region, snapshot
from fangpin.cases.errors import CaseError, conflict, refuse
from fangpin.cases.guards import EFFECTS, GUARDS, Ctx, normalise_proposal, parse_risk_types, removal_checklist_for
from fangpin.cases.hooks import Hooks, default_hooks
from fangpin.cases.models import CaseEscalation, CaseEvent, CaseFile
from fangpin.cases.removal import Checklist
from fangpin.cases.workflow import workflow
from fangpin.ids import parse_id
from fangpin.issues import FangpinValueError, Issue
from fangpin.policy import ParameterSet
from fangpin.registry.models import Household
from fangpin.registry.service import current_households, current_members
from fangpin.textnorm import clean_name, normalize_phone

__all__ = ["CaseView", "SYSTEM_ACTOR", "open_lead", "apply_self", "act", "get_case", "history", "allowed_actions",
           "removal_checklist", "find_cases"]

# Self-applications are filed by the applicant, not by an officer: their "open" event names this actor.
SYSTEM_ACTOR = Actor("applicant", "农户自主申报", "admin", "00")
_TRACK_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class CaseView:
    id: int
    case_no: str
    state: str
    state_zh: str
    state_en: str
    phase: str
    version: int
    household_id: int | None
    region_code: str
    source: str
    monitored_type: str | None
    risk_types: list[str]
    opened_on: date
    notice_start: date | None
    identified_on: date | None
    decided_on: date | None
    removal_method: str | None
    removed_on: date | None
    closed_on: date | None
    actions: list[str]  # actions the transition table allows from this state (roles and guards still apply)


def _view(row: dict) -> CaseView:
    wf = workflow()
    st = wf.states[row["state"]]
    return CaseView(
        id=row["id"], case_no=row["case_no"], state=row["state"], state_zh=st.zh, state_en=st.en, phase=st.phase,
        version=row["version"], household_id=row["household_id"], region_code=row["region_code"],
        source=row["source"], monitored_type=row["monitored_type"], risk_types=list(row["risk_types"] or []),
        opened_on=row["opened_on"], notice_start=row["notice_start"], identified_on=row["identified_on"],
        decided_on=row["decided_on"], removal_method=row["removal_method"], removed_on=row["removed_on"],
        closed_on=row["closed_on"], actions=[t.action for t in wf.actions_from(row["state"])])


def _row(conn: Connection, case: int | str) -> dict:
    q = select(CaseFile.__table__)
    q = q.where(CaseFile.id == case) if isinstance(case, int) else q.where(CaseFile.case_no == case)
    row = conn.execute(q).mappings().first()
    if row is None:
        raise refuse("CASE_NOT_FOUND", f"案件“{case}”不存在", f"Case {case!r} not found")
    return dict(row)


def get_case(conn: Connection, case: int | str) -> CaseView:
    """A case by id or tracking number (受理编号)."""
    return _view(_row(conn, case))


def find_cases(conn: Connection, *, region: str = "", states: list[str] | None = None,
               household: int | str | None = None) -> list[CaseView]:
    q = select(CaseFile.__table__).where(CaseFile.region_code.startswith(region))
    if states:
        q = q.where(CaseFile.state.in_(states))
    if household is not None:
        hid, _ = resolve_household(conn, household)
        q = q.where(CaseFile.household_id == hid)
    return [_view(dict(r)) for r in conn.execute(q.order_by(CaseFile.id)).mappings()]


def history(conn: Connection, case: int | str) -> list[dict[str, Any]]:
    """The event log (oldest first), each with actor, role, time, comment, payload, snapshot, policy version."""
    cid = _row(conn, case)["id"]
    return [dict(r) for r in conn.execute(
        select(CaseEvent.__table__).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq)).mappings()]


def allowed_actions(conn: Connection, case: int | str, actor: Actor) -> list[str]:
    """Actions this actor's role may try now (for buttons); guards are still checked by :func:`act`."""
    row = _row(conn, case)
    check_actor(actor)
    from fangpin.cases.actors import in_region

    if not in_region(actor, row["region_code"]):
        return []
    return [t.action for t in workflow().actions_from(row["state"]) if actor.role in t.roles]


def _hh_no(conn: Connection, household_id: int | None) -> str | None:
    if household_id is None:
        return None
    return conn.execute(select(Household.hh_no).where(Household.id == household_id)).scalar()


def _new_case_no(on: date) -> str:
    return f"FP{on:%Y%m%d}" + "".join(secrets.choice(_TRACK_CHARS) for _ in range(6))


def _insert_case(conn: Connection, *, actor: Actor, source: str, region: str, household_id: int | None,
                 risk_types: list[str], monitored_type: str | None, applicant: dict | None, source_ref: str | None,
                 comment: str | None, at: datetime, ps: ParameterSet, used: dict) -> CaseView:
    on = at.date()
    if household_id is not None:
        other = conn.execute(select(CaseFile.case_no).where(CaseFile.household_id == household_id,
                                                            CaseFile.closed_on.is_(None))).scalar()
        if other:
            raise refuse("CASE_ALREADY_OPEN", f"该户已有在办案件 {other},请在该案件中办理",
                         f"The household already has open case {other}; continue there", case_no=other)
    values = dict(household_id=household_id, region_code=region, source=source, source_ref=source_ref, state="LEAD",
                  version=1, opened_on=on, opened_at=at, updated_at=at, monitored_type=monitored_type,
                  risk_types=risk_types, applicant=applicant)
    for _ in range(5):
        case_no = _new_case_no(on)
        if conn.execute(select(CaseFile.id).where(CaseFile.case_no == case_no)).first() is None:
            break
    try:
        cid = conn.execute(insert(CaseFile).values(case_no=case_no, **values).returning(CaseFile.id)).scalar_one()
    except IntegrityError:
        raise refuse("CASE_ALREADY_OPEN", "该户已有在办案件(同时提交)", "The household already has an open case "
                     "(submitted at the same time)") from None
    conn.execute(insert(CaseEvent).values(
        case_id=cid, seq=1, action="open", from_state=None, to_state="LEAD", actor_user_id=actor.user_id,
        actor_name=actor.name, actor_role=actor.role, actor_region=actor.region_code, at=at, on_date=on,
        comment=comment, payload=jsonable({"source": source, "source_ref": source_ref, "risk_types": risk_types,
                                           "monitored_type": monitored_type}),
        household_snapshot=snapshot(conn, _hh_no(conn, household_id), on), policy_version=ps.version,
        policy_values=used))
    return get_case(conn, cid)


def open_lead(conn: Connection, actor: Actor, *, source: str, household: int | str | None = None,
              village_code: str | None = None, risk_types: list[str] | None = None, monitored_type: str | None = None,
              source_ref: str | None = None, comment: str | None = None, at: datetime | None = None,
              params: ParameterSet | None = None) -> CaseView:
    """Open a lead (线索) from an alert, a cadre visit, a department referral or manual entry (POLICY.md §4)."""
    wf = workflow()
    check_actor(actor)
    at = at or now()
    on = at.date()
    ps = params_or_default(params)
    src = wf.lead_sources.get(source)
    if src is None or source == "self_application":
        raise refuse("CASE_BAD_SOURCE", f"线索来源“{source}”无效(自主申报请用 apply_self)",
                     f"Unknown lead source {source!r} (self-applications use apply_self)")
    if actor.role not in src.roles:
        raise refuse("CASE_ROLE_NOT_ALLOWED", f"{wf.roles[actor.role].zh}不能登记“{src.zh}”线索",
                     f"A {actor.role} may not open a lead from {source}", allowed_roles=list(src.roles))
    hid = None
    if household is not None:
        hid, _ = resolve_household(conn, household)
        region = household_region(conn, hid, on)
        if village_code and village_code != region:
            raise refuse("CASE_HOUSEHOLD_OTHER_VILLAGE", f"该户登记在 {region},不在 {village_code}",
                         f"The household is registered in {region}, not in {village_code}")
    elif village_code and len(village_code) == 12 and village_code.isdigit():
        region = village_code
    else:
        raise refuse("CASE_NO_VILLAGE", "须提供户编号或12位村级区划代码", "Give a household or a 12-digit village code")
    require_region(actor, region)
    used: dict = {}
    risks = parse_risk_types(risk_types or [], ps, region, on, used)
    mt = None
    if monitored_type:
        c = codes.lookup("monitored_types", monitored_type)
        if c is None:
            raise refuse("CASE_BAD_MONITORED_TYPE", f"监测对象类别“{monitored_type}”无效",
                         f"Unknown monitored household type {monitored_type!r}")
        mt = c.code
    return _insert_case(conn, actor=actor, source=source, region=region, household_id=hid, risk_types=risks,
                        monitored_type=mt, applicant=None, source_ref=source_ref, comment=comment, at=at, ps=ps,
                        used=used)


def _find_household_by_id_number(conn: Connection, id_number: str, on: date) -> int | None:
    bidx = blind_all(id_number, PURPOSE_ID)  # keyed blind index: the IDs are encrypted at rest (docs/SECURITY.md)
    hq = current_households(on).subquery()
    hid = conn.execute(select(hq.c.household_id).where(hq.c.head_id_bidx.in_(bidx), hq.c.active.is_(True))
                       ).scalar()
    if hid is not None:
        return int(hid)
    mq = current_members(on).subquery()
    hid = conn.execute(select(mq.c.household_id).where(mq.c.id_number_bidx.in_(bidx), mq.c.active.is_(True))).scalar()
    return int(hid) if hid is not None else None


def apply_self(conn: Connection, form: dict[str, Any], *, at: datetime | None = None,
               params: ParameterSet | None = None) -> CaseView:
    """农户自主申报 (POLICY.md §4.1; FEEDS.md §C): validate the form, open a lead, return it with its tracking
    number (``case_no``). Consent to the commitment and authorisation to check assets are REQUIRED.

    Form keys: name, id_number, phone, village_code, household_size, reasons (risk types), description,
    expected_income, consent, authorisation, date. All problems are reported at once (``details["issues"]``).
    """
    at = at or now()
    ps = params_or_default(params)
    problems: list[Issue] = []
    out: dict[str, Any] = {}

    def bad(code: str, zh: str, en: str) -> None:
        problems.append(Issue(code, zh, en))

    name = clean_name(form.get("name"))
    if not name:
        bad("SELF_APP_NAME", "请填写申请人姓名", "Applicant name is required")
    out["name"] = name
    try:
        out["id_number"] = parse_id(form.get("id_number"), today=at.date()).number
    except FangpinValueError as e:
        problems.append(Issue("SELF_APP_ID", f"身份证号码有误:{e.issue.zh}", f"ID number invalid: {e.issue.en}"))
    try:
        phone = normalize_phone(form.get("phone"))
        if not phone or not (len(phone) == 11 and phone.startswith("1") or phone.startswith("0") and len(phone) >= 10):
            raise FangpinValueError(Issue("x", "", ""))
        out["phone"] = phone
    except FangpinValueError:
        bad("SELF_APP_PHONE", "请填写有效的联系电话(手机11位或带区号的固定电话)",
            "A valid phone number is required (11-digit mobile or landline with area code)")
    village = str(form.get("village_code") or "").strip()
    if not (len(village) == 12 and village.isdigit()):
        bad("SELF_APP_VILLAGE", "请填写12位村级区划代码", "A 12-digit village code is required")
    out["village_code"] = village
    try:
        size = int(form.get("household_size"))
        if size < 1:
            raise ValueError
        out["household_size"] = size
    except (TypeError, ValueError):
        bad("SELF_APP_SIZE", "家庭人口数应为正整数", "Household size must be a positive whole number")
    on = form.get("date") or at.date()
    if isinstance(on, str):
        try:
            on = date.fromisoformat(on)
        except ValueError:
            bad("SELF_APP_DATE", "申请日期应写作 YYYY-MM-DD", "Application date must be YYYY-MM-DD")
            on = at.date()
    if on > at.date():
        bad("SELF_APP_DATE", "申请日期不能晚于今天", "The application date cannot be in the future")
    out["date"] = on.isoformat()
    reasons: list[str] = []
    try:
        reasons = parse_risk_types(form.get("reasons") or [], ps, village if len(village) == 12 else "00",
                                   at.date())
        if not reasons:
            bad("SELF_APP_REASONS", "请至少选择一项申请原因(风险类型)", "Choose at least one reason (risk type)")
    except CaseError as e:
        problems.append(Issue("SELF_APP_REASONS", e.issue.zh, e.issue.en))
    out["reasons"] = reasons
    out["description"] = str(form.get("description") or "").strip()[:2000]
    try:
        inc = float(form.get("expected_income"))
        if inc < 0 or inc != inc:
            raise ValueError
        out["expected_income"] = inc
    except (TypeError, ValueError):
        bad("SELF_APP_INCOME", "预计家庭年收入应为不小于0的数字", "Expected yearly income must be a number ≥ 0")
    if form.get("consent") is not True:
        bad("SELF_APP_NO_CONSENT", "须同意并签署承诺书", "Consent to the commitment is required")
    if form.get("authorisation") is not True:
        bad("SELF_APP_NO_AUTHORISATION", "须授权查询家庭经济状况(财产)", "Authorisation to check family assets is required")
    out["consent"] = form.get("consent") is True
    out["authorisation"] = form.get("authorisation") is True
    if problems:
        raise CaseError(Issue("SELF_APP_INVALID", "申报信息有误:" + ";".join(p.zh for p in problems),
                              "The application has problems: " + "; ".join(p.en for p in problems)),
                        {"issues": [p.code for p in problems], "messages": problems})
    hid = _find_household_by_id_number(conn, out["id_number"], at.date())
    if hid is not None and household_region(conn, hid, at.date()) != village:
        hid = None  # registered elsewhere: the village verifies and links at the home visit
    # the applicant's ID number and phone are stored encrypted (docs/SECURITY.md), like the registry's
    sealed = {**out, "id_number": encrypt(out["id_number"], P_APPLICANT), "phone": encrypt(out["phone"], P_APPLICANT),
              "id_number_bidx": blind(out["id_number"], PURPOSE_ID)}
    return _insert_case(conn, actor=SYSTEM_ACTOR, source="self_application", region=village, household_id=hid,
                        risk_types=reasons, monitored_type=None, applicant=sealed, source_ref=None,
                        comment=out["description"] or None, at=at, ps=ps, used={})


def act(conn: Connection, case: int | str, action: str, actor: Actor, *, expected_version: int,
        comment: str | None = None, payload: dict[str, Any] | None = None, at: datetime | None = None,
        params: ParameterSet | None = None, hooks: Hooks | None = None) -> CaseView:
    """Take one step on a case. Refusals raise :class:`CaseError` (bilingual, stable ``code``); a concurrent change
    raises :class:`CaseConflict`. ``expected_version`` is the version the actor saw."""
    wf = workflow()
    check_actor(actor)
    at = at or now()
    on = at.date()
    ps = params_or_default(params)
    hooks = hooks or default_hooks()
    row = _row(conn, case)
    if row["version"] != expected_version:
        raise conflict("案件 / case", row["id"], expected_version, row["version"])
    state = wf.states[row["state"]]
    tr = wf.transition(row["state"], action)
    if tr is None:
        allowed = [f"{t.action}({wf.actions[t.action]['zh']})" for t in wf.actions_from(row["state"])]
        name = wf.actions.get(action, {}).get("zh", action)
        raise refuse("CASE_STEP_NOT_ALLOWED",
                     f"案件处于“{state.zh}”,不能“{name}”;可办理:{'、'.join(allowed) or '无(已办结)'}",
                     f"The case is '{state.en}': '{action}' is not possible now; possible: "
                     f"{', '.join(t.action for t in wf.actions_from(row['state'])) or 'none (closed)'}",
                     state=row["state"], allowed=[t.action for t in wf.actions_from(row["state"])])
    if actor.role not in tr.roles:
        raise refuse("CASE_ROLE_NOT_ALLOWED",
                     f"“{wf.actions[action]['zh']}”须由{'或'.join(wf.roles[r].zh for r in tr.roles)}办理,"
                     f"{wf.roles[actor.role].zh}无权办理",
                     f"'{action}' must be done by {' or '.join(tr.roles)}, not by a {actor.role}",
                     allowed_roles=list(tr.roles))
    require_region(actor, row["region_code"])
    if tr.comment_required and not (comment and comment.strip()):
        raise refuse("CASE_COMMENT_REQUIRED", f"“{wf.actions[action]['zh']}”须填写理由", f"'{action}' needs a reason "
                     "(comment)")
    ctx = Ctx(conn=conn, case=row, tr=tr, actor=actor, payload=dict(payload or {}), comment=comment, at=at, on=on,
              ps=ps, hooks=hooks, hh_no=_hh_no(conn, row["household_id"]))
    if "record_proposal" in tr.effects:
        normalise_proposal(ctx)
    for g in tr.guards:
        GUARDS[g](ctx)
    for e in tr.effects:
        EFFECTS[e](ctx)
    to = wf.states[tr.to_state]
    if to.terminal:
        ctx.changes["closed_on"] = on
        if tr.to_state == "REJECTED":
            ctx.changes["decided_on"] = on
    new_version = expected_version + 1
    try:
        res = conn.execute(update(CaseFile).where(CaseFile.id == row["id"], CaseFile.version == expected_version)
                           .values(state=tr.to_state, version=new_version, updated_at=at, **ctx.changes))
    except IntegrityError:
        raise refuse("CASE_ALREADY_OPEN", "该户已有其他在办案件", "The household already has another open case") from None
    if res.rowcount != 1:
        current = conn.execute(select(CaseFile.version).where(CaseFile.id == row["id"])).scalar()
        raise conflict("案件 / case", row["id"], expected_version, current)
    hh_no = ctx.hh_no or _hh_no(conn, ctx.changes.get("household_id", row["household_id"]))
    conn.execute(insert(CaseEvent).values(
        case_id=row["id"], seq=new_version, action=action, from_state=row["state"], to_state=tr.to_state,
        actor_user_id=actor.user_id, actor_name=actor.name, actor_role=actor.role, actor_region=actor.region_code,
        at=at, on_date=on, comment=comment, payload=jsonable({**ctx.payload, **ctx.record}),
        household_snapshot=snapshot(conn, hh_no, on), policy_version=ps.version,
        policy_values={**ctx.used, "_transition": {"policy": tr.policy}}))
    if tr.to_state != row["state"]:  # leaving a state answers the escalations about it
        conn.execute(update(CaseEscalation).where(
            CaseEscalation.case_id == row["id"], CaseEscalation.resolved_on.is_(None),
            or_(CaseEscalation.subject.like(f"case:{row['id']}:state:{row['state']}@%"),
                CaseEscalation.subject == (f"case:{row['id']}:identification" if to.phase != "identification"
                                           else "-")),
        ).values(resolved_on=on))
    for fn in ctx.after:
        fn()
    return get_case(conn, row["id"])


def removal_checklist(conn: Connection, case: int | str, *, on: date | None = None, method: str = "BFXC",
                      reason: str | None = None, person_id: int | None = None, params: ParameterSet | None = None,
                      hooks: Hooks | None = None) -> Checklist:
    """The POLICY.md §9 checklist for a monitored case, computed from registry data as of ``on``."""
    row = _row(conn, case)
    if row["identified_on"] is None or row["household_id"] is None:
        raise refuse("CASE_NOT_MONITORED", "该案件尚未纳入监测,无风险消除清单",
                     "The case is not monitored yet: no removal checklist")
    c = codes.lookup("risk_removal_methods", method)
    return removal_checklist_for(row, conn, on or date.today(), params_or_default(params), hooks or default_hooks(),
                                 _hh_no(conn, row["household_id"]), c.code if c else method, reason, person_id)
