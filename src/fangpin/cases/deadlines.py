"""Time limits (时限, POLICY.md §4.1, §5 [L] day limits from dated parameters), escalation of overdue items to the
next level (逾期督办, idempotent), and KPIs in the manner of seed 000's 7-day / 3-month reply rates."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from fangpin.cases.common import jsonable, now, param, params_or_default
from fangpin.cases.models import (AssistanceMeasure, AssistancePlan, CaseEscalation, CaseEvent, CaseFile,
                                  FollowUpVisit)
from fangpin.cases.workflow import LEVEL_ORDER, workflow
from fangpin.policy import ParameterSet
from fangpin.registry.service import current_households

__all__ = ["OverdueItem", "overdue", "kpis"]

_LEVEL_DIGITS = {"village": 12, "township": 9, "county": 6, "city": 4}


@dataclass(frozen=True)
class OverdueItem:
    rule: str
    subject: str
    case_id: int | None
    case_no: str | None
    household_id: int | None
    region_code: str
    due_date: date
    days_overdue: int
    responsible_level: str
    escalated_to_level: str
    escalated_to_region: str
    escalation_id: int | None
    newly_escalated: bool
    policy: str
    parameters: dict[str, Any]


def _next_level(level: str, region: str) -> tuple[str, str]:
    i = LEVEL_ORDER.index(level)
    up = LEVEL_ORDER[min(i + 1, len(LEVEL_ORDER) - 1)]
    return up, region[:_LEVEL_DIGITS[up]]


def _entered(conn: Connection) -> dict[int, tuple[int, date]]:
    """Per open case: (seq, business date) of the event that entered its current state (self-loops ignored)."""
    e, c = CaseEvent, CaseFile
    q = (select(e.case_id, func.max(e.seq)).join(c, c.id == e.case_id)
         .where(c.closed_on.is_(None), e.to_state == c.state,
                (e.from_state.is_(None)) | (e.from_state != e.to_state)).group_by(e.case_id))
    seqs = dict(conn.execute(q).all())
    if not seqs:
        return {}
    rows = conn.execute(select(e.case_id, e.seq, e.on_date).where(e.case_id.in_(list(seqs)))).all()
    return {cid: (seq, d) for cid, seq, d in rows if seqs.get(cid) == seq}


def _candidates(conn: Connection, today: date, ps: ParameterSet, region: str) -> list[dict]:
    wf = workflow()
    dl = wf.deadlines
    out: list[dict] = []
    cases = [dict(r) for r in conn.execute(select(CaseFile.__table__).where(
        CaseFile.closed_on.is_(None), CaseFile.region_code.startswith(region))).mappings()]
    entered = _entered(conn)
    for c in cases:
        st = wf.states[c["state"]]
        for rule in ("ACCEPT", "HOME_VERIFY", "DATA_CHECK"):
            d = dl[rule]
            if c["state"] not in d["states"] or ("sources" in d and c["source"] not in d["sources"]):
                continue
            seq, since = entered.get(c["id"], (c["version"], c["opened_on"]))
            used: dict = {}
            days = param(ps, d["parameter"], c["region_code"], since, used, required=False)
            if days is None:
                continue
            out.append(dict(rule=rule, subject=f"case:{c['id']}:state:{c['state']}@{seq}", case=c,
                            due=since + timedelta(days=int(days)), level=st.level, policy=d["policy"], used=used))
        if st.phase == "identification":
            d = dl["IDENTIFY"]
            used = {}
            days = param(ps, d["parameter"], c["region_code"], c["opened_on"], used, required=False)
            if days is not None:
                out.append(dict(rule="IDENTIFY", subject=f"case:{c['id']}:identification", case=c,
                                due=c["opened_on"] + timedelta(days=int(days)), level=st.level, policy=d["policy"],
                                used=used))
        if c["identified_on"] is not None and st.phase in ("monitoring", "removal"):
            d = dl["FIRST_MEASURE"]
            has = conn.execute(select(AssistanceMeasure.id).join(AssistancePlan, AssistancePlan.id ==
                                                                 AssistanceMeasure.plan_id)
                               .where(AssistancePlan.household_id == c["household_id"],
                                      AssistanceMeasure.source == "relapse_prevention",
                                      AssistanceMeasure.start_date <= today).limit(1)).first()
            used = {}
            days = param(ps, d["parameter"], c["region_code"], c["identified_on"], used, required=False)
            if not has and days is not None:
                out.append(dict(rule="FIRST_MEASURE", subject=f"case:{c['id']}:first_measure", case=c,
                                due=c["identified_on"] + timedelta(days=int(days)), level=d["level"],
                                policy=d["policy"], used=used))
    # follow-up visits not done by their due date
    hq = current_households(today).subquery()
    vq = (select(FollowUpVisit.id, FollowUpVisit.due_date, FollowUpVisit.case_id, AssistancePlan.household_id,
                 hq.c.region_code)
          .join(AssistancePlan, AssistancePlan.id == FollowUpVisit.plan_id)
          .join(hq, hq.c.household_id == AssistancePlan.household_id)
          .outerjoin(CaseFile, CaseFile.id == FollowUpVisit.case_id)
          .where(FollowUpVisit.done_on.is_(None), FollowUpVisit.due_date < today,
                 hq.c.region_code.startswith(region),
                 # a visit falling due after its case closed (risk removed, rejected) is no longer owed
                 or_(CaseFile.id.is_(None), CaseFile.closed_on.is_(None),
                     FollowUpVisit.due_date <= CaseFile.closed_on)))
    by_id = {c["id"]: c for c in cases}
    for vid, due, cid, hid, reg in conn.execute(vq).all():
        out.append(dict(rule="VISIT", subject=f"visit:{vid}", case=by_id.get(cid), household_id=hid, region=reg,
                        due=due, level=dl["VISIT"]["level"], policy=dl["VISIT"]["policy"], used={}))
    return [o for o in out if today > o["due"]]


def overdue(conn: Connection, today: date, *, region: str = "", escalate: bool = True,
            params: ParameterSet | None = None, at: datetime | None = None) -> list[OverdueItem]:
    """Every overdue item in ``region`` (prefix; "" = all) on ``today``; with ``escalate`` each is escalated one level
    up once (a second run finds the existing escalation and does not add another)."""
    ps = params_or_default(params)
    at = at or now()
    items: list[OverdueItem] = []
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dinsert
    else:
        from sqlalchemy.dialects.sqlite import insert as dinsert
    for o in sorted(_candidates(conn, today, ps, region), key=lambda x: (x["due"], x["subject"])):
        c = o["case"]
        reg = c["region_code"] if c else o["region"]
        level = o["level"] or "county"
        to_level, to_region = _next_level(level, reg)
        esc_id, new = None, False
        existing = conn.execute(select(CaseEscalation.id).where(CaseEscalation.rule == o["rule"],
                                                                CaseEscalation.subject == o["subject"])).scalar()
        if existing is not None:
            esc_id = int(existing)
        elif escalate:
            res = conn.execute(dinsert(CaseEscalation).values(
                case_id=c["id"] if c else None, household_id=c["household_id"] if c else o.get("household_id"),
                rule=o["rule"], subject=o["subject"], due_date=o["due"], detected_on=today, from_level=level,
                to_level=to_level, to_region=to_region, created_at=at, policy_version=ps.version,
                policy_values=jsonable({**o["used"], "_policy": o["policy"]}),
            ).on_conflict_do_nothing(index_elements=["rule", "subject"]).returning(CaseEscalation.id)).scalar()
            new = res is not None
            esc_id = res if new else conn.execute(select(CaseEscalation.id).where(
                CaseEscalation.rule == o["rule"], CaseEscalation.subject == o["subject"])).scalar()
        items.append(OverdueItem(
            rule=o["rule"], subject=o["subject"], case_id=c["id"] if c else None, case_no=c["case_no"] if c else None,
            household_id=c["household_id"] if c else o.get("household_id"), region_code=reg, due_date=o["due"],
            days_overdue=(today - o["due"]).days, responsible_level=level, escalated_to_level=to_level,
            escalated_to_region=to_region, escalation_id=esc_id, newly_escalated=new, policy=o["policy"],
            parameters=o["used"]))
    return items


def _rate(num: int, den: int, zh: str, en: str, policy: str) -> dict[str, Any]:
    return {"value": round(num / den, 4) if den else None, "numerator": num, "denominator": den, "zh": zh, "en": en,
            "policy": policy}


def kpis(conn: Connection, region: str, period: tuple[date, date], *, today: date | None = None,
         params: ParameterSet | None = None) -> dict[str, Any]:
    """KPIs for cases in ``region`` (prefix) over ``period`` = (first day, last day), evaluated as of
    ``min(last day, today)``; items whose deadline has not yet come are not counted."""
    ps = params_or_default(params)
    start, end = period
    as_of = min(end, today or date.today())
    cases = [dict(r) for r in conn.execute(select(CaseFile.__table__).where(
        CaseFile.region_code.startswith(region))).mappings()]

    # 1. identification on time: decision (approve or reject) within identification_max_days of the lead
    num = den = 0
    for c in cases:
        if c["decided_on"] is None or not (start <= c["decided_on"] <= end):
            continue
        lim = param(ps, "identification_max_days", c["region_code"], c["opened_on"], required=False)
        if lim is None:
            continue
        den += 1
        num += (c["decided_on"] - c["opened_on"]).days <= int(lim)
    ident = _rate(num, den, "识别认定按时率(线索至认定≤时限)", "Identification decided on time",
                  "POLICY.md §1, §5 ≤ 15 days")

    # 2. first measure within a month of identification
    first = dict(conn.execute(select(AssistancePlan.household_id, func.min(AssistanceMeasure.start_date))
                              .join(AssistanceMeasure, AssistanceMeasure.plan_id == AssistancePlan.id)
                              .where(AssistanceMeasure.source == "relapse_prevention")
                              .group_by(AssistancePlan.household_id)).all())
    num = den = 0
    for c in cases:
        if c["identified_on"] is None or not (start <= c["identified_on"] <= end):
            continue
        lim = int(param(ps, "first_measure_max_days", c["region_code"], c["identified_on"]))
        due = c["identified_on"] + timedelta(days=lim)
        f = first.get(c["household_id"])
        if f is None and due >= as_of:
            continue  # still within the limit: not yet countable
        den += 1
        num += f is not None and f <= due
    measures = _rate(num, den, "认定后一个月内落实帮扶措施率", "Measures started within a month of identification",
                     "POLICY.md §5")

    # 3. follow-up visits done on time
    hq = current_households(as_of).subquery()
    rows = conn.execute(select(FollowUpVisit.due_date, FollowUpVisit.done_on)
                        .join(AssistancePlan, AssistancePlan.id == FollowUpVisit.plan_id)
                        .join(hq, hq.c.household_id == AssistancePlan.household_id)
                        .where(hq.c.region_code.startswith(region), FollowUpVisit.due_date >= start,
                               FollowUpVisit.due_date <= end, FollowUpVisit.due_date < as_of)).all()
    visits = _rate(sum(1 for due, done in rows if done is not None and done <= due), len(rows),
                   "按期回访率", "Follow-up visits on time", "POLICY.md §4.2; seed 004 line 45")

    # 4. removals within removal_early_flag_days of identification (flag count)
    early = []
    for c in cases:
        if c["removed_on"] is None or not (start <= c["removed_on"] <= end) or c["identified_on"] is None:
            continue
        lim = param(ps, "removal_early_flag_days", c["region_code"], c["removed_on"], required=False)
        if lim is not None and (c["removed_on"] - c["identified_on"]).days <= int(lim):
            early.append(c["case_no"])
    open_esc = conn.execute(select(func.count(CaseEscalation.id))
                            .join(CaseFile, CaseFile.id == CaseEscalation.case_id)
                            .where(CaseEscalation.resolved_on.is_(None), CaseFile.region_code.startswith(region))
                            ).scalar_one()
    counts = {
        "leads_opened": sum(start <= c["opened_on"] <= end for c in cases),
        "identified": sum(c["identified_on"] is not None and start <= c["identified_on"] <= end for c in cases),
        "rejected": sum(c["state"] == "REJECTED" and c["decided_on"] is not None and start <= c["decided_on"] <= end
                        for c in cases),
        "removed": sum(c["removed_on"] is not None and start <= c["removed_on"] <= end for c in cases),
        "open_escalations": int(open_esc),
    }
    return {"region": region, "period": [start.isoformat(), end.isoformat()], "as_of": as_of.isoformat(),
            "identification_on_time": ident, "measures_within_month": measures, "visits_on_time": visits,
            "early_removal_flags": {"value": len(early), "cases": early, "zh": "认定后一个月内消除风险(需复核)",
                                    "en": "Removals within a month of identification (flagged)",
                                    "policy": "POLICY.md §9"},
            "counts": counts, "policy_version": ps.version}
