"""Department feed import (FEEDS.md §B, POLICY.md §6) on SQLite and PostgreSQL, checked against the synthetic feed
truth (``_truth/feed_rows.parquet``): every FEEDS.md mess normalised or rejected with the expected reason, exact
links to the true person, one transaction per batch, idempotent re-import, replay, review queue, merges/splits,
feed health and crash safety."""
from __future__ import annotations

import collections
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from sqlalchemy import func, select

from fangpin.db import make_engine
from fangpin.exchange import feeds as feeds_mod
from fangpin.exchange.feeds import (
    decide_review,
    import_feed,
    labelled_pairs,
    list_reviews,
    merge_persons,
    replay,
    resolve_person,
    split_person,
    village_record_households,
)
from fangpin.exchange.health import feeds_status
from fangpin.exchange.models import FeedRecord, LinkReview, PersonAudit
from fangpin.ids import make_ids
from fangpin.registry.models import ImportBatch, Person
from fangpin.synth.feeds import FEED_KEYS, write_feeds
from fangpin.synth.run import SynthParams, run

PARAMS = SynthParams(households=2000, seed=3)
REPORT_KEYS = {"rows", "accepted", "rejected", "linked_exact", "linked_probabilistic", "to_review", "unmatched",
               "errors", "batch_id", "status"}


@pytest.fixture(scope="module")
def county_files(tmp_path_factory):
    """The synthetic county's feed files + truth, generated once (the registry is rebuilt per database)."""
    d = tmp_path_factory.mktemp("county")
    e = make_engine(f"sqlite:///{d}/template.db")
    run(e, PARAMS, d / "truth")
    e.dispose()
    write_feeds(d / "truth", d / "feeds", seed=3)
    return d


@pytest.fixture(autouse=True)
def _landing(tmp_path, monkeypatch):
    monkeypatch.setenv("FANGPIN_LANDING_DIR", str(tmp_path / "landing"))


def _county(engine, tmp_path):
    run(engine, PARAMS, tmp_path / "truth_db")


def _files(d: Path) -> list[Path]:
    return sorted(p for p in (d / "feeds").glob("*/*.*") if p.parent.name in FEED_KEYS)


def _import_all(engine, d: Path) -> dict[str, feeds_mod.FeedReport]:
    return {f"{p.parent.name}/{p.name}": import_feed(engine, p.parent.name, p) for p in _files(d)}


def _linker_is_real() -> bool:
    return feeds_mod._linker()[1] == "fangpin.linkage"


def _records(engine) -> list[dict]:
    """Feed records with their payload opened (IDs, phones, addresses are sealed at rest: docs/SECURITY.md)."""
    from fangpin.security.crypto import PREFIX
    from fangpin.security.fields import open_payload

    with engine.connect() as c:
        fr = FeedRecord.__table__
        rows = [dict(r._mapping) for r in c.execute(select(fr).order_by(fr.c.id))]
    for r in rows:
        if r["payload"].get("id_number"):
            assert r["payload"]["id_number"].startswith(PREFIX)
        r["payload"] = open_payload(r["payload"])
    return rows


def _content(rows: list[dict], batch_files: dict[int, str]) -> list[tuple]:
    return sorted((batch_files[r["batch_id"]], r["row_number"], r["feed"], r["event_date"], r["person_id"],
                   r["household_id"], r["village_code"], r["link_method"],
                   json.dumps(r["payload"], sort_keys=True, ensure_ascii=False)) for r in rows)


def _batch_files(engine) -> dict[int, str]:
    with engine.connect() as c:
        return {i: f[0]["name"] for i, f in c.execute(select(ImportBatch.id, ImportBatch.files))}


# ---------------------------------------------------------------------------------------------------------------
# The whole county against the truth


