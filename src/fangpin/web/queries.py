"""Region-scoped reads for the web adapter. Every query takes the user's region prefix; nothing here decides
anything (reads built on fangpin.registry.service and the alert/case tables; changes go through fangpin.cases)."""
from __future__ import annotations

import copy
import threading
import time
from collections import OrderedDict
from datetime import date
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from fangpin.alerts.models import Alert
from fangpin.cases import find_cases, history
from fangpin.cases.models import CaseFile
from fangpin.ids import mask_id
from fangpin.registry.models import Region
from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE
from fangpin.registry.service import current_income, household_as_of, region_prefix


def mask_phone(p: str | None) -> str:
    if not p:
        return ""
    return p[:3] + "*" * max(len(p) - 7, 0) + p[-4:] if len(p) > 7 else "*" * len(p)


def region_names(conn: Connection, codes: list[str]) -> dict[str, str]:
    codes = sorted({c.ljust(12, "0") for c in codes if c})
    if not codes:
        return {}
    rows = conn.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all()
    return {r.code: r.name for r in rows}


# Cached reads. Registry reads, dashboard counts and the county figures are expensive on a county of a million
# people and are read far more often than the data changes. A result is cached under the *data version*: the largest
# id of every append-mostly table the reads depend on (versions, alerts, monitoring runs, case events, measures,
# visits, escalations, feed batches, link reviews, income, guarantees) — one statement of indexed max() reads — plus
# the date. Anything recorded changes a key; the few in-place updates (an alert closed by a run, an escalation
# resolved) come with a new monitoring run or case event. A TTL bounds staleness for anything else.
_CACHE: "OrderedDict[tuple, Any]" = OrderedDict()
_CACHE_MAX = 1024
_CACHE_LOCK = threading.Lock()
CACHE_TTL_SECONDS = 120
_VERSION_TABLES = ("household_version", "member_version", "alert", "monitor_run", "case_event", "case_escalation",
                   "assistance_measure", "follow_up_visit", "import_batch", "link_review", "income_record",
                   "guarantee_status")
_VERSION_SQL = "SELECT " + ", ".join(f"(SELECT max(id) FROM {t})" for t in _VERSION_TABLES)


def data_version(conn: Connection) -> tuple:
    from sqlalchemy import text

    return (str(conn.engine.url), tuple(conn.execute(text(_VERSION_SQL)).one()), date.today())


_KEY_LOCKS: dict[tuple, threading.Lock] = {}


def _cached(conn: Connection, args: tuple, compute, ttl: float = CACHE_TTL_SECONDS):
    key = data_version(conn) + args
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < ttl:
            _CACHE.move_to_end(key)
            return copy.deepcopy(hit[1])
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:  # single flight: twenty users opening the same cold page wait for one computation, not twenty
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None and time.monotonic() - hit[0] < ttl:
                return copy.deepcopy(hit[1])
        value = compute()
        with _CACHE_LOCK:
            _CACHE[key] = (time.monotonic(), copy.deepcopy(value))
            while len(_CACHE) > _CACHE_MAX:
                _CACHE.popitem(last=False)
            _KEY_LOCKS.pop(key, None)
    return value


def cached(conn: Connection, args: tuple, compute):
    """Public face of the data-version cache for other web modules (e.g. the dashboard figures)."""
    return _cached(conn, args, compute)


def household_page(conn: Connection, scope: str, page: int, per_page: int, village: str | None = None) -> dict:
    prefix = scope if not village or not village.startswith(scope) else village
    return _cached(conn, ("household_page", prefix, page, per_page),
                   lambda: _household_page(conn, prefix, page, per_page))


