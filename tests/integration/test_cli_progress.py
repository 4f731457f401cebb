"""CLI imports and monitoring show a Rich progress bar fed by the services' progress callbacks."""
from __future__ import annotations

from typer.testing import CliRunner

from fangpin.cli.main import app


def test_feed_import_and_monitor_show_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))
    db = f"sqlite:///{tmp_path}/p.db"
    f = tmp_path / "民政.csv"
    f.write_text("姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额\n"
                 "李甲,,男,1960-05-01,530521100201,低保,新增,2024-11-03,450\n"
                 "李乙,,女,1972-02-11,530521100201,低保,瞎填,2024-11-04,600\n", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(app, ["import", "feed", "civil_affairs", str(f), "--db", db])
    assert r.exit_code == 0, r.output
    assert "feed civil_affairs" in r.output and "100%" in r.output and "完成 / done" in r.output
    assert "第3行" in r.output  # the per-row report follows the bar
    r = runner.invoke(app, ["monitor", "--db", db, "--as-of", "2024-12-31"])
    assert r.exit_code == 0, r.output
    assert "monitor" in r.output and "100%" in r.output
