"""Public-welfare jobs (乡村公益岗位), seed 004 §四(七) line 57: 按需设岗、以岗聘任、在岗领补、有序退岗."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from fangpin.alerts.models import Alert
from fangpin.programmes import jobs
from fangpin.programmes.errors import ProgrammeError
from fangpin.programmes.models import PwjPayroll
from fangpin.registry.models import IncomeRecord
from fangpin.registry.service import current_members

from .conftest import AS_OF, actors

AT = datetime(2024, 12, 31, 12, 0)


def _candidate(county, *, below_line: bool):
    """A 脱贫户 household (TUOPIN group) with a working-age member who has labour, above/below the line."""
    f = county["features"].to_pylist()
    e = county["engine"]
    with e.connect() as c:
        mq = current_members().subquery()
        members = c.execute(select(mq.c.person_id, mq.c.household_id, mq.c.labour_skill, mq.c.birth_date)
                            .where(mq.c.active.is_(True))).all()
    by_hh = {}
    for m in members:
        age = 2024 - m.birth_date.year
        if m.labour_skill in ("普通劳动力", "技能劳动力", "弱劳动力或半劳动力") and 20 <= age <= 60:
            by_hh.setdefault(m.household_id, m.person_id)
    for r in sorted(f, key=lambda r: r["household_id"]):
        if r["hh_type"] != "脱贫户" or r["income_source"] != "monthly" or r["household_id"] not in by_hh:
            continue
        if (r["pc_net_12m"] < r["monitoring_line"]) == below_line and r["pc_net_12m"] > 0.5 * r["monitoring_line"]:
            return r, by_hh[r["household_id"]]
    pytest.skip("no candidate household in this synthetic county")


def _open(e, hh):
    with e.connect() as c:
        return {r for r, in c.execute(select(Alert.rule_id).where(Alert.household_id == hh,
                                                                  Alert.status.in_(("open", "case_opened"))))}


def test_subsidy_reaches_wage_income_and_exit_raises_alert_seed004_s4_7(county):
    e = county["engine"]
    r, person = _candidate(county, below_line=True)
    hh, village, size, line = r["household_id"], r["region_code"], r["size"], r["monitoring_line"]
    assert "INC-LINE" in _open(e, hh)
    # a subsidy that lifts the household just above the line for the year
    monthly = round((line * size - r["net_12m"]) / 12 + 150, 0)
    a = actors(village)
    with e.begin() as c:
        post = jobs.create_post(c, a["township"], region_code=village, post_type="CLEANER", title="村庄保洁",
                                need="村内道路与公共区域保洁", monthly_subsidy=monthly, headcount=2,
                                on=date(2024, 1, 1), at=AT)
        hire = jobs.hire(c, a["township"], post_id=post, person_id=person, hired_on=date(2024, 1, 1), at=AT)
    for m in range(1, 13):
        with e.begin() as c:
            out = jobs.record_month(c, a["village"], month=f"2024-{m:02d}", attendance={hire: 22}, at=AT)
            assert out["changed"] == 1 and out["income_rows"] == 1
    with e.begin() as c:  # re-recording the same month changes nothing (safe to re-run)
        assert jobs.record_month(c, a["village"], month="2024-06", attendance={hire: 22}, at=AT)["changed"] == 0
        paid = c.execute(select(func.sum(PwjPayroll.amount)).where(PwjPayroll.hire_id == hire)).scalar_one()
        assert paid == pytest.approx(12 * monthly)
        rows = c.execute(select(IncomeRecord.wage).where(IncomeRecord.household_id == hh, IncomeRecord.period == "2024-03")
                         .order_by(IncomeRecord.recorded_at, IncomeRecord.id)).scalars().all()
        assert len(rows) == 2 and rows[-1] == pytest.approx(rows[0] + monthly)  # appended, history kept
    from fangpin.alerts.service import monitor

    rep, res = monitor(e, AS_OF, households=[hh])
    feats = res.features.to_pylist()[0]
    assert feats["pc_net_12m"] >= line  # monitoring counts the subsidy as wage income
    assert "INC-LINE" not in _open(e, hh)
    effect = jobs.exit_and_monitor(e, a["township"], hire_id=hire, exit_on=date(2024, 12, 31), reason="OWN_REQUEST",
                                   note="本人外出务工", at=AT, as_of=AS_OF)
    assert effect["subsidy_12m"] == pytest.approx(12 * monthly)
    assert effect["alert"] is not None, effect
    assert "PWJ-EXIT" in _open(e, hh)
    with e.connect() as c:
        ev = c.execute(select(Alert.evidence).where(Alert.household_id == hh, Alert.rule_id == "PWJ-EXIT")).scalar_one()
    assert ev["pc_net_after_pwj_exit"] < ev["monitoring_line"] <= ev["pc_net_12m"]


def test_exit_of_a_comfortable_household_raises_no_alert(county):
    e = county["engine"]
    r, person = _candidate(county, below_line=False)
    if r["pc_net_12m"] < 2 * r["monitoring_line"]:
        pytest.skip("want a household well above the line")
    a = actors(r["region_code"])
    with e.begin() as c:
        post = jobs.create_post(c, a["county"], region_code=r["region_code"], post_type="ROAD", title="护路",
                                need="村道养护", monthly_subsidy=300, headcount=1, on=date(2024, 1, 1), at=AT)
        hire = jobs.hire(c, a["county"], post_id=post, person_id=person, hired_on=date(2024, 1, 1), at=AT)
        for m in range(7, 13):
            jobs.record_month(c, a["village"], month=f"2024-{m:02d}", attendance={hire: 20}, at=AT)
    effect = jobs.exit_and_monitor(e, a["county"], hire_id=hire, exit_on=date(2024, 12, 20), reason="STABLE_JOB",
                                   at=AT, as_of=AS_OF)
    assert effect["alert"] is None
    assert effect["subsidy_12m"] == pytest.approx(6 * jobs.subsidy_for(300, 22, 20))


def test_hiring_refuses_ineligible_people_and_bad_input(county):
    e = county["engine"]
    f = county["features"].to_pylist()
    r, person = _candidate(county, below_line=False)
    village = r["region_code"]
    a = actors(village)
    with e.begin() as c:
        with pytest.raises(ProgrammeError) as ex:
            jobs.create_post(c, a["village"], region_code=village, post_type="CLEANER", title="x", need="y",
                             monthly_subsidy=500, headcount=1, on=date(2024, 1, 1))
        assert ex.value.code == "PROG_ROLE"
        with pytest.raises(ProgrammeError) as ex:
            jobs.create_post(c, a["township"], region_code=village, post_type="CLEANER", title="x", need=" ",
                             monthly_subsidy=500, headcount=1, on=date(2024, 1, 1))
        assert ex.value.code == "PWJ_NEED_REQUIRED"
        post = jobs.create_post(c, a["township"], region_code=village, post_type="CLEANER", title="保洁",
                                need="保洁", monthly_subsidy=500, headcount=1, on=date(2024, 1, 1))
        # a member without labour capacity cannot be hired (POLICY.md §8: social protection instead)
        mq = current_members().subquery()
        nolab = c.execute(select(mq.c.person_id).where(mq.c.labour_skill.in_(("丧失劳动力", "无劳动力")),
                                                       mq.c.active.is_(True)).limit(1)).scalar()
        if nolab is not None:
            with pytest.raises(ProgrammeError) as ex:
                jobs.check_eligibility(c, nolab, date(2024, 1, 1))
            assert ex.value.code in ("PWJ_NO_LABOUR", "PWJ_AGE")
        # an ordinary household (一般农户) that is neither monitored nor low-income is refused
        hh_general = {x["household_id"] for x in f if x["hh_type"] == "一般农户"}
        cand = c.execute(select(mq.c.person_id, mq.c.birth_date).where(
            mq.c.household_id.in_(hh_general), mq.c.labour_skill == "普通劳动力", mq.c.active.is_(True))).all()
        cand = [p for p, b in cand if 20 <= 2024 - b.year <= 60]
        if cand:
            with pytest.raises(ProgrammeError) as ex:
                jobs.check_eligibility(c, cand[0], date(2024, 1, 1))
            assert ex.value.code == "PWJ_NOT_ELIGIBLE_HOUSEHOLD"
        h = jobs.hire(c, a["township"], post_id=post, person_id=person, hired_on=date(2024, 1, 1))
        elig = c.execute(select(jobs.PwjHire.eligibility).where(jobs.PwjHire.id == h)).scalar_one()
        assert elig["basis"] == "TUOPIN" and "seed 004" in elig["reference"]
        with pytest.raises(ProgrammeError) as ex:  # headcount 1: full
            jobs.hire(c, a["township"], post_id=post, person_id=person, hired_on=date(2024, 1, 1))
        assert ex.value.code == "PWJ_POST_FULL"
        # attendance: one bad row → nothing saved
        with pytest.raises(ProgrammeError) as ex:
            jobs.record_month(c, a["village"], month="2024-02", attendance={h: 40})
        assert ex.value.code == "PWJ_BAD_ATTENDANCE"
        assert c.execute(select(func.count()).select_from(PwjPayroll)).scalar_one() == 0
        # a month the registry has no income figures for yet: the subsidy is not invented into a partial month
        out = jobs.record_month(c, a["village"], month="2025-03", attendance={h: 20})
        assert out["changed"] == 1 and out["income_rows"] == 0
        assert c.execute(select(func.count()).select_from(IncomeRecord).where(
            IncomeRecord.period.in_(("2025-03", "2025")))).scalar_one() == 0
        assert c.execute(select(PwjPayroll.income_record_id).where(PwjPayroll.hire_id == h)).scalar_one() is None
        # another village's cadre may not record attendance here
        other = actors(village[:9] + "999")["village"]
        with pytest.raises(ProgrammeError):
            jobs.record_month(c, other, month="2024-02", attendance={h: 20})