def _household_page(conn: Connection, prefix: str, page: int, per_page: int) -> dict:
    """One page of the region's active current households (``household_current``, fangpin.registry.current)."""
    from fangpin.registry.models import HouseholdCurrent, HouseholdVersion, MemberCurrent

    hc, hv, mc = HouseholdCurrent.__table__, HouseholdVersion.__table__, MemberCurrent.__table__
    cond = [region_prefix(hc.c.region_code, prefix), hc.c.active.is_(True)]
    total = conn.execute(select(func.count()).select_from(hc).where(*cond)).scalar_one()
    keys = select(hc.c.household_id, hc.c.hh_no, hc.c.version_id).where(*cond).order_by(hc.c.hh_no) \
        .limit(per_page).offset((page - 1) * per_page).subquery()
    rows = conn.execute(select(keys.c.household_id, keys.c.hh_no, hv.c.region_code, hv.c.hh_type, hv.c.relocated,
                               hv.c.head_id_enc).join(hv, hv.c.id == keys.c.version_id).order_by(keys.c.hh_no)
                        ).mappings().all()
    ids = [r["household_id"] for r in rows]
    sizes: dict[int, int] = {}
    if ids:
        sizes = dict(conn.execute(select(mc.c.household_id, func.count()).where(
            mc.c.household_id.in_(ids), mc.c.active.is_(True)).group_by(mc.c.household_id)).all())
    items = [{"hh_no": r["hh_no"], "region_code": r["region_code"], "hh_type": r["hh_type"],
              "relocated": bool(r["relocated"]), "head_id_masked": mask_id(decrypt(r["head_id_enc"], P_HEAD_ID)),
              "members": int(sizes.get(r["household_id"], 0))} for r in rows]
    return {"total": int(total), "page": page, "per_page": per_page, "items": items}


def household_detail(conn: Connection, scope: str, hh_no: str) -> dict | None:
    """One household as of today, or None when unknown or outside ``scope`` (the caller answers 404)."""
    hv = household_as_of(conn, hh_no)
    if hv is None or not str(hv.attributes.get("region_code", "")).startswith(scope):
        return None
    a = hv.attributes
    members = [{"person_id": m["person_id"], "name": m["name"], "sex": m["sex"],
                "birth_date": m["birth_date"].isoformat() if m["birth_date"] else None, "relation": m["relation"],
                "health": m["health"], "id_masked": mask_id(decrypt(m["id_number_enc"], P_PERSON_ID))} for m in hv.members]
    iq = current_income().subquery()
    income = [dict(r) for r in conn.execute(
        select(iq.c.period, iq.c.wage, iq.c.business, iq.c.property, iq.c.transfer, iq.c.business_cost,
               iq.c.medical_oop).where(iq.c.household_id == hv.household_id)
        .order_by(iq.c.period.desc()).limit(24)).mappings()]
    alerts = alert_rows(conn, scope, household_id=hv.household_id, status=None, limit=100)
    cases = []
    for c in find_cases(conn, region=scope, household=hv.household_id):
        cases.append({**case_dict(c), "history": event_rows(history(conn, c.id))})
    return {"hh_no": hh_no, "household_id": hv.household_id, "region_code": a["region_code"],
            "hh_type": a["hh_type"], "relocated": bool(a["relocated"]), "phone_masked": mask_phone(decrypt(a.get("phone_enc"), P_PHONE)),
            "head_id_masked": mask_id(decrypt(a.get("head_id_enc"), P_HEAD_ID)), "active": bool(a["active"]),
            "valid_from": a["valid_from"].isoformat(), "members": members, "guarantees": _guarantees(hv.guarantees),
            "income": income, "alerts": alerts, "cases": cases}


def _guarantees(g: dict | None) -> dict | None:
    if not g:
        return None
    return {k: g[k] for k in ("housing_safe", "dropout", "water_safe", "uninsured_member")} | {
        "status_date": g["status_date"].isoformat()}


