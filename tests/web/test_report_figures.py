"""County figures, analysis text, exports and formula neutralisation on a small hand-made county whose every number
is known (SQLite and PostgreSQL through the `engine` fixture). Definitions: fangpin.reports.figures docstring."""
from __future__ import annotations

import io
import re
from datetime import date, datetime

import openpyxl
import pytest
from sqlalchemy import insert

from fangpin.security.fields import household_values, person_values
from fangpin.alerts.models import Alert, MonitorRun
from fangpin.cases.models import AssistanceMeasure, AssistancePlan, CaseFile
from fangpin.registry.models import Household, HouseholdVersion, MemberVersion, Person, Region
from fangpin.reports import analysis, county_figures
from fangpin.reports.cells import is_dangerous, safe_cell
from fangpin.reports.exports import export_xlsx
from fangpin.reports.figures import ReportInputError, alerts_by_area

COUNTY = "530521"
T1, T2 = "530521101", "530521102"
V1, V2, V3 = "530521101001", "530521101002", "530521102001"
NOW = datetime(2024, 1, 1, 8)

# (case_no, village, type, risk types, identified_on, removed_on)
CASES = [
    ("C1", V1, "TPBWD", ["因病"], date(2024, 10, 3), None),
    ("C2", V1, "BYYZP", ["因病", "因残"], date(2024, 11, 5), None),
    ("C3", V2, "TFYZKN", ["因自然灾害"], date(2024, 11, 20), date(2024, 12, 10)),
    ("C4", V3, "BYYZP", ["因学"], date(2024, 12, 2), None),
    ("C5", V3, "TPBWD", ["因病"], date(2024, 12, 15), None),
]


@pytest.fixture
def county(engine):
    with engine.begin() as c:
        c.execute(insert(Region), [
            {"code": "530000000000", "level": 1, "name": "云南省", "parent_code": None, "source": "test"},
            {"code": "530521000000", "level": 3, "name": "施甸县", "parent_code": "530500000000", "source": "test"},
            {"code": T1 + "000", "level": 4, "name": "甸阳镇", "parent_code": "530521000000", "source": "test"},
            {"code": T2 + "000", "level": 4, "name": "由旺镇", "parent_code": "530521000000", "source": "test"},
            {"code": V1, "level": 5, "name": "一村", "parent_code": T1 + "000", "source": "test"},
            {"code": V2, "level": 5, "name": "二村", "parent_code": T1 + "000", "source": "test"},
            {"code": V3, "level": 5, "name": "三村", "parent_code": T2 + "000", "source": "test"},
        ])
        hids = []
        for i, v in enumerate([V1, V1, V2, V3, V3, V3]):
            hid = c.execute(insert(Household).values(hh_no=f"=HH{i}" if i == 0 else f"HH{i}", created_at=NOW)
                            .returning(Household.id)).scalar_one()
            idn = f"53052119800101{i:03d}X"
            c.execute(insert(HouseholdVersion).values(
                household_id=hid, valid_from=date(2024, 1, 1), recorded_at=NOW, region_code=v, hh_type="脱贫户",
                relocated=False, active=True, **household_values("13912345678", idn)))
            pid = c.execute(insert(Person).values(**person_values(idn), created_at=NOW).returning(Person.id)).scalar_one()
            c.execute(insert(MemberVersion).values(
                person_id=pid, household_id=hid, valid_from=date(2024, 1, 1), recorded_at=NOW, active=True,
                name="+张三" if i == 0 else f"李{i}", sex="男", birth_date=date(1980, 1, 1), relation="户主"))
            hids.append(hid)
        for k, (no, v, t, rts, idf, rem) in enumerate(CASES):
            c.execute(insert(CaseFile).values(
                case_no=no, household_id=hids[k], region_code=v, source="alert", state="RISK_REMOVED" if rem
                else "MONITORED", version=1, opened_on=idf.replace(day=1), opened_at=NOW, updated_at=NOW,
                monitored_type=t, risk_types=rts, identified_on=idf, decided_on=idf, removed_on=rem,
                removal_method="BFXC" if rem else None, closed_on=rem))
        plan = c.execute(insert(AssistancePlan).values(household_id=hids[0], version=1, created_at=NOW,
                                                       updated_at=NOW).returning(AssistancePlan.id)).scalar_one()
        c.execute(insert(AssistanceMeasure).values(
            plan_id=plan, category="EMPLOYMENT", source="relapse_prevention", start_date=date(2024, 10, 10),
            description='=HYPERLINK("http://evil.example","click")', recorded_by="t", recorded_at=NOW))
        run = c.execute(insert(MonitorRun).values(
            as_of=date(2024, 12, 31), engine="duckdb", mode="full", started_at=NOW, digest="d", snapshot="s",
            rules_version="r", param_version="p").returning(MonitorRun.id)).scalar_one()
        # alerts: 3 raised in Dec (2 in T1, 1 in T2), 1 in Nov (T1)
        for hid, v, d, st, rts in [(hids[0], V1, date(2024, 12, 31), "open", ["因病"]),
                                   (hids[2], V2, date(2024, 12, 31), "open", ["因病", "因残"]),
                                   (hids[5], V3, date(2024, 12, 31), "closed", ["因学"]),
                                   (hids[1], V1, date(2024, 11, 30), "open", ["因残"])]:
            c.execute(insert(Alert).values(
                household_id=hid, region_code=v, rule_id="INC-LINE", risk_types=rts, status=st, first_run_id=run,
                last_run_id=run, first_as_of=d, last_as_of=d, first_evidence={}, evidence={"note": "-1 =2"},
                sources={}, param_version="p", rules_version="r", snapshot="s"))
    return engine