@pytest.mark.heavy
def test_feeds_md_every_generated_row_accepted_or_rejected_as_truth_says(engine, county_files, tmp_path):
    _county(engine, tmp_path)
    reports = _import_all(engine, county_files)
    assert all(r.status == "committed" for r in reports.values()), \
        [(k, r.message_en) for k, r in reports.items() if r.status != "committed"]
    truth = pq.read_table(county_files / "feeds" / "_truth" / "feed_rows.parquet").to_pylist()
    recs = {(r["batch_id"], r["row_number"]): r for r in _records(engine)}
    mismatches = []
    exact_checked = exact_wrong = 0
    for t in truth:
        rep = reports[t["file"]]
        errs = {e.row: e for e in rep.errors}
        unmatched = {u["row"]: u for u in rep.unmatched_rows}
        rec = recs.get((rep.batch_id, t["row_number"]))
        if t["reject_reason_code"] == "not_in_registry":
            # Brief/contract: a valid ID not in the registry is accepted as unmatched, never rejected.
            ok = rec is not None and rec["link_method"] == "unmatched" and rec["person_id"] is None \
                and unmatched[t["row_number"]]["code"] == "not_in_registry"
        elif t["expected"] == "reject":
            e = errs.get(t["row_number"])
            ok = rec is None and e is not None and e.code == t["reject_reason_code"]
            if ok and t["reject_reason_code"] == "duplicate_in_batch":
                ok = f"row {t['duplicate_of_row']}" in e.reason_en
        else:
            ok = rec is not None and t["row_number"] not in errs
            if ok and t["feed"] == "water":
                ok = rec["link_method"] == "village" and rec["village_code"] == t["village"]
            elif ok and rec["link_method"] in ("exact", "household_head"):
                exact_checked += 1
                if rec["person_id"] != t["person_id"] or rec["household_id"] != t["household_id"]:
                    exact_wrong += 1
        if not ok:
            mismatches.append((t["file"], t["row_number"], t["expected"], t["reject_reason_code"], t["messes"],
                               rec and rec["link_method"], errs.get(t["row_number"])))
    assert mismatches == []
    assert exact_checked > 2000 and exact_wrong == 0
    # sensitive values are masked in every report (FEEDS.md; POLICY.md §5)
    for rep in reports.values():
        for e in rep.errors:
            if e.column in ("证件号码", "残疾人证号"):
                assert "*" in e.value
    # household-head feeds link to the head's household (FEEDS.md §B housing/disaster)
    methods = collections.Counter((r["feed"], r["link_method"]) for r in recs.values())
    assert methods[("housing", "household_head")] > 0 and methods[("housing", "exact")] == 0
    assert methods[("water", "village")] >= 1
    # the report JSON has the keys the brief asks for
    d = next(iter(reports.values())).as_dict()
    assert REPORT_KEYS <= set(d) and {"row", "column", "value", "reason"} <= set(
        (next(r for r in reports.values() if r.errors).as_dict()["errors"][0]))
    # re-importing the same files changes nothing (content sha256)
    before = _count(engine, FeedRecord), _count(engine, ImportBatch)
    again = _import_all(engine, county_files)
    assert {r.status for r in again.values()} == {"unchanged"}
    assert (_count(engine, FeedRecord), _count(engine, ImportBatch)) == before


@pytest.mark.heavy
def test_no_id_rows_are_linked_probabilistically_with_high_precision(engine, county_files, tmp_path):
    _county(engine, tmp_path)
    reports = _import_all(engine, county_files)
    truth = {(t["file"], t["row_number"]): t for t in
             pq.read_table(county_files / "feeds" / "_truth" / "feed_rows.parquet").to_pylist()}
    by_batch = {r.batch_id: k for k, r in reports.items()}
    no_id = [(truth[(by_batch[r["batch_id"]], r["row_number"])], r) for r in _records(engine)
             if "no_id" in truth[(by_batch[r["batch_id"]], r["row_number"])]["messes"]]
    assert len(no_id) > 30
    auto = [(t, r) for t, r in no_id if r["link_method"] == "probabilistic"]
    wrong = [(t["person_id"], r["person_id"]) for t, r in auto if r["person_id"] != t["person_id"]]
    assert len(wrong) <= max(1, 0.05 * len(auto)), wrong
    with engine.connect() as c:
        pending = c.execute(select(func.count()).select_from(LinkReview).where(LinkReview.status == "pending")
                            ).scalar_one()
    assert pending == sum(r.to_review for r in reports.values())
    if not _linker_is_real():
        pytest.skip("fangpin.linkage not importable: the fallback rule (exact name+birth+sex+village) was used, "
                    "so linkage recall is not measured")
    resolved = sum(r["link_method"] in ("probabilistic", "review") for _, r in no_id)
    assert resolved / len(no_id) >= 0.8


