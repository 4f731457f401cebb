"""County figures for one month (监测帮扶月度数据): the numbers behind the dashboard, the analysis text and the
monthly report. One function computes them, so a chart, a sentence and a report table can never disagree.

Definitions (docs/WEB.md "Figures"):

* **monitored household** at a date D (监测对象): a case with ``identified_on <= D`` (county approval, POLICY.md §5.6)
  and not removed (``removed_on``) or closed by D. Its type is the case's ``monitored_type`` (POLICY.md §2).
* **new** in a month: ``identified_on`` in the month; **removed** (风险消除, POLICY.md §9): ``removed_on`` in it.
* **risk-type mix**: risk types (POLICY.md §7) of households monitored at month end, and of the alerts raised in
  the month (a household counts once per type).
* **SLA** (时限达标率): :func:`fangpin.cases.kpis` (POLICY.md §1, §5: ≤ 15 days to a decision; first measure within a
  month; follow-up visits on time), for the region and for each child area.
* **alerts by area**: alerts raised in the month (``first_as_of`` in it) and alerts open now, per child area
  (county → townships → villages).
* **feed health**: :func:`fangpin.exchange.health.feeds_status` (department deliveries are county-wide files).

Everything is filtered by the caller's region prefix ``scope`` ("" = everywhere).
"""
from __future__ import annotations

import calendar
from collections import Counter
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.alerts.models import Alert
from fangpin.cases.deadlines import kpis
from fangpin.cases.models import CaseEscalation, CaseFile
from fangpin.issues import FangpinValueError, Issue
from fangpin.registry.models import Region
from fangpin.registry.service import current_household_keys, current_member_keys, region_prefix

__all__ = ["MONITORED_TYPES", "ReportInputError", "month_bounds", "parse_month", "child_digits", "region_names",
           "county_figures", "alerts_by_area", "monitored_at"]

MONITORED_TYPES = ("TPBWD", "BYYZP", "TFYZKN")  # POLICY.md §2


class ReportInputError(FangpinValueError):
    pass


def parse_month(month: str) -> tuple[int, int]:
    """'2024-12' → (2024, 12); a bilingual error otherwise."""
    try:
        y, m = month.split("-")
        y_, m_ = int(y), int(m)
        if len(y) != 4 or not 1 <= m_ <= 12 or not 1900 <= y_ <= 2999:  # series step back a year from here
            raise ValueError
        return y_, m_
    except ValueError:
        raise ReportInputError(Issue("REPORT_BAD_MONTH", f"月份“{month}”格式应为 YYYY-MM(如 2024-12，年份 1900–2999)",
                                     f"Month {month!r} must be YYYY-MM (e.g. 2024-12; years 1900-2999)")) from None


def month_bounds(month: str) -> tuple[date, date]:
    y, m = parse_month(month)
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def _shift(month: str, k: int) -> str:
    y, m = parse_month(month)
    n = y * 12 + (m - 1) + k
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def child_digits(scope: str) -> int:
    """Code length of the areas one level below ``scope`` (country → province → city → county → township →
    village; a village has no children and groups by itself)."""
    n = len(scope)
    return {0: 2, 2: 4, 4: 6, 6: 9, 9: 12}.get(n, 12)


def region_names(conn: Connection, codes_: list[str]) -> dict[str, str]:
    """Name per code (codes of any length; looked up by their 12-digit form)."""
    want = {c: c.ljust(12, "0") for c in codes_ if c}
    if not want:
        return {}
    rows = dict(conn.execute(select(Region.code, Region.name).where(Region.code.in_(sorted(set(want.values())))))
                .all())
    return {c: rows.get(c12, "") for c, c12 in want.items()}


def _check_scope(scope: str) -> None:
    if scope and (not scope.isdigit() or len(scope) not in (2, 4, 6, 9, 12)):
        raise ReportInputError(Issue("REPORT_BAD_REGION", f"辖区代码“{scope}”应为 2/4/6/9/12 位数字",
                                     f"Region code {scope!r} must have 2, 4, 6, 9 or 12 digits"))


def _cases(conn: Connection, scope: str) -> list[dict]:
    c = CaseFile.__table__
    return [dict(r) for r in conn.execute(select(
        c.c.id, c.c.case_no, c.c.household_id, c.c.region_code, c.c.monitored_type, c.c.risk_types, c.c.state,
        c.c.opened_on, c.c.decided_on, c.c.identified_on, c.c.removed_on, c.c.closed_on).where(region_prefix(c.c.region_code, scope))
    ).mappings()]


