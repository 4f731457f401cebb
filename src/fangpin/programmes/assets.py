"""Poverty-alleviation project assets (扶贫项目资产) — seed 004 §三(五) line 51.

分类摸清资产底数 (classes 公益性 PUBLIC / 经营性 OPERATING / 确权到户 HOUSEHOLD); 公益性资产要落实管护主体,明确管护
责任; 经营性资产要明晰产权关系,防止资产流失和被侵占,资产收益重点用于项目运行管护、巩固拓展脱贫攻坚成果、村级公益
事业; 确权到农户的资产由其自主管理. Warnings: no custodian (PUBLIC/OPERATING), no income for 12 months (OPERATING,
a sign of 资产流失). Summaries per village and per county.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from fangpin.programmes.common import Actor, now, require_region, require_role, require_scope
from fangpin.programmes.errors import refuse
from fangpin.programmes.models import AssetIncome, ProjectAsset

CLASSES = {"PUBLIC": ("公益性资产", "Public-welfare asset"), "OPERATING": ("经营性资产", "Operating asset"),
           "HOUSEHOLD": ("确权到户资产", "Asset vested in a household")}
ROLES = ("township_officer", "county_officer", "admin")
REFERENCE = "seed 004 §三(五) line 51"
NO_INCOME_MONTHS = 12  # issue 9 §2 (assets with no income for 12 months → 资产流失 warning)


def _months_before(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return date(y, m + 1, min(d.day, 28))


def register(conn: Connection, actor: Actor, *, asset_no: str, name: str, asset_class: str, region_code: str,
             project_name: str, project_year: int, value: float, completed_on: date, custodian: str | None = None,
             responsibility: str | None = None, owner_household_id: int | None = None,
             at: datetime | None = None) -> int:
    require_role(actor, ROLES, "登记扶贫项目资产", "register project assets")
    require_scope(actor, region_code)
    require_region(conn, region_code)
    if asset_class not in CLASSES:
        raise refuse("ASSET_BAD_CLASS", f"资产类别应为 {'/'.join(CLASSES)}", f"Asset class must be one of {list(CLASSES)}")
    if not (value and float(value) > 0):
        raise refuse("ASSET_BAD_VALUE", "资产价值须大于 0", "The asset value must be greater than 0")
    if asset_class == "HOUSEHOLD" and owner_household_id is None:
        raise refuse("ASSET_OWNER_REQUIRED", "确权到户资产须指明受益农户", "An asset vested in a household needs the household")
    if not (asset_no or "").strip() or not (name or "").strip() or not (project_name or "").strip():
        raise refuse("ASSET_FIELDS_REQUIRED", "资产编号、名称、来源项目均须填写",
                     "Asset number, name and project of origin are required")
    if conn.execute(select(ProjectAsset.id).where(ProjectAsset.asset_no == asset_no.strip())).first():
        raise refuse("ASSET_DUPLICATE", f"资产编号 {asset_no} 已存在", f"Asset number {asset_no} already exists")
    return conn.execute(insert(ProjectAsset).returning(ProjectAsset.id), {
        "asset_no": asset_no.strip(), "name": name.strip(), "asset_class": asset_class, "region_code": region_code,
        "project_name": project_name.strip(), "project_year": int(project_year), "value": round(float(value), 2),
        "custodian": (custodian or "").strip() or None, "responsibility": (responsibility or "").strip() or None,
        "owner_household_id": owner_household_id, "completed_on": completed_on, "status": "in_use",
        "created_at": at or now(), "created_by": actor.name}).scalar_one()


def record_income(conn: Connection, actor: Actor, *, asset_id: int, period: str, received_on: date, income: float,
                  to_upkeep: float, to_households: float, to_village_welfare: float, households_paid: int = 0,
                  at: datetime | None = None) -> int:
    """Income of an operating asset and its use (运行管护 / 到户 / 村级公益事业); uses may not exceed the income."""
    require_role(actor, ROLES, "登记资产收益", "record asset income")
    a = conn.execute(select(ProjectAsset.__table__).where(ProjectAsset.id == asset_id)).mappings().first()
    if a is None:
        raise refuse("ASSET_NONE", f"资产 {asset_id} 不存在", f"Asset {asset_id} does not exist")
    require_scope(actor, a["region_code"])
    if a["asset_class"] != "OPERATING":
        raise refuse("ASSET_NOT_OPERATING", "只有经营性资产登记收益", "Only operating assets record income")
    vals = [income, to_upkeep, to_households, to_village_welfare]
    if any(v is None or float(v) < 0 for v in vals):
        raise refuse("ASSET_BAD_AMOUNT", "金额不能为负", "Amounts cannot be negative")
    if float(to_upkeep) + float(to_households) + float(to_village_welfare) > float(income) + 0.005:
        raise refuse("ASSET_OVER_DISTRIBUTED", "收益分配合计超过收益", "The uses add up to more than the income")
    if conn.execute(select(AssetIncome.id).where(AssetIncome.asset_id == asset_id, AssetIncome.period == period)).first():
        raise refuse("ASSET_INCOME_DUPLICATE", f"{period} 的收益已登记", f"Income for {period} is already recorded")
    return conn.execute(insert(AssetIncome).returning(AssetIncome.id), {
        "asset_id": asset_id, "period": period, "received_on": received_on, "income": round(float(income), 2),
        "to_upkeep": round(float(to_upkeep), 2), "to_households": round(float(to_households), 2),
        "to_village_welfare": round(float(to_village_welfare), 2), "households_paid": int(households_paid),
        "recorded_at": at or now(), "recorded_by": actor.name}).scalar_one()


def asset_rows(conn: Connection, scope: str, on: date) -> list[dict]:
    """Every asset in ``scope`` with its income of the last 12 months and its warnings."""
    since = _months_before(on, NO_INCOME_MONTHS)
    inc = (select(AssetIncome.asset_id, func.sum(AssetIncome.income).label("income_12m"),
                  func.sum(AssetIncome.to_upkeep).label("upkeep_12m"),
                  func.sum(AssetIncome.to_households).label("households_12m"),
                  func.sum(AssetIncome.to_village_welfare).label("welfare_12m"),
                  func.max(AssetIncome.received_on).label("last_income_on"))
           .where(AssetIncome.received_on > since, AssetIncome.received_on <= on).group_by(AssetIncome.asset_id)
           .subquery())
    q = (select(ProjectAsset.__table__, inc.c.income_12m, inc.c.upkeep_12m, inc.c.households_12m, inc.c.welfare_12m,
                inc.c.last_income_on).outerjoin(inc, inc.c.asset_id == ProjectAsset.id)
         .where(ProjectAsset.region_code.startswith(scope), ProjectAsset.status == "in_use",
                ProjectAsset.completed_on <= on).order_by(ProjectAsset.region_code, ProjectAsset.asset_no))
    out = []
    for r in conn.execute(q).mappings():
        d = dict(r)
        for k in ("income_12m", "upkeep_12m", "households_12m", "welfare_12m"):
            d[k] = round(float(d[k] or 0), 2)
        d["class_zh"], d["class_en"] = CLASSES[d["asset_class"]]
        d["warnings"] = warnings_of(d, on)
        out.append(d)
    return out


def warnings_of(a: dict, on: date) -> list[dict]:
    w = []
    if a["asset_class"] in ("PUBLIC", "OPERATING") and not a.get("custodian"):
        w.append({"code": "NO_CUSTODIAN", "zh": "未落实管护主体", "en": "No custodian (管护主体)",
                  "reference": REFERENCE + " (公益性资产要落实管护主体,明确管护责任)"})
    if (a["asset_class"] == "OPERATING" and a["completed_on"] <= _months_before(on, NO_INCOME_MONTHS)
            and not a.get("income_12m")):
        w.append({"code": "NO_INCOME_12M", "zh": f"连续 {NO_INCOME_MONTHS} 个月无收益(资产流失风险)",
                  "en": f"No income for {NO_INCOME_MONTHS} months (risk of asset loss, 资产流失)",
                  "reference": REFERENCE + " (经营性资产…防止资产流失和被侵占)"})
    return w


def summary(conn: Connection, scope: str, on: date, *, level: str = "village") -> list[dict]:
    """Per village (12 digits) or per county (6 digits): counts and value by class, 12-month income and use,
    warnings."""
    width = {"village": 12, "township": 9, "county": 6}[level]
    groups: dict[str, dict[str, Any]] = {}
    for a in asset_rows(conn, scope, on):
        g = groups.setdefault(a["region_code"][:width].ljust(12, "0"), {
            "region_code": a["region_code"][:width].ljust(12, "0"), "assets": 0, "value": 0.0,
            **{f"n_{c}": 0 for c in CLASSES}, **{f"value_{c}": 0.0 for c in CLASSES}, "income_12m": 0.0,
            "upkeep_12m": 0.0, "households_12m": 0.0, "welfare_12m": 0.0, "no_custodian": 0, "no_income": 0})
        g["assets"] += 1
        g["value"] += a["value"]
        g[f"n_{a['asset_class']}"] += 1
        g[f"value_{a['asset_class']}"] += a["value"]
        for k in ("income_12m", "upkeep_12m", "households_12m", "welfare_12m"):
            g[k] += a[k]
        codes = {w["code"] for w in a["warnings"]}
        g["no_custodian"] += "NO_CUSTODIAN" in codes
        g["no_income"] += "NO_INCOME_12M" in codes
    for g in groups.values():
        for k, v in list(g.items()):
            if isinstance(v, float):
                g[k] = round(v, 2)
    return [groups[k] for k in sorted(groups)]