@pytest.mark.heavy
def test_replay_into_a_fresh_database_gives_identical_feed_records(engine, county_files, tmp_path):
    _county(engine, tmp_path)
    _import_all(engine, county_files)
    src = _content(_records(engine), _batch_files(engine))
    fresh = make_engine(f"sqlite:///{tmp_path}/fresh.db")
    run(fresh, PARAMS, tmp_path / "truth_fresh")
    reps = replay(fresh)
    assert len(reps) == len(_files(county_files)) and {r.status for r in reps} == {"committed"}
    assert _content(_records(fresh), _batch_files(fresh)) == src
    # order preserved: batches in the same order as the originals
    with engine.connect() as c1, fresh.connect() as c2:
        q = select(ImportBatch.content_sha256).where(ImportBatch.kind.like("feed:%")).order_by(ImportBatch.id)
        assert list(c1.execute(q).scalars()) == list(c2.execute(q).scalars())
    # replaying again is a no-op; replay from the source database's batch order works too
    assert {r.status for r in replay(fresh)} == {"unchanged"}
    assert {r.status for r in replay(fresh, source=engine)} == {"unchanged"}
    fresh.dispose()


# ---------------------------------------------------------------------------------------------------------------
# Hand-made files: messes, file rejection, review queue, merges


IDS = make_ids(np.array([530521] * 4), np.array([19700101, 19720305, 19801212, 19650505]), np.array([1, 2, 3, 5]))
MED_HEAD = ["姓名", "证件号码", "性别", "出生日期", "行政区划代码", "统计截止日期", "年度累计总费用", "基本医保支付",
            "大病保险支付", "医疗救助支付", "政策范围内个人自付", "个人自付合计"]


def _csv(path: Path, head, rows, title=None, encoding="utf-8") -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    if title:
        w.writerow([title] + [""] * (len(head) - 1))
    w.writerow(head)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _count(engine, model) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(model)).scalar_one()


def _registry_people(engine, n=3):
    from fangpin.registry.snapshot import persons

    with engine.connect() as c:
        t = persons(c).to_pylist()
    return [p for p in t if p["id_number"]][:n], t


