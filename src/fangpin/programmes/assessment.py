"""Assessment scorecards (考核) — seed 004 §八(二十四) line 105; indicators and weights in assessment.yaml.

Each indicator's ``source`` names a row function here: it lists the unit records (cases, alerts, posts, assets,
households) in the region with ``ok`` true/false and a link to the record. The figure is ok ÷ rows, so every figure
opens to the records it came from (:func:`indicator_rows`), and nothing is typed in by the grass roots.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fangpin.programmes.common import load_yaml
from fangpin.programmes.errors import refuse

Rows = Callable[[Connection, str, date], list[dict]]
SOURCES: dict[str, Rows] = {}


def source(fn: Rows) -> Rows:
    SOURCES[fn.__name__] = fn
    return fn


def config() -> dict:
    return load_yaml("assessment.yaml")


def _monitored_cases(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.cases.models import CaseFile
    from fangpin.cases.workflow import workflow

    states = workflow().states
    return [dict(r) for r in conn.execute(select(CaseFile.id, CaseFile.case_no, CaseFile.household_id,
                                                 CaseFile.region_code, CaseFile.state, CaseFile.identified_on)
                                          .where(CaseFile.region_code.startswith(region),
                                                 CaseFile.identified_on.is_not(None), CaseFile.identified_on <= on)
                                          .order_by(CaseFile.id)).mappings()
            if states[r["state"]].phase in ("monitoring", "removal")]


def _case_row(c: dict, ok: bool, detail: str) -> dict:
    return {"kind": "case", "id": c["id"], "label": c["case_no"], "region_code": c["region_code"], "ok": ok,
            "detail": detail, "href": f"/cases/{c['id']}"}


@source
def measure_coverage(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.cases.models import AssistanceMeasure, AssistancePlan

    cases = _monitored_cases(conn, region, on)
    hh = [c["household_id"] for c in cases]
    n = dict(conn.execute(select(AssistancePlan.household_id, func.count(AssistanceMeasure.id))
                          .join(AssistanceMeasure, AssistanceMeasure.plan_id == AssistancePlan.id)
                          .where(AssistancePlan.household_id.in_(hh), AssistanceMeasure.start_date <= on)
                          .group_by(AssistancePlan.household_id)).all()) if hh else {}
    return [_case_row(c, n.get(c["household_id"], 0) > 0, f"measures={n.get(c['household_id'], 0)}") for c in cases]


@source
def first_measure_on_time(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.cases.models import AssistanceMeasure, AssistancePlan
    from fangpin.policy import load_parameters

    ps = load_parameters()
    out = []
    for c in _monitored_cases(conn, region, on):
        days = ps.get("first_measure_max_days", c["region_code"], c["identified_on"]).value
        due = c["identified_on"] + timedelta(days=days)
        if due > on:
            continue  # not yet due: not counted either way
        first = conn.execute(select(func.min(AssistanceMeasure.start_date)).join(
            AssistancePlan, AssistancePlan.id == AssistanceMeasure.plan_id).where(
            AssistancePlan.household_id == c["household_id"])).scalar()
        out.append(_case_row(c, first is not None and first <= due, f"identified={c['identified_on']} due={due} "
                                                                     f"first={first or '—'}"))
    return out


@source
def identification_on_time(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.cases.models import CaseFile
    from fangpin.policy import load_parameters

    ps = load_parameters()
    out = []
    for c in conn.execute(select(CaseFile.id, CaseFile.case_no, CaseFile.region_code, CaseFile.opened_on,
                                 CaseFile.decided_on).where(CaseFile.region_code.startswith(region),
                                                            CaseFile.decided_on.is_not(None),
                                                            CaseFile.decided_on <= on).order_by(CaseFile.id)).mappings():
        limit = ps.get("identification_max_days", c["region_code"], c["opened_on"]).value
        took = (c["decided_on"] - c["opened_on"]).days
        out.append(_case_row(dict(c), took <= limit, f"days={took} limit={limit}"))
    return out


@source
def alert_response(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.alerts.models import Alert

    return [{"kind": "alert", "id": a.id, "label": f"{a.rule_id} #{a.id}", "region_code": a.region_code,
             "ok": a.status != "open", "detail": f"status={a.status} first={a.first_as_of}",
             "href": f"/alerts?rule={a.rule_id}"}
            for a in conn.execute(select(Alert.id, Alert.rule_id, Alert.region_code, Alert.status, Alert.first_as_of)
                                  .where(Alert.region_code.startswith(region), Alert.first_as_of <= on)
                                  .order_by(Alert.id))]


@source
def income_above_line(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.alerts.models import Alert

    cases = _monitored_cases(conn, region, on)
    hh = [c["household_id"] for c in cases]
    low = set(conn.execute(select(Alert.household_id).where(Alert.household_id.in_(hh), Alert.rule_id.in_(
        ("INC-LINE", "PWJ-EXIT")), Alert.status.in_(("open", "case_opened")))).scalars()) if hh else set()
    return [_case_row(c, c["household_id"] not in low, "below line" if c["household_id"] in low else "above line")
            for c in cases]


@source
def pwj_fill(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.programmes.jobs import post_rows

    return [{"kind": "post", "id": p["id"], "label": p["title"], "region_code": p["region_code"],
             "ok": p["filled"] >= p["headcount"], "detail": f"{p['filled']}/{p['headcount']}",
             "href": f"/programmes/jobs/posts/{p['id']}"}
            for p in post_rows(conn, region) if p["status"] == "open" and p["created_on"] <= on]


@source
def asset_custody(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.programmes.assets import asset_rows

    return [{"kind": "asset", "id": a["id"], "label": f"{a['asset_no']} {a['name']}", "region_code": a["region_code"],
             "ok": not a["warnings"], "detail": "; ".join(w["zh"] for w in a["warnings"]) or "正常",
             "href": f"/programmes/assets?region={a['region_code']}"}
            for a in asset_rows(conn, region, on) if a["asset_class"] != "HOUSEHOLD"]


@source
def relocation_employment(conn: Connection, region: str, on: date) -> list[dict]:
    from fangpin.programmes.models import ResettlementSite, SiteHousehold
    from fangpin.programmes.relocation import household_facts
    from fangpin.registry.models import Household

    rows = conn.execute(select(SiteHousehold.household_id, Household.hh_no, ResettlementSite.region_code)
                        .join(ResettlementSite, ResettlementSite.id == SiteHousehold.site_id)
                        .join(Household, Household.id == SiteHousehold.household_id)
                        .where(ResettlementSite.region_code.startswith(region)).order_by(Household.hh_no)).all()
    facts = household_facts(conn, [r.household_id for r in rows], on)
    return [{"kind": "household", "id": r.household_id, "label": r.hh_no, "region_code": r.region_code,
             "ok": facts[r.household_id]["employed"] > 0,
             "detail": f"labour={facts[r.household_id]['labour']} employed={facts[r.household_id]['employed']}",
             "href": f"/households/{r.hh_no}"}
            for r in rows if facts[r.household_id]["labour"] > 0]


def _level(region: str) -> str:
    if len(region) == 9:
        return "township"
    if len(region) == 6:
        return "county"
    raise refuse("SCORE_BAD_REGION", "考核对象应为乡镇(9位)或县(6位)代码",
                 "A scorecard is for a township (9 digits) or a county (6 digits)")


def indicator(ind_id: str) -> dict:
    for i in config()["indicators"]:
        if i["id"] == ind_id:
            return i
    raise refuse("SCORE_NO_INDICATOR", f"未知指标“{ind_id}”", f"Unknown indicator {ind_id!r}")


def indicator_rows(conn: Connection, region: str, on: date, ind_id: str) -> list[dict]:
    """The records behind one figure (what "opens" when a user clicks it)."""
    return SOURCES[indicator(ind_id)["source"]](conn, region, on)


def scorecard(conn: Connection, region: str, on: date) -> dict[str, Any]:
    """A township or county scorecard: every indicator of that level with value, counts, weight and score."""
    level = _level(region)
    cfg = config()
    items, got, possible = [], 0.0, 0.0
    for ind in cfg["indicators"]:
        if level not in ind["levels"]:
            continue
        rows = SOURCES[ind["source"]](conn, region, on)
        n, ok = len(rows), sum(1 for r in rows if r["ok"])
        value = ok / n if n else None
        score = round(ind["weight"] * min(value / ind["target"], 1.0), 2) if value is not None else None
        if score is not None:
            got += score
            possible += ind["weight"]
        items.append({**{k: ind[k] for k in ("id", "zh", "en", "weight", "target", "reference")},
                      "records": n, "ok": ok, "value": round(value, 4) if value is not None else None,
                      "score": score})
    return {"region_code": region, "level": level, "on": on.isoformat(), "config_version": cfg["version"],
            "indicators": items, "score": round(got, 2), "possible": possible,
            "total": round(100 * got / possible, 1) if possible else None}


def compare(conn: Connection, regions: list[str], on: date) -> list[dict]:
    """Scorecards of several townships or counties side by side (comparison across units)."""
    return [scorecard(conn, r, on) for r in regions]
