"""Public notice (公示) for a village: HTML (Jinja2) and PDF (reportlab, built-in CID font STSong-Light, so no
font file is needed and Chinese renders offline).

Privacy (POLICY.md §5): a notice shows only the household head's name, the village, the monitored type (or the
removal method), a PUBLIC reason category (notice_categories.yaml: 因病/因残 appear as 刚性支出较大), the notice
period and the objection channel. Rows are built from an explicit allow-list of fields — the template never sees
a household record — and the finished text is scanned again (:func:`public_text_problems`): if an ID number,
phone, bank-card number or health/disability word is found the notice is NOT produced (:class:`NoticeLeak`).
Names: full names are normal on a village notice; ``mask_names=True`` (for notices shown beyond the village)
keeps the surname's first character only (张**).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from importlib import resources

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID
from fangpin import codes
from fangpin.cases.common import param, params_or_default
from fangpin.cases.models import CaseFile
from fangpin.policy import ParameterSet
from fangpin.registry.models import Household, Region
from fangpin.registry.service import household_as_of
from fangpin.textnorm import clean_name

__all__ = ["Notice", "NoticeRow", "NoticeLeak", "build_notice", "notice_html", "notice_pdf", "public_text_problems"]

NOTICE_STATES = {"UNDER_NOTICE": "identification", "REMOVAL_UNDER_NOTICE": "removal"}
PDF_FONT = "STSong-Light"  # reportlab built-in CID font (Adobe-GB1); needs no font file


class NoticeLeak(Exception):
    """The notice text contains something that must never be public; nothing was produced. 公示内容含敏感信息。"""


@lru_cache(maxsize=1)
def _categories() -> dict:
    raw = yaml.safe_load((resources.files("fangpin.cases") / "notice_categories.yaml").read_text(encoding="utf-8"))
    missing = [c.code for c in codes.load_code_lists()["risk_types"] if c.code not in raw["categories"]]
    if missing:
        raise RuntimeError(f"notice_categories.yaml lacks risk types {missing} / 公示类别缺少风险类型 {missing}")
    return raw


@lru_cache(maxsize=1)
def _sensitive_words() -> tuple[str, ...]:
    """Health and disability words (POLICY.md §5 no health details): the code lists' names and aliases plus
    general medical words."""
    lists = codes.load_code_lists()
    words = {"病", "残", "疾", "癌", "瘫", "慢性", "透析", "住院", "手术", "失能", "精神", "智力", "肢体", "视力", "听力",
             "言语", "重症", "诊断"}
    for ln in ("health", "disability_category", "disability_grade"):
        for c in lists[ln]:
            if c.code == "HEALTHY":
                continue
            for w in (c.zh, *c.aliases):
                if any("\u4e00" <= ch <= "\u9fff" for ch in w):
                    words.add(w)
    return tuple(sorted(words, key=len, reverse=True))


_PATTERNS = {
    "id_number": re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])|(?<![0-9])[0-9]{15}(?![0-9])"),
    "phone": re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])|(?<![0-9])0[0-9]{2,3}[- ]?[0-9]{7,8}(?![0-9])"),
    "bank_card": re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])|(?<![0-9])(?:[0-9]{4}[ -]){3,4}[0-9]{1,4}(?![0-9])"),
}


def public_text_problems(text: str) -> list[str]:
    """Kinds of sensitive content found in ``text`` (never the values themselves)."""
    found = [k for k, rx in _PATTERNS.items() if rx.search(text)]
    found += [f"word:{w}" for w in _sensitive_words() if w in text]
    return found


@dataclass(frozen=True)
class NoticeRow:
    case_no: str
    head_name: str
    village: str
    kind: str  # monitored type (identification) or 拟消除风险(方式) (removal)
    reasons: str  # public categories
    period: str
    start: date
    end: date


@dataclass(frozen=True)
class Notice:
    title: str
    intro: str
    type_header: str
    village_code: str
    village: str
    rows: tuple[NoticeRow, ...]
    period: str
    min_days: int
    objection_channel: str
    issuer: str
    issued_on: str
    warnings: tuple[str, ...]


@lru_cache(maxsize=1)
def _compound_surnames() -> frozenset[str]:
    import csv

    with (resources.files("fangpin") / "data" / "surnames.csv").open(encoding="utf-8") as f:
        return frozenset(r["surname"] for r in csv.DictReader(f) if len(r["surname"]) > 1)


def _mask(name: str) -> str:
    """张三 → 张*, 欧阳明 → 欧阳*, 买买提·艾力 → 买****** (surname kept, the rest starred)."""
    if not name:
        return name
    keep = 2 if name[:2] in _compound_surnames() and len(name) > 2 else 1
    return name[:keep] + "*" * max(1, len(name) - keep)


def _head_name(conn: Connection, household_id: int, on: date) -> str:
    hh_no = conn.execute(select(Household.hh_no).where(Household.id == household_id)).scalar()
    view = household_as_of(conn, hh_no, on) if hh_no else None
    if not view or not view.members:
        return ""
    head_id = decrypt(view.attributes.get("head_id_enc"), P_HEAD_ID)  # in memory only; never printed
    head = next((m for m in view.members if head_id and decrypt(m.get("id_number_enc"), P_PERSON_ID) == head_id),
                None)
    if head is None:
        head = next((m for m in view.members
                     if getattr(codes.lookup("relation_to_head", m.get("relation")), "code", None) == "02"), None)
    return clean_name(head["name"]) if head else ""


def _region_name(conn: Connection, code: str) -> str:
    name = conn.execute(select(Region.name).where(Region.code == code)).scalar()
    return name or "本村"  # never print a code that could be mistaken for a number


def build_notice(conn: Connection, village_code: str, on: date, *, kind: str | None = None, mask_names: bool = False,
                 objection_channel: str | None = None, issuer: str | None = None,
                 params: ParameterSet | None = None) -> Notice:
    """The notice for every case of ``village_code`` currently under public notice (identification and/or removal:
    ``kind`` = "identification" | "removal" | None for both)."""
    ps = params_or_default(params)
    cat = _categories()
    mtypes = codes.load_code_lists()["monitored_types"]
    methods = codes.load_code_lists()["risk_removal_methods"]
    states = [s for s, k in NOTICE_STATES.items() if kind in (None, k)]
    cases = [dict(r) for r in conn.execute(select(CaseFile.__table__).where(
        CaseFile.region_code == village_code, CaseFile.state.in_(states)).order_by(CaseFile.notice_start,
                                                                                     CaseFile.id)).mappings()]
    village = _region_name(conn, village_code)
    min_days = int(param(ps, "public_notice_min_days", village_code, on))
    rows: list[NoticeRow] = []
    warnings: list[str] = []
    for c in cases:
        start = c["notice_start"] or on
        days = int(param(ps, "public_notice_min_days", village_code, start))
        end = start + timedelta(days=days - 1)
        name = _head_name(conn, c["household_id"], start) if c["household_id"] else ""
        if not name or any(ch.isdigit() for ch in name) or public_text_problems(name):
            warnings.append(f"{c['case_no']}: 户主姓名缺失或含不可公示内容,已以“（姓名待核实）”代替 / head name missing or "
                            "not publishable, replaced")
            name = "（姓名待核实）"
        elif mask_names:
            name = _mask(name)
        reasons = "、".join(dict.fromkeys(cat["categories"][r]["zh"] for r in (c["risk_types"] or [])
                                         if r in cat["categories"]))
        if NOTICE_STATES[c["state"]] == "removal":
            m = methods.by_code.get(c["removal_method"] or "")
            k = f"拟消除风险({m.zh})" if m else "拟消除风险"
        else:
            t = mtypes.by_code.get(c["monitored_type"] or "")
            k = f"拟纳入:{t.zh}" if t else "拟纳入监测对象"
        rows.append(NoticeRow(c["case_no"], name, village, k, reasons or "—", f"{start} 至 {end}", start, end))
    period = (f"{min(r.start for r in rows)} 至 {max(r.end for r in rows)}" if rows else f"{on} 起")
    kinds = {NOTICE_STATES[c["state"]] for c in cases}
    title = {frozenset({"identification"}): "防止返贫监测对象识别公示", frozenset({"removal"}): "防止返贫监测对象风险消除公示"
             }.get(frozenset(kinds), "防止返贫监测对象识别及风险消除公示")
    intro = (f"根据防止返贫动态监测和帮扶工作程序,经农户申请(或排查、预警)、入户核实、部门信息比对和村级民主评议,现将{village}"
             f"以下农户予以公示,公示期不少于{min_days}天。")
    channel = objection_channel or " ".join(cat["default_objection_channel"].split())
    notice = Notice(title, intro, "类别/事项", village_code, village, tuple(rows), period, min_days, channel,
                    issuer or f"{village}村民委员会", str(on), tuple(warnings))
    text = " ".join([title, intro, period, channel, notice.issuer] + [
        " ".join([r.head_name, r.village, r.kind, r.reasons, r.period]) for r in rows])
    bad = public_text_problems(text)
    if bad:
        raise NoticeLeak(f"公示内容含不可公示的信息({', '.join(bad)}),未生成 / the notice would contain non-public "
                         f"content ({', '.join(bad)}); not produced")
    return notice


def notice_html(conn: Connection, village_code: str, on: date, **kw) -> str:
    """The notice as an HTML page (Jinja2 template ``templates/notice.html.j2``, autoescaped)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    n = build_notice(conn, village_code, on, **kw)
    env = Environment(loader=PackageLoader("fangpin.cases", "templates"), autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("notice.html.j2").render(
        title=n.title, intro=n.intro, type_header=n.type_header, rows=n.rows, period=n.period, min_days=n.min_days,
        objection_channel=n.objection_channel, issuer=n.issuer, issued_on=n.issued_on)
    bad = public_text_problems(re.sub(r"<[^>]+>", " ", html))
    if bad:
        raise NoticeLeak(f"HTML contains {bad}")
    return html


def notice_pdf(conn: Connection, village_code: str, on: date, **kw) -> bytes:
    """The notice as a PDF (A4, reportlab; Chinese text in the built-in CID font STSong-Light)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    n = build_notice(conn, village_code, on, **kw)
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    title = ParagraphStyle("t", fontName=PDF_FONT, fontSize=18, leading=26, alignment=1, wordWrap="CJK")
    body = ParagraphStyle("b", fontName=PDF_FONT, fontSize=11, leading=17, wordWrap="CJK")
    cell = ParagraphStyle("c", fontName=PDF_FONT, fontSize=10, leading=14, alignment=1, wordWrap="CJK")
    right = ParagraphStyle("r", parent=body, alignment=2)
    P = lambda s, st=cell: Paragraph(escape(s), st)  # noqa: E731
    data = [[P(h) for h in ("序号", "户主姓名", "所在村", n.type_header, "风险类别", "公示期")]]
    for i, r in enumerate(n.rows, 1):
        data.append([P(str(i)), P(r.head_name), P(r.village), P(r.kind), P(r.reasons), P(r.period)])
    table = Table(data, colWidths=[12 * mm, 25 * mm, 35 * mm, 38 * mm, 30 * mm, 40 * mm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=n.title, author=n.issuer)
    doc.build([Paragraph(escape(n.title), title), Spacer(1, 6 * mm), Paragraph(escape(n.intro), body),
               Spacer(1, 4 * mm), table, Spacer(1, 4 * mm),
               Paragraph(escape(f"公示期:{n.period}(不少于{n.min_days}天)"), body),
               Paragraph(escape(f"异议渠道:{n.objection_channel}"), body), Spacer(1, 10 * mm),
               Paragraph(escape(n.issuer), right), Paragraph(escape(n.issued_on), right)])
    return buf.getvalue()
