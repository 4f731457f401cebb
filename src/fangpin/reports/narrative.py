"""Automatically generated analysis text (自动生成分析报告 — the pattern of seed 000's petition analysis system,
POLICY.md §11): rule-based sentences in Chinese and English computed from :func:`fangpin.reports.figures.
county_figures`. No free invention: every sentence carries the figures it states (``figures``), and the tests
check each number in the text against them.
"""
from __future__ import annotations

from typing import Any

__all__ = ["analysis", "Sentence"]

Sentence = dict  # {"key", "zh", "en", "figures": {...}}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _change(cur: int, prev: int) -> tuple[str, str]:
    d = cur - prev
    if d == 0:
        return "与上月持平", "unchanged from last month"
    zh = f"比上月{'增加' if d > 0 else '减少'}{abs(d)}户"
    en = f"{'up' if d > 0 else 'down'} {abs(d)} from last month"
    if prev:
        zh += f"({d / prev * 100:+.1f}%)"
        en += f" ({d / prev * 100:+.1f}%)"
    return zh, en


def analysis(f: dict[str, Any]) -> list[Sentence]:
    """Sentences for the figures of one month (see module docstring)."""
    out: list[Sentence] = []
    m = f["month"]
    y, mo = m.split("-")
    when_zh, when_en = f"{int(y)}年{int(mo)}月", m
    name = f.get("region_name") or f["region"]
    ind = f["indicators"]
    tn = f["monitored_type_names"]

    # 1. monitored households, change and composition (POLICY.md §2)
    tot = f["monitored_total"]
    cur, prev = tot[-1], (tot[-2] if len(tot) > 1 else 0)
    cz, ce = _change(cur, prev)
    parts_zh = "、".join(f"{tn[t]['zh']}{f['monitored_by_type'][t][-1]}户" for t in f["monitored_by_type"])
    parts_en = "; ".join(f"{tn[t]['en']}: {f['monitored_by_type'][t][-1]}" for t in f["monitored_by_type"])
    out.append({"key": "monitored",
                "zh": f"截至{when_zh}末,{name}共有监测对象{cur}户,{cz};其中{parts_zh}。",
                "en": f"At the end of {when_en}, {name} had {cur} monitored households, {ce} ({parts_en}).",
                "figures": {"monitored": cur, "previous": prev, "change": cur - prev,
                            **{t: f["monitored_by_type"][t][-1] for t in f["monitored_by_type"]}}})
    if ind["households"]:
        out.append({"key": "monitored_share",
                    "zh": f"监测对象占在册农户{ind['households']}户的{_pct(ind['monitored_share'])},涉及{ind['monitored_persons']}人。",
                    "en": f"They are {_pct(ind['monitored_share'])} of the {ind['households']} households on the roster "
                          f"({ind['monitored_persons']} persons).",
                    "figures": {"households": ind["households"], "monitored_share": ind["monitored_share"],
                                "monitored_persons": ind["monitored_persons"]}})

    # 2. new vs removed (POLICY.md §5, §9)
    n, r = f["new"][-1], f["removed"][-1]
    net = n - r
    out.append({"key": "flows",
                "zh": f"本月新纳入监测{n}户,风险消除{r}户,净{'增加' if net >= 0 else '减少'}{abs(net)}户。",
                "en": f"This month {n} households were identified and {r} had their risk removed (net "
                      f"{'+' if net >= 0 else '−'}{abs(net)}).",
                "figures": {"new": n, "removed": r, "net": net}})

    # 3. dominant risk type (POLICY.md §7)
    rm = f["risk_mix_monitored"]
    if rm:
        top = rm[0]
        out.append({"key": "risk_monitored",
                    "zh": f"监测对象的风险类型以“{top['zh']}”为主,涉及{top['count']}户,占风险标注的{_pct(top['share'])}。",
                    "en": f"The most common risk type among monitored households is {top['en']} "
                          f"({top['count']} households, {_pct(top['share'])} of risk tags).",
                    "figures": {"risk_type": top["code"], "count": top["count"], "share": top["share"]}})
    ra = f["risk_mix_alerts"]
    if ra:
        top = ra[0]
        out.append({"key": "risk_alerts",
                    "zh": f"本月预警涉及的风险以“{top['zh']}”最多({top['count']}户,占{_pct(top['share'])})。",
                    "en": f"Among this month's alerts the leading risk type is {top['en']} ({top['count']} households, "
                          f"{_pct(top['share'])}).",
                    "figures": {"risk_type": top["code"], "count": top["count"], "share": top["share"]}})

    # 4. alerts: month over month, where they are
    ar = f["alerts_raised"]
    a_cur, a_prev = ar[-1], (ar[-2] if len(ar) > 1 else 0)
    d = a_cur - a_prev
    trend_zh = "持平" if d == 0 else f"{'增加' if d > 0 else '减少'}{abs(d)}条"
    trend_en = "unchanged" if d == 0 else f"{'up' if d > 0 else 'down'} {abs(d)}"
    out.append({"key": "alerts",
                "zh": f"本月监测预警新增{a_cur}条,比上月{trend_zh};目前未处理预警{ind['open_alerts']}条。",
                "en": f"Monitoring raised {a_cur} new alerts this month ({trend_en} from last month); "
                      f"{ind['open_alerts']} alerts are open.",
                "figures": {"alerts_raised": a_cur, "previous": a_prev, "change": d,
                            "open_alerts": ind["open_alerts"]}})
    rows = [x for x in f["alerts_by_area"]["rows"] if x["open"] > 0]
    total_open = f["alerts_by_area"]["open_total"]
    if rows and total_open and len(f["alerts_by_area"]["rows"]) > 1:
        top = min(rows, key=lambda x: (-x["open"], x["code"]))
        share = top["open"] / total_open
        label = top["name"] or top["code"]
        out.append({"key": "alerts_area",
                    "zh": f"未处理预警最多的是{label}({top['open']}条,占{_pct(share)}),建议优先核实。",
                    "en": f"Most open alerts are in {label} ({top['open']}, {_pct(share)}); verify there first.",
                    "figures": {"area": top["code"], "open": top["open"], "share": round(share, 4)}})

    # 5. SLA (seed 000 reply-rate KPIs; POLICY.md §1, §5 ≤ 15 days)
    idt = f["sla"]["identification_on_time"]
    if idt["denominator"]:
        out.append({"key": "sla",
                    "zh": f"本月作出识别认定{idt['denominator']}件,按时{idt['numerator']}件,按时率{_pct(idt['value'])}。",
                    "en": f"{idt['denominator']} identification decisions this month, {idt['numerator']} on time "
                          f"({_pct(idt['value'])}).",
                    "figures": {"decisions": idt["denominator"], "on_time": idt["numerator"], "rate": idt["value"]}})
        lag = [a for a in f["sla_areas"] if a["identification_on_time"]["denominator"]]
        if len(lag) > 1:
            worst = min(lag, key=lambda a: (a["identification_on_time"]["value"], a["code"]))
            w = worst["identification_on_time"]
            if w["value"] < idt["value"]:
                label = worst["name"] or worst["code"]
                out.append({"key": "sla_lag",
                            "zh": f"{label}识别认定按时率最低,为{_pct(w['value'])}({w['numerator']}/{w['denominator']}),"
                                  f"低于全辖区{(idt['value'] - w['value']) * 100:.1f}个百分点。",
                            "en": f"{label} lags on identification deadlines: {_pct(w['value'])} "
                                  f"({w['numerator']}/{w['denominator']}), {(idt['value'] - w['value']) * 100:.1f} "
                                  "points below the region.",
                            "figures": {"area": worst["code"], "rate": w["value"], "numerator": w["numerator"],
                                        "denominator": w["denominator"], "region_rate": idt["value"]}})
    else:
        out.append({"key": "sla", "zh": "本月没有作出识别认定的案件,识别认定按时率不适用。",
                    "en": "No identification decision was made this month; the on-time rate does not apply.",
                    "figures": {"decisions": 0}})
    mm = f["sla"]["measures_within_month"]
    if mm["denominator"]:
        out.append({"key": "measures",
                    "zh": f"应在认定后一个月内落实帮扶措施的{mm['denominator']}户中,按时落实{mm['numerator']}户({_pct(mm['value'])})。",
                    "en": f"Of {mm['denominator']} households due a first measure within a month of identification, "
                          f"{mm['numerator']} got it in time ({_pct(mm['value'])}).",
                    "figures": {"due": mm["denominator"], "on_time": mm["numerator"], "rate": mm["value"]}})
    vv = f["sla"]["visits_on_time"]
    if vv["denominator"]:
        out.append({"key": "visits",
                    "zh": f"本月到期回访{vv['denominator']}次,按期完成{vv['numerator']}次({_pct(vv['value'])})。",
                    "en": f"{vv['denominator']} follow-up visits fell due this month; {vv['numerator']} were on time "
                          f"({_pct(vv['value'])}).",
                    "figures": {"due": vv["denominator"], "on_time": vv["numerator"], "rate": vv["value"]}})
    if ind["open_escalations"]:
        out.append({"key": "escalations",
                    "zh": f"目前有{ind['open_escalations']}项逾期事项已上报督办。",
                    "en": f"{ind['open_escalations']} overdue items are escalated and open.",
                    "figures": {"open_escalations": ind["open_escalations"]}})

    # 6. feed health (POLICY.md §6)
    fd = f.get("feeds")
    if fd:
        late = [x for x in fd["feeds"] if x["overdue"]]
        if late:
            out.append({"key": "feeds",
                        "zh": f"{fd['total']}个部门数据接口中有{len(late)}个未按期报送:"
                              f"{'、'.join(x['department_zh'] for x in late)}。",
                        "en": f"{len(late)} of {fd['total']} department feeds are overdue: "
                              f"{', '.join(x['department_en'] for x in late)}.",
                        "figures": {"overdue": len(late), "total": fd["total"]}})
        else:
            out.append({"key": "feeds", "zh": f"{fd['total']}个部门数据接口均按期报送。",
                        "en": f"All {fd['total']} department feeds were delivered on time.",
                        "figures": {"overdue": 0, "total": fd["total"]}})
        if fd["rows"]:
            share = fd["rejected"] / fd["rows"]
            out.append({"key": "feeds_rejected",
                        "zh": f"累计接收部门数据{fd['rows']}行,拒收{fd['rejected']}行({_pct(share)})。",
                        "en": f"{fd['rows']} department rows received so far, {fd['rejected']} rejected ({_pct(share)}).",
                        "figures": {"rows": fd["rows"], "rejected": fd["rejected"], "share": round(share, 4)}})
    return out
