"""XLSX and PDF outputs of the programmes: the monthly public-welfare payroll and the scorecards.

Exports carry names but never ID numbers, phones or health data (privacy rule of the brief); text cells that
start with = + - @ are prefixed with a quote so a spreadsheet never runs them as formulas."""
from __future__ import annotations

import io

from openpyxl import Workbook

PDF_FONT = "STSong-Light"  # the built-in CID font the public notice uses (cases/notice.py): no font file needed


def _safe(v):
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _book(title: str, header: list[str], rows: list[list]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(header)
    for r in rows:
        ws.append([_safe(v) for v in r])
    for i, h in enumerate(header, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, len(str(h)) * 2 + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


PAYROLL_HEADER = ["月份", "村代码", "户编号", "姓名", "岗位", "岗位类型", "月补贴标准(元)", "应出勤天数", "实际出勤天数",
                  "应发补贴(元)", "计入家庭工资性收入记录号"]


def payroll_xlsx(rows: list[dict]) -> bytes:
    return _book("公益岗位补贴发放表", PAYROLL_HEADER, [
        [r["month"], r["region_code"], r["hh_no"], r["name"], r["title"], r["type_zh"], r["monthly_subsidy"],
         r["days_required"], r["days_present"], r["amount"], r["income_record_id"]] for r in rows])


def scorecard_xlsx(card: dict, region_name: str, details: dict[str, list[dict]] | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "考核得分"
    ws.append([f"{region_name}({card['region_code']})考核记分卡", f"截至 {card['on']}", f"总分 {card['total']}"])
    ws.append(["指标代码", "指标", "权重", "目标值", "记录数", "达标数", "实际值", "得分", "依据"])
    for i in card["indicators"]:
        ws.append([i["id"], i["zh"], i["weight"], i["target"], i["records"], i["ok"], i["value"], i["score"],
                   _safe(i["reference"])])
    for ind_id, rows in (details or {}).items():
        ds = wb.create_sheet(ind_id[:31])
        ds.append(["类型", "编号", "名称", "区划", "是否达标", "说明"])
        for r in rows:
            ds.append([r["kind"], r["id"], _safe(str(r["label"])), r["region_code"], "是" if r["ok"] else "否",
                       _safe(r["detail"])])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def scorecard_pdf(card: dict, region_name: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    try:
        pdfmetrics.getFont(PDF_FONT)
    except KeyError:
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    title = ParagraphStyle("t", fontName=PDF_FONT, fontSize=16, leading=24, alignment=1, wordWrap="CJK")
    body = ParagraphStyle("b", fontName=PDF_FONT, fontSize=10, leading=14, wordWrap="CJK")
    cell = ParagraphStyle("c", fontName=PDF_FONT, fontSize=9, leading=12, wordWrap="CJK")
    level = {"township": "乡镇", "county": "县"}[card["level"]]
    story = [Paragraph(f"{region_name}{level}级巩固拓展脱贫攻坚成果考核记分卡", title), Spacer(1, 8),
             Paragraph(f"区划代码 {card['region_code']};数据截至 {card['on']};总分 {card['total']}(满分 100,"
                       f"按有数据指标的权重折算)。各项数据均由平台已有记录自动计算,基层无需重复填报"
                       f"(《意见》第二十四条:切实减轻基层负担)。", body), Spacer(1, 8)]
    data = [[Paragraph(h, cell) for h in ("指标", "权重", "目标", "达标/记录", "实际值", "得分")]]
    for i in card["indicators"]:
        data.append([Paragraph(i["zh"], cell), str(i["weight"]), f"{i['target']:.0%}", f"{i['ok']}/{i['records']}",
                     "—" if i["value"] is None else f"{i['value']:.1%}", "—" if i["score"] is None else str(i["score"])])
    t = Table(data, colWidths=[190, 40, 45, 70, 60, 50])
    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), PDF_FONT), ("FONTSIZE", (0, 0), (-1, -1), 9),
                           ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                           ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [t, Spacer(1, 10)]
    for i in card["indicators"]:
        story.append(Paragraph(f"{i['id']}:{i['reference']}", cell))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, title="考核记分卡", leftMargin=36, rightMargin=36).build(story)
    return buf.getvalue()
