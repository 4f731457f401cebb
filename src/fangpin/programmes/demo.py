"""Demo data of the programmes in the synthetic county — written through the domain services only, deterministic
for a seed: public-welfare posts, hires, a year of attendance (subsidies into wage income), exits (one that raises
the PWJ-EXIT alert), project assets (with custodian and income warnings), a resettlement site with its relocated
households and follow-up support. The scorecards need no data of their own: they are computed from all this."""
from __future__ import annotations

import random
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from fangpin.cases import Actor
from fangpin.programmes import assets, jobs, relocation
from fangpin.programmes.errors import ProgrammeError
from fangpin.registry.service import current_households, current_members


def seed(engine: Engine, village: str, *, seed: int = 7, at: datetime = datetime(2026, 1, 5, 9, 0),
         year: int = 2025) -> dict:
    rng = random.Random(seed)
    county = Actor("demo-county", "示范县级干部", "county_officer", village[:6])
    with engine.connect() as c:
        hq = current_households().subquery()
        hh = c.execute(select(hq.c.household_id, hq.c.region_code, hq.c.relocated, hq.c.hh_type)
                       .where(hq.c.active.is_(True), hq.c.region_code.startswith(village[:6]))
                       .order_by(hq.c.household_id)).all()
        mq = current_members().subquery()
        members = c.execute(select(mq.c.person_id, mq.c.household_id).where(mq.c.active.is_(True))
                            .order_by(mq.c.person_id)).all()
    by_hh: dict[int, list[int]] = {}
    for p, h in members:
        by_hh.setdefault(h, []).append(p)
    # the demo village's township first, then the rest of the county
    villages = sorted({r.region_code for r in hh}, key=lambda v: (not v.startswith(village[:9]), v))
    out: dict = {"posts": 0, "hires": 0, "payroll_months": 0, "exits": [], "assets": 0, "sites": 0}

    # ---- public-welfare jobs in the township of the demo village (按需设岗 → 以岗聘任 → 在岗领补)
    needs = [("CLEANER", "村庄保洁员", "村内主干道和公共区域保洁", 600), ("ROAD", "护路员", "通村公路日常养护", 700),
             ("WATER", "水管员", "集中供水工程日常巡查", 650), ("CARE", "留守老人看护员", "独居老人日常探访", 550)]
    hires: list[tuple[int, int, float]] = []  # hire id, household id, monthly subsidy
    start = date(year, 1, 1)
    with engine.begin() as c:
        eligible: dict[str, list[int]] = {}  # township → households with someone eligible (按需设岗 where needed)
        for r in hh:
            if any(_eligible(c, p, start) for p in by_hh.get(r.household_id, [])):
                eligible.setdefault(r.region_code[:9], []).append(r.household_id)
        used = 0
        for v in villages:
            if used >= 4:
                break
            if not eligible.get(v[:9]):
                continue
            used += 1
            for post_type, title, need, subsidy in rng.sample(needs, 2):
                pid = jobs.create_post(c, county, region_code=v, post_type=post_type, title=title, need=need,
                                       monthly_subsidy=subsidy, headcount=2, on=start, at=at)
                out["posts"] += 1
                # local people first, then the rest of the township (posts hire within the township)
                pool = eligible[v[:9]]
                same = [h for h in pool if any(r.household_id == h and r.region_code == v for r in hh)]
                rest = [h for h in pool if h not in same]
                rng.shuffle(same)
                rng.shuffle(rest)
                cands = [h for h in same + rest if h not in {x[1] for x in hires}]
                filled = 0
                for h in cands:
                    if filled >= 2:
                        break
                    for person in by_hh.get(h, []):
                        try:
                            hid = jobs.hire(c, county, post_id=pid, person_id=person, hired_on=start,
                                            agreement_end=date(year + 1, 12, 31), at=at)
                        except ProgrammeError:
                            continue
                        hires.append((hid, h, subsidy))
                        filled += 1
                        break
    out["hires"] = len(hires)
    for m in range(1, 13):
        with engine.begin() as c:
            att = {hid: (22 if rng.random() > 0.15 else rng.randint(12, 21)) for hid, _, _ in hires}
            if att:
                jobs.record_month(c, county, month=f"{year}-{m:02d}", attendance=att, at=at)
                out["payroll_months"] += 1
    # ---- orderly exits: the hire whose household falls furthest below the line without the subsidy (alert) and
    # one whose household stays above it (no alert)
    if hires:
        from fangpin.policy import load_parameters

        ps = load_parameters()
        with engine.connect() as c:
            facts = relocation.household_facts(c, [h for _, h, _ in hires], date(year, 12, 31))
        margins = []
        for hid, h, subsidy in hires:
            f = facts[h]
            if f["pc_net_12m"] is None or not f["size"]:
                continue
            line = ps.get("monitoring_line", village, date(year, 12, 31)).value
            after = f["pc_net_12m"] - 12 * subsidy / f["size"]
            margins.append((after - line, f["pc_net_12m"] - line, hid))
        margins.sort()
        chosen = [x for x in margins if x[0] < 0 <= x[1]][:1] or margins[:1]
        chosen += [x for x in margins if x[0] > 0][-1:]
        for after_margin, _, hid in chosen:
            eff = jobs.exit_and_monitor(engine, county, hire_id=hid, exit_on=at.date(),
                                        reason="STABLE_JOB" if after_margin > 0 else "OWN_REQUEST", note="示范数据",
                                        at=at)
            out["exits"].append({"hire_id": hid, "alert": eff["alert"]["rule_id"] if eff["alert"] else None})

    # ---- project assets (分类摸清资产底数) across the county's villages
    all_villages = sorted({r.region_code for r in hh})
    kinds = [("PUBLIC", "村组道路硬化", 450000), ("PUBLIC", "人饮安全巩固提升工程", 280000),
             ("OPERATING", "光伏扶贫电站", 1200000), ("OPERATING", "扶贫车间", 800000), ("OPERATING", "冷库", 600000),
             ("HOUSEHOLD", "到户养殖圈舍", 15000)]
    n = 0
    with engine.begin() as c:
        for i, v in enumerate(all_villages[:8]):
            for cls, name, value in rng.sample(kinds, 3):
                n += 1
                owner = None
                if cls == "HOUSEHOLD":
                    owner = next((r.household_id for r in hh if r.region_code == v), None)
                    if owner is None:
                        continue
                custodian = None if rng.random() < 0.2 and cls != "HOUSEHOLD" else f"{v[-3:]}村股份经济合作社"
                aid = assets.register(c, county, asset_no=f"ZC{v[-6:]}{n:03d}", name=f"{name}", asset_class=cls,
                                      region_code=v, project_name=f"{2019 + i % 3}年度{name}项目",
                                      project_year=2019 + i % 3, value=value * (0.8 + 0.4 * rng.random()),
                                      completed_on=date(2019 + i % 3, 10, 1), custodian=custodian,
                                      responsibility="日常巡查、维修养护" if custodian else None, owner_household_id=owner,
                                      at=at)
                out["assets"] += 1
                if cls == "OPERATING" and rng.random() > 0.3:  # the others earn nothing: 资产流失 warning
                    for y in (year - 1, year):
                        inc = round(value * 0.06 * (0.7 + 0.6 * rng.random()), 2)
                        assets.record_income(c, county, asset_id=aid, period=str(y), received_on=date(y, 12, 20),
                                             income=inc, to_upkeep=round(inc * 0.1, 2),
                                             to_households=round(inc * 0.6, 2),
                                             to_village_welfare=round(inc - round(inc * 0.1, 2) - round(inc * 0.6, 2), 2),
                                             households_paid=rng.randint(10, 40), at=at)
    # ---- the demo county as a key assisted county (a demo designation, not a real document)
    from fangpin.programmes import key_counties

    with engine.begin() as c:
        admin = Actor("demo-admin", "示范管理员", "admin", "00")
        key_counties.designate(c, admin, county_code=village[:6], level="national", designated_on=date(2021, 8, 27),
                               reference="示范数据:合成县,非真实认定文件 (demo data: synthetic county)", at=at)
    # ---- East–West cooperation (province ↔ province) and designated assistance (unit ↔ county)
    from fangpin.programmes import pairing

    with engine.begin() as c:
        admin = Actor("demo-admin", "示范管理员", "admin", "00")
        ew = pairing.create_pair(c, admin, kind="east_west", giver="31", receiver_code=village[:2],
                                 started_on=date(2021, 4, 1), reference="示范数据 (demo data)", at=at)["pair_id"] \
            if village[:2] in pairing.config()["western"] else None
        dp = pairing.create_pair(c, county, kind="designated", giver="示范定点帮扶单位", receiver_code=village[:6],
                                 started_on=date(2021, 4, 1), reference="示范数据 (demo data)", at=at)["pair_id"]
        for pid in [x for x in (ew, dp) if x]:
            for i, v in enumerate(all_villages[:3]):
                pairing.record_flow(c, county, pair_id=pid, kind="fund", region_code=v, year=year,
                                    title="产业帮扶资金", amount=round(500000 * (1 + rng.random()), 2), at=at)
                pairing.record_flow(c, county, pair_id=pid, kind="project", region_code=v, year=year,
                                    title=["援建冷链仓储", "援建产业路", "援建村卫生室"][i], amount=800000,
                                    completed=rng.random() > 0.3, at=at)
        placed = 0
        for r in hh:
            if placed >= 12:
                break
            for person in by_hh.get(r.household_id, []):
                if not _eligible(c, person, date(year, 3, 1)):
                    continue
                pairing.record_transfer(c, county, pair_id=ew or dp, person_id=person, destination="上海市松江区电子厂",
                                        started_on=date(year, 3, 1), monthly_income=4500, at=at)
                placed += 1
                break
    out["pairs"] = len([x for x in (ew, dp) if x])
    out["labour_transfers"] = placed
    # ---- a resettlement site with the county's relocated households
    relocated = [r.household_id for r in hh if r.relocated]
    if relocated:
        with engine.begin() as c:
            site = relocation.create_site(c, county, name="城南易地扶贫搬迁安置区", region_code=village,
                                          site_kind="town", opened_on=date(2020, 6, 1),
                                          services=["社区服务中心", "就业服务站", "卫生室", "幼儿园"], at=at)
            relocation.add_households(c, county, site_id=site, household_ids=relocated, moved_in_on=date(2020, 6, 1),
                                      at=at)
            for kind, title, amount in [("employment", "安置区扶贫车间吸纳就业", 300000),
                                        ("industry", "配套食用菌产业基地", 500000),
                                        ("facility", "安置区道路与管网配套", 800000),
                                        ("service", "社区融入与关爱服务", None)]:
                relocation.add_support(c, county, site_id=site, kind=kind, title=title, started_on=date(2021, 3, 1),
                                       amount=amount, at=at)
        out["sites"] = 1
        out["relocated_households"] = len(relocated)
    return out


def _eligible(conn, person_id: int, on: date) -> bool:
    try:
        jobs.check_eligibility(conn, person_id, on)
        return True
    except ProgrammeError:
        return False