def test_feeds_md_messes_in_one_gb18030_file(engine, tmp_path):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 3)
    a, b, c3 = people
    old15 = None
    rows = [
        [" ".join(a["name"]), a["id_number"].lower().replace(" ", "\t"), a["sex"], a["birth_date"].strftime("%Y/%-m/%-d"),
         a["village_code"], "2024年3月31日", "12,345.60元", "8,000", "", "", "2,000", "4,345.60"],
        [b["name"], b["id_number"].translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")), b["sex"],
         b["birth_date"].strftime("%Y%m%d"), b["village_code"], "45382", "5000", "3000", "0", "0", "1000", "2000"],
        [c3["name"], "5.30521E+17", c3["sex"], "", c3["village_code"], "2024-03-31", "100", "0", "0", "0", "50", "100"],
        [b["name"], b["id_number"], b["sex"], b["birth_date"].strftime("%Y%m%d"), b["village_code"], "45382", "5000",
         "3000", "0", "0", "1000", "2000"],  # exact repeat of row 4 (with half-width ID): duplicate
        ["某某", IDS[0], "男", "1970-01-01", "530521101201", "2024-03-31", "300", "", "", "", "1", "x元"],  # bad amount
        ["合计", "", "", "", "", "", "17745.6", "", "", "", "", ""],
    ]
    f = _csv(tmp_path / "医保2024年3月.csv", MED_HEAD + ["备注"], [r + ["已核实"] for r in rows],
             title="施甸县2024年3月高额医疗费用人员名单", encoding="gb18030")
    rep = import_feed(engine, "medical", f)
    assert rep.status == "committed", rep.as_dict()
    assert rep.rows == 5 and rep.accepted == 2 and rep.rejected == 3
    errs = {e.row: e for e in rep.errors}
    assert errs[5].code == "id_lost_digits" and "*" in errs[5].value  # FEEDS.md: do not guess, masked
    assert errs[6].code == "duplicate_in_batch" and "row 4" in errs[6].reason_en and "第 4 行" in errs[6].reason_zh
    assert errs[7].column == "个人自付合计" and errs[7].code == "amount.unrecognized"
    assert rep.extra_columns == ["备注"] and {"row": 8, "reason": "totals"} in rep.skipped
    recs = _records(engine)
    assert [r["person_id"] for r in recs] == [a["person_id"], b["person_id"]]
    assert all(r["link_method"] == "exact" for r in recs)
    p = recs[0]["payload"]
    assert p["total_cost"] == 12345.6 and p["critical_illness_insurance"] == 0.0  # blank = 0 where the column says so
    assert p["as_of_date"] == "2024-03-31" and p["name"] == a["name"] and p["id_number"] == a["id_number"]
    assert recs[1]["event_date"] == date(2024, 3, 31)  # Excel serial 45382


def test_xlsx_number_cell_id_is_rejected_and_15_digit_id_links(engine, tmp_path):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 200)
    old = next(p for p in people if p["id_number"][6:8] == "19" and p["id_number"][-1] != "X")
    id15 = old["id_number"][:6] + old["id_number"][8:17]
    other = people[-1]
    path = tmp_path / "disability.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    head = ["姓名", "证件号码", "性别", "出生日期", "行政区划代码", "残疾人证号", "残疾类别", "残疾等级", "发证日期", "变动类型"]
    ws.merge_range(0, 0, 0, len(head) - 1, "施甸县残疾人证变动名单")
    ws.write_row(1, 0, head)
    ws.write_row(2, 0, [old["name"], id15, old["sex"], "", "", old["id_number"] + "42", 4, 2, "2024-05-06", "新办"])
    ws.write_row(3, 0, [other["name"], None, "", "", "", other["id_number"] + "11", 1.0, 1.0, 45400, "新办"])
    ws.write(4, 0, other["name"])
    ws.write_number(4, 1, float(other["id_number"][:17]) * 10)  # an ID stored as a number: digits lost
    ws.write_row(4, 5, [other["id_number"] + "11", 1, 1, "2024-05-06", "注销"])
    ws.write_row(5, 0, [other["name"], "", "", "", "", other["id_number"] + "13", 1, 1, "2024-05-06", "新办"])
    wb.close()
    rep = import_feed(engine, "disability", path)
    assert rep.status == "committed"
    errs = {e.row: e.code for e in rep.errors}
    assert errs == {5: "id_lost_digits", 6: "certificate.grade_mismatch"}
    recs = _records(engine)
    assert [(r["row_number"], r["person_id"], r["link_method"]) for r in recs] == [
        (3, old["person_id"], "exact"), (4, other["person_id"], "exact")]  # 15→18; certificate's first 18 digits
    assert recs[0]["payload"]["id_number"] == old["id_number"] and recs[0]["payload"]["grade"] == "2"