def test_monitored_series_by_type_new_and_removed_policy_2_5_9(county):
    with county.connect() as c:
        f = county_figures(c, COUNTY, "2024-12", months=3, today=date(2025, 3, 1), with_feeds=False)
    assert f["months"] == ["2024-10", "2024-11", "2024-12"]
    # Oct: C1; Nov: C1 C2 C3; Dec: C1 C2 C4 C5 (C3 removed 12-10)
    assert f["monitored_by_type"] == {"TPBWD": [1, 1, 2], "BYYZP": [0, 1, 2], "TFYZKN": [0, 1, 0]}
    assert f["monitored_total"] == [1, 3, 4]
    assert f["new"] == [1, 2, 2] and f["removed"] == [0, 0, 1]
    assert f["alerts_raised"] == [0, 1, 3]
    assert f["indicators"]["monitored_households"] == 4 and f["indicators"]["households"] == 6
    assert f["indicators"]["monitored_persons"] == 4
    # risk mix of monitored households at month end: 因病 C1 C2 C5 = 3, 因残 1, 因学 1 — names mapped to codes
    assert [(r["code"], r["count"]) for r in f["risk_mix_monitored"]] == [("ILLNESS", 3), ("DISABILITY", 1),
                                                                          ("SCHOOLING", 1)]
    assert f["region_name"] == "施甸县"


def test_township_scope_sees_only_its_township(county):
    with county.connect() as c:
        f = county_figures(c, T2, "2024-12", months=2, today=date(2025, 3, 1), with_feeds=False)
    assert f["monitored_total"] == [0, 2] and f["new"] == [0, 2]
    assert [r["code"] for r in f["alerts_by_area"]["rows"]] == [V3]


def test_alerts_by_area_drill_down(county):
    with county.connect() as c:
        top = alerts_by_area(c, COUNTY, "2024-12")
        down = alerts_by_area(c, COUNTY, "2024-12", T1)
        with pytest.raises(ReportInputError):
            alerts_by_area(c, T2, "2024-12", T1)  # outside the caller's region
    assert [(r["code"], r["name"], r["raised"], r["open"], r["households"]) for r in top["rows"]] == [
        (T1, "甸阳镇", 2, 3, 3), (T2, "由旺镇", 1, 0, 3)]
    assert all(r["drill"] for r in top["rows"])
    assert [(r["code"], r["raised"], r["open"]) for r in down["rows"]] == [(V1, 1, 2), (V2, 1, 1)]
    assert not any(r["drill"] for r in down["rows"])


def test_analysis_sentences_state_the_figures_seed000_auto_report(county):
    with county.connect() as c:
        f = county_figures(c, COUNTY, "2024-12", months=3, today=date(2025, 3, 1), with_feeds=False)
    s = {x["key"]: x for x in analysis(f)}
    m = s["monitored"]
    assert "共有监测对象4户" in m["zh"] and "比上月增加1户(+33.3%)" in m["zh"]
    assert "脱贫不稳定户2户" in m["zh"] and "突发严重困难户0户" in m["zh"]
    assert "4 monitored households" in m["en"]
    assert m["figures"] == {"monitored": 4, "previous": 3, "change": 1, "TPBWD": 2, "BYYZP": 2, "TFYZKN": 0}
    assert "本月新纳入监测2户,风险消除1户,净增加1户" in s["flows"]["zh"]
    assert "“因病”" in s["risk_monitored"]["zh"] and "3户" in s["risk_monitored"]["zh"]
    assert "新增3条" in s["alerts"]["zh"] and "增加2条" in s["alerts"]["zh"]
    assert "甸阳镇(3条,占100.0%)" in s["alerts_area"]["zh"]
    # every whole number printed in a sentence is one of the figures it carries (percentages are derived)
    for x in s.values():
        ints = {abs(v) for v in x["figures"].values() if isinstance(v, int) and not isinstance(v, bool)}
        text = re.sub(r"[+-]?\d+(\.\d+)?%", "", x["zh"]).replace("2024年12月", "")
        for n in re.findall(r"\d+", text):
            assert int(n) in ints, (n, x["zh"], x["figures"])
    assert m["figures"]["change"] == 1


