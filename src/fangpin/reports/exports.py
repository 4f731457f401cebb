"""XLSX exports (导出) with Chinese headers: monitored households, alerts, assistance measures, public-notice lists.

* Region-scoped: every export takes the caller's region prefix ``scope``.
* Privacy (POLICY.md §5; brief "no PII in exports without the right role"): ID numbers and phones are masked
  (:func:`fangpin.ids.mask_id`) unless ``reveal=True`` — which no role may ask for yet (the reveal right and its
  audit log come with the PII-encryption work); health and disability data are never exported here. The
  public-notice list carries only what a village notice shows (:func:`fangpin.cases.build_notice`, which refuses
  any text with an ID, phone, bank card or health word).
* Every cell goes through :func:`fangpin.reports.cells.safe_cell` and strings are written with ``write_string``
  (never as formulas).
* Column order follows the national monitoring system's lists where known (docs/WEB.md "XLSX exports" says which
  columns are known and which are our choice).
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.alerts.models import Alert
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, CaseFile, MeasureDelivery
from fangpin.ids import mask_id
from fangpin.registry.models import Household
from fangpin.registry.service import current_households, current_members
from fangpin.reports.cells import safe_cell
from fangpin.reports.figures import monitored_at, region_names
from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_HEAD_ID, P_PHONE

__all__ = ["EXPORTS", "HOUSEHOLD_HEADERS", "ALERT_HEADERS", "MEASURE_HEADERS", "NOTICE_HEADERS", "write_xlsx",
           "households_rows", "alerts_rows", "measures_rows", "notice_rows", "export_xlsx"]

# 监测对象信息 (national system's household list; [V] order recalled from the 全国防返贫监测信息系统 exports)
HOUSEHOLD_HEADERS = ["序号", "县(市、区)", "乡(镇)", "行政村", "户编号", "户主姓名", "户主证件号码", "家庭人口数",
                     "户类型", "是否易地搬迁", "监测对象类别", "致贫返贫风险", "纳入监测时间", "风险消除状态", "风险消除方式",
                     "风险消除时间", "联系电话", "案件编号"]
ALERT_HEADERS = ["序号", "县(市、区)", "乡(镇)", "行政村", "户编号", "预警规则", "风险类型", "预警状态", "首次预警日期",
                 "最近预警日期", "预警依据", "参数版本", "规则版本", "案件编号"]
# 帮扶措施 (national system's measure list: household, category, content, start/end; delivery columns are ours)
MEASURE_HEADERS = ["序号", "县(市、区)", "乡(镇)", "行政村", "户编号", "户主姓名", "帮扶措施类别", "措施分组",
                   "救助类型", "措施来源", "措施内容", "开始日期", "结束日期", "结束原因", "风险消除后继续",
                   "落实次数", "落实金额(元)"]
NOTICE_HEADERS = ["序号", "户主姓名", "所在村", "类别/事项", "风险类别", "公示期"]


def write_xlsx(sheets: list[tuple[str, list[str], Iterable[list[Any]]]]) -> bytes:
    """An .xlsx (xlsxwriter, in memory): one sheet per (name, headers, rows); header row frozen, filter on.
    Text is written as text after :func:`safe_cell`; numbers as numbers; dates as ISO text."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                   "strings_to_numbers": False})
    head = wb.add_format({"bold": True, "bg_color": "#EEF1F4", "border": 1, "text_wrap": True})
    for name, headers, rows in sheets:
        ws = wb.add_worksheet(name[:31])
        widths = [max(6, len(h) * 2 + 2) for h in headers]
        for j, h in enumerate(headers):
            ws.write_string(0, j, h, head)
        n = 0
        for i, row in enumerate(rows, start=1):
            n = i
            for j, v in enumerate(row):
                v = safe_cell(v)
                if isinstance(v, bool):
                    ws.write_string(i, j, "是" if v else "否")
                elif isinstance(v, (int, float)):
                    ws.write_number(i, j, v)
                elif isinstance(v, (date, datetime)):
                    ws.write_string(i, j, v.isoformat())
                else:
                    ws.write_string(i, j, str(v))
                    if j < len(widths):
                        widths[j] = min(max(widths[j], len(str(v)) * 2 + 2), 60)
        for j, w in enumerate(widths):
            ws.set_column(j, j, w)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(n, 1), max(len(headers) - 1, 0))
    wb.close()
    return buf.getvalue()


def _areas(conn: Connection, region_codes: Iterable[str]) -> dict[str, tuple[str, str, str]]:
    """Village code → (county, township, village) names."""
    rc = set(region_codes)
    names = region_names(conn, sorted({c[:6] for c in rc} | {c[:9] for c in rc} | rc))
    return {c: (names.get(c[:6], ""), names.get(c[:9], ""), names.get(c, "")) for c in rc}