def test_file_breaking_the_contract_writes_nothing(engine, tmp_path):
    f = _csv(tmp_path / "m.csv", [h for h in MED_HEAD if h != "个人自付合计"],
             [["张三", IDS[0], "男", "", "", "2024-03-31", "1", "0", "0", "0", "0"]])
    rep = import_feed(engine, "medical", f)
    assert rep.status == "rejected" and rep.errors[0].code == "file.missing_columns"
    assert "个人自付合计" in rep.errors[0].reason_zh
    (tmp_path / "bad.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    rep2 = import_feed(engine, "medical", tmp_path / "bad.xlsx")
    assert rep2.status == "rejected" and rep2.errors[0].code == "file.damaged"
    assert _count(engine, ImportBatch) == 0 and _count(engine, FeedRecord) == 0
    assert not (Path(os.environ["FANGPIN_LANDING_DIR"]) / "medical").exists()


def test_valid_id_not_in_registry_is_accepted_unmatched_and_water_is_village_level(engine, tmp_path):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 1)
    f = _csv(tmp_path / "ps.csv", ["姓名", "证件号码", "事件", "日期", "迁入地行政区划代码"],
             [["外县人", IDS[3], "迁入", "2024-02-02", "530521101201"]])
    rep = import_feed(engine, "public_security", f)
    assert (rep.accepted, rep.rejected, rep.unmatched) == (1, 0, 1)
    assert rep.unmatched_rows[0]["code"] == "not_in_registry"
    v = people[0]["village_code"]
    w = _csv(tmp_path / "water.csv", ["行政区划代码", "事件", "开始日期", "结束日期", "影响户数"],
             [[v, "断水", "2024-01-05", "", "12"], [v, "管道冻裂", "2024-01-09", "2024-01-20", "3"],
              ["999999999999", "断水", "2024-01-05", "2024-01-01", "1"]])
    rep = import_feed(engine, "water", w)
    assert (rep.accepted, rep.linked_village) == (2, 2)
    assert rep.errors[0].code == "date.end_before_start"
    assert rep.drift == {"事件": {"count": 1, "examples": ["管道冻裂"]}}  # unknown code: accepted with a drift warning
    with engine.connect() as c:
        hh = village_record_households(c)
        from fangpin.registry.service import current_households

        sub = current_households().subquery()
        n = c.execute(select(func.count()).select_from(sub).where(sub.c.region_code == v, sub.c.active.is_(True))
                      ).scalar_one()
    assert hh.num_rows == 2 * n and n > 0


def _stub_linker(decisions):
    def link(left: pa.Table, registry: pa.Table) -> pa.Table:
        rows = left.to_pylist()
        out = [decisions(r, registry) for r in rows]
        return pa.table({"row_id": [r["row_id"] for r in rows], "person_id": pa.array([o[0] for o in out], pa.int64()),
                         "probability": [o[1] for o in out], "match_weight": [None] * len(rows),
                         "decision": [o[2] for o in out], "second_best_gap": [None] * len(rows),
                         "explanation": ["stub: " + o[2] for o in out]})
    return link


