"""End to end through the CLI: synth → report JSON → roster export → roster import into another database."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from fangpin.cli.main import app
from fangpin.db import make_engine
from fangpin.registry.service import counts

runner = CliRunner()


def test_synth_report_roster_round_trip(tmp_path):
    db = f"sqlite:///{tmp_path}/a.db"
    r = runner.invoke(app, ["synth", "--households", "1500", "--months", "24", "--seed", "4", "--db", db,
                            "--report-json", str(tmp_path / "r.json"), "--roster-dir", str(tmp_path / "roster"),
                            "--feeds-dir", str(tmp_path / "feeds")])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    stats = rep["statistics"]
    assert {"name", "reference", "generated", "tolerance", "ok"} <= set(stats[0])
    assert sum("quintile" in s["name"] for s in stats) == 5
    assert rep["run"]["households"] > 1400 and rep["run"]["feeds"]
    assert sorted(p.name for p in (tmp_path / "roster").iterdir()) == [
        "guarantees.csv", "households.csv", "income.csv", "members.csv"]

    db2 = f"sqlite:///{tmp_path}/b.db"
    r2 = runner.invoke(app, ["import", "roster", str(tmp_path / "roster"), "--db", db2, "--as-of", "2024-12-31",
                             "--report-json", str(tmp_path / "imp.json")])
    assert r2.exit_code == 0, r2.output
    imp = json.loads((tmp_path / "imp.json").read_text(encoding="utf-8"))
    assert imp["status"] == "committed", imp["errors"][:5]
    with make_engine(db).connect() as c1, make_engine(db2).connect() as c2:
        assert counts(c1) == counts(c2)
    r3 = runner.invoke(app, ["import", "roster", str(tmp_path / "roster"), "--db", db2])
    assert r3.exit_code == 0 and "未做任何更改" in r3.output


def test_rejected_roster_exits_non_zero_with_reasons(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "households.csv").write_text("户编号,行政区划代码,户类型\nH1,5305211012,脱贫户\n", encoding="utf-8")
    (d / "members.csv").write_text(
        "户编号,姓名,证件号码,与户主关系\nH1,张三,530521197001010012,户主\n", encoding="utf-8")
    r = runner.invoke(app, ["import", "roster", str(d), "--db", f"sqlite:///{tmp_path}/c.db"])
    assert r.exit_code == 1
    out = r.output.replace("\n", "")
    assert "12位" in out or "12 digits" in out
    assert "整批未导入" in out


def test_evaluate_command_reports_the_issue_figures(tmp_path):
    """`fangpin evaluate` on a small held-out panel (trained only on earlier months) writes the four figures."""
    r = runner.invoke(app, ["evaluate", "--households", "1500", "--months", "36", "--seed", "5",
                            "--work", str(tmp_path / "w"), "--report-json", str(tmp_path / "e.json")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    for k in ("warning.recall_ratio_k5", "warning.auc", "warning.top1_cause", "warning.lead_time_months"):
        assert k in res
    assert 0.5 <= res["warning.auc"] <= 1.0
