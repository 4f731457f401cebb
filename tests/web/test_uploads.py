"""Feed upload as a background job with a per-row report, feed health, job durability (stale jobs fail, re-running
is safe), the generic job hook, tracking-number status, code labels, and what a department data officer may see."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from fangpin.jobs import register_kind
from fangpin.jobs.models import Job
from fangpin.registry.models import ImportBatch

HEADER = "姓名,证件号码,性别,出生日期,行政区划代码,救助类型,变动类型,变动日期,月救助金额\n"


def civil_csv(village: str, tag: str) -> bytes:
    """FEEDS.md §B civil_affairs: two good rows and three bad ones (bad ID checksum, unknown change type, bad date)."""
    rows = [
        f"李{tag}甲,,男,1960-05-01,{village},低保,新增,2024-11-03,450",
        f"李{tag}乙,,女,1972-02-11,{village},特困,新增,2024-11-04,600",
        f"王{tag}丙,110105194912310021,男,1949-12-31,{village},低保,新增,2024-11-05,450",
        f"赵{tag}丁,,男,1980-01-01,{village},低保,瞎填,2024-11-05,450",
        f"钱{tag}戊,,女,1981-01-01,{village},低保,新增,2024-13-45,450",
    ]
    return (HEADER + "\n".join(rows) + "\n").encode("utf-8")


@pytest.fixture
def uapp(app, tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))
    app.state.job_spool = tmp_path / "jobs"
    yield app
    r = getattr(app.state, "job_runner", None)
    if r is not None:
        r.shutdown()


@pytest.fixture
def uclient(uapp):
    from fastapi.testclient import TestClient

    with TestClient(uapp) as c:
        yield c


def _wait(client, jid: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        j = client.get(f"/api/jobs/{jid}").json()
        if j["status"] in ("done", "failed") or time.monotonic() > deadline:
            return j
        time.sleep(0.1)


def _upload(client, csrf, feed, name, blob, as_of="2024-12-01"):
    return client.post("/api/jobs/feed-import", data={"feed": feed, "as_of": as_of},
                       files={"file": (name, blob, "text/csv")}, headers={"X-CSRF-Token": csrf})


def _batches(app) -> int:
    with app.state.engine.connect() as c:
        return c.execute(select(func.count()).select_from(ImportBatch)).scalar_one()


def test_bad_feed_upload_reports_every_bad_row_and_saves_no_bad_row(uclient, uapp, county, login):
    csrf = login(uclient, "demo_department")
    r = _upload(uclient, csrf, "civil_affairs", "民政-坏行.csv", civil_csv(county["village"], "a"))
    assert r.status_code == 202, r.text
    j = _wait(uclient, r.json()["id"])
    assert j["status"] == "done", j
    res = j["result"]
    assert res["status"] == "committed" and res["rows"] == 5 and res["accepted"] == 2 and res["rejected"] == 3
    bad_rows = sorted({e["row"] for e in res["errors"]})
    assert bad_rows == [4, 5, 6]  # data rows 3–5 (row 1 is the header)
    assert all(e["reason_zh"] and e["reason_en"] for e in res["errors"])
    assert "110105194912310021" not in str(res)  # the ID number is masked in the report
    with uapp.state.engine.connect() as c:
        from fangpin.exchange.models import FeedRecord

        stored = c.execute(select(FeedRecord.row_number).where(FeedRecord.batch_id == res["batch_id"])).scalars()
        assert sorted(stored) == [2, 3]  # only the good rows; nothing of a bad row is saved
    # the page shows the per-row report, both languages; the CSV has one line per issue
    page = uclient.get(f"/jobs/{j['id']}")
    assert page.status_code == 200 and 'id="row-errors"' in page.text
    assert len(re.findall(r'class="row-issue"', page.text)) == len(res["errors"])
    assert "Per-row error report" in uclient.get(f"/jobs/{j['id']}?lang=en").text
    csv_text = uclient.get(f"/api/jobs/{j['id']}/errors.csv").content.decode("utf-8-sig")
    assert csv_text.count("\n") == 1 + len(res["errors"]) + len(res["warnings"])
    # the same file again imports nothing twice
    r2 = _upload(uclient, csrf, "civil_affairs", "民政-坏行.csv", civil_csv(county["village"], "a"))
    assert _wait(uclient, r2.json()["id"])["result"]["status"] == "unchanged"


def test_file_without_required_columns_is_refused_whole(uclient, uapp, login):
    csrf = login(uclient, "demo_county")
    before = _batches(uapp)
    blob = "姓名,随便\n张三,1\n".encode()
    j = _wait(uclient, _upload(uclient, csrf, "civil_affairs", "wrong.csv", blob).json()["id"])
    assert j["status"] == "done" and j["result"]["status"] == "rejected"
    assert j["result"]["errors"][0]["row"] == 0  # a file-level problem
    assert _batches(uapp) == before
    assert 'data-outcome="rejected"' in uclient.get(f"/jobs/{j['id']}").text


def test_upload_refuses_wrong_type_unknown_feed_missing_csrf(uclient, login):
    csrf = login(uclient, "demo_department")
    assert _upload(uclient, csrf, "civil_affairs", "x.exe", b"MZ").status_code == 422
    assert _upload(uclient, csrf, "no_such_feed", "x.csv", b"a\n").status_code == 422
    r = uclient.post("/api/jobs/feed-import", data={"feed": "civil_affairs"}, files={"file": ("x.csv", b"a\n")})
    assert r.status_code == 403


def test_html_upload_form_runs_a_job_and_redirects_to_its_page(uclient, county, page_login):
    page_login(uclient, "demo_department")
    r = uclient.get("/feeds")
    assert r.status_code == 200 and 'id="upload-form"' in r.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    r = uclient.post("/feeds/upload", data={"csrf_token": token, "feed": "civil_affairs", "as_of": ""},
                     files={"file": ("民政.csv", civil_csv(county["village"], "h"), "text/csv")},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    jid = int(r.headers["location"].rsplit("/", 1)[1])
    assert _wait(uclient, jid)["status"] == "done"
    assert 'id="job-progress"' in uclient.get(f"/jobs/{jid}").text


def test_department_officer_sees_only_upload_and_feed_health(uclient, page_login, login):
    page_login(uclient, "demo_department")
    r = uclient.get("/dashboard", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/feeds"
    for path in ("/alerts", "/households"):
        assert uclient.get(path).status_code == 403, path
    assert uclient.get("/feeds/health").status_code == 200
    login(uclient, "demo_department")
    for path in ("/api/dashboard", "/api/households", "/api/alerts"):
        assert uclient.get(path).status_code == 403, path
    h = uclient.get("/api/feeds/health").json()["items"]
    assert {f["feed"] for f in h} >= {"civil_affairs", "medical", "water"}
    assert all({"last_delivery", "rows", "link_rate", "pending_reviews", "overdue"} <= set(f) for f in h)


def test_other_roles_cannot_upload_or_see_import_jobs(uclient, county, login, page_login):
    csrf = login(uclient, "demo_county")
    jid = _upload(uclient, csrf, "civil_affairs", "c.csv", civil_csv(county["village"], "v")).json()["id"]
    _wait(uclient, jid)
    for who in ("demo_village", "demo_township", "demo_province", "other_village"):
        csrf = login(uclient, who)
        assert _upload(uclient, csrf, "civil_affairs", "c.csv", b"a\n").status_code == 403, who
        assert uclient.get(f"/api/jobs/{jid}").status_code == 404, who
        assert uclient.get(f"/api/jobs/{jid}/errors.csv").status_code == 404, who
        assert uclient.get("/api/feeds/health").status_code == 403, who
    page_login(uclient, "demo_village")
    assert uclient.get("/feeds").status_code == 403
    assert uclient.get(f"/jobs/{jid}").status_code == 404
    uclient.cookies.clear()
    assert uclient.get(f"/api/jobs/{jid}").status_code == 401


def test_monitoring_run_as_a_job_is_safe_to_repeat(uclient, login):
    csrf = login(uclient, "demo_county")
    r = uclient.post("/api/jobs/monitor", json={"as_of": "2024-12-31"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    j1 = _wait(uclient, r.json()["id"], 120)
    assert j1["status"] == "done" and j1["progress"] == 1.0 and j1["result"]["alerts"] > 0
    j2 = _wait(uclient, uclient.post("/api/jobs/monitor", json={"as_of": "2024-12-31"},
                                     headers={"X-CSRF-Token": csrf}).json()["id"], 120)
    assert j2["id"] != j1["id"] and j2["result"]["alerts_sha256"] == j1["result"]["alerts_sha256"]
    assert j2["result"]["stored"].get("alerts_new", 0) == 0  # nothing raised twice
    csrf = login(uclient, "demo_department")
    assert uclient.post("/api/jobs/monitor", json={}, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_a_job_of_a_dead_process_is_marked_failed_not_left_running(uapp, uclient, county, login):
    old = datetime.now().replace(microsecond=0) - timedelta(minutes=10)
    with uapp.state.engine.begin() as c:
        jid = c.execute(insert(Job).values(kind="feed_import", status="running", params={"feed": "medical"},
                                           progress=0.4, stage="link", region_code=county["village"][:6],
                                           owner="gone:1:x", created_at=old, started_at=old, heartbeat_at=old)
                        .returning(Job.id)).scalar_one()
    login(uclient, "demo_county")
    j = uclient.get(f"/api/jobs/{jid}").json()
    assert j["status"] == "failed" and j["error"]["code"] == "JOB_INTERRUPTED" and j["error"]["zh"]


def test_server_start_marks_jobs_of_its_crashed_predecessor_failed(county, tmp_path):
    from fastapi.testclient import TestClient

    from fangpin.web.app import create_app

    app = create_app(county["url"], secret_key="t")
    app.state.job_spool = tmp_path / "jobs"
    old = datetime.now().replace(microsecond=0) - timedelta(minutes=10)
    with app.state.engine.begin() as c:
        jid = c.execute(insert(Job).values(kind="monitor", status="queued", params={}, progress=0.0, stage="queued",
                                           region_code="00", owner="crashed:1:x", created_at=old, heartbeat_at=old)
                        .returning(Job.id)).scalar_one()
    with TestClient(app):  # server start-up, no request
        started = app.state.job_runner
        with app.state.engine.connect() as c:
            assert c.execute(select(Job.status).where(Job.id == jid)).scalar_one() == "failed"
    assert started._stop.is_set()  # stopped with the server …
    assert app.state.job_runner is None  # … and forgotten: the same app started again gets a fresh runner
    app.state.engine.dispose()


def test_generic_hook_runs_a_registered_kind_with_artefact_and_records_crashes(uapp, uclient, county, login):
    from fangpin.web.uploads import runner

    def ok(engine, params, ctx):
        ctx.progress(0.5, "render")
        ctx.save_artefact(b"%PDF-1.4 test", "r.pdf")
        return {"n": params["n"]}

    def boom(engine, params, ctx):
        raise RuntimeError("disk on fire")

    register_kind("test_ok", ok, ("county_officer",))
    register_kind("test_boom", boom, ("county_officer",))
    login(uclient, "demo_county")
    user = type("U", (), {"id": None, "display_name": "t", "region_code": county["village"][:6]})()
    r = runner(uapp)
    j = r.wait(r.submit("test_ok", {"n": 3}, user=user))
    assert j["status"] == "done" and j["result"] == {"n": 3} and j["has_artefact"]
    assert uclient.get(f"/api/jobs/{j['id']}/artefact").content == b"%PDF-1.4 test"
    j = r.wait(r.submit("test_boom", {}, user=user))
    assert j["status"] == "failed" and j["error"]["code"] == "JOB_CRASHED" and "disk on fire" in j["error"]["en"]


def test_report_job_hook(uclient, county, login):
    csrf = login(uclient, "demo_county")
    r = uclient.post("/api/jobs/report", json={"month": "2024-12", "fmt": "pdf"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202
    j = _wait(uclient, r.json()["id"], 120)
    assert j["status"] == "done" and j["has_artefact"], j
    pdf = uclient.get(f"/api/jobs/{j['id']}/artefact")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    bad = uclient.post("/api/jobs/report", json={"month": "2024-12", "region": "11"}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 422  # outside the user's region


SELF_APP = {"name": "周八", "id_number": "11010519491231002X", "phone": "13800138000", "household_size": 3,
            "reasons": ["因病"], "description": "住院", "expected_income": 8000, "consent": True,
            "authorisation": True}


def test_tracking_number_shows_the_step_and_no_personal_data(uclient, county):
    no = uclient.post("/api/self-applications", json={**SELF_APP, "village_code": county["village"]}).json()[
        "tracking_number"]
    d = uclient.get(f"/api/track/{no}")
    assert d.status_code == 200
    body = d.json()
    assert body["state"] == "LEAD" and body["state_zh"] and not body["closed"]
    assert set(body) == {"tracking_number", "state", "state_zh", "state_en", "phase", "submitted_on",
                         "last_update", "closed"}
    page = uclient.get(f"/track?no={no.lower()}")
    assert page.status_code == 200 and 'id="track-state"' in page.text
    for secret in ("周八", "11010519491231002X", "13800138000", county["village"]):
        assert secret not in page.text and secret not in d.text
    assert uclient.get("/api/track/FP20240101ZZZZZZ").status_code == 404
    assert uclient.get("/track?no=nonsense").status_code == 404


def test_pages_show_code_labels_not_raw_codes(uclient, county, page_login):
    from fangpin.web.uploads import code_label, rule_label

    assert code_label("TPH", "household_types", "en") == "Formerly poor household"
    assert code_label("脱贫户", "household_types", "zh") == "脱贫户"
    assert code_label("???", "household_types", "en") == "???"
    assert rule_label("INC-LINE", "zh").startswith("人均纯收入低于监测标准")
    from fangpin.web.uploads import wf_label

    assert wf_label("verify_home", "action", "en") == "Home verification"
    assert wf_label("LEAD", "state", "zh") == "线索待受理"
    assert wf_label("alert", "source", "zh") == "监测预警"
    assert wf_label("no_such", "action", "en") == "no_such"
    page_login(uclient, "demo_county")
    en = uclient.get("/households?lang=en").text
    assert "Formerly poor household" in en or "Ordinary rural household" in en
    alerts = uclient.get("/alerts?lang=en").text
    assert re.search(r"\((INC|SPEND|SCHOOL|G|D|DEPT)[-A-Z]*\)</h3>", alerts), "rule names shown with their id"


def test_bad_roster_upload_lists_row_errors_and_imports_nothing(uapp, uclient, page_login):
    page_login(uclient, "demo_county")
    before = _batches(uapp)
    token = re.search(r'name="csrf_token" value="([^"]+)"', uclient.get("/feeds").text).group(1)
    files = [("files", ("households.csv", "户编号,行政区划代码,户类型\nH1,5305211012,脱贫户\n".encode(), "text/csv")),
             ("files", ("members.csv", "户编号,姓名,证件号码,与户主关系\nH1,张三,530521197001010012,户主\n".encode(),
                        "text/csv"))]
    r = uclient.post("/feeds/roster", data={"csrf_token": token}, files=files, follow_redirects=False)
    assert r.status_code == 303, r.text
    jid = int(r.headers["location"].rsplit("/", 1)[1])
    j = _wait(uclient, jid)
    assert j["status"] == "done" and j["result"]["status"] == "rejected", j
    assert any(e["file"] == "households.csv" and e["row"] == 2 for e in j["result"]["errors"])
    assert _batches(uapp) == before  # all or nothing
    assert set(j["params"]) == {"as_of", "files"}  # no server paths
    page = uclient.get(f"/jobs/{jid}").text
    assert 'id="row-errors"' in page and "households.csv" in page
    page_login(uclient, "demo_department")  # a department officer imports feeds, not the roster
    token = re.search(r'name="csrf_token" value="([^"]+)"', uclient.get("/feeds").text).group(1)
    assert uclient.post("/feeds/roster", data={"csrf_token": token}, files=files).status_code == 403


def test_xlsx_upload_and_job_list(uclient, county, login):
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.strip().split(","))
    ws.append(["周甲", None, "男", "1960-05-01", county["village"], "低保", "新增", "2024-11-03", 450])
    ws.append(["周乙", None, "女", "1961-05-01", county["village"], "低保", "新增", "2024-11-03", "x"])
    ws.cell(row=3, column=9).value = "=1+1"
    ws.cell(row=3, column=9).data_type = "s"  # text that looks like a formula, not a formula
    buf = io.BytesIO()
    wb.save(buf)
    csrf = login(uclient, "demo_county")
    r = uclient.post("/api/jobs/feed-import", data={"feed": "civil_affairs", "as_of": "2024-12-02"},
                     files={"file": ("民政.xlsx", buf.getvalue(),
                                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
                     headers={"X-CSRF-Token": csrf})
    j = _wait(uclient, r.json()["id"])
    assert j["result"]["status"] == "committed" and j["result"]["accepted"] == 1
    assert [e["row"] for e in j["result"]["errors"]] == [3]
    csv_text = uclient.get(f"/api/jobs/{j['id']}/errors.csv").content.decode("utf-8-sig")
    assert "'=1+1" in csv_text  # a formula in a report cell is neutralised
    items = uclient.get("/api/jobs").json()["items"]
    assert items[0]["id"] == j["id"] and items[0]["outcome"] == "committed" and "path" not in items[0]["params"]


def test_upload_pages_have_every_string_in_both_languages(uclient, county, login, page_login):
    csrf = login(uclient, "demo_county")
    jid = _upload(uclient, csrf, "civil_affairs", "l.csv", civil_csv(county["village"], "l")).json()["id"]
    _wait(uclient, jid)
    page_login(uclient, "demo_county")
    for lang in ("zh", "en"):
        for path in ("/feeds", "/feeds/health", f"/jobs/{jid}", "/track", "/track?no=FP20240101AAAAAA"):
            text = uclient.get(f"{path}{'&' if '?' in path else '?'}lang={lang}").text
            assert "uploads_" not in re.sub(r'id="[^"]*"|class="[^"]*"|href="[^"]*"', "", text), (lang, path)