def _heads(conn: Connection, household_ids: list[int], on: date | None = None) -> dict[int, dict]:
    """Per household: head's name (head ID match, else relation 户主) and household size as of ``on``."""
    out: dict[int, dict] = {}
    if not household_ids:
        return out
    hq = current_households(on).subquery()
    mq = current_members(on).subquery()
    heads = {}
    for i in range(0, len(household_ids), 500):
        chunk = household_ids[i:i + 500]
        # the head is matched by blind index (docs/SECURITY.md): no ID number is decrypted for this
        for r in conn.execute(select(hq.c.household_id, hq.c.head_id_bidx).where(
                hq.c.household_id.in_(chunk))).all():
            heads[r.household_id] = r.head_id_bidx
        for r in conn.execute(select(mq.c.household_id, mq.c.id_number_bidx, mq.c.name, mq.c.relation).where(
                mq.c.household_id.in_(chunk), mq.c.active.is_(True))).all():
            d = out.setdefault(r.household_id, {"name": "", "size": 0, "by_relation": ""})
            d["size"] += 1
            if heads.get(r.household_id) and r.id_number_bidx == heads[r.household_id]:
                d["name"] = r.name
            elif getattr(codes.lookup("relation_to_head", r.relation), "code", None) == "02":
                d["by_relation"] = d["by_relation"] or r.name
    for d in out.values():
        d["name"] = d["name"] or d["by_relation"]
    return out


def households_rows(conn: Connection, scope: str, *, on: date | None = None, reveal: bool = False) -> list[list]:
    """Households ever identified as monitored in ``scope`` (monitored now or risk removed), national order."""
    on = on or date.today()
    c = CaseFile.__table__
    cases = [dict(r) for r in conn.execute(select(c).where(c.c.region_code.startswith(scope),
                                                           c.c.identified_on.is_not(None))
                                           .order_by(c.c.region_code, c.c.identified_on, c.c.id)).mappings()]
    hids = [x["household_id"] for x in cases if x["household_id"] is not None]
    hq = current_households(on).subquery()
    hh: dict[int, dict] = {}
    for i in range(0, len(hids), 500):
        for r in conn.execute(select(hq).where(hq.c.household_id.in_(hids[i:i + 500]))).mappings():
            hh[r["household_id"]] = dict(r)
    heads = _heads(conn, hids, on)
    areas = _areas(conn, [x["region_code"] for x in cases])
    lists = codes.load_code_lists()
    mt, rm, ht = lists["monitored_types"], lists["risk_removal_methods"], lists["household_types"]
    rows = []
    for i, x in enumerate(cases, 1):
        h = hh.get(x["household_id"], {})
        county, town, village = areas.get(x["region_code"], ("", "", ""))
        t = mt.by_code.get(x["monitored_type"] or "")
        m = rm.by_code.get(x["removal_method"] or "")
        htype = ht.lookup(h.get("hh_type"))
        head_id = decrypt(h.get("head_id_enc"), P_HEAD_ID)
        phone = decrypt(h.get("phone_enc"), P_PHONE)
        status = "未消除" if monitored_at(x, on) else ("已消除" if x["removed_on"] else "已关闭")
        rows.append([i, county, town, village, h.get("hh_no", ""), heads.get(x["household_id"], {}).get("name", ""),
                     head_id if reveal else mask_id(head_id), heads.get(x["household_id"], {}).get("size", 0),
                     htype.zh if htype else (h.get("hh_type") or ""), "是" if h.get("relocated") else "否",
                     t.zh if t else (x["monitored_type"] or ""), "、".join(_risk_names(x["risk_types"])),
                     x["identified_on"], status, m.zh if m else "", x["removed_on"] or "",
                     phone if reveal else _mask_phone(phone), x["case_no"]])
    return rows


def _mask_phone(p: str | None) -> str:
    if not p:
        return ""
    return p[:3] + "*" * max(len(p) - 7, 0) + p[-4:] if len(p) > 7 else "*" * len(p)


def _risk_names(values) -> list[str]:
    out = []
    for v in values or []:
        e = codes.lookup("risk_types", v)
        out.append(e.zh if e else str(v))
    return list(dict.fromkeys(out))


def _evidence_text(ev: dict | None) -> str:
    if not ev:
        return ""
    parts = []
    for k, v in ev.items():
        if isinstance(v, (dict, list)):
            continue
        parts.append(f"{k}={v}")
    return "; ".join(parts)[:500]


def alerts_rows(conn: Connection, scope: str, *, status: str | None = None) -> list[list]:
    a = Alert.__table__
    q = select(a, Household.hh_no).join(Household, Household.id == a.c.household_id).where(
        a.c.region_code.startswith(scope))
    if status:
        q = q.where(a.c.status == status)
    rows_ = conn.execute(q.order_by(a.c.region_code, a.c.first_as_of, a.c.id)).mappings().all()
    case_nos = {}
    cids = [r["case_id"] for r in rows_ if r["case_id"]]
    for i in range(0, len(cids), 500):
        case_nos.update(dict(conn.execute(select(CaseFile.id, CaseFile.case_no).where(
            CaseFile.id.in_(cids[i:i + 500]))).all()))
    areas = _areas(conn, [r["region_code"] for r in rows_])
    st = {"open": "未处理", "closed": "已关闭", "case_opened": "已立案核实"}
    out = []
    for i, r in enumerate(rows_, 1):
        county, town, village = areas.get(r["region_code"], ("", "", ""))
        out.append([i, county, town, village, r["hh_no"], r["rule_id"], "、".join(_risk_names(r["risk_types"])),
                    st.get(r["status"], r["status"]), r["first_as_of"], r["last_as_of"], _evidence_text(r["evidence"]),
                    r["param_version"], r["rules_version"], case_nos.get(r["case_id"], "")])
    return out