def alert_rows(conn: Connection, scope: str, *, status: str | None = "open", household_id: int | None = None,
               rule: str | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
    from fangpin.registry.models import Household

    a = Alert.__table__
    q = select(a, Household.hh_no).join(Household, Household.id == a.c.household_id).where(
        region_prefix(a.c.region_code, scope))
    if status:
        q = q.where(a.c.status == status)
    if household_id is not None:
        q = q.where(a.c.household_id == household_id)
    if rule:
        q = q.where(a.c.rule_id == rule)
    rows = conn.execute(q.order_by(a.c.last_as_of.desc(), a.c.id.desc()).limit(limit).offset(offset)).mappings().all()
    return [{"id": r["id"], "hh_no": r["hh_no"], "region_code": r["region_code"], "rule_id": r["rule_id"],
             "risk_types": list(r["risk_types"] or []), "status": r["status"],
             "first_as_of": r["first_as_of"].isoformat(), "last_as_of": r["last_as_of"].isoformat(),
             "evidence": r["evidence"], "param_version": r["param_version"], "rules_version": r["rules_version"],
             "case_id": r["case_id"]} for r in rows]


def count_alerts(conn: Connection, scope: str, status: str = "open", rule: str | None = None) -> int:
    return _cached(conn, ("count_alerts", scope, status, rule), lambda: _count_alerts(conn, scope, status, rule))


def _count_alerts(conn: Connection, scope: str, status: str, rule: str | None) -> int:
    q = select(func.count()).select_from(Alert).where(region_prefix(Alert.region_code, scope), Alert.status == status)
    if rule:
        q = q.where(Alert.rule_id == rule)
    return int(conn.execute(q).scalar_one())


def alert_in_scope(conn: Connection, scope: str, alert_id: int) -> dict | None:
    r = conn.execute(select(Alert.id, Alert.region_code, Alert.status).where(Alert.id == alert_id)).first()
    if r is None or not r.region_code.startswith(scope):
        return None
    return {"id": r.id, "region_code": r.region_code, "status": r.status}


def case_in_scope(conn: Connection, scope: str, case_id: int) -> bool:
    r = conn.execute(select(CaseFile.region_code).where(CaseFile.id == case_id)).scalar()
    return r is not None and r.startswith(scope)


def case_dict(c) -> dict[str, Any]:
    return {"id": c.id, "case_no": c.case_no, "state": c.state, "state_zh": c.state_zh, "state_en": c.state_en,
            "phase": c.phase, "version": c.version, "region_code": c.region_code, "source": c.source,
            "risk_types": c.risk_types, "monitored_type": c.monitored_type,
            "opened_on": c.opened_on.isoformat() if c.opened_on else None,
            "closed_on": c.closed_on.isoformat() if c.closed_on else None}


def event_rows(events: list[dict]) -> list[dict]:
    """Case events without the frozen household snapshot (personal data stays on the household page)."""
    return [{"seq": e["seq"], "action": e["action"], "from_state": e["from_state"], "to_state": e["to_state"],
             "actor_name": e["actor_name"], "actor_role": e["actor_role"], "at": e["at"].isoformat(sep=" "),
             "comment": e["comment"], "policy_version": e["policy_version"]} for e in events]


def _registry_counts(conn: Connection, scope: str) -> tuple[int, int]:
    """Active current households in ``scope`` and their active current members (the same definitions as
    current_households / current_members, read from the trigger-maintained current tables)."""
    from fangpin.registry.models import HouseholdCurrent, MemberCurrent

    hc, mc = HouseholdCurrent.__table__, MemberCurrent.__table__
    cond = [region_prefix(hc.c.region_code, scope), hc.c.active.is_(True)]
    hh = conn.execute(select(func.count()).select_from(hc).where(*cond)).scalar_one()
    members = conn.execute(select(func.count()).select_from(mc).join(hc, hc.c.household_id == mc.c.household_id)
                           .where(*cond, mc.c.active.is_(True))).scalar_one()
    return int(hh), int(members)


def dashboard(conn: Connection, scope: str) -> dict:
    return _cached(conn, ("dashboard", scope), lambda: _dashboard(conn, scope))


def _dashboard(conn: Connection, scope: str) -> dict:
    hh, members = _registry_counts(conn, scope)
    open_a = (Alert.region_code.startswith(scope), Alert.status == "open")
    by_rule = [{"rule_id": r, "count": n} for r, n in conn.execute(
        select(Alert.rule_id, func.count()).where(*open_a).group_by(Alert.rule_id).order_by(func.count().desc()))]
    town = func.substr(Alert.region_code, 1, 9)
    t_rows = conn.execute(select(town, func.count()).where(*open_a).group_by(town).order_by(town)).all()
    names = region_names(conn, [t for t, _ in t_rows])
    by_town = [{"township": t, "name": names.get(t.ljust(12, "0"), ""), "count": n} for t, n in t_rows]
    by_state = [{"state": s, "count": n} for s, n in conn.execute(
        select(CaseFile.state, func.count()).where(CaseFile.region_code.startswith(scope))
        .group_by(CaseFile.state).order_by(CaseFile.state))]
    open_cases = conn.execute(select(func.count()).select_from(CaseFile).where(
        CaseFile.region_code.startswith(scope), CaseFile.closed_on.is_(None))).scalar_one()
    return {"households": int(hh), "members": int(members), "open_alerts": sum(r["count"] for r in by_rule),
            "open_cases": int(open_cases), "alerts_by_rule": by_rule, "alerts_by_township": by_town,
            "cases_by_state": by_state}