def test_review_queue_accept_reject_and_labelled_pairs(engine, tmp_path, monkeypatch):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 3)
    a, b, c3 = people
    # deterministic linker for the queue mechanics: the real linker's choices are tested against the truth above
    monkeypatch.setattr(feeds_mod, "_linker", lambda: (_stub_linker(
        lambda r, reg: {a["name"]: (a["person_id"], 0.7, "review"), b["name"]: (b["person_id"], 0.6, "review"),
                        c3["name"]: (c3["person_id"], 0.99, "auto")}.get(r["name"], (None, 0.0, "unmatched"))),
        "stub"))
    f = _csv(tmp_path / "emp.csv", ["姓名", "证件号码", "性别", "出生日期", "行政区划代码", "事件", "日期", "月收入"], [
        [p["name"], "", p["sex"], p["birth_date"].isoformat(), p["village_code"], "失业登记", "2024-04-01", "0"]
        for p in (a, b, c3)] + [["查无此人", "", "男", "1990-01-01", "530521101201", "务工中断", "2024-04-02", ""]])
    rep = import_feed(engine, "employment", f)
    assert (rep.to_review, rep.linked_probabilistic, rep.unmatched) == (2, 1, 1)
    with engine.connect() as c:
        items = list_reviews(c, feed="employment")
    assert len(items) == 2 and items[0]["candidate"]["person_id"] == a["person_id"]
    assert "*" in items[0]["candidate"]["id_number"]
    r1 = decide_review(engine, items[0]["id"], accept=True, by="李干部", comment="电话核实")
    r2 = decide_review(engine, items[1]["id"], accept=False, by="李干部")
    assert r1["status"] == "accepted" and r2["status"] == "rejected"
    with pytest.raises(ValueError, match="already decided"):
        decide_review(engine, items[0]["id"], accept=False, by="王")
    recs = {r["row_number"]: r for r in _records(engine)}
    assert recs[2]["person_id"] == a["person_id"] and recs[2]["household_id"] == a["household_id"]
    assert recs[2]["link_method"] == "review" and recs[2]["link_probability"] == 0.7
    assert recs[3]["person_id"] is None and recs[3]["link_method"] == "unmatched"
    assert recs[4]["person_id"] == c3["person_id"] and recs[4]["link_method"] == "probabilistic"
    with engine.connect() as c:
        pairs = labelled_pairs(c)
        assert list_reviews(c) == []
        lr = c.execute(select(LinkReview.__table__).where(LinkReview.id == items[0]["id"])).one()
    assert lr.decided_by == "李干部" and lr.decided_at is not None and lr.comment == "电话核实"
    assert pairs.num_rows == 2 and pairs.column("label").to_pylist() == [1, 0]
    assert pairs.column("name").to_pylist() == [a["name"], b["name"]]
    assert pairs.column("person_id").to_pylist() == [a["person_id"], b["person_id"]]
    # the decisions feed back into the linker's training for the next batch (issue 3 §3)
    from fangpin.linkage import train
    from fangpin.registry.snapshot import persons

    left = pa.table({"row_id": pa.array([1], pa.int64()), "name": [a["name"]], "sex": [a["sex"]],
                     "birth_date": pa.array([a["birth_date"]], pa.date32()), "village_code": [a["village_code"]],
                     "address": pa.array([None], pa.string()), "phone": pa.array([None], pa.string())},
                    schema=feeds_mod.LEFT_SCHEMA)
    with engine.connect() as c:
        registry = persons(c)
        with_feedback = feeds_mod._model_with_feedback(c, left, registry)
    assert with_feedback is not None
    assert with_feedback.fingerprint != train(left, registry).fingerprint


def test_person_ids_stable_merge_and_split_are_audited(engine, tmp_path):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 2)
    a, b = people
    head = ["姓名", "证件号码", "事件", "日期", "月收入"]
    day1 = import_feed(engine, "employment", _csv(tmp_path / "d1.csv", head, [
        [a["name"], a["id_number"], "失业登记", "2024-04-01", "0"], [b["name"], b["id_number"], "失业登记", "2024-04-01", ""]]))
    before = _records(engine)
    # the landed copy is sealed (docs/SECURITY.md): no ID in the landing zone, and it still replays
    landed = [p for p in (tmp_path / "landing").rglob("*") if p.is_file() and p.name != "manifest.jsonl"]
    assert landed and all(p.suffix == ".enc" and a["id_number"].encode() not in p.read_bytes() for p in landed)
    assert import_feed(engine, "employment", landed[0]).status == "unchanged"
    day2 = import_feed(engine, "employment", _csv(tmp_path / "d2.csv", head, [
        [a["name"], a["id_number"], "务工中断", "2024-04-02", "0"]]))
    assert day1.status == day2.status == "committed"
    recs = _records(engine)
    assert recs[:2] == before and recs[2]["person_id"] == a["person_id"]  # same person id day after day
    with engine.begin() as c:
        audit = merge_persons(c, a["person_id"], b["person_id"], "县乡村振兴局 张", "同一人登记两次")
    recs = _records(engine)
    assert all(r["person_id"] == a["person_id"] for r in recs)
    with engine.connect() as c:
        assert resolve_person(c, b["person_id"]) == a["person_id"]
        au = c.execute(select(PersonAudit.__table__).where(PersonAudit.id == audit)).one()
    assert au.action == "merge" and au.details["feed_records"] == [recs[1]["id"]]
    # a later delivery with the dropped person's ID links to the surviving person
    import_feed(engine, "employment", _csv(tmp_path / "d3.csv", head, [[b["name"], b["id_number"], "失业登记",
                                                                        "2024-05-01", "0"]]))
    assert _records(engine)[-1]["person_id"] == a["person_id"]
    with pytest.raises(ValueError, match="already merged"), engine.begin() as c:
        merge_persons(c, a["person_id"], b["person_id"], "x", "again")
    # split: the wrongly merged row goes to a new person, audited
    with engine.begin() as c:
        new = split_person(c, a["person_id"], [recs[1]["id"]], "县乡村振兴局 张", "合并有误")
        assert c.execute(select(Person.id).where(Person.id == new)).scalar() == new
    moved = next(r for r in _records(engine) if r["id"] == recs[1]["id"])
    assert moved["person_id"] == new and moved["person_id"] != a["person_id"]
    assert _count(engine, PersonAudit) == 2


