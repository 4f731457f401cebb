"""Factories for the case tests (imported by the other test_cases*.py modules): regions, households with
members, monthly income and guarantee status written straight into the registry tables; standard actors."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import count

from sqlalchemy import insert, select

from fangpin.security.fields import household_values, person_values
from fangpin.cases import Actor, act, open_lead
from fangpin.ids import check_digit
from fangpin.registry.models import (GuaranteeStatus, Household, HouseholdVersion, IncomeRecord, MemberVersion,
                                     Person, Region)

VILLAGE = "530102101201"  # Yunnan (53): monitoring line 8,700 in 2024/2025 (POLICY.md §3 [L])
VILLAGE_B = "530102101202"
OTHER_TOWNSHIP_VILLAGE = "530102102201"
OTHER_COUNTY_VILLAGE = "530103101201"
T0 = datetime(2025, 3, 3, 9, 0)

CADRE = Actor("v1", "王村干", "village_cadre", VILLAGE)
CADRE_B = Actor("v2", "李村干", "village_cadre", VILLAGE_B)
TOWNSHIP = Actor("t1", "赵乡干", "township_officer", VILLAGE[:9])
TOWNSHIP_OTHER = Actor("t2", "钱乡干", "township_officer", OTHER_TOWNSHIP_VILLAGE[:9])
COUNTY = Actor("c1", "孙县干", "county_officer", VILLAGE[:6])
COUNTY_OTHER = Actor("c2", "周县干", "county_officer", OTHER_COUNTY_VILLAGE[:6])
ADMIN = Actor("a1", "管理员", "admin", "00")
ACTORS = {"village_cadre": CADRE, "village_cadre_b": CADRE_B, "township_officer": TOWNSHIP,
          "other_township_officer": TOWNSHIP_OTHER, "county_officer": COUNTY, "other_county_officer": COUNTY_OTHER,
          "admin": ADMIN}

_seq = count(1)


def make_id(birth: date, sex_odd: bool = True, area: str = "530102") -> str:
    n = next(_seq) % 500
    seq = f"{n * 2 + (1 if sex_odd else 0):03d}"[-3:]
    first = f"{area}{birth:%Y%m%d}{seq}"
    return first + check_digit(first)


def seed_regions(conn) -> None:
    rows = [("530000000000", 1, "云南省", None), ("530100000000", 2, "昆明市", "530000000000"),
            ("530102000000", 3, "五华区", "530100000000"), ("530103000000", 3, "盘龙区", "530100000000"),
            ("530102101000", 4, "甲镇", "530102000000"), ("530102102000", 4, "乙镇", "530102000000"),
            ("530103101000", 4, "丙镇", "530103000000"),
            (VILLAGE, 5, "和平村", "530102101000"), (VILLAGE_B, 5, "团结村", "530102101000"),
            (OTHER_TOWNSHIP_VILLAGE, 5, "新村", "530102102000"), (OTHER_COUNTY_VILLAGE, 5, "东村", "530103101000")]
    have = {r[0] for r in conn.execute(select(Region.code))}
    for code, level, name, parent in rows:
        if code not in have:
            conn.execute(insert(Region).values(code=code, level=level, name=name, parent_code=parent,
                                               source="test"))


def make_household(conn, hh_no: str, *, village: str = VILLAGE, members: list[dict] | None = None,
                   phone: str = "13812345678", valid_from: date = date(2024, 1, 1),
                   monthly_net: float | None = 4000.0, income_months: tuple[str, str] = ("2024-01", "2025-12"),
                   medical_oop: float = 0.0, guarantees: dict | None = None) -> int:
    """A household with members (default: head with ordinary labour, spouse, child), monthly income rows and a
    guarantee status. Sensitive values (ID numbers, phone, health, disability) are deliberately present."""
    seed_regions(conn)
    rec = datetime(2024, 1, 1)
    hid = conn.execute(insert(Household).values(hh_no=hh_no, created_at=rec).returning(Household.id)).scalar_one()
    members = members or [
        {"name": "张三", "relation": "户主", "labour_skill": "普通劳动力", "health": "健康", "birth": date(1980, 5, 1)},
        {"name": "李四", "relation": "妻", "labour_skill": "普通劳动力", "health": "长期慢性病", "birth": date(1982, 2, 1),
         "disability_grade": 2, "disability_category": 4},
        {"name": "张小", "relation": "子", "labour_skill": "无劳动力", "health": "健康", "birth": date(2012, 9, 1)},
    ]
    head_id = None
    for i, m in enumerate(members):
        idn = m.get("id_number") or make_id(m.get("birth", date(1980, 1, 1)), i % 2 == 0)
        pid = conn.execute(insert(Person).values(**person_values(idn), created_at=rec).returning(Person.id)).scalar_one()
        m["person_id"] = pid
        if i == 0:
            head_id = idn
        conn.execute(insert(MemberVersion).values(
            person_id=pid, household_id=hid, valid_from=valid_from, recorded_at=rec, active=True,
            name=m["name"], sex="男" if i % 2 == 0 else "女", birth_date=m.get("birth", date(1980, 1, 1)),
            relation=m.get("relation"), health=m.get("health"), labour_skill=m.get("labour_skill"),
            disability_grade=m.get("disability_grade"), disability_category=m.get("disability_category"),
            med_insured=True))
    conn.execute(insert(HouseholdVersion).values(
        household_id=hid, valid_from=valid_from, recorded_at=rec, region_code=village, hh_type="脱贫户",
        relocated=False, **household_values(phone, head_id), active=True))
    if monthly_net is not None:
        y, m = map(int, income_months[0].split("-"))
        while f"{y:04d}-{m:02d}" <= income_months[1]:
            start = date(y, m, 1)
            end = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))
            conn.execute(insert(IncomeRecord).values(
                household_id=hid, period=f"{y:04d}-{m:02d}", period_start=start, period_end=end, recorded_at=rec,
                wage=monthly_net, business=0, property=0, transfer=0, business_cost=0, claims=0,
                medical_oop=medical_oop, education_cost=0))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    g = {"housing_safe": True, "dropout": False, "water_safe": True, "uninsured_member": False, **(guarantees or {})}
    conn.execute(insert(GuaranteeStatus).values(household_id=hid, status_date=valid_from, recorded_at=rec, **g))
    return hid


def end_member(conn, person_id: int, household_id: int, on: date, reason: str) -> None:
    """Append a version row ending a membership (death 死亡 / moved 迁出) — history is never overwritten."""
    from fangpin.registry.service import current_members

    mq = current_members().subquery()
    m = dict(conn.execute(select(mq).where(mq.c.person_id == person_id)).mappings().one())
    keep = {k: m[k] for k in ("name", "sex", "birth_date", "relation", "health", "labour_skill", "disability_grade",
                              "disability_category", "med_insured")}
    conn.execute(insert(MemberVersion).values(person_id=person_id, household_id=household_id, valid_from=on,
                                              recorded_at=datetime.combine(on, datetime.min.time()), active=False,
                                              end_reason=reason, **keep))


AUTH = {"commitment_signed": True, "authorisation_signed": True}


def at(day: int, base: datetime = T0) -> datetime:
    return base + timedelta(days=day)


def identify(conn, hh_no: str, *, start: datetime = T0, risk_types=("ILLNESS",), monitored_type="BYYZP"):
    """Run the whole §5 chain: lead → … → county approval. Returns the MONITORED case."""
    c = open_lead(conn, CADRE, source="cadre_visit", household=hh_no, risk_types=list(risk_types), at=start)
    c = act(conn, c.id, "authorise", CADRE, expected_version=c.version, payload=AUTH, at=start)
    c = act(conn, c.id, "verify_home", CADRE, expected_version=c.version, at=start + timedelta(days=1),
            payload={"findings": "入户核实属实"})
    c = act(conn, c.id, "data_check", TOWNSHIP, expected_version=c.version, at=start + timedelta(days=2))
    c = act(conn, c.id, "village_review", CADRE, expected_version=c.version, at=start + timedelta(days=3),
            payload={"monitored_type": monitored_type})
    c = act(conn, c.id, "township_audit", TOWNSHIP, expected_version=c.version, at=start + timedelta(days=8))
    c = act(conn, c.id, "county_approve", COUNTY, expected_version=c.version, at=start + timedelta(days=10))
    return c


def test_factory_builds_a_household_with_members_income_and_guarantees(sqlite_engine):
    from fangpin.registry.service import household_as_of

    with sqlite_engine.begin() as conn:
        make_household(conn, "HH-F-1")
        v = household_as_of(conn, "HH-F-1", date(2025, 1, 1))
    assert v is not None and len(v.members) == 3 and v.attributes["region_code"] == VILLAGE
    assert v.guarantees and v.guarantees["housing_safe"]