def monitored_at(case: dict, d: date) -> bool:
    """Monitored on ``d``: identified by then and neither removed nor closed by then (POLICY.md §5.6, §9)."""
    idf = case["identified_on"]
    if idf is None or idf > d:
        return False
    for k in ("removed_on", "closed_on"):
        if case[k] is not None and case[k] <= d:
            return False
    return True


def _risk_code(value: str) -> str:
    """Risk types are stored as official names (因病) or codes (ILLNESS): one code per type."""
    e = codes.lookup("risk_types", value)
    return e.code if e else str(value)


def _risk_counter(lists) -> Counter:
    cnt: Counter = Counter()
    for rts in lists:
        for r in dict.fromkeys(_risk_code(x) for x in (rts or [])):
            cnt[r] += 1
    return cnt


def _risk_rows(cnt: Counter) -> list[dict]:
    rt = codes.load_code_lists()["risk_types"]
    total = sum(cnt.values())
    out = []
    for code, n in sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0])):
        e = rt.by_code.get(code)
        out.append({"code": code, "zh": e.zh if e else code, "en": e.en if e else code, "count": n,
                    "share": round(n / total, 4) if total else 0.0})
    return out


def alerts_by_area(conn: Connection, scope: str, month: str, parent: str | None = None, *,
                   household_regions: dict[str, tuple[int, int]] | None = None) -> dict:
    """Alerts per child area of ``parent`` (default: ``scope``; must lie inside it): raised in ``month`` and
    open now. Township rows drill down to their villages. ``household_regions`` (village → (households, members),
    from :func:`_roster`) saves reading the roster again."""
    _check_scope(scope)
    parent = scope if parent is None else parent
    if not parent.startswith(scope):
        raise ReportInputError(Issue("REPORT_OUT_OF_REGION", "所选地区不在您的辖区", "That area is outside your region"))
    _check_scope(parent)
    start, end = month_bounds(month)
    n = child_digits(parent)
    area = func.substr(Alert.region_code, 1, n)
    raised = dict(conn.execute(select(area, func.count()).where(
        region_prefix(Alert.region_code, parent), Alert.first_as_of >= start, Alert.first_as_of <= end)
        .group_by(area)).all())
    open_now = dict(conn.execute(select(area, func.count()).where(
        region_prefix(Alert.region_code, parent), Alert.status == "open").group_by(area)).all())
    if household_regions is None:
        hq = current_household_keys(end, conn).subquery()
        h_area = func.substr(hq.c.region_code, 1, n)
        hh = dict(conn.execute(select(h_area, func.count()).where(hq.c.region_code.startswith(parent),
                                                                  hq.c.active.is_(True)).group_by(h_area)).all())
    else:
        hh = Counter()
        for village, (count, _) in household_regions.items():
            if village.startswith(parent):
                hh[village[:n]] += count
    areas = sorted(set(raised) | set(open_now) | set(hh))
    names = region_names(conn, areas + [parent])
    rows = [{"code": a, "name": names.get(a, ""), "households": int(hh.get(a, 0)),
             "raised": int(raised.get(a, 0)), "open": int(open_now.get(a, 0)),
             "drill": n < 12 and len(a) == n} for a in areas]
    return {"parent": parent, "parent_name": names.get(parent, ""), "level_digits": n, "month": month,
            "rows": rows, "raised_total": sum(r["raised"] for r in rows), "open_total": sum(r["open"] for r in rows)}


def _roster(conn: Connection, scope: str, on: date) -> dict[str, tuple[int, int]]:
    """Active households of ``scope`` on ``on`` per village: village code → (households, active members), aggregated
    in the database over the current-state tables (fangpin.registry.current)."""
    hq = current_household_keys(on, conn).subquery()
    mq = current_member_keys(on, conn).subquery()
    cond = (region_prefix(hq.c.region_code, scope), hq.c.active.is_(True))
    hh = dict(conn.execute(select(hq.c.region_code, func.count()).where(*cond).group_by(hq.c.region_code)).all())
    persons = dict(conn.execute(select(hq.c.region_code, func.count()).join(mq, mq.c.household_id == hq.c.household_id)
                                .where(*cond, mq.c.active.is_(True)).group_by(hq.c.region_code)).all())
    return {region: (int(h), int(persons.get(region, 0))) for region, h in hh.items()}


