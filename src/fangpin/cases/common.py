"""Shared helpers of the case service: parameters, registry reads, JSON snapshots."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fangpin import codes
from fangpin.cases.errors import refuse
from fangpin.policy import ParameterLookupError, ParameterSet, load_parameters
from fangpin.registry.models import Household
from fangpin.registry.service import current_households, household_as_of

__all__ = ["params_or_default", "param", "jsonable", "resolve_household", "household_region", "snapshot",
           "members_on", "has_labour", "measure_rules", "now"]


@lru_cache(maxsize=1)
def _default_params() -> ParameterSet:
    return load_parameters()


def params_or_default(ps: ParameterSet | None) -> ParameterSet:
    return ps if ps is not None else _default_params()


def param(ps: ParameterSet, name: str, region: str, on: date, used: dict | None = None, *, required: bool = True):
    """Value of a dated parameter; records value + reference into ``used`` (stored with the decision)."""
    try:
        pv = ps.get(name, region, on)
    except ParameterLookupError:
        if required:
            raise refuse("CASE_PARAMETER_MISSING", f"{on} 辖区 {region} 无在用参数“{name}”",
                         f"No value of parameter {name!r} in force on {on} for region {region}") from None
        return None
    if used is not None:
        used[name] = {"value": pv.value, "from": pv.from_date.isoformat(), "region": pv.region_matched,
                      "reference": pv.reference}
    return pv.value


def jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return jsonable(dataclasses.asdict(v))
    return v


def resolve_household(conn: Connection, household: int | str) -> tuple[int, str]:
    """(household_id, hh_no) from an id or a 户编号."""
    if isinstance(household, int) and not isinstance(household, bool):
        row = conn.execute(select(Household.id, Household.hh_no).where(Household.id == household)).first()
    else:
        row = conn.execute(select(Household.id, Household.hh_no).where(Household.hh_no == str(household))).first()
    if row is None:
        raise refuse("CASE_HOUSEHOLD_UNKNOWN", f"户“{household}”不在基础数据库中",
                     f"Household {household!r} is not in the registry")
    return int(row[0]), str(row[1])


def household_region(conn: Connection, household_id: int, on: date) -> str:
    hq = current_households(on).subquery()
    code = conn.execute(select(hq.c.region_code).where(hq.c.household_id == household_id)).scalar()
    if code is None:
        raise refuse("CASE_HOUSEHOLD_NOT_ON_DATE", f"户(内部编号 {household_id})在 {on} 尚无登记信息",
                     f"Household {household_id} has no registry record on {on}")
    return str(code)


def snapshot(conn: Connection, hh_no: str | None, on: date) -> dict | None:
    """Frozen JSON view of the household as the decision-maker saw it (registry ``household_as_of``)."""
    if hh_no is None:
        return None
    view = household_as_of(conn, hh_no, on)
    if view is None:
        return None
    return jsonable({"hh_no": view.hh_no, "household_id": view.household_id, "attributes": view.attributes,
                     "members": view.members, "guarantees": view.guarantees, "as_of": on})


def members_on(conn: Connection, hh_no: str, on: date) -> list[dict]:
    view = household_as_of(conn, hh_no, on)
    return view.members if view else []


def has_labour(member: dict) -> bool:
    """POLICY.md §8 / codes labour_skill.has_labour; unknown labour skill counts as no labour."""
    c = codes.lookup("labour_skill", member.get("labour_skill"))
    return bool(c is not None and c.extra.get("has_labour"))


@lru_cache(maxsize=1)
def measure_rules() -> dict:
    text = (resources.files("fangpin.cases") / "measures.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    cats = codes.load_code_lists()["measure_categories"]
    types = codes.load_code_lists()["assistance_types"]
    for x in raw["continue_after_removal"]:
        assert x["category"] in cats.by_code, x
    for x in raw["unique_while_active"]:
        assert x["subtype"] in types.by_code, x
    return raw


def now() -> datetime:
    return datetime.now().replace(microsecond=0)
