"""Relocation resettlement sites (易地扶贫搬迁安置区) and follow-up support — seed 004 §三(四) line 49:
聚焦…大型特大型安置区,从就业需要、产业发展和后续配套设施建设提升完善等方面加大扶持力度…确保搬迁群众稳得住、有就业、
逐步实现致富. 提升安置区社区管理服务水平.

Dashboard per site from the registry and the other modules: households and persons, employment of relocated labour
(a working-age member with labour capacity counts as employed with migrant work months > 0 in the registry or an
active public-welfare post), monitored share (a case in monitoring or an open alert), per-capita net income of the
last 12 months against the monitoring line, and "large site" from the dated parameter
``large_resettlement_site_persons`` (cn.yaml, 800 persons [V]).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from fangpin.cases.common import has_labour
from fangpin.programmes.common import Actor, household_on, now, require_region, require_role, require_scope
from fangpin.programmes.errors import refuse
from fangpin.programmes.models import PwjHire, ResettlementSite, SiteHousehold, SiteSupport

ROLES = ("township_officer", "county_officer", "admin")
SUPPORT_KINDS = {"employment": ("就业帮扶", "Employment"), "industry": ("产业发展", "Industry"),
                 "facility": ("配套设施", "Facilities"), "service": ("社区服务", "Community services")}
REFERENCE = "seed 004 §三(四) line 49"


def create_site(conn: Connection, actor: Actor, *, name: str, region_code: str, site_kind: str, opened_on: date,
                services: list[str] | None = None, at: datetime | None = None) -> int:
    require_role(actor, ROLES, "登记安置区", "register resettlement sites")
    require_scope(actor, region_code)
    require_region(conn, region_code)
    if site_kind not in ("urban", "town", "village"):
        raise refuse("SITE_BAD_KIND", "安置方式应为 urban/town/village(城镇/集镇/中心村)",
                     "Site kind must be urban, town or village")
    if not (name or "").strip():
        raise refuse("SITE_NAME_REQUIRED", "请填写安置区名称", "A site needs a name")
    return conn.execute(insert(ResettlementSite).returning(ResettlementSite.id), {
        "name": name.strip(), "region_code": region_code, "site_kind": site_kind, "opened_on": opened_on,
        "services": list(services or []), "created_at": at or now()}).scalar_one()


def _site(conn: Connection, site_id: int) -> dict:
    s = conn.execute(select(ResettlementSite.__table__).where(ResettlementSite.id == site_id)).mappings().first()
    if s is None:
        raise refuse("SITE_NONE", f"安置区 {site_id} 不存在", f"Site {site_id} does not exist")
    return dict(s)


def add_households(conn: Connection, actor: Actor, *, site_id: int, household_ids: list[int], moved_in_on: date,
                   at: datetime | None = None) -> int:
    """Only households the registry marks as relocated (是否易地搬迁) can live at a site. All or nothing."""
    require_role(actor, ROLES, "登记搬迁户", "register relocated households")
    s = _site(conn, site_id)
    require_scope(actor, s["region_code"])
    bad = []
    for hid in household_ids:
        hv = household_on(conn, hid, date.max)  # the current view (history may start later)
        if hv is None or not hv["relocated"] or not hv["active"]:
            bad.append(hid)
    if bad:
        raise refuse("SITE_NOT_RELOCATED", f"{len(bad)} 户在基础数据库中不是易地搬迁户,未保存",
                     f"{len(bad)} household(s) are not marked as relocated in the registry; nothing saved",
                     households=bad)
    taken = set(conn.execute(select(SiteHousehold.household_id).where(
        SiteHousehold.household_id.in_(household_ids))).scalars())
    rows = [{"site_id": site_id, "household_id": h, "moved_in_on": moved_in_on, "recorded_at": at or now()}
            for h in household_ids if h not in taken]
    if rows:
        conn.execute(insert(SiteHousehold), rows)
    return len(rows)


def add_support(conn: Connection, actor: Actor, *, site_id: int, kind: str, title: str, started_on: date,
                amount: float | None = None, at: datetime | None = None) -> int:
    require_role(actor, ROLES, "登记后续扶持措施", "record follow-up support")
    s = _site(conn, site_id)
    require_scope(actor, s["region_code"])
    if kind not in SUPPORT_KINDS:
        raise refuse("SITE_BAD_SUPPORT", f"扶持类型应为 {'/'.join(SUPPORT_KINDS)}", f"Kind must be one of {list(SUPPORT_KINDS)}")
    return conn.execute(insert(SiteSupport).returning(SiteSupport.id), {
        "site_id": site_id, "kind": kind, "title": title, "started_on": started_on, "amount": amount,
        "recorded_at": at or now()}).scalar_one()


def household_facts(conn: Connection, household_ids: list[int], on: date) -> dict[int, dict]:
    """Per household: size, labour (16–64 with labour capacity), employed labour, pc net income of the 12 months
    up to ``on`` (latest figures per month), monitored flag. Shared with the scorecards."""
    from fangpin.alerts.models import Alert
    from fangpin.cases.models import CaseFile
    from fangpin.cases.workflow import workflow
    from fangpin.registry.models import IncomeRecord, MemberVersion

    if not household_ids:
        return {}
    ids = sorted(set(household_ids))
    facts = {h: {"size": 0, "labour": 0, "employed": 0, "net_12m": 0.0, "months": 0, "monitored": False}
             for h in ids}
    hired = set(conn.execute(select(PwjHire.person_id).where(PwjHire.household_id.in_(ids),
                                                             PwjHire.status == "active")).scalars())
    latest: dict[int, dict] = {}
    for m in conn.execute(select(MemberVersion.__table__).where(MemberVersion.household_id.in_(ids),
                                                                MemberVersion.valid_from <= on)
                          .order_by(MemberVersion.valid_from, MemberVersion.recorded_at, MemberVersion.id)).mappings():
        latest[m["person_id"]] = dict(m)
    for m in latest.values():
        if not m["active"] or m["household_id"] not in facts:
            continue
        f = facts[m["household_id"]]
        f["size"] += 1
        age = on.year - m["birth_date"].year
        if 16 <= age <= 64 and has_labour(m):
            f["labour"] += 1
            if (m.get("migrant_months") or 0) > 0 or m["person_id"] in hired:
                f["employed"] += 1
    start = f"{on.year - 1:04d}-{on.month:02d}"
    end = f"{on.year:04d}-{on.month:02d}"
    months: dict[tuple[int, str], float] = {}
    for r in conn.execute(select(IncomeRecord.household_id, IncomeRecord.period, IncomeRecord.wage,
                                 IncomeRecord.business, IncomeRecord.property, IncomeRecord.transfer,
                                 IncomeRecord.business_cost)
                          .where(IncomeRecord.household_id.in_(ids), func.length(IncomeRecord.period) == 7,
                                 IncomeRecord.period > start, IncomeRecord.period <= end, IncomeRecord.period_end <= on)
                          .order_by(IncomeRecord.recorded_at, IncomeRecord.id)):
        months[(r.household_id, r.period)] = r.wage + r.business + r.property + r.transfer - r.business_cost
    for (h, _), net in months.items():
        facts[h]["net_12m"] += net
        facts[h]["months"] += 1
    states = workflow().states
    for h, st in conn.execute(select(CaseFile.household_id, CaseFile.state).where(CaseFile.household_id.in_(ids))):
        if states[st].phase in ("monitoring", "removal"):
            facts[h]["monitored"] = True
    for h in conn.execute(select(Alert.household_id).where(Alert.household_id.in_(ids),
                                                           Alert.status.in_(("open", "case_opened")))).scalars():
        facts[h]["monitored"] = True
    for f in facts.values():
        f["pc_net_12m"] = (round(f["net_12m"] * 12 / f["months"] / f["size"], 2)
                           if f["months"] >= 6 and f["size"] else None)
    return facts


def dashboard(conn: Connection, scope: str, on: date) -> list[dict]:
    """One row per site in ``scope``: the site dashboard figures (module docstring)."""
    from fangpin.policy import load_parameters

    ps = load_parameters()
    out = []
    for s in conn.execute(select(ResettlementSite.__table__).where(ResettlementSite.region_code.startswith(scope))
                          .order_by(ResettlementSite.id)).mappings():
        hh = list(conn.execute(select(SiteHousehold.household_id).where(SiteHousehold.site_id == s["id"])).scalars())
        facts = household_facts(conn, hh, on)
        line = ps.get("monitoring_line", s["region_code"], on)
        large = ps.get("large_resettlement_site_persons", s["region_code"], on)
        persons = sum(f["size"] for f in facts.values())
        labour = sum(f["labour"] for f in facts.values())
        employed = sum(f["employed"] for f in facts.values())
        incomes = [f["pc_net_12m"] for f in facts.values() if f["pc_net_12m"] is not None]
        supports = dict(conn.execute(select(SiteSupport.kind, func.count()).where(SiteSupport.site_id == s["id"])
                                     .group_by(SiteSupport.kind)).all())
        out.append({**dict(s), "households": len(hh), "persons": persons, "labour": labour, "employed": employed,
                    "employment_rate": round(employed / labour, 4) if labour else None,
                    "monitored": sum(f["monitored"] for f in facts.values()),
                    "monitored_share": round(sum(f["monitored"] for f in facts.values()) / len(hh), 4) if hh else None,
                    "mean_pc_income": round(sum(incomes) / len(incomes), 2) if incomes else None,
                    "below_line": sum(1 for x in incomes if x < line.value), "line": line.value,
                    "line_reference": line.reference, "large": persons >= large.value, "large_threshold": large.value,
                    "large_reference": large.reference, "supports": supports})
    return out
