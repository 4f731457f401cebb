"""East–West cooperation and designated assistance (东西部协作 / 定点帮扶) — seed 004 §六(十六) line 83.

Pairs (one eastern province ↔ one western province in principle; a designated unit ↔ a county), their funds and
aided projects, labour transfers of members of monitored / low-income / formerly-poor households (the same
eligibility as public-welfare jobs: labour capacity and household group, programmes/jobs.yaml), and a yearly
evaluation scorecard (pairing.yaml: indicators, targets, weights) whose figures list their records.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from fangpin.programmes.common import Actor, load_yaml, now, require_role, require_scope
from fangpin.programmes.errors import refuse
from fangpin.programmes.models import AssistFlow, AssistPair, LabourTransfer

ROLES = ("county_officer", "admin")


def config() -> dict:
    return load_yaml("pairing.yaml")


def create_pair(conn: Connection, actor: Actor, *, kind: str, giver: str, receiver_code: str, started_on: date,
                reference: str, at: datetime | None = None) -> dict:
    """Record a pairing. East–West: giver an eastern province, receiver a western province, and a western province
    has one eastern partner (多对一 ended); an eastern province with a second partner is allowed but flagged
    (原则上一对一). Designated: giver a unit name, receiver a county (6 digits)."""
    require_role(actor, ("admin",) if kind == "east_west" else ROLES, "登记结对关系", "record pairings")
    cfg = config()
    flags = []
    if not (reference or "").strip():
        raise refuse("PAIR_REFERENCE_REQUIRED", "请注明结对依据文件", "The pairing document is required")
    if kind == "east_west":
        if giver not in cfg["eastern"] or receiver_code not in cfg["western"]:
            raise refuse("PAIR_NOT_EAST_WEST", "东西部协作须为东部省份帮扶西部省份(中部地区不再实施省际结对)",
                         "East–West pairs an eastern province with a western province (no central provinces)")
        active = conn.execute(select(AssistPair.giver, AssistPair.receiver_code).where(
            AssistPair.kind == "east_west", AssistPair.ended_on.is_(None))).all()
        if any(r == receiver_code for _, r in active):
            raise refuse("PAIR_MANY_TO_ONE", "该西部省份已有东部结对省份(不再实行多对一)",
                         "That western province already has an eastern partner (no more many-to-one)")
        if any(g == giver for g, _ in active):
            flags.append({"code": "ONE_TO_MANY", "zh": "东部省份已有其他结对省份(原则上一对一)",
                          "en": "The eastern province already has another partner (one-to-one in principle)"})
    elif kind == "designated":
        require_scope(actor, receiver_code)
        if len(receiver_code) != 6 or not receiver_code.isdigit() or not (giver or "").strip():
            raise refuse("PAIR_BAD_DESIGNATED", "定点帮扶须注明帮扶单位和受援县(6位代码)",
                         "Designated assistance needs a unit and a county (6 digits)")
    else:
        raise refuse("PAIR_BAD_KIND", "结对类型应为 east_west 或 designated", "Kind must be east_west or designated")
    pid = conn.execute(insert(AssistPair).returning(AssistPair.id), {
        "kind": kind, "giver": giver.strip(), "receiver_code": receiver_code, "started_on": started_on,
        "reference": reference.strip(), "recorded_at": at or now()}).scalar_one()
    return {"pair_id": pid, "flags": flags}


def _pair(conn: Connection, pair_id: int) -> dict:
    p = conn.execute(select(AssistPair.__table__).where(AssistPair.id == pair_id)).mappings().first()
    if p is None:
        raise refuse("PAIR_NONE", f"结对关系 {pair_id} 不存在", f"Pair {pair_id} does not exist")
    return dict(p)


def record_flow(conn: Connection, actor: Actor, *, pair_id: int, kind: str, region_code: str, year: int, title: str,
                amount: float, completed: bool | None = None, at: datetime | None = None) -> int:
    require_role(actor, ROLES, "登记协作资金或项目", "record funds or projects")
    p = _pair(conn, pair_id)
    require_scope(actor, region_code)
    if not region_code.startswith(p["receiver_code"]):
        raise refuse("PAIR_OUTSIDE_RECEIVER", "资金或项目应落在受援地区", "Funds and projects go to the receiving region")
    if kind not in ("fund", "project") or not (amount and float(amount) > 0):
        raise refuse("PAIR_BAD_FLOW", "类型应为 fund/project,金额须大于 0", "Kind fund/project and a positive amount")
    return conn.execute(insert(AssistFlow).returning(AssistFlow.id), {
        "pair_id": pair_id, "kind": kind, "region_code": region_code, "year": int(year), "title": title,
        "amount": round(float(amount), 2), "completed": completed if kind == "project" else None,
        "recorded_at": at or now()}).scalar_one()


def record_transfer(conn: Connection, actor: Actor, *, pair_id: int, person_id: int, destination: str,
                    started_on: date, monthly_income: float | None = None, at: datetime | None = None) -> int:
    """劳务协作: place a member of a monitored / low-income / formerly-poor household in work (eligibility as for
    public-welfare jobs)."""
    from fangpin.programmes.jobs import check_eligibility

    require_role(actor, ROLES, "登记劳务协作转移就业", "record labour transfers")
    p = _pair(conn, pair_id)
    e = check_eligibility(conn, person_id, started_on)
    if not e["region_code"].startswith(p["receiver_code"]):
        raise refuse("PAIR_OUTSIDE_RECEIVER", "转移就业人员应来自受援地区", "The person must live in the receiving region")
    require_scope(actor, e["region_code"])
    return conn.execute(insert(LabourTransfer).returning(LabourTransfer.id), {
        "pair_id": pair_id, "person_id": person_id, "household_id": e["household_id"], "region_code": e["region_code"],
        "destination": destination, "started_on": started_on, "monthly_income": monthly_income, "basis": e,
        "recorded_at": at or now()}).scalar_one()


def pair_rows(conn: Connection, scope: str) -> list[dict]:
    q = select(AssistPair.__table__).order_by(AssistPair.id)
    rows = [dict(r) for r in conn.execute(q).mappings()]
    # a user sees pairs whose receiver is inside their region or contains it
    return [r for r in rows if r["receiver_code"].startswith(scope[:len(r["receiver_code"])]) or
            r["receiver_code"].startswith(scope)]


def records(conn: Connection, pair_id: int, year: int, indicator_id: str, scope: str = "") -> list[dict]:
    """The records behind one evaluation figure."""
    if indicator_id in ("FUNDS", "PROJECTS_DONE"):
        kind = "fund" if indicator_id == "FUNDS" else "project"
        return [{"kind": kind, "id": r.id, "label": r.title, "region_code": r.region_code, "amount": r.amount,
                 "ok": bool(r.completed) if kind == "project" else True}
                for r in conn.execute(select(AssistFlow.__table__).where(AssistFlow.pair_id == pair_id, AssistFlow.kind == kind,
                                                               AssistFlow.year == year,
                                                               AssistFlow.region_code.startswith(scope))
                                      .order_by(AssistFlow.id))]
    if indicator_id in ("TRANSFERS", "TRANSFERS_MONITORED"):
        return [{"kind": "labour_transfer", "id": r.id, "label": r.destination, "region_code": r.region_code,
                 "household_id": r.household_id, "basis": r.basis.get("basis"),
                 "ok": indicator_id == "TRANSFERS" or r.basis.get("basis") == "MONITORED"}
                for r in conn.execute(select(LabourTransfer.__table__).where(
                    LabourTransfer.pair_id == pair_id, LabourTransfer.region_code.startswith(scope),
                    LabourTransfer.started_on >= date(year, 1, 1), LabourTransfer.started_on <= date(year, 12, 31))
                    .order_by(LabourTransfer.id))]
    raise refuse("PAIR_NO_INDICATOR", f"未知指标“{indicator_id}”", f"Unknown indicator {indicator_id!r}")


def evaluate(conn: Connection, pair_id: int, year: int, scope: str = "") -> dict[str, Any]:
    """Yearly evaluation scorecard of one pair (定期考核评价): figure, target, score per indicator."""
    cfg = config()
    p = _pair(conn, pair_id)
    items, total = [], 0.0
    for ind in cfg["indicators"]:
        rows = records(conn, pair_id, year, ind["id"], scope)
        if ind["id"] == "FUNDS":
            value = round(sum(r["amount"] for r in rows) / 10000, 2)
        elif ind["id"] == "TRANSFERS":
            value = len(rows)
        else:
            value = round(sum(r["ok"] for r in rows) / len(rows), 4) if rows else None
        w = cfg["weights"][ind["id"]]
        score = round(w * min(value / ind["target"], 1.0), 2) if value is not None else 0.0
        total += score
        items.append({**ind, "value": value, "records": len(rows), "weight": w, "score": score})
    return {"pair": {k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in p.items()},
            "year": year, "indicators": items, "total": round(total, 2), "config_version": cfg["version"]}
