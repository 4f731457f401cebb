"""Shared helpers of the programme services: actors and scope, as-of reads of one person/household, config."""
from __future__ import annotations

import calendar
from datetime import date, datetime
from functools import lru_cache
from importlib import resources

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Connection

from fangpin.cases.actors import Actor
from fangpin.programmes.errors import refuse
from fangpin.registry.models import HouseholdVersion, MemberVersion, Region

__all__ = ["Actor", "load_yaml", "require_scope", "require_role", "member_on", "household_on", "month_bounds",
           "now", "require_region"]


@lru_cache(maxsize=None)
def load_yaml(name: str) -> dict:
    return yaml.safe_load((resources.files("fangpin.programmes") / name).read_text(encoding="utf-8"))


def now() -> datetime:
    return datetime.now().replace(microsecond=0)


def require_role(actor: Actor, roles: tuple[str, ...], what_zh: str, what_en: str) -> None:
    if actor.role not in roles:
        raise refuse("PROG_ROLE", f"您的角色不能{what_zh}", f"Your role ({actor.role}) cannot {what_en}",
                     allowed_roles=list(roles))


def require_scope(actor: Actor, region_code: str) -> None:
    scope = "" if actor.region_code == "00" else actor.region_code
    if not str(region_code).startswith(scope):
        raise refuse("PROG_OUT_OF_REGION", "该记录不在您的辖区", "That record is outside your region")


def require_region(conn: Connection, code: str, level: int | None = None) -> None:
    row = conn.execute(select(Region.level).where(Region.code == code)).first()
    if row is None or (level is not None and row[0] != level):
        raise refuse("PROG_BAD_REGION", f"区划代码“{code}”不存在或级别不对",
                     f"Region code {code!r} is unknown or not of the expected level")


def member_on(conn: Connection, person_id: int, on: date) -> dict | None:
    """A person's membership row in force on ``on`` (latest valid_from, then recorded_at)."""
    mv = MemberVersion.__table__
    row = conn.execute(select(mv).where(mv.c.person_id == person_id, mv.c.valid_from <= on)
                       .order_by(mv.c.valid_from.desc(), mv.c.recorded_at.desc(), mv.c.id.desc()).limit(1)
                       ).mappings().first()
    return dict(row) if row else None


def household_on(conn: Connection, household_id: int, on: date) -> dict | None:
    hv = HouseholdVersion.__table__
    row = conn.execute(select(hv).where(hv.c.household_id == household_id, hv.c.valid_from <= on)
                       .order_by(hv.c.valid_from.desc(), hv.c.recorded_at.desc(), hv.c.id.desc()).limit(1)
                       ).mappings().first()
    return dict(row) if row else None


def month_bounds(month: str) -> tuple[date, date]:
    try:
        y, m = int(month[:4]), int(month[5:7])
        if len(month) != 7 or month[4] != "-" or not 1 <= m <= 12:
            raise ValueError
    except ValueError:
        raise refuse("PROG_BAD_MONTH", f"月份“{month}”格式应为 YYYY-MM", f"Month {month!r} must be YYYY-MM") from None
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def data_date(conn: Connection, on: date | None = None) -> date:
    """The "as of" date of programme figures: the given date, else the latest date the platform has recorded
    work for (last monitoring run, last case step), else today."""
    if on is not None:
        return on
    from sqlalchemy import func

    from fangpin.alerts.models import MonitorRun
    from fangpin.cases.models import CaseEvent

    dates = [conn.execute(select(func.max(MonitorRun.as_of))).scalar(),
             conn.execute(select(func.max(CaseEvent.on_date))).scalar()]
    dates = [d for d in dates if d is not None]
    return max(dates) if dates else date.today()