def test_feed_health_freshness_rates_and_drift(engine, tmp_path):
    _county(engine, tmp_path)
    people, _ = _registry_people(engine, 1)
    head = ["姓名", "证件号码", "事件", "日期", "月收入"]
    import_feed(engine, "employment", _csv(tmp_path / "e.csv", head, [
        [people[0]["name"], people[0]["id_number"], "失业登记", "2024-04-01", "0"],
        ["外县人", IDS[3], "失业登记", "2024-04-01", "0"], ["坏行", "4.10102E+17", "失业登记", "2024-04-01", "0"]]),
        recorded_at=datetime(2024, 4, 5))
    import_feed(engine, "water", _csv(tmp_path / "w.csv", ["行政区划代码", "事件", "开始日期", "结束日期", "影响户数"],
                                      [[people[0]["village_code"], "管道冻裂", "2024-04-01", "", "3"]]))
    with engine.connect() as c:
        st = {s["feed"]: s for s in feeds_status(c, now=datetime.now())}
        old = {s["feed"]: s for s in feeds_status(c, now=datetime(2024, 4, 20))}
    assert set(st) == set(FEED_KEYS)
    e = st["employment"]
    assert e["overdue"] is True and e["days_since_delivery"] > 31  # delivered 2024-04-05, deadline 31+10 days
    assert old["employment"]["overdue"] is False
    assert st["medical"]["overdue"] is True and st["medical"]["last_delivery"] is None  # never delivered
    assert st["water"]["overdue"] is False
    assert e["rows"] == 3 and e["rejected"] == 1 and abs(e["rejected_share"] - 1 / 3) < 1e-9
    assert e["match"]["exact"] == 1 and e["match"]["unmatched"] == 1
    assert st["water"]["drift"] == {"事件": {"count": 1, "examples": ["管道冻裂"]}}


# ---------------------------------------------------------------------------------------------------------------
# Crash safety: the process dies inside the transaction → the database holds none of the batch


def test_killed_import_leaves_all_or_nothing(engine, county_files, tmp_path):
    f = max((p for p in _files(county_files) if p.parent.name == "medical"), key=lambda p: p.stat().st_size)
    url = engine.url.render_as_string(hide_password=False)
    marker = tmp_path / "inside_tx"
    env = {**os.environ, feeds_mod.PAUSE_ENV: str(marker), "FANGPIN_LANDING_DIR": str(tmp_path / "landing")}
    proc = subprocess.Popen([sys.executable, "-m", "fangpin.cli.main", "import", "feed", "medical", str(f), "--db", url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[1].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)  # every row is written, COMMIT not yet sent
    proc.wait()
    engine.dispose()
    time.sleep(0.5)
    assert _count(engine, ImportBatch) == 0 and _count(engine, FeedRecord) == 0
    rep = import_feed(engine, "medical", f)  # the same file imports whole afterwards
    assert rep.status == "committed" and _count(engine, FeedRecord) == rep.accepted > 0
