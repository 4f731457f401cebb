"""Programme demo data through the services; assets (seed 004 §三(五)), sites (§三(四)), scorecards (§八(二十四))."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from fangpin.alerts.models import Alert
from fangpin.programmes import assessment, assets, demo, jobs, relocation
from fangpin.programmes.errors import ProgrammeError
from fangpin.programmes.exports import payroll_xlsx, scorecard_pdf, scorecard_xlsx

from .conftest import actors

ON = date(2026, 1, 5)


@pytest.fixture
def seeded(county):
    e = county["engine"]
    with e.connect() as c:
        village = c.execute(select(Alert.region_code).order_by(Alert.region_code)).scalars().first()
    out = demo.seed(e, village, seed=5, year=2024, at=datetime(2025, 1, 5, 9, 0))
    return e, village, out


def test_demo_seed_builds_every_module_and_an_exit_alert(seeded):
    e, village, out = seeded
    assert out["posts"] > 0 and out["hires"] > 0 and out["payroll_months"] == 12 and out["assets"] > 0
    assert any(x["alert"] == "PWJ-EXIT" for x in out["exits"]), out["exits"]
    with e.connect() as c:
        rows = jobs.payroll_rows(c, village[:6], "2024-06")
        s = jobs.summary(c, village[:6])
    assert rows and all(r["income_record_id"] for r in rows)
    assert s["subsidy_paid"] > 0 and s["exited"] == len(out["exits"])
    wb = load_workbook(__import__("io").BytesIO(payroll_xlsx(rows)))
    ws = wb.active
    assert ws.cell(1, 4).value == "姓名" and ws.max_row == len(rows) + 1
    assert not any(len(str(c.value or "")) == 18 and str(c.value)[:6].isdigit() for row in ws.iter_rows()
                   for c in row), "no ID numbers in the payroll export"


def test_assets_warnings_and_summaries_seed004_s3_5(seeded):
    e, village, out = seeded
    with e.connect() as c:
        rows = assets.asset_rows(c, village[:6], ON)
        per_village = assets.summary(c, village[:6], ON, level="village")
        per_county = assets.summary(c, village[:6], ON, level="county")
    codes = {w["code"] for r in rows for w in r["warnings"]}
    assert codes <= {"NO_CUSTODIAN", "NO_INCOME_12M"}
    for r in rows:
        if r["asset_class"] == "OPERATING" and r["income_12m"] == 0:
            assert any(w["code"] == "NO_INCOME_12M" for w in r["warnings"])
        if r["asset_class"] != "HOUSEHOLD" and not r["custodian"]:
            assert any(w["code"] == "NO_CUSTODIAN" for w in r["warnings"])
    assert len(per_county) == 1 and per_county[0]["assets"] == len(rows) == sum(g["assets"] for g in per_village)
    assert per_county[0]["value"] == pytest.approx(sum(r["value"] for r in rows), abs=0.05)
    a = actors(village)
    with e.begin() as c:
        aid = assets.register(c, a["county"], asset_no="T-1", name="光伏", asset_class="OPERATING", region_code=village,
                              project_name="光伏项目", project_year=2020, value=1000, completed_on=date(2020, 1, 1))
        with pytest.raises(ProgrammeError) as ex:
            assets.record_income(c, a["county"], asset_id=aid, period="2025", received_on=date(2025, 6, 1),
                                 income=100, to_upkeep=50, to_households=50, to_village_welfare=1)
        assert ex.value.code == "ASSET_OVER_DISTRIBUTED"
        warn = [x for x in assets.asset_rows(c, village, ON) if x["id"] == aid][0]["warnings"]
        assert {w["code"] for w in warn} == {"NO_CUSTODIAN", "NO_INCOME_12M"}


def test_site_dashboard_uses_registry_and_large_site_parameter_seed004_s3_4(seeded):
    e, village, out = seeded
    if not out["sites"]:
        pytest.skip("no relocated household in this synthetic county")
    with e.connect() as c:
        d = relocation.dashboard(c, village[:6], ON)
    assert len(d) == 1
    s = d[0]
    assert s["households"] == out["relocated_households"] and s["persons"] >= s["households"]
    assert s["large"] == (s["persons"] >= 800) and s["large_threshold"] == 800  # cn.yaml [V] 800 persons
    assert s["employment_rate"] is None or 0 <= s["employment_rate"] <= 1
    assert s["supports"] == {"employment": 1, "industry": 1, "facility": 1, "service": 1}
    a = actors(village)
    with e.begin() as c:
        with pytest.raises(ProgrammeError) as ex:  # a household not marked relocated cannot be added
            from fangpin.programmes.models import SiteHousehold
            from fangpin.registry.service import current_households

            hq = current_households().subquery()
            plain = c.execute(select(hq.c.household_id).where(hq.c.relocated.is_(False)).limit(1)).scalar_one()
            relocation.add_households(c, a["county"], site_id=s["id"], household_ids=[plain], moved_in_on=ON)
        assert ex.value.code == "SITE_NOT_RELOCATED"


def test_every_scorecard_figure_opens_to_its_records_seed004_s8_24(seeded):
    e, village, _ = seeded
    with e.connect() as c:
        card = assessment.scorecard(c, village[:6], ON)
        town = assessment.scorecard(c, village[:9], ON)
        assert {i["id"] for i in town["indicators"]} < {i["id"] for i in card["indicators"]}
        for i in card["indicators"]:
            rows = assessment.indicator_rows(c, village[:6], ON, i["id"])
            assert len(rows) == i["records"] and sum(r["ok"] for r in rows) == i["ok"]
            assert all(r["href"].startswith("/") and r["region_code"].startswith(village[:6]) for r in rows)
        details = {i["id"]: assessment.indicator_rows(c, village[:6], ON, i["id"]) for i in card["indicators"]}
    byid = {i["id"]: i for i in card["indicators"]}
    assert byid["PWJ_FILL"]["records"] > 0 and byid["ALERT_RESPONSE"]["records"] > 0
    assert byid["ASSET_CUSTODY"]["records"] > 0
    assert 0 <= card["total"] <= 100
    pdf = scorecard_pdf(card, "示范县")
    assert pdf[:5] == b"%PDF-" and len(pdf) > 1000
    wb = load_workbook(__import__("io").BytesIO(scorecard_xlsx(card, "示范县", details)))
    assert wb["考核得分"].cell(2, 2).value == "指标" and "PWJ_FILL" in wb.sheetnames
    with pytest.raises(ProgrammeError):
        with e.connect() as c:
            assessment.scorecard(c, village, ON)  # a village has no scorecard


def test_cli_scorecard_payroll_and_sites(seeded, tmp_path):
    import json

    from typer.testing import CliRunner

    from fangpin.cli.main import app

    e, village, _ = seeded
    url = e.url.render_as_string(hide_password=False)
    r = CliRunner().invoke(app, ["programmes", "scorecard", village[:6], "--db", url, "--on", "2025-01-05",
                                 "--pdf", str(tmp_path / "c.pdf"), "--report-json", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    card = json.loads((tmp_path / "c.json").read_text())
    assert card["region_code"] == village[:6] and (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    r = CliRunner().invoke(app, ["programmes", "scorecard", village, "--db", url])
    assert r.exit_code == 2 and "乡镇" in r.output
    r = CliRunner().invoke(app, ["programmes", "payroll", "2024-03", "--db", url, "--out", str(tmp_path / "p.xlsx")])
    assert r.exit_code == 0 and "payroll rows" in r.output
    r = CliRunner().invoke(app, ["programmes", "sites", "--db", url, "--report-json", str(tmp_path / "s.json")])
    assert r.exit_code == 0


def test_key_county_indicator_set_for_every_county_seed004_s6_15(seeded):
    from fangpin.programmes import key_counties

    e, village, _ = seeded
    with e.connect() as c:
        cmp = key_counties.compare(c, village[:2], date(2024, 12, 31))
        only = key_counties.compare(c, village[:2], date(2024, 12, 31), only_key=True)
        x = key_counties.report_xlsx(cmp, {})
    assert [k["county_code"] for k in only["counties"]] == [village[:6]]
    county = cmp["counties"][0]
    assert county["key"]["level"] == "national"
    by = {i["id"]: i for i in county["indicators"]}
    assert set(by) == {i["id"] for i in key_counties.config()["indicators"]}
    g = by["RURAL_INCOME_GROWTH"]
    assert g["value"] is not None and g["benchmark"] is not None  # national 2023 vs 2022 [V]
    assert g["meets_benchmark"] == (g["value"] > g["benchmark"])
    assert by["PWJ_PER_1000"]["num"] > 0 and by["ALERTED_SHARE"]["den"] > 0
    wb = load_workbook(__import__("io").BytesIO(x))
    assert wb.active.cell(2, 1).value == village[:6]


def test_pairing_rules_and_yearly_evaluation_seed004_s6_16(seeded):
    from fangpin.cases import Actor
    from fangpin.programmes import pairing

    e, village, out = seeded
    admin = Actor("a", "管理员", "admin", "00")
    assert out["pairs"] >= 1 and out["labour_transfers"] > 0
    with e.begin() as c:
        pairs = pairing.pair_rows(c, village[:6])
        assert {p["kind"] for p in pairs} >= {"designated"}
        with pytest.raises(ProgrammeError) as ex:  # central province: no inter-provincial pairing
            pairing.create_pair(c, admin, kind="east_west", giver="31", receiver_code="41", started_on=ON,
                                reference="x")
        assert ex.value.code == "PAIR_NOT_EAST_WEST"
        if village[:2] in pairing.config()["western"]:  # one eastern partner per western province
            with pytest.raises(ProgrammeError) as ex:
                pairing.create_pair(c, admin, kind="east_west", giver="44", receiver_code=village[:2], started_on=ON,
                                    reference="x")
            assert ex.value.code == "PAIR_MANY_TO_ONE"
        ok = pairing.create_pair(c, admin, kind="east_west", giver="31", receiver_code="62", started_on=ON,
                                 reference="x")
        assert [f["code"] for f in ok["flags"]] == (["ONE_TO_MANY"] if village[:2] in pairing.config()["western"]
                                                    else [])
        for p in pairs:
            ev = pairing.evaluate(c, p["id"], 2024)
            for i in ev["indicators"]:
                rows = pairing.records(c, p["id"], 2024, i["id"])
                assert len(rows) == i["records"]
            funds = next(i for i in ev["indicators"] if i["id"] == "FUNDS")
            assert funds["value"] == pytest.approx(sum(r["amount"] for r in pairing.records(c, p["id"], 2024, "FUNDS"))
                                                   / 10000, abs=0.01)
            assert 0 <= ev["total"] <= 100


def test_programme_yaml_entries_are_complete():
    """Every entry of the programme YAML files has exactly its declared fields (a stray comma in a flow mapping
    would silently add a key)."""
    from fangpin.programmes import assessment, jobs, key_counties, pairing

    for e in pairing.config()["indicators"]:
        assert set(e) == {"id", "zh", "en", "measure", "target", "unit"}, e
    assert set(pairing.config()["weights"]) == {e["id"] for e in pairing.config()["indicators"]}
    for e in assessment.config()["indicators"]:
        assert set(e) == {"id", "zh", "en", "source", "levels", "weight", "target", "reference"}, e
        assert e["source"] in assessment.SOURCES
        assert "seed 004" in e["reference"] or "POLICY.md" in e["reference"]
    for e in key_counties.config()["indicators"]:
        assert {"id", "zh", "en", "measure", "better", "reference"} <= set(e), e
    for key in ("post_types", "exit_reasons"):
        for e in jobs.config()[key]:
            assert set(e) == {"code", "zh", "en"}, e
    for e in jobs.config()["eligible_groups"]:
        assert set(e) == {"code", "zh", "en", "reference"}, e