def measures_rows(conn: Connection, scope: str, *, on: date | None = None) -> list[list]:
    on = on or date.today()
    hq = current_households(on).subquery()
    m, p = AssistanceMeasure.__table__, AssistancePlan.__table__
    rows_ = conn.execute(select(m, p.c.household_id, hq.c.hh_no, hq.c.region_code)
                         .join(p, p.c.id == m.c.plan_id).join(hq, hq.c.household_id == p.c.household_id)
                         .where(hq.c.region_code.startswith(scope))
                         .order_by(hq.c.region_code, hq.c.hh_no, m.c.start_date, m.c.id)).mappings().all()
    deliveries: dict[int, tuple[int, float]] = defaultdict(lambda: (0, 0.0))
    mids = [r["id"] for r in rows_]
    for i in range(0, len(mids), 500):
        for mid, n, amt in conn.execute(select(MeasureDelivery.measure_id, func.count(),
                                               func.coalesce(func.sum(MeasureDelivery.amount), 0))
                                        .where(MeasureDelivery.measure_id.in_(mids[i:i + 500]))
                                        .group_by(MeasureDelivery.measure_id)).all():
            deliveries[mid] = (int(n), float(amt or 0))
    heads = _heads(conn, sorted({r["household_id"] for r in rows_}), on)
    areas = _areas(conn, [r["region_code"] for r in rows_])
    lists = codes.load_code_lists()
    cats, types = lists["measure_categories"], lists["assistance_types"]
    groups = {"development": "开发式帮扶", "guarantee": "三保障及饮水", "protection": "兜底保障", "other": "其他"}
    src = {"relapse_prevention": "防返贫帮扶", "civil_affairs": "民政救助"}
    out = []
    for i, r in enumerate(rows_, 1):
        county, town, village = areas.get(r["region_code"], ("", "", ""))
        c = cats.by_code.get(r["category"])
        t = types.by_code.get(r["subtype"] or "")
        n, amt = deliveries[r["id"]]
        out.append([i, county, town, village, r["hh_no"], heads.get(r["household_id"], {}).get("name", ""),
                    c.zh if c else r["category"], groups.get(getattr(c, "group", ""), "") if c else "",
                    t.zh if t else (r["subtype"] or ""), src.get(r["source"], r["source"]), r["description"] or "",
                    r["start_date"], r["end_date"] or "", r["ended_reason"] or "",
                    "是" if r["continues_after_removal"] else "否", n, round(amt, 2)])
    return out


def notice_rows(conn: Connection, scope: str, on: date | None = None, *, mask_names: bool = False) -> list[list]:
    """Public-notice list for every village of ``scope`` with cases under notice (POLICY.md §5: no ID, phone, bank
    account or health details — built by :func:`fangpin.cases.build_notice`, which checks the text)."""
    from fangpin.cases.notice import NOTICE_STATES, build_notice

    on = on or date.today()
    villages = conn.execute(select(CaseFile.region_code).where(
        CaseFile.region_code.startswith(scope), CaseFile.state.in_(list(NOTICE_STATES)))
        .group_by(CaseFile.region_code).order_by(CaseFile.region_code)).scalars().all()
    out, i = [], 0
    for v in villages:
        n = build_notice(conn, v, on, mask_names=mask_names)
        for r in n.rows:
            i += 1
            out.append([i, r.head_name, r.village, r.kind, r.reasons, r.period])
    return out


EXPORTS = {
    "households": ("监测对象", HOUSEHOLD_HEADERS),
    "alerts": ("预警信息", ALERT_HEADERS),
    "measures": ("帮扶措施", MEASURE_HEADERS),
    "notices": ("公示名单", NOTICE_HEADERS),
}


def export_xlsx(conn: Connection, kind: str, scope: str, *, on: date | None = None, reveal: bool = False,
                status: str | None = None) -> bytes:
    """One export as .xlsx bytes (``kind`` in :data:`EXPORTS`)."""
    from fangpin.issues import Issue
    from fangpin.reports.figures import ReportInputError

    if kind not in EXPORTS:
        raise ReportInputError(Issue("EXPORT_UNKNOWN", f"未知导出类型“{kind}”", f"Unknown export {kind!r}; known: "
                                     + ", ".join(EXPORTS)))
    sheet, headers = EXPORTS[kind]
    if kind == "households":
        rows = households_rows(conn, scope, on=on, reveal=reveal)
    elif kind == "alerts":
        rows = alerts_rows(conn, scope, status=status)
    elif kind == "measures":
        rows = measures_rows(conn, scope, on=on)
    else:
        rows = notice_rows(conn, scope, on)
    return write_xlsx([(sheet, headers, rows)])