def _sizes(conn: Connection, scope: str, household_ids: list[int], on: date) -> dict[int, int]:
    """Active members on ``on`` of those given households that are active then with their region inside ``scope``
    (one query per 5,000 households: the household keys joined to the member keys)."""
    hq = current_household_keys(on, conn).subquery()
    mq = current_member_keys(on, conn).subquery()
    ids = sorted(set(household_ids))
    out: dict[int, int] = {}
    for i in range(0, len(ids), 5000):
        out.update(conn.execute(
            select(hq.c.household_id, func.count()).join(mq, mq.c.household_id == hq.c.household_id)
            .where(hq.c.active.is_(True), region_prefix(hq.c.region_code, scope), mq.c.active.is_(True),
                   hq.c.household_id.in_(ids[i:i + 5000]))
            .group_by(hq.c.household_id)).all())
    return {k: int(v) for k, v in out.items()}


def _rate_pct(r: dict) -> float | None:
    return None if r["value"] is None else round(100 * r["value"], 1)


def county_figures(conn: Connection, scope: str, month: str, *, months: int = 12, today: date | None = None,
                   with_feeds: bool = True) -> dict[str, Any]:
    """All figures of the monthly view for region prefix ``scope`` and ``month`` ('YYYY-MM'), with a series of
    the ``months`` months ending there. JSON-friendly (dates as ISO strings)."""
    _check_scope(scope)
    start, end = month_bounds(month)
    today = today or date.today()
    as_of = min(end, today)
    series = [_shift(month, -k) for k in range(months - 1, -1, -1)]
    cases = _cases(conn, scope)

    # monitored households over time, by type; new vs removed per month (POLICY.md §2, §5.6, §9)
    by_type = {t: [] for t in (*MONITORED_TYPES, "OTHER")}
    new, removed, raised_series = [], [], []
    for m in series:
        ms, me = month_bounds(m)
        me_eff = min(me, today) if ms <= today else me
        cnt = Counter((c["monitored_type"] if c["monitored_type"] in MONITORED_TYPES else "OTHER")
                      for c in cases if monitored_at(c, me_eff))
        for t in by_type:
            by_type[t].append(int(cnt.get(t, 0)))
        new.append(sum(c["identified_on"] is not None and ms <= c["identified_on"] <= me for c in cases))
        removed.append(sum(c["removed_on"] is not None and ms <= c["removed_on"] <= me for c in cases))
    if not any(by_type["OTHER"]):
        by_type.pop("OTHER")
    raised_rows = dict(conn.execute(select(Alert.first_as_of, func.count()).where(
        region_prefix(Alert.region_code, scope), Alert.first_as_of >= month_bounds(series[0])[0],
        Alert.first_as_of <= end).group_by(Alert.first_as_of)).all())
    for m in series:
        ms, me = month_bounds(m)
        raised_series.append(int(sum(n for d, n in raised_rows.items() if ms <= d <= me)))
    mt = codes.load_code_lists()["monitored_types"]
    type_names = {t: {"zh": mt.by_code[t].zh if t in mt.by_code else "类型未记录",
                      "en": mt.by_code[t].en if t in mt.by_code else "type not recorded"} for t in by_type}

    monitored_now = [c for c in cases if monitored_at(c, as_of)]
    risk_monitored = _risk_rows(_risk_counter(c["risk_types"] for c in monitored_now))
    alert_risks = conn.execute(select(Alert.household_id, Alert.risk_types).where(
        region_prefix(Alert.region_code, scope), Alert.first_as_of >= start, Alert.first_as_of <= end)).all()
    per_hh: dict[int, set] = {}
    for hid, rts in alert_risks:
        per_hh.setdefault(hid, set()).update(_risk_code(x) for x in (rts or []))
    risk_alerts = _risk_rows(_risk_counter(sorted(s) for s in per_hh.values()))

    # SLA (seed 000 reply-rate KPIs → fangpin.cases.kpis), region and child areas
    sla = kpis(conn, scope, (start, end), today=today)
    n = child_digits(scope)
    children = sorted({c["region_code"][:n] for c in cases})
    names = region_names(conn, children + [scope] if scope else children)
    sla_areas = []
    # kpis per child area only where the month had a decision or an identification (else every rate is 0/0);
    # follow-up visits of other areas still count in the region's rate above
    active = {c["region_code"][:n] for c in cases
              if any(c[k] is not None and start <= c[k] <= end for k in ("decided_on", "identified_on"))}
    for a in children:
        if a not in active:
            continue
        k = kpis(conn, a, (start, end), today=today)
        sla_areas.append({"code": a, "name": names.get(a, ""),
                          **{key: {"value": k[key]["value"], "numerator": k[key]["numerator"],
                                   "denominator": k[key]["denominator"]}
                             for key in ("identification_on_time", "measures_within_month", "visits_on_time")}})

    # key indicators
    roster = _roster(conn, scope, as_of)
    households = sum(h for h, _ in roster.values())
    persons = sum(n for _, n in roster.values())
    # persons of monitored households that are active in the roster (a household no longer active counts 0)
    sizes = _sizes(conn, scope, [c["household_id"] for c in monitored_now], as_of)
    mon_persons = sum(sizes.get(c["household_id"], 0) for c in monitored_now)
    open_alerts = int(conn.execute(select(func.count()).select_from(Alert).where(
        region_prefix(Alert.region_code, scope), Alert.status == "open")).scalar_one())
    open_cases = sum(c["closed_on"] is None for c in cases)
    open_esc = int(conn.execute(select(func.count(CaseEscalation.id)).join(
        CaseFile, CaseFile.id == CaseEscalation.case_id).where(
        CaseEscalation.resolved_on.is_(None), region_prefix(CaseFile.region_code, scope))).scalar_one())
    in_identification = sum(c["closed_on"] is None and c["identified_on"] is None for c in cases)

    feeds = None
    if with_feeds:
        from fangpin.exchange.health import feeds_status

        now = datetime.combine(as_of, time(23, 59)) if as_of < today else None
        fs = feeds_status(conn, now=now)
        feeds = {"feeds": [{"feed": f["feed"], "department_zh": f["department_zh"], "department_en": f["department_en"],
                            "last_delivery": f["last_delivery"].isoformat(sep=" ") if f["last_delivery"] else None,
                            "days_since_delivery": f["days_since_delivery"], "deadline_days": f["deadline_days"],
                            "overdue": f["overdue"], "rows": f["rows"], "rejected": f["rejected"],
                            "rejected_share": round(f["rejected_share"], 4), "pending_reviews": f["pending_reviews"]}
                           for f in fs],
                 "overdue": sum(f["overdue"] for f in fs), "total": len(fs),
                 "rows": sum(f["rows"] for f in fs), "rejected": sum(f["rejected"] for f in fs),
                 "pending_reviews": sum(f["pending_reviews"] for f in fs)}

    return {
        "region": scope, "region_name": names.get(scope, "") if scope else "全国",
        "month": month, "period": [start.isoformat(), end.isoformat()], "as_of": as_of.isoformat(),
        "months": series,
        "monitored_by_type": by_type, "monitored_type_names": type_names,
        "monitored_total": [sum(v[i] for v in by_type.values()) for i in range(len(series))],
        "new": new, "removed": removed, "alerts_raised": raised_series,
        "risk_mix_monitored": risk_monitored, "risk_mix_alerts": risk_alerts,
        "sla": {k: sla[k] for k in ("identification_on_time", "measures_within_month", "visits_on_time",
                                    "early_removal_flags", "counts")},
        "sla_areas": sla_areas,
        "alerts_by_area": alerts_by_area(conn, scope, month, household_regions=roster if as_of == end else None),
        "feeds": feeds,
        "indicators": {
            "households": households, "persons": persons, "monitored_households": len(monitored_now),
            "monitored_persons": mon_persons,
            "monitored_share": round(len(monitored_now) / households, 4) if households else 0.0,
            "new_this_month": new[-1], "removed_this_month": removed[-1],
            "alerts_raised_this_month": raised_series[-1], "open_alerts": open_alerts, "open_cases": open_cases,
            "in_identification": in_identification, "open_escalations": open_esc,
            "identification_on_time_pct": _rate_pct(sla["identification_on_time"]),
        },
    }
