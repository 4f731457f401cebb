"""Public notice (公示, POLICY.md §5): HTML + PDF list head name, village, type, public reason category, period and
objection channel — and NEVER an ID number, phone, bank account or health/disability detail."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from fangpin.cases import NoticeLeak, build_notice, notice_html, notice_pdf, public_text_problems
from test_cases_factory import VILLAGE, at, make_household
from test_cases_workflow import _to_notice

# Independent scanner (not the generator's own patterns).
ID18 = re.compile(r"\d{17}[\dXx]")
PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}")
BANK = re.compile(r"\d{16,19}|(\d{4}[ -]){3}\d{4}")
HEALTH = ["病", "残", "疾", "慢性", "住院", "肢体", "精神", "智力", "视力", "听力", "癌", "大病"]

SENSITIVE = [
    {"name": "张三", "relation": "户主", "labour_skill": "普通劳动力", "health": "患有大病"},
    {"name": "李四", "relation": "妻", "labour_skill": "弱劳动力或半劳动力", "health": "残疾", "disability_grade": 1,
     "disability_category": 6},
]


def _scan(text: str) -> list[str]:
    hits = [p.pattern for p in (ID18, PHONE, BANK) if p.search(text)]
    return hits + [w for w in HEALTH if w in text]


@pytest.fixture
def village_with_notices(engine):
    with engine.begin() as conn:
        for i in range(12):
            members = [dict(m) for m in SENSITIVE]
            members[0]["name"] = ["欧阳明", "张三", "买买提·艾力", "王芳"][i % 4]
            make_household(conn, f"HH-N{i}", members=members, phone=f"13{i % 10}12345678"[:11],
                           medical_oop=5000.0)
            _to_notice(conn, hh=f"HH-N{i}", risk_types=[["因病"], ["因残", "因学"], ["因意外事故", "因灾"],
                                                         ["因病", "饮水安全问题"]][i % 4])
        # a household whose "name" is really a phone number (bad data) must not leak either
        make_household(conn, "HH-BAD", members=[{"name": "13987654321", "relation": "户主", "labour_skill": "普通劳动力"}])
        _to_notice(conn, hh="HH-BAD")
    return engine


def test_notice_html_and_pdf_never_contain_ids_phones_bank_cards_or_health_words_policy_5(village_with_notices):
    with village_with_notices.connect() as conn:
        on = at(4).date()
        n = build_notice(conn, VILLAGE, on)
        html = notice_html(conn, VILLAGE, on)
        pdf = notice_pdf(conn, VILLAGE, on)
        masked = notice_html(conn, VILLAGE, on, mask_names=True)
    assert len(n.rows) == 13 and any("姓名待核实" in r.head_name for r in n.rows) and n.warnings
    for text in (html, masked):
        visible = re.sub(r"<[^>]+>", " ", text)
        assert _scan(visible) == [], _scan(visible)
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert _scan(pdf_text) == [], _scan(pdf_text)
    # what must be there
    assert "防止返贫监测对象识别公示" in html and "和平村" in html and "欧阳明" in html and "边缘易致贫户" in html
    assert "刚性支出较大" in html and "因自然灾害" in html and "饮水安全问题" in html
    assert f"{at(3).date()} 至 {at(3).date() + timedelta(days=4)}" in html and "12317" in html
    assert "欧阳*" in masked and "欧阳明" not in masked and "张*" in masked
    assert "防止返贫监测对象识别公示" in pdf_text.replace("\n", "") and "和平村" in pdf_text


def test_generator_refuses_to_produce_a_notice_with_sensitive_content_policy_5(village_with_notices):
    with village_with_notices.connect() as conn:
        with pytest.raises(NoticeLeak):
            build_notice(conn, VILLAGE, at(4).date(), objection_channel="请拨打 0871-65123456 反映")
        with pytest.raises(NoticeLeak):
            build_notice(conn, VILLAGE, at(4).date(), issuer="和平村 患大病 委员会")


def test_public_text_scanner_finds_every_kind_policy_5():
    assert "id_number" in public_text_problems("530102198005010011")
    assert "phone" in public_text_problems("电话13812345678")
    assert "bank_card" in public_text_problems("卡号 6222 0212 3456 7890")
    assert "word:残疾" in public_text_problems("二级残疾")
    assert public_text_problems("防止返贫监测对象识别公示 和平村 刚性支出较大 2025-03-06 至 2025-03-10") == []


def test_notice_lists_removal_cases_with_the_removal_method_policy_9(engine):
    from fangpin.cases import act
    from test_cases_factory import CADRE, TOWNSHIP
    from test_cases_workflow import LATER, _monitored_with_delivery

    with engine.begin() as conn:
        c = _monitored_with_delivery(conn)
        c = act(conn, c.id, "propose_removal", CADRE, expected_version=c.version, at=LATER, payload={"method": "BFXC"})
        c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=LATER)
        act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=LATER)
        html = notice_html(conn, VILLAGE, LATER.date())
    assert "风险消除公示" in html and "拟消除风险(帮扶消除)" in html
    assert _scan(re.sub(r"<[^>]+>", " ", html)) == []


def test_empty_village_notice_is_still_safe(engine):
    with engine.connect() as conn:
        html = notice_html(conn, VILLAGE, date(2025, 3, 1))
    assert "公示" in html and _scan(html) == []
