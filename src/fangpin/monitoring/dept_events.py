"""Department triggers as one narrow snapshot table, ``dept_event`` (POLICY.md §6; FEEDS.md §B).

One row per department event that can trigger a check, already linked to a household (or, for the village-level
water feed, to a village):

    id, household_id (nullable), village_code (nullable), feed, event_kind, event_date, recorded_at, amount

``event_kind`` codes (POLICY.md §6 "example trigger" column; the thresholds themselves stay in the rules/params):

| code | feed | from (FEEDS.md §B field) |
|---|---|---|
| MED_OOP | medical 医保 | 个人自付合计 (yearly cumulative self-pay) as ``amount`` |
| ASSIST_NEW / ASSIST_EXIT | civil_affairs 民政 | 变动类型 新增 / 退出 (any change is a trigger) |
| DROPOUT | education 教育 | 状态 辍学 or 疑似辍学 |
| HOUSE_CD | housing 住建 | 危房等级 C/D or 是否倒损 = 是 |
| WATER | water 水利 | any event (village level: ``village_code``) |
| JOB_LOSS | employment 人社 | 事件 失业登记 / 务工中断 |
| DISASTER | disaster 应急管理 | any record; ``amount`` = 直接经济损失(元) |
| DISABILITY_NEW | disability 残联 | 变动类型 新办/变更; ``amount`` = 残疾等级 (POLICY.md §6: new grade 1–2) |
| DEATH | public_security 公安 | 事件 死亡 |
| PWJ_EXIT | public_welfare_jobs (fangpin's own programme, POLICY.md §6 人社 "public-welfare job changes") | an exit from a public-welfare post; ``amount`` = subsidy paid in the 12 months before the exit (programmes/jobs.py) |

Two producers:

* :func:`from_feed_records` — the production path: accepted ``feed_record`` rows (exchange/models.py), linked by
  the feed importer. Called by :func:`fangpin.monitoring.snapshot.export`.
* :func:`from_synth_truth` — the evaluation path: the same events straight from the synthetic county's truth
  (docs/SYNTH.md item 6) with *perfect linkage*, so the early-warning evaluation does not depend on the linker.
  Timing assumptions (stated, POLICY.md §6 "pushed every 10 days / monthly"): an event happening in month m is dated
  the 15th and recorded 10 days later (known at m's month end); medical costs accrue evenly over the event's
  months and each month's cumulative self-pay is dated the month end and recorded 10 days later; disability
  certificates are issued 2 months after the onset (synth/feeds.py: 新办 1–3 months later). Civil-affairs changes
  are not derived (they follow the income the model already sees).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DEPT_EVENT_SCHEMA = pa.schema([
    ("id", pa.int64()), ("household_id", pa.int64()), ("village_code", pa.string()), ("feed", pa.string()),
    ("event_kind", pa.string()), ("event_date", pa.date32()), ("recorded_at", pa.timestamp("us")),
    ("amount", pa.float64()),
])
EVENT_KINDS = ("MED_OOP", "ASSIST_NEW", "ASSIST_EXIT", "DROPOUT", "HOUSE_CD", "WATER", "JOB_LOSS", "DISASTER",
               "DISABILITY_NEW", "DEATH", "PWJ_EXIT")


def _num(v) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def classify(feed: str, payload: dict) -> tuple[str, float | None] | None:
    """(event_kind, amount) for one normalised feed payload (contract keys), or None if it triggers nothing."""
    p = payload or {}
    if feed == "medical":
        return "MED_OOP", _num(p.get("self_pay_total")) or _num(p.get("in_policy_self_pay"))
    if feed == "civil_affairs":
        kind = {"新增": "ASSIST_NEW", "退出": "ASSIST_EXIT"}.get(p.get("change_type"))
        return (kind, _num(p.get("monthly_amount"))) if kind else None
    if feed == "education":
        return ("DROPOUT", None) if p.get("status") in ("辍学", "疑似辍学") else None
    if feed == "housing":
        if p.get("danger_grade") in ("C", "D") or p.get("collapsed") in (True, "是"):
            return "HOUSE_CD", None
        return None
    if feed == "water":
        return "WATER", _num(p.get("households_affected"))
    if feed == "employment":
        return ("JOB_LOSS", _num(p.get("monthly_income"))) if p.get("event") in ("失业登记", "务工中断") else None
    if feed == "disaster":
        return "DISASTER", _num(p.get("direct_loss"))
    if feed == "disability":
        return ("DISABILITY_NEW", _num(p.get("grade"))) if p.get("change_type") in ("新办", "变更") else None
    if feed == "public_security":
        return ("DEATH", None) if p.get("event") == "死亡" else None
    return None


def from_feed_records(conn) -> pa.Table:
    """``dept_event`` rows from the accepted, linked ``feed_record`` rows (empty if the table does not exist)."""
    from sqlalchemy import inspect, select

    if not inspect(conn).has_table("feed_record"):
        return DEPT_EVENT_SCHEMA.empty_table()
    from fangpin.exchange.models import FeedRecord

    t = FeedRecord.__table__
    rows = []
    q = select(t.c.id, t.c.household_id, t.c.village_code, t.c.feed, t.c.event_date, t.c.recorded_at, t.c.payload,
               t.c.link_method).order_by(t.c.id)
    for rid, hh, village, feed, ev_date, rec, payload, method in conn.execute(q):
        if ev_date is None or (hh is None and not (feed == "water" and village)):
            continue  # unmatched rows wait for review; they cannot trigger a household check yet
        c = classify(feed, payload if isinstance(payload, dict) else {})
        if c is None:
            continue
        rows.append({"id": rid, "household_id": hh if feed != "water" else None,
                     "village_code": village if feed == "water" else None, "feed": feed, "event_kind": c[0],
                     "event_date": ev_date, "recorded_at": rec, "amount": c[1]})
    return pa.Table.from_pylist(rows, schema=DEPT_EVENT_SCHEMA)


def from_public_welfare_exits(conn) -> pa.Table:
    """``PWJ_EXIT`` rows from exits of public-welfare posts (programmes/jobs.py; seed 004 §四(七) 有序退岗).

    ``id`` is the negated hire id (feed-record ids are positive, so the two producers never collide)."""
    from sqlalchemy import inspect, select

    if not inspect(conn).has_table("pwj_hire"):
        return DEPT_EVENT_SCHEMA.empty_table()
    from fangpin.programmes.models import PwjHire

    rows = [{"id": -hid, "household_id": hh, "village_code": None, "feed": "public_welfare_jobs",
             "event_kind": "PWJ_EXIT", "event_date": ev, "recorded_at": rec,
             "amount": float((effect or {}).get("subsidy_12m") or 0.0)}
            for hid, hh, ev, rec, effect in conn.execute(
                select(PwjHire.id, PwjHire.household_id, PwjHire.exit_on, PwjHire.exit_recorded_at, PwjHire.exit_effect)
                .where(PwjHire.status == "exited").order_by(PwjHire.id))]
    return pa.Table.from_pylist(rows, schema=DEPT_EVENT_SCHEMA)


def _month_dates(col) -> np.ndarray:
    return np.asarray(col.cast(pa.date32())).astype("datetime64[D]")


def from_synth_truth(truth_dir: Path) -> pa.Table:
    """``dept_event`` rows derived from a synthetic county's truth files (perfect linkage; module docstring)."""
    truth_dir = Path(truth_dir)
    persons = pq.read_table(truth_dir / "persons.parquet", columns=["person_id", "household_id"])
    pid = np.asarray(persons["person_id"])
    phh = np.asarray(persons["household_id"])
    order = np.argsort(pid)
    pid, phh = pid[order], phh[order]

    def hh_of(person_ids: np.ndarray) -> np.ndarray:
        i = np.minimum(np.searchsorted(pid, person_ids), len(pid) - 1)
        return np.where(pid[i] == person_ids, phh[i], -1)

    cols: dict[str, list] = {k: [] for k in ("household_id", "village_code", "feed", "event_kind", "event_date",
                                             "recorded_at", "amount")}

    def add(hh, village, feed, kind, ev: np.ndarray, amount, lag_days=10):
        n = len(ev)
        if n == 0:
            return
        cols["household_id"] += list(hh) if hh is not None else [None] * n
        cols["village_code"] += list(village) if village is not None else [None] * n
        cols["feed"] += [feed] * n
        cols["event_kind"] += [kind] * n
        cols["event_date"] += list(ev)
        cols["recorded_at"] += list(ev.astype("datetime64[us]") + np.timedelta64(lag_days, "D"))
        cols["amount"] += list(amount) if amount is not None else [None] * n

    def mid(month: np.ndarray, plus_months: int = 0) -> np.ndarray:
        return (month.astype("datetime64[M]") + plus_months).astype("datetime64[D]") + 14

    def read(name: str):
        p = truth_dir / f"{name}.parquet"
        return pq.read_table(p) if p.exists() else None

    med = read("medical_events")
    if med is not None and med.num_rows:
        m = med.filter(pa.compute.greater_equal(med["month_index"], -12))
        hh = hh_of(np.asarray(m["person_id"]))
        month = _month_dates(m["month"]).astype("datetime64[M]")
        oop = np.asarray(m["oop"], dtype=float)
        k = np.maximum(np.asarray(m["months"]), 1)
        for j in range(int(k.max()) if len(k) else 0):
            sel = (k > j) & (hh >= 0)
            ends = (month[sel] + j + 1).astype("datetime64[D]") - 1
            add(hh[sel], None, "medical", "MED_OOP", ends, np.round(oop[sel] * (j + 1) / k[sel], 2))
    emp = read("employment_events")
    if emp is not None and emp.num_rows:
        ev = np.asarray(emp["event"].to_pylist(), dtype=object)
        sel = np.isin(ev, ["失业登记", "务工中断"])
        hh = hh_of(np.asarray(emp["person_id"]))
        sel &= hh >= 0
        add(hh[sel], None, "employment", "JOB_LOSS", mid(_month_dates(emp["month"])[sel]), np.zeros(sel.sum()))
    sh = read("shocks")
    if sh is not None and sh.num_rows:
        kind = np.asarray(sh["kind"].to_pylist(), dtype=object)
        hh = np.asarray(sh["household_id"])
        month = _month_dates(sh["month"])
        cost = np.asarray(sh["cost"], dtype=float)
        dmg = np.asarray(sh["damage"].to_pylist(), dtype=object)
        d = kind == "disaster"
        add(hh[d], None, "disaster", "DISASTER", mid(month[d]), cost[d])
        h = d & np.isin(dmg, ["严重损坏", "倒塌"])
        add(hh[h], None, "housing", "HOUSE_CD", mid(month[h]), None)
        s = kind == "disability"
        add(hh[s], None, "disability", "DISABILITY_NEW", mid(month[s], 2), None)
        s = kind == "death"
        add(hh[s], None, "public_security", "DEATH", mid(month[s]), None)
    ve = read("village_events")
    if ve is not None and ve.num_rows:
        add(None, ve["village"].to_pylist(), "water", "WATER", mid(_month_dates(ve["month"])),
            np.asarray(ve["affected_households"], dtype=float))
    ge = read("guarantee_events")
    if ge is not None and ge.num_rows:
        kind = np.asarray(ge["kind"].to_pylist(), dtype=object)
        s = kind == "dropout"
        if s.any():
            params = __import__("json").loads((truth_dir / "params.json").read_text())
            start = np.datetime64(params["start"], "M")
            months = start + np.asarray(ge["start_month_index"])[s]
            add(np.asarray(ge["household_id"])[s], None, "education", "DROPOUT", mid(months), None)
    n = len(cols["feed"])
    t = pa.table({
        "id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "household_id": pa.array([None if v is None else int(v) for v in cols["household_id"]], pa.int64()),
        "village_code": pa.array(cols["village_code"], pa.string()),
        "feed": pa.array(cols["feed"], pa.string()),
        "event_kind": pa.array(cols["event_kind"], pa.string()),
        "event_date": pa.array(np.asarray(cols["event_date"], dtype="datetime64[D]"), pa.date32()),
        "recorded_at": pa.array(np.asarray(cols["recorded_at"], dtype="datetime64[us]"), pa.timestamp("us")),
        "amount": pa.array([None if v is None else float(v) for v in cols["amount"]], pa.float64()),
    })
    return t.sort_by([("event_date", "ascending"), ("household_id", "ascending")]).set_column(
        0, "id", pa.array(np.arange(1, n + 1, dtype=np.int64)))


def write(snapshot_root: Path, table: pa.Table) -> None:
    """Add (or replace) the ``dept_event`` table of a snapshot directory and refresh its manifest fingerprint."""
    import hashlib
    import json

    root = Path(snapshot_root)
    pq.write_table(table.cast(DEPT_EVENT_SCHEMA), root / "dept_event.parquet", compression="zstd")
    man = json.loads((root / "manifest.json").read_text())
    man["tables"]["dept_event"] = table.num_rows
    h = hashlib.sha256((man["fingerprint"] + f"dept_event:{table.num_rows}").encode())
    h.update((root / "dept_event.parquet").read_bytes()[-64:])
    man["fingerprint"] = h.hexdigest()[:16]
    (root / "manifest.json").write_text(json.dumps(man, indent=2))


__all__ = ["DEPT_EVENT_SCHEMA", "EVENT_KINDS", "classify", "from_feed_records", "from_synth_truth", "write"]