def test_bad_month_and_region_are_bilingual_errors(county):
    with county.connect() as c:
        with pytest.raises(ReportInputError) as e:
            county_figures(c, COUNTY, "2024-13")
        assert e.value.code == "REPORT_BAD_MONTH" and "YYYY-MM" in str(e.value)
        with pytest.raises(ReportInputError):
            county_figures(c, "5305x", "2024-12")


def _all_cells(xlsx: bytes):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                yield cell


def assert_no_formulas(xlsx: bytes) -> None:
    """No cell a spreadsheet would evaluate: no formula cells, no text starting with = + - @ tab CR."""
    for cell in _all_cells(xlsx):
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str):
            assert not is_dangerous(cell.value), (cell.coordinate, cell.value)


def test_exports_chinese_headers_masked_ids_and_neutralised_formulas(county):
    with county.connect() as c:
        hh = export_xlsx(c, "households", COUNTY, on=date(2024, 12, 31))
        al = export_xlsx(c, "alerts", COUNTY)
        me = export_xlsx(c, "measures", COUNTY, on=date(2024, 12, 31))
        t2 = export_xlsx(c, "households", T2, on=date(2024, 12, 31))
    for x in (hh, al, me, t2):
        assert_no_formulas(x)
    ws = openpyxl.load_workbook(io.BytesIO(hh)).active
    rows = [[c.value for c in r] for r in ws.iter_rows()]
    assert rows[0][:8] == ["序号", "县(市、区)", "乡(镇)", "行政村", "户编号", "户主姓名", "户主证件号码", "家庭人口数"]
    assert len(rows) == 1 + 5
    first = rows[1]
    assert first[4] == "'=HH0" and first[5] == "'+张三"  # injected values neutralised, still readable
    assert first[6] == "5305**********000X" and first[16] == "139****5678"  # masked
    assert first[10] == "脱贫不稳定户" and first[11] == "因病" and first[13] == "未消除"
    removed = next(r for r in rows[1:] if r[17] == "C3")
    assert removed[13] == "已消除" and removed[14] == "帮扶消除" and removed[15] == "2024-12-10"
    blob = " ".join(str(v) for r in rows for v in r)
    assert "53052119800101000X" not in blob and "13912345678" not in blob
    assert len(list(openpyxl.load_workbook(io.BytesIO(t2)).active.iter_rows())) == 1 + 2  # township scope
    mrows = [[c.value for c in r] for r in openpyxl.load_workbook(io.BytesIO(me)).active.iter_rows()]
    assert mrows[1][6] == "就业帮扶" and mrows[1][10].startswith("'=HYPERLINK")
    arows = [[c.value for c in r] for r in openpyxl.load_workbook(io.BytesIO(al)).active.iter_rows()]
    assert len(arows) == 1 + 4 and arows[0][5] == "预警规则"


@pytest.mark.parametrize("value,expected", [("=1+2", "'=1+2"), ("+86 139", "'+86 139"), ("-2+3", "'-2+3"),
                                            ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
                                            ("＝1", "'＝1"), (" =1", "' =1"), ("张三", "张三"), ("", ""),
                                            (None, ""), (-5, -5), (3.5, 3.5)])
def test_safe_cell_owasp_csv_injection(value, expected):
    assert safe_cell(value) == expected


SPREADSHEET_WRITERS = re.compile(r"csv\.writer\(|DictWriter\(|xlsxwriter|openpyxl\.Workbook\(|\.to_csv\(|write_csv\(")
# The synthetic generator writes *inputs* that imitate messy department files (FEEDS.md): they are test data for
# the importers, deliberately unsanitised, never an export of registry data.
NOT_EXPORTS = {"synth/feeds.py", "synth/roster.py"}


def test_every_spreadsheet_writer_uses_safe_cell():
    """Guard for new exports: any module of fangpin that writes CSV/XLSX must go through safe_cell/safe_row."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "src" / "fangpin"
    writers = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        text = f.read_text(encoding="utf-8")
        if rel == "reports/cells.py" or not SPREADSHEET_WRITERS.search(text):
            continue
        writers.append(rel)
        if rel not in NOT_EXPORTS:
            assert "safe_cell" in text or "safe_row" in text, f"{rel} writes a spreadsheet without safe_cell"
    assert "reports/exports.py" in writers and "risk/score.py" in writers
