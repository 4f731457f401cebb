"""Risk-removal conditions (风险消除条件, POLICY.md §9) computed from registry data, shown as a checklist.

Assisted removal (帮扶消除 BFXC) needs ALL of:
  INCOME_STABLE      each of the last N complete months (N = removal_min_stable_income_months) has a monthly income
                     record and its annualised per-capita net income is ≥ the monitoring line in force;
  RIGID_SPENDING     over the same months, net income + claims − compliant out-of-pocket medical − education spending
                     (the sudden-hardship reference income, POLICY.md §3, switches from parameters) stays ≥ the line;
  GUARANTEES         latest 三保障 + drinking water status: housing safe, no dropout, water safe, everyone insured;
  NO_NEW_RISK        no open alert (hook from the monitoring module) and the latest follow-up visit found no new risk;
  MONTHS_SINCE_ID    ≥ removal_min_months_since_identification months since identification;
  MEASURE_DELIVERED  ≥ 1 measure delivery recorded on the household's chain;
  HAS_LABOUR         at least one member has labour capacity — whole-household-no-labour households stay monitored.
Natural removal (自然消除 ZRXC) needs a natural reason confirmed by the registry instead (death of the member who
caused the risk, whole household deceased, moved away). A removal within removal_early_flag_days of
identification is flagged (POLICY.md §9) — a flag, not a refusal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from fangpin.cases.common import has_labour, param, params_or_default
from fangpin.cases.hooks import Hooks, default_hooks
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, FollowUpVisit, MeasureDelivery
from fangpin.policy import ParameterSet

from fangpin.registry.service import current_guarantees, current_income, current_members, household_as_of

__all__ = ["CheckItem", "Checklist", "NATURAL_REASONS", "assisted_checklist", "natural_checklist", "add_months"]

NATURAL_REASONS = {
    "RISK_MEMBER_DECEASED": ("导致风险的家庭成员死亡", "The member who caused the risk has died"),
    "HOUSEHOLD_DECEASED": ("全户死亡", "The whole household is deceased"),
    "MOVED_AWAY": ("全户迁出", "The household moved away"),
}
_DEATH = {"死亡", "death", "deceased"}
_MOVED = {"迁出", "moved_out", "household_moved", "moved"}


@dataclass(frozen=True)
class CheckItem:
    code: str
    ok: bool
    zh: str
    en: str
    policy: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checklist:
    method: str  # BFXC / ZRXC
    on: date
    items: tuple[CheckItem, ...]
    early_removal_flag: bool = False

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failing(self) -> list[CheckItem]:
        return [i for i in self.items if not i.ok]


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    import calendar

    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _last_months(on: date, n: int) -> list[str]:
    first = date(on.year, on.month, 1)
    return [add_months(first, -k).strftime("%Y-%m") for k in range(1, n + 1)]


def assisted_checklist(conn: Connection, *, household_id: int, hh_no: str, region: str, identified_on: date | None,
                       on: date, params: ParameterSet | None = None, hooks: Hooks | None = None,
                       used: dict | None = None) -> Checklist:
    ps = params_or_default(params)
    hooks = hooks or default_hooks()
    used = {} if used is None else used
    n = int(param(ps, "removal_min_stable_income_months", region, on, used))
    line = float(param(ps, "monitoring_line", region, on, used))
    uses_claims = bool(param(ps, "sudden_hardship_uses_claims", region, on, used, required=False))
    deducts_oop = bool(param(ps, "sudden_hardship_deducts_compliant_oop", region, on, used, required=False))
    min_months = int(param(ps, "removal_min_months_since_identification", region, on, used))
    early_days = param(ps, "removal_early_flag_days", region, on, used, required=False)

    view = household_as_of(conn, hh_no, on)
    members = view.members if view else []
    size = len(members)
    items: list[CheckItem] = []

    # -- income stable ≥ N months above the line (POLICY.md §9)
    months = _last_months(on, n)
    inc = current_income(on).subquery()
    rows = {r["period"]: r for r in conn.execute(
        select(inc).where(and_(inc.c.household_id == household_id, inc.c.period.in_(months)))).mappings()}
    per_month = []
    for p in months:
        r = rows.get(p)
        if r is None or size == 0:
            per_month.append({"period": p, "recorded": r is not None, "pc_annual": None})
            continue
        net = float(r["wage"]) + float(r["business"]) + float(r["property"]) + float(r["transfer"]) - float(
            r["business_cost"])
        per_month.append({"period": p, "recorded": True, "pc_annual": round(net * 12 / size, 2), "net": net,
                          "claims": float(r["claims"]), "medical_oop": float(r["medical_oop"]),
                          "education_cost": float(r["education_cost"])})
    income_ok = size > 0 and all(m["pc_annual"] is not None and m["pc_annual"] >= line for m in per_month)
    items.append(CheckItem(
        "INCOME_STABLE", income_ok, f"收入持续稳定 {n} 个月且高于监测标准 {line:g} 元",
        f"Income stable for {n} months and above the monitoring line ({line:g} yuan)",
        "POLICY.md §9 (income stable ≥ 6 months above the current line); §3 line",
        {"months": per_month, "line": line, "household_size": size}))

    # -- large rigid spending resolved: reference income over the window stays above the line (POLICY.md §3, §9)
    if size > 0 and all(m["pc_annual"] is not None for m in per_month):
        ref = sum(m["net"] + (m["claims"] if uses_claims else 0) - (m["medical_oop"] if deducts_oop else 0)
                  - m["education_cost"] for m in per_month)
        ref_pc = round(ref * 12 / len(per_month) / size, 2)
        rigid_ok = ref_pc >= line
    else:
        ref_pc, rigid_ok = None, False
    items.append(CheckItem(
        "RIGID_SPENDING", rigid_ok, "大额刚性支出已解决(扣除合规自付医疗和教育支出后仍高于监测标准)",
        "Large rigid spending resolved (after compliant out-of-pocket medical and education costs income stays "
        "above the line)", "POLICY.md §9 (rigid spending resolved); §3 reference income",
        {"reference_pc_annual": ref_pc, "line": line}))

    # -- three guarantees + drinking water (POLICY.md §9; seed 004 line 43 两不愁三保障及饮水安全)
    gq = current_guarantees(on).subquery()
    g = conn.execute(select(gq).where(gq.c.household_id == household_id)).mappings().first()
    if g is None:
        g_ok, g_detail = False, {"recorded": False}
    else:
        g_detail = {"status_date": str(g["status_date"]), "housing_safe": bool(g["housing_safe"]),
                    "dropout": bool(g["dropout"]), "water_safe": bool(g["water_safe"]),
                    "uninsured_member": bool(g["uninsured_member"])}
        g_ok = bool(g["housing_safe"]) and not g["dropout"] and bool(g["water_safe"]) and not g["uninsured_member"]
    items.append(CheckItem("GUARANTEES", g_ok, "三保障和饮水安全有保障", "Three guarantees and drinking water secure",
                           "POLICY.md §9 (三保障 + drinking water secure)", g_detail))

    # -- no new risk (POLICY.md §9): monitoring hook + latest follow-up visit
    alerts = bool(hooks.has_open_alerts(conn, household_id, on))
    last_visit = conn.execute(
        select(FollowUpVisit.done_on, FollowUpVisit.new_risk).join(AssistancePlan,
                                                                   AssistancePlan.id == FollowUpVisit.plan_id)
        .where(AssistancePlan.household_id == household_id, FollowUpVisit.done_on.is_not(None),
               FollowUpVisit.done_on <= on)
        .order_by(FollowUpVisit.done_on.desc(), FollowUpVisit.id.desc()).limit(1)).first()
    visit_risk = bool(last_visit and last_visit[1])
    items.append(CheckItem("NO_NEW_RISK", not alerts and not visit_risk, "无新的返贫致贫风险",
                           "No new risk of (re)lapse", "POLICY.md §9 (no new risk)",
                           {"open_alerts": alerts, "last_visit_found_new_risk": visit_risk}))

    # -- ≥ 6 months since identification (POLICY.md §9)
    since_ok = identified_on is not None and add_months(identified_on, min_months) <= on
    items.append(CheckItem("MONTHS_SINCE_ID", since_ok, f"纳入监测已满 {min_months} 个月",
                           f"At least {min_months} months since identification", "POLICY.md §9",
                           {"identified_on": str(identified_on) if identified_on else None}))

    # -- ≥ 1 measure delivered (POLICY.md §9)
    delivered = conn.execute(
        select(func.count(MeasureDelivery.id)).join(AssistanceMeasure, AssistanceMeasure.id == MeasureDelivery.measure_id)
        .join(AssistancePlan, AssistancePlan.id == AssistanceMeasure.plan_id)
        .where(AssistancePlan.household_id == household_id, MeasureDelivery.delivered_on <= on)).scalar_one()
    items.append(CheckItem("MEASURE_DELIVERED", delivered >= 1, "至少落实一项帮扶措施",
                           "At least one measure delivered", "POLICY.md §9", {"deliveries": int(delivered)}))

    # -- households whose members all lack labour stay monitored (POLICY.md §9)
    labour = [m.get("name") for m in members if has_labour(m)]
    items.append(CheckItem("HAS_LABOUR", bool(labour), "家庭有劳动能力成员(无劳动能力户继续监测)",
                           "At least one member with labour capacity (no-labour households stay monitored)",
                           "POLICY.md §9 (whole-household-no-labour households stay monitored)",
                           {"members_with_labour": len(labour), "members": size}))

    early = bool(identified_on and early_days is not None and (on - identified_on).days <= int(early_days))
    return Checklist("BFXC", on, tuple(items), early)


def natural_checklist(conn: Connection, *, household_id: int, hh_no: str, region: str, identified_on: date | None,
                      on: date, reason: str | None, person_id: int | None, params: ParameterSet | None = None,
                      used: dict | None = None) -> Checklist:
    """自然消除 (POLICY.md §9): the natural reason must be confirmed by registry data."""
    ps = params_or_default(params)
    early_days = param(ps, "removal_early_flag_days", region, on, used, required=False)
    items: list[CheckItem] = []
    if reason not in NATURAL_REASONS:
        items.append(CheckItem("NATURAL_REASON", False, f"自然消除原因应为:{'、'.join(v[0] for v in NATURAL_REASONS.values())}",
                               f"Natural removal needs a reason: {', '.join(NATURAL_REASONS)}", "POLICY.md §9",
                               {"reason": reason}))
        return Checklist("ZRXC", on, tuple(items))
    zh, en = NATURAL_REASONS[reason]
    mq = current_members(on).subquery()
    latest = [dict(r) for r in conn.execute(select(mq).where(mq.c.household_id == household_id)).mappings()]
    active = [m for m in latest if m["active"]]
    detail: dict[str, Any] = {"reason": reason, "active_members": len(active)}
    if reason == "HOUSEHOLD_DECEASED":
        ok = bool(latest) and not active and all((m["end_reason"] or "") in _DEATH for m in latest)
    elif reason == "MOVED_AWAY":
        view = household_as_of(conn, hh_no, on)
        hh_inactive = view is not None and not view.attributes.get("active", True)
        ok = hh_inactive or (bool(latest) and not active and all((m["end_reason"] or "") in _MOVED for m in latest))
        detail["household_active"] = not hh_inactive
    else:  # RISK_MEMBER_DECEASED
        m = next((x for x in latest if person_id is not None and x["person_id"] == person_id), None)
        ok = m is not None and not m["active"] and (m["end_reason"] or "") in _DEATH
        detail["person_id"] = person_id
    items.append(CheckItem("NATURAL_REASON", ok, f"自然消除原因经基础数据库核实:{zh}",
                           f"Natural reason confirmed by the registry: {en}", "POLICY.md §9 (自然消除)", detail))
    early = bool(identified_on and early_days is not None and (on - identified_on).days <= int(early_days))
    return Checklist("ZRXC", on, tuple(items), early)
