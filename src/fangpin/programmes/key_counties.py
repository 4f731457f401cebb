"""Key assisted counties (乡村振兴重点帮扶县): designation, an indicator set as data (key_counties.yaml) computed for
every county from the platform's own records, a periodic monitoring-and-evaluation report and a comparison across
counties — seed 004 §六(十五) line 81 (建立跟踪监测机制,对乡村振兴重点帮扶县进行定期监测评估)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, insert, select
from sqlalchemy.engine import Connection

from fangpin.programmes.common import Actor, load_yaml, now, require_role, require_scope
from fangpin.programmes.errors import refuse
from fangpin.programmes.models import KeyCounty, PwjHire


def config() -> dict:
    return load_yaml("key_counties.yaml")


def designate(conn: Connection, actor: Actor, *, county_code: str, level: str, designated_on: date, reference: str,
              at: datetime | None = None) -> int:
    require_role(actor, ("admin",), "认定重点帮扶县", "designate key assisted counties")
    require_scope(actor, county_code)
    if len(county_code) != 6 or not county_code.isdigit():
        raise refuse("KEY_BAD_COUNTY", "县级代码应为 6 位数字", "A county code has 6 digits")
    if level not in ("national", "provincial"):
        raise refuse("KEY_BAD_LEVEL", "认定级别应为 national(国家)或 provincial(省级)",
                     "Level must be national or provincial")
    if not (reference or "").strip():
        raise refuse("KEY_REFERENCE_REQUIRED", "请注明认定文件", "The designating document is required")
    return conn.execute(insert(KeyCounty).returning(KeyCounty.id), {
        "county_code": county_code, "level": level, "designated_on": designated_on, "reference": reference.strip(),
        "recorded_at": at or now()}).scalar_one()


def designated(conn: Connection, scope: str, on: date) -> dict[str, dict]:
    rows = conn.execute(select(KeyCounty.__table__).where(
        KeyCounty.county_code.startswith(scope[:6]), KeyCounty.designated_on <= on)).mappings()
    return {r["county_code"]: dict(r) for r in rows if r["ended_on"] is None or r["ended_on"] > on}


def _counties(conn: Connection, scope: str) -> list[str]:
    from fangpin.registry.service import current_households

    hq = current_households().subquery()
    return sorted({c[:6] for c in conn.execute(select(hq.c.region_code).where(
        hq.c.region_code.startswith(scope[:6]), hq.c.active.is_(True)).distinct()).scalars()})


def _households(conn: Connection, county: str, on: date) -> list[int]:
    from fangpin.registry.service import current_households

    hq = current_households(on).subquery()
    return list(conn.execute(select(hq.c.household_id).where(hq.c.region_code.startswith(county),
                                                           hq.c.active.is_(True))).scalars())


def _ratio(num: int, den: int) -> dict:
    return {"value": round(num / den, 4) if den else None, "num": num, "den": den}


def income_growth(conn: Connection, county: str, on: date) -> dict:
    """Mean monthly net income per household-month (latest figures per household and month) over the 12 months to
    ``on`` vs the 12 before, for the county's households. Per household-month, so a month not yet reported does not
    count as a fall."""
    from fangpin.registry.service import current_households, current_income

    iq = current_income(on).subquery()
    hq = current_households(on).subquery()
    end = f"{on.year:04d}-{on.month:02d}"
    mid = f"{on.year - 1:04d}-{on.month:02d}"
    start = f"{on.year - 2:04d}-{on.month:02d}"
    net = iq.c.wage + iq.c.business + iq.c.property + iq.c.transfer - iq.c.business_cost
    recent = iq.c.period > mid
    row = conn.execute(select(
        func.sum(case((recent, net), else_=0)), func.sum(case((recent, 1), else_=0)),
        func.sum(case((recent, 0), else_=net)), func.sum(case((recent, 0), else_=1)))
        .join(hq, hq.c.household_id == iq.c.household_id)
        .where(hq.c.region_code.startswith(county), func.length(iq.c.period) == 7, iq.c.period > start,
               iq.c.period <= end, iq.c.period_end <= on)).one()
    s_now, n_now, s_prev, n_prev = (float(x or 0) for x in row)
    if not (n_now and n_prev and s_prev > 0):
        return {"value": None, "num": round(s_now, 2), "den": round(s_prev, 2)}
    a, b = s_now / n_now, s_prev / n_prev
    return {"value": round(a / b - 1, 4), "num": round(a, 2), "den": round(b, 2)}


def national_rural_growth(on: date) -> dict:
    """Growth between the national rural per-capita disposable income in force on ``on`` and the value before it."""
    from fangpin.policy import load_parameters

    series = [v for v in load_parameters().series("rural_disposable_income_prev_year", "00") if v.from_date <= on]
    if len(series) < 2:
        return {"value": None, "reference": "no two national figures in force"}
    a, b = series[-1], series[-2]
    return {"value": round(a.value / b.value - 1, 4), "reference": f"{a.reference}; {b.reference}"}


def monitored_share(conn: Connection, county: str, on: date) -> dict:
    from fangpin.cases.models import CaseFile

    hh = _households(conn, county, on)
    from fangpin.cases.workflow import workflow

    states = workflow().states
    mon = {h for h, st in conn.execute(select(CaseFile.household_id, CaseFile.state).where(
        CaseFile.region_code.startswith(county), CaseFile.household_id.is_not(None)))
        if states[st].phase in ("monitoring", "removal")}
    return _ratio(len(mon & set(hh)), len(hh))


def alerted_share(conn: Connection, county: str, on: date) -> dict:
    from fangpin.alerts.models import Alert

    hh = _households(conn, county, on)
    n = conn.execute(select(func.count(func.distinct(Alert.household_id))).where(
        Alert.region_code.startswith(county), Alert.status == "open", Alert.first_as_of <= on)).scalar_one()
    return _ratio(int(n), len(hh))


def risk_removal_rate(conn: Connection, county: str, on: date) -> dict:
    from fangpin.cases.models import CaseFile

    ident = conn.execute(select(func.count()).where(CaseFile.region_code.startswith(county),
                                                    CaseFile.identified_on.is_not(None),
                                                    CaseFile.identified_on <= on)).scalar_one()
    removed = conn.execute(select(func.count()).where(CaseFile.region_code.startswith(county),
                                                      CaseFile.removed_on.is_not(None),
                                                      CaseFile.removed_on <= on)).scalar_one()
    return _ratio(int(removed), int(ident))


def pwj_per_1000(conn: Connection, county: str, on: date) -> dict:
    hh = _households(conn, county, on)
    n = conn.execute(select(func.count()).where(PwjHire.region_code.startswith(county), PwjHire.hired_on <= on,
                                                (PwjHire.exit_on.is_(None)) | (PwjHire.exit_on > on))).scalar_one()
    return {"value": round(1000 * n / len(hh), 2) if hh else None, "num": int(n), "den": len(hh)}


def _measure(conn: Connection, name: str, county: str, on: date) -> dict:
    if name.startswith("assessment:"):
        from fangpin.programmes import assessment

        rows = assessment.indicator_rows(conn, county, on, name.split(":", 1)[1])
        return _ratio(sum(1 for r in rows if r["ok"]), len(rows))
    fn = {"income_growth": income_growth, "monitored_share": monitored_share, "alerted_share": alerted_share,
          "risk_removal_rate": risk_removal_rate, "pwj_per_1000": pwj_per_1000}[name]
    return fn(conn, county, on)


def evaluate(conn: Connection, county: str, on: date) -> dict[str, Any]:
    """The indicator set of one county as of ``on`` (the periodic monitoring-and-evaluation figures)."""
    cfg = config()
    nat = national_rural_growth(on)
    items = []
    for ind in cfg["indicators"]:
        m = _measure(conn, ind["measure"], county, on)
        item = {**{k: ind[k] for k in ("id", "zh", "en", "better", "reference")}, **m}
        if ind.get("benchmark") == "national_rural_growth":
            item["benchmark"] = nat["value"]
            item["meets_benchmark"] = (None if m["value"] is None or nat["value"] is None
                                       else m["value"] > nat["value"])
        items.append(item)
    return {"county_code": county, "on": on.isoformat(), "config_version": cfg["version"], "indicators": items}


def compare(conn: Connection, scope: str, on: date, *, only_key: bool = False) -> dict[str, Any]:
    """Every county in ``scope`` evaluated with the same indicator set; key assisted counties flagged."""
    keys = designated(conn, scope, on)
    counties = [c for c in _counties(conn, scope) if not only_key or c in keys]
    return {"on": on.isoformat(), "indicators": [{k: i[k] for k in ("id", "zh", "en", "better")}
                                                 for i in config()["indicators"]],
            "counties": [{**evaluate(conn, c, on), "key": keys.get(c)} for c in counties]}


def report_xlsx(comparison: dict, names: dict[str, str]) -> bytes:
    """The periodic monitoring-and-evaluation report (定期监测评估) as XLSX: one row per county."""
    from fangpin.programmes.exports import _book

    header = ["县代码", "县名称", "重点帮扶县"] + [f"{i['id']} {i['zh']}" for i in comparison["indicators"]]
    rows = []
    for c in comparison["counties"]:
        key = c["key"]["level"] if c["key"] else ""
        rows.append([c["county_code"], names.get(c["county_code"].ljust(12, "0"), ""), key]
                    + [i["value"] for i in c["indicators"]])
    return _book(f"重点帮扶县监测评估 {comparison['on']}", header, rows)
