"""Monthly county report (县级防止返贫监测帮扶月度报告) as PDF (reportlab) and DOCX (python-docx, for editing).

Both formats render the same list of blocks built once by :func:`build_blocks` from
:func:`fangpin.reports.figures.county_figures` and :func:`fangpin.reports.narrative.analysis`: headings, the
analysis text, key-indicator tables, charts (PNG, :mod:`fangpin.reports.charts`) and per-area tables. The PDF uses
reportlab's built-in CID font STSong-Light (no font file needed), like the public notice.

The report holds aggregates only — no names, ID numbers or phones — so every role that sees the dashboard may
download it for its own region.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Engine

from fangpin.reports import charts
from fangpin.reports.narrative import analysis
from fangpin.reports.figures import ReportInputError, county_figures
from fangpin.issues import Issue

__all__ = ["Block", "build_blocks", "render_pdf", "render_docx", "generate_monthly_report", "FORMATS"]

FORMATS = ("pdf", "docx")
PDF_FONT = "STSong-Light"


@dataclass
class Block:
    kind: str  # title | meta | h | p | table | img
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    png: bytes = b""
    width_cm: float = 16.0


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def build_blocks(f: dict, lang: str = "zh") -> list[Block]:
    zh = lang != "en"
    T = (lambda a, b: a) if zh else (lambda a, b: b)  # noqa: E731
    name = f.get("region_name") or f["region"]
    y, m = f["month"].split("-")
    ind = f["indicators"]
    out: list[Block] = [
        Block("title", T(f"{name}防止返贫动态监测帮扶月度报告({int(y)}年{int(m)}月)",
                         f"{name}: monthly report on relapse-prevention monitoring and assistance, {f['month']}")),
        Block("meta", T(f"辖区代码:{f['region'] or '全部'};统计期:{f['period'][0]} 至 {f['period'][1]};"
                        f"数据截至:{f['as_of']};生成时间:{datetime.now():%Y-%m-%d %H:%M}",
                        f"Region code: {f['region'] or 'all'}; period {f['period'][0]} to {f['period'][1]}; "
                        f"data as of {f['as_of']}; generated {datetime.now():%Y-%m-%d %H:%M}")),
        Block("h", T("一、主要指标", "1. Key indicators")),
        Block("table", headers=[T("指标", "Indicator"), T("数值", "Value")], rows=[
            [T("在册农户(户)", "Households on the roster"), ind["households"]],
            [T("在册人口(人)", "Persons on the roster"), ind["persons"]],
            [T("监测对象(户)", "Monitored households"), ind["monitored_households"]],
            [T("监测对象人口(人)", "Persons in monitored households"), ind["monitored_persons"]],
            [T("监测对象占比", "Share of households monitored"), _pct(ind["monitored_share"])],
            [T("本月新纳入(户)", "Identified this month"), ind["new_this_month"]],
            [T("本月风险消除(户)", "Risk removed this month"), ind["removed_this_month"]],
            [T("本月新增预警(条)", "Alerts raised this month"), ind["alerts_raised_this_month"]],
            [T("未处理预警(条)", "Open alerts"), ind["open_alerts"]],
            [T("在办案件(件)", "Open cases"), ind["open_cases"]],
            [T("识别认定中(件)", "Cases in identification"), ind["in_identification"]],
            [T("逾期督办(项)", "Open escalations"), ind["open_escalations"]],
        ]),
        Block("h", T("二、分析", "2. Analysis")),
    ]
    out += [Block("p", s["zh"] if zh else s["en"]) for s in analysis(f)]

    # 3. monitored households over time
    tn = f["monitored_type_names"]
    out.append(Block("h", T("三、监测对象变化", "3. Monitored households over time")))
    series = {charts.label(tn[t]["zh"], tn[t]["en"]) if zh else tn[t]["en"]: v
              for t, v in f["monitored_by_type"].items()}
    months_short = [mm[2:] for mm in f["months"]]
    out.append(Block("img", png=charts.bar_chart(
        charts.label("月末监测对象户数(按类型)", "Monitored households at month end, by type") if zh
        else "Monitored households at month end, by type", months_short, series, stacked=True)))
    out.append(Block("img", png=charts.bar_chart(
        charts.label("新纳入与风险消除(户)", "Identified vs risk removed") if zh else "Identified vs risk removed",
        months_short, {(charts.label("新纳入", "identified") if zh else "identified"): f["new"],
                       (charts.label("风险消除", "removed") if zh else "removed"): f["removed"]}), width_cm=16))
    out.append(Block("table", headers=[T("月份", "Month"), *[tn[t]["zh"] if zh else tn[t]["en"]
                                                            for t in f["monitored_by_type"]],
                                       T("合计", "Total"), T("新纳入", "Identified"), T("风险消除", "Removed"),
                                       T("新增预警", "Alerts raised")],
                     rows=[[mm, *[f["monitored_by_type"][t][i] for t in f["monitored_by_type"]],
                            f["monitored_total"][i], f["new"][i], f["removed"][i], f["alerts_raised"][i]]
                           for i, mm in enumerate(f["months"])]))

    # 4. risk types
    out.append(Block("h", T("四、风险类型构成", "4. Risk-type mix")))
    for key, cap_zh, cap_en in (("risk_mix_monitored", "监测对象风险类型(户)", "Monitored households by risk type"),
                                ("risk_mix_alerts", "本月预警风险类型(户)", "This month's alerts by risk type")):
        rows = f[key]
        if not rows:
            out.append(Block("p", T(f"{cap_zh}:无。", f"{cap_en}: none.")))
            continue
        out.append(Block("img", png=charts.hbar_chart(
            charts.label(cap_zh, cap_en) if zh else cap_en,
            [(charts.label(r["zh"], r["en"]) if zh else r["en"]) for r in rows], [r["count"] for r in rows])))
        out.append(Block("table", headers=[T("风险类型", "Risk type"), T("户数", "Households"), T("占比", "Share")],
                         rows=[[r["zh"] if zh else r["en"], r["count"], _pct(r["share"])] for r in rows]))

    # 5. alerts by area
    ab = f["alerts_by_area"]
    out.append(Block("h", T("五、预警分布", "5. Alerts by area")))
    if ab["rows"]:
        top = sorted(ab["rows"], key=lambda r: (-r["open"], r["code"]))[:15]
        out.append(Block("img", png=charts.hbar_chart(
            charts.label("未处理预警(条)", "Open alerts") if zh else "Open alerts",
            [r["name"] or r["code"] for r in top] if zh or not charts.cjk_font_path() else
            [r["code"] for r in top], [r["open"] for r in top])))
    out.append(Block("table", headers=[T("地区", "Area"), T("代码", "Code"), T("在册农户", "Households"),
                                       T("本月新增预警", "Raised this month"), T("未处理预警", "Open")],
                     rows=[[r["name"], r["code"], r["households"], r["raised"], r["open"]] for r in ab["rows"]]
                     + [[T("合计", "Total"), "", sum(r["households"] for r in ab["rows"]), ab["raised_total"],
                         ab["open_total"]]]))

    # 6. SLA
    s = f["sla"]
    out.append(Block("h", T("六、时限达标情况", "6. Time limits (SLA)")))
    out.append(Block("table", headers=[T("指标", "Indicator"), T("达标/应计", "On time / due"), T("达标率", "Rate"),
                                       T("依据", "Source")],
                     rows=[[s[k]["zh"] if zh else s[k]["en"], f"{s[k]['numerator']}/{s[k]['denominator']}",
                            _pct(s[k]["value"]), s[k]["policy"]]
                           for k in ("identification_on_time", "measures_within_month", "visits_on_time")]))
    if f["sla_areas"]:
        out.append(Block("table", headers=[T("地区", "Area"), T("识别认定按时", "Identification on time"),
                                           T("措施一月内落实", "Measures within a month"),
                                           T("按期回访", "Visits on time")],
                         rows=[[a["name"] or a["code"], *[
                             f"{a[k]['numerator']}/{a[k]['denominator']} ({_pct(a[k]['value'])})"
                             for k in ("identification_on_time", "measures_within_month", "visits_on_time")]]
                               for a in f["sla_areas"]]))

    # 7. department feeds
    fd = f.get("feeds")
    if fd:
        out.append(Block("h", T("七、部门数据报送", "7. Department feeds")))
        out.append(Block("table", headers=[T("部门", "Department"), T("最近报送", "Last delivery"),
                                           T("时限(天)", "Deadline (days)"), T("状态", "Status"),
                                           T("行数", "Rows"), T("拒收率", "Rejected")],
                         rows=[[x["department_zh"] if zh else x["department_en"], x["last_delivery"] or "—",
                                x["deadline_days"], T("逾期", "overdue") if x["overdue"] else T("正常", "on time"),
                                x["rows"], _pct(x["rejected_share"])] for x in fd["feeds"]]))
    return out


# --------------------------------------------------------------------------------------------------------- PDF
def render_pdf(blocks: list[Block], title: str = "") -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm, mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    st = {
        "title": ParagraphStyle("t", fontName=PDF_FONT, fontSize=16, leading=24, alignment=1, wordWrap="CJK"),
        "meta": ParagraphStyle("m", fontName=PDF_FONT, fontSize=8.5, leading=12, alignment=1, wordWrap="CJK",
                               textColor=colors.HexColor("#5b6b7b")),
        "h": ParagraphStyle("h", fontName=PDF_FONT, fontSize=13, leading=20, spaceBefore=8, spaceAfter=4,
                            wordWrap="CJK"),
        "p": ParagraphStyle("p", fontName=PDF_FONT, fontSize=10.5, leading=17, firstLineIndent=21,
                            wordWrap="CJK"),
        "cell": ParagraphStyle("c", fontName=PDF_FONT, fontSize=8.5, leading=11, wordWrap="CJK"),
    }
    story = []
    width = A4[0] - 36 * mm
    for b in blocks:
        if b.kind in ("title", "meta", "h", "p"):
            story.append(Paragraph(escape(b.text), st[b.kind]))
            if b.kind == "title":
                story.append(Spacer(1, 2 * mm))
        elif b.kind == "img":
            from PIL import Image as PILImage

            w_px, h_px = PILImage.open(io.BytesIO(b.png)).size
            w = min(b.width_cm * cm, width)
            story.append(Image(io.BytesIO(b.png), width=w, height=w * h_px / w_px))
            story.append(Spacer(1, 2 * mm))
        elif b.kind == "table":
            data = [[Paragraph(escape(str(h)), st["cell"]) for h in b.headers]]
            data += [[Paragraph(escape("" if v is None else str(v)), st["cell"]) for v in r] for r in b.rows]
            t = Table(data, repeatRows=1, hAlign="LEFT", colWidths=[width / len(b.headers)] * len(b.headers))
            t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5b1")),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")),
                                   ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
            story.append(KeepTogether([t]) if len(b.rows) < 15 else t)
            story.append(Spacer(1, 3 * mm))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=title, author="fangpin")
    doc.build(story)
    return buf.getvalue()


# -------------------------------------------------------------------------------------------------------- DOCX
def render_docx(blocks: list[Block], title: str = "") -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    doc = Document()
    doc.core_properties.title = title
    doc.core_properties.author = "fangpin"
    for style in ("Normal", "Heading 1", "Heading 2", "Title"):
        s = doc.styles[style]
        s.font.name = "SimSun" if style == "Normal" else "SimHei"
        s.element.rPr.rFonts.set(qn("w:eastAsia"), s.font.name)
    doc.styles["Normal"].font.size = Pt(10.5)
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(1.8)
    for b in blocks:
        if b.kind == "title":
            p = doc.add_heading(b.text, level=0)
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif b.kind == "meta":
            p = doc.add_paragraph(b.text)
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for r in p.runs:
                r.font.size = Pt(8.5)
        elif b.kind == "h":
            doc.add_heading(b.text, level=1)
        elif b.kind == "p":
            p = doc.add_paragraph(b.text)
            p.paragraph_format.first_line_indent = Pt(21)
        elif b.kind == "img":
            doc.add_picture(io.BytesIO(b.png), width=Cm(min(b.width_cm, 17.4)))
        elif b.kind == "table":
            t = doc.add_table(rows=1, cols=len(b.headers))
            t.style = "Table Grid"
            for i, h in enumerate(b.headers):
                t.rows[0].cells[i].text = str(h)
                for r in t.rows[0].cells[i].paragraphs[0].runs:
                    r.font.bold = True
            for row in b.rows:
                cells = t.add_row().cells
                for i, v in enumerate(row):
                    cells[i].text = "" if v is None else str(v)
            doc.add_paragraph()
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def generate_monthly_report(engine: Engine, region: str, month: str, fmt: str, *, lang: str = "zh",
                            today: date | None = None) -> bytes:
    """The monthly report of region prefix ``region`` for ``month`` (YYYY-MM) as PDF or DOCX bytes. A plain
    function (no web objects) so a background job runner can call it."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ReportInputError(Issue("REPORT_BAD_FORMAT", f"报告格式“{fmt}”不支持(pdf 或 docx)",
                                     f"Report format {fmt!r} is not supported (pdf or docx)"))
    with engine.connect() as conn:
        f = county_figures(conn, region, month, today=today)
    blocks = build_blocks(f, lang)
    title = blocks[0].text
    return render_pdf(blocks, title) if fmt == "pdf" else render_docx(blocks, title)
