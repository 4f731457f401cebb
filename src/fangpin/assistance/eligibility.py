"""Eligibility calculators (救助资格测算) — pure functions, no database (POLICY.md §10; seed 004 lines 67–77).

Each calculator takes a :class:`~fangpin.assistance.model.Household`, optional :class:`Rules` (parameters) and an
optional precomputed :class:`IncomeBreakdown` (so a caller computes income ONCE — 一户一条救助链), and returns a
:class:`Decision` with the rule id, the reference, every parameter used and the arithmetic in Chinese and English.

Comparisons follow POLICY.md wording: income tests are strict ("<"), asset tests are inclusive ("within limits").
Amounts are rounded to the fen (0.01 yuan, half up) only at the end.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from fangpin.assistance.income import ADULT_AGE, Ctx, IncomeBreakdown, household_income
from fangpin.assistance.model import (
    CARE_LEVELS,
    ZERO,
    Decision,
    EligibilityInputError,
    Household,
    MedicalBill,
    Member,
    Step,
    money,
    r2,
)
from fangpin.assistance.params import Rules

__all__ = [
    "MEDICAL_CATEGORIES",
    "PENSION_GROUPS",
    "assess_dibao",
    "assess_dibao_edge",
    "assess_medical_assistance",
    "assess_pension_contribution",
    "assess_rigid_spending",
    "assess_tekun",
    "assess_temporary_assistance",
]

REF_DIBAO = "POLICY.md §10 低保 [V]; seed 004 line 69 (§十一)"
REF_EDGE = "POLICY.md §10 低保边缘 [P multiplier]"
REF_RIGID = "POLICY.md §10 刚性支出困难 [V]"
REF_TEKUN = "POLICY.md §10 特困 [V]; seed 004 line 69 (§十一), line 77 (§十四)"
REF_TEMP = "POLICY.md §10 临时救助; seed 004 line 69 (§十一 凡困必帮、有难必救)"
REF_MEDICAL = "POLICY.md §10 medical aid; seed 004 line 71 (§十二)"
REF_PENSION = "POLICY.md §10 pension contribution; seed 004 lines 73–75 (§十三)"


# ---------------------------------------------------------------------------------------------- helpers
def _begin(h: Household, rules: Rules | None, income: IncomeBreakdown | None) -> tuple[Ctx, IncomeBreakdown, list[Step]]:
    ctx = Ctx(rules, h.region_code, h.date)
    if income is None:
        income = household_income(h, ctx=ctx)
    else:
        ctx.used.update(income.parameters)
    return ctx, income, list(income.steps)


def _done(calc: str, eligible: bool, rule_id: str, reference: str, h: Household, ctx: Ctx, steps: list[Step],
          **kw: Any) -> Decision:
    steps.append(Step(f"结论:{'符合' if eligible else '不符合'}({rule_id})",
                      f"decision: {'eligible' if eligible else 'not eligible'} ({rule_id})"))
    return Decision(calculator=calc, eligible=eligible, rule_id=rule_id, reference=reference,
                    parameters=dict(ctx.used), steps=steps, region_code=h.region_code, date=h.date,
                    parameter_version=ctx.rules.version, **kw)


def _standard(ctx: Ctx, steps: list[Step]) -> tuple[Decimal, Decimal]:
    std = ctx.num("dibao_standard_rural_year")
    pu = ctx.used["dibao_standard_rural_year"]
    steps.append(Step(f"低保标准 = {std} 元/人·年(月 {r2(std / 12)} 元)[{pu.reference}]",
                      f"dibao standard = {std} yuan/person/year ({r2(std / 12)} per month) [{pu.reference}]"))
    return std, std / 12


def _assets_ok(h: Household, inc: IncomeBreakdown, ctx: Ctx, std_month: Decimal, tier: str,
               steps: list[Step]) -> bool:
    """POLICY.md §10 "assets within limits" — limits are parameters ([assumption] defaults, see assistance/params_data/cn.yaml)."""
    months = ctx.num(f"assets_financial_limit_months_{tier}")
    limit = r2(months * std_month)
    pc = r2(h.assets.financial / inc.size)
    fin_ok = pc <= limit
    veh_lim = int(ctx.num("assets_vehicle_limit"))
    house_lim = int(ctx.num("assets_extra_housing_limit"))
    veh_ok = h.assets.vehicles <= veh_lim
    house_ok = h.assets.extra_housing <= house_lim
    steps.append(Step(
        f"人均金融资产 = {h.assets.financial} ÷ {inc.size} = {pc} 元 {'≤' if fin_ok else '>'} 上限 {months} 个月 × "
        f"{r2(std_month)} = {limit} 元;机动车 {h.assets.vehicles} 辆(上限 {veh_lim});自住房外住房 "
        f"{h.assets.extra_housing} 套(上限 {house_lim})",
        f"financial assets per capita = {h.assets.financial} ÷ {inc.size} = {pc} {'≤' if fin_ok else '>'} limit "
        f"{months} months × {r2(std_month)} = {limit}; vehicles {h.assets.vehicles} (limit {veh_lim}); extra housing "
        f"{h.assets.extra_housing} (limit {house_lim})"))
    ok = fin_ok and veh_ok and house_ok
    steps.append(Step("家庭财产" + ("符合规定" if ok else "超过规定"), "assets " + ("within limits" if ok else "over the limits")))
    return ok


def _member(h: Household, member: int | str) -> Member:
    if isinstance(member, int):
        try:
            return h.members[member]
        except IndexError:
            raise EligibilityInputError(f"no member #{member} / 无第 {member} 号成员") from None
    for m in h.members:
        if m.name == member:
            return m
    raise EligibilityInputError(f"no member named {member!r} / 无成员 {member!r}")


def _own_income(m: Member) -> Decimal:
    i = m.income
    return max(i.wage + i.business - i.business_cost + i.property + i.transfer, ZERO)


def _separate_coverage_reason(m: Member) -> tuple[str, str] | None:
    """POLICY.md §10 [V] 单独施保: grade 1–2 disabled, grade 3 intellectual/mental, serious illness."""
    if m.severely_disabled:
        return "一、二级残疾", "grade 1–2 disability"
    if m.grade3_intellectual_or_mental:
        return "三级智力/精神残疾", "grade 3 intellectual/mental disability"
    if m.health == "SERIOUS":
        return "患有大病", "serious illness"
    return None


# ---------------------------------------------------------------------------------------------- 1. 低保
def assess_dibao(h: Household, rules: Rules | None = None, income: IncomeBreakdown | None = None) -> Decision:
    """低保 (minimum living guarantee) — POLICY.md §10 [V]: per-capita income < local 低保 standard AND assets within
    limits; amount = (standard − per-capita income) × size, monthly; separate coverage; review; taper."""
    ctx, inc, steps = _begin(h, rules, income)
    std, std_m = _standard(ctx, steps)
    pc = inc.per_capita_year
    below = pc < std  # strict: POLICY.md §10 "per-capita income < local 低保 standard"
    steps.append(Step(
        f"家庭年人均收入 {r2(pc)} 元 {'<' if below else '≥'} 低保标准 {std} 元(月人均 {r2(pc / 12)} "
        f"{'<' if below else '≥'} {r2(std_m)})",
        f"per-capita income {r2(pc)} {'<' if below else '≥'} standard {std} yuan/year (monthly {r2(pc / 12)} vs "
        f"{r2(std_m)})"))
    assets_ok = _assets_ok(h, inc, ctx, std_m, "dibao", steps)
    details: dict[str, Any] = {"size": inc.size, "per_capita_income_month": r2(pc / 12), "standard_month": r2(std_m)}
    if not assets_ok:
        return _done("dibao", False, "dibao.assets_over_limit", REF_DIBAO, h, ctx, steps, details=details)
    if below:
        gap = std - pc
        amount = r2(gap * inc.size / 12)
        steps.append(Step(
            f"月保障金 = (低保标准 {std} − 年人均收入 {r2(pc)}) × {inc.size} 人 ÷ 12 = {amount} 元/月",
            f"monthly payment = (standard {std} − per-capita income {r2(pc)}) × {inc.size} ÷ 12 = {amount} yuan/month"))
        has_labour = any(m.has_labour for m in inc.counted_members)
        if h.income_unstable and has_labour:  # POLICY.md §10 [V] review every 6 months for unstable with labour
            review = int(ctx.num("dibao_review_months_unstable"))
            steps.append(Step(f"有劳动力且收入不稳定:每 {review} 个月复核",
                              f"labour and unstable income: review every {review} months"))
        else:  # POLICY.md §10 [V] review every 12 months
            review = int(ctx.num("dibao_review_months"))
            steps.append(Step(f"每 {review} 个月复核", f"review every {review} months"))
        details["review_months"] = review
        return _done("dibao", True, "dibao.eligible", REF_DIBAO, h, ctx, steps, amount_month=amount,
                     amount_year=amount * 12, details=details)

    # income not below the standard
    if h.current_dibao:
        # POLICY.md §10 [V] taper period (渐退期) 3–12 months when income rises above the standard
        lo, hi = int(ctx.num("dibao_taper_months_min")), int(ctx.num("dibao_taper_months_max"))
        months = lo if h.taper_months is None else h.taper_months
        if not lo <= months <= hi:
            raise EligibilityInputError(
                f"taper_months {months} outside {lo}–{hi} (POLICY.md §10) / 渐退期 {months} 个月不在 {lo}–{hi} 个月范围内")
        amount = r2(h.current_dibao_amount_month)
        steps.append(Step(
            f"现低保户收入超过标准:进入渐退期 {months} 个月(范围 {lo}–{hi}),期内保持原保障金 {amount} 元/月",
            f"current recipient with income above the standard: taper period of {months} months (range {lo}–{hi}), "
            f"payment stays {amount} yuan/month"))
        details["taper_months"] = months
        return _done("dibao", True, "dibao.taper", REF_DIBAO + "; 渐退期 [V]", h, ctx, steps, amount_month=amount,
                     amount_year=None, details=details)

    # separate coverage (单独施保) for members of marginal households — POLICY.md §10 [V]
    mult = ctx.num("dibao_edge_multiplier")
    marginal = pc < mult * std
    covered = []
    for m in inc.counted_members:
        why = _separate_coverage_reason(m)
        if why:
            covered.append((m, why))
    if marginal and covered:
        steps.append(Step(
            f"年人均收入 {r2(pc)} < 低保边缘线 {mult} × {std} = {r2(mult * std)} 元,属低保边缘家庭,可单独施保",
            f"per-capita income {r2(pc)} < edge line {mult} × {std} = {r2(mult * std)}: marginal household, "
            "separate coverage possible"))
        total = ZERO
        names = []
        for m, (zh, en) in covered:
            own = _own_income(m)
            pay = r2(max(std - own, ZERO) / 12)
            total += pay
            names.append(m.label)
            steps.append(Step(
                f"单独施保 {m.label}({zh}):(低保标准 {std} − 本人年收入 {own}) ÷ 12 = {pay} 元/月",
                f"separate coverage {m.label} ({en}): (standard {std} − own income {own}) ÷ 12 = {pay} yuan/month "
                "[assumption: single-person household income = the person's own counted income]"))
        details["covered_members"] = names
        details["review_months"] = int(ctx.num("dibao_review_months"))
        return _done("dibao", True, "dibao.separate_coverage", REF_DIBAO + "; 单独施保 [V]", h, ctx, steps,
                     amount_month=total, amount_year=total * 12, details=details)
    return _done("dibao", False, "dibao.income_not_below_standard", REF_DIBAO, h, ctx, steps, details=details)


# ---------------------------------------------------------------------------------------------- 4. 特困
def assess_tekun(h: Household, member: int | str = 0, rules: Rules | None = None,
                 income: IncomeBreakdown | None = None) -> Decision:
    """特困 (destitute persons support) for one person — POLICY.md §10 [V]: all three of no labour capacity, no
    means of living, no legal supporter able to support. Support ≥ multiplier × 低保 standard + care allowance."""
    ctx, inc, steps = _begin(h, rules, income)
    m = _member(h, member)
    age = m.age_on(h.date)
    old, young = int(ctx.num("tekun_elderly_age")), int(ctx.num("tekun_minor_age"))
    why = []
    if age >= old:
        why.append((f"年满 {old} 周岁({age})", f"aged {age} ≥ {old}"))
    if age < young:
        why.append((f"未满 {young} 周岁({age})", f"aged {age} < {young}"))
    if m.severely_disabled:
        why.append(("一、二级残疾", "grade 1–2 disability"))
    if m.grade3_intellectual_or_mental:
        why.append(("三级智力/精神残疾", "grade 3 intellectual/mental disability"))
    no_labour = bool(why)
    steps.append(Step(
        f"条件一 无劳动能力:{'是 — ' + '、'.join(w[0] for w in why) if no_labour else '否(年龄 ' + str(age) + ',无一、二级或三级智力/精神残疾)'}",
        f"condition 1 no labour capacity: {'yes — ' + ', '.join(w[1] for w in why) if no_labour else 'no (age ' + str(age) + ', no qualifying disability)'}"))
    std, std_m = _standard(ctx, steps)
    pc = inc.per_capita_year
    income_ok = pc < std
    steps.append(Step(f"条件二 无生活来源:年人均收入 {r2(pc)} {'<' if income_ok else '≥'} 低保标准 {std}",
                      f"condition 2 no means of living: per-capita income {r2(pc)} {'<' if income_ok else '≥'} {std}"))
    assets_ok = _assets_ok(h, inc, ctx, std_m, "dibao", steps)
    if m.has_legal_supporter_able is None:
        # judgment: a counted member (legal support relation, see household_members) who is an adult under the
        # elderly age with labour capacity is an able supporter; relatives elsewhere must be entered explicitly.
        able = [o.label for o in inc.counted_members
                if o is not m and o.has_labour and ADULT_AGE <= o.age_on(h.date) < old]
        no_supporter = not able
        src_zh = f"(同户有劳动能力的成年义务人:{'、'.join(able)})" if able else "(同户无有劳动能力的成年义务人)"
        src_en = f" (able adult supporters in the household: {', '.join(able)})" if able else " (none in the household)"
    else:
        no_supporter = not m.has_legal_supporter_able
        src_zh, src_en = "(经办人核实)", " (verified by the officer)"
    steps.append(Step(f"条件三 无履行义务能力的法定赡养抚养扶养人:{'是' if no_supporter else '否'}{src_zh}",
                      f"condition 3 no legal supporter able to support: {'yes' if no_supporter else 'no'}{src_en}"))
    details: dict[str, Any] = {"member": m.label, "no_labour_capacity": no_labour, "no_means_of_living":
                               income_ok and assets_ok, "no_supporter": no_supporter}
    for ok, rid in ((no_labour, "tekun.has_labour_capacity"), (income_ok, "tekun.has_means_of_living"),
                    (assets_ok, "tekun.assets_over_limit"), (no_supporter, "tekun.has_supporter")):
        if not ok:
            return _done("tekun", False, rid, REF_TEKUN, h, ctx, steps, details=details)
    mult = ctx.num("tekun_support_multiplier")
    basic = r2(mult * std_m)
    level = m.care_level or "SELF_CARE"
    pname = {"SELF_CARE": "tekun_care_allowance_self_care_month", "PARTIAL": "tekun_care_allowance_partial_month",
             "FULL": "tekun_care_allowance_full_month"}[level]
    care = r2(ctx.num(pname))
    amount = basic + care
    zh_level = dict(zip(CARE_LEVELS, ("生活自理", "半护理", "全护理")))[level]
    steps.append(Step(
        f"基本生活标准 = {mult} × 月低保标准 {r2(std_m)} = {basic} 元;照料护理补贴({zh_level})= {care} 元;"
        f"合计 {amount} 元/月",
        f"basic support = {mult} × monthly standard {r2(std_m)} = {basic}; care allowance ({level}) = {care}; "
        f"total {amount} yuan/month"))
    details.update({"basic_month": basic, "care_month": care, "care_level": level})
    return _done("tekun", True, "tekun.eligible", REF_TEKUN, h, ctx, steps, amount_month=amount,
                 amount_year=amount * 12, details=details)


def _all_tekun(h: Household, rules: Rules | None, inc: IncomeBreakdown) -> bool:
    counted = [i for i, m in enumerate(h.members) if any(e.member is m and e.counted for e in inc.membership)]
    return bool(counted) and all(assess_tekun(h, i, rules, inc).eligible for i in counted)


# ---------------------------------------------------------------------------------------------- 2. 低保边缘
def assess_dibao_edge(h: Household, rules: Rules | None = None, income: IncomeBreakdown | None = None) -> Decision:
    """低保边缘 — POLICY.md §10: not 低保/特困, income < multiplier × 低保 standard, assets within limits."""
    ctx, inc, steps = _begin(h, rules, income)
    # 特困 first (a 特困 person also meets the 低保 income test, so the order makes the reason specific)
    if _all_tekun(h, ctx.rules, inc):
        steps.append(Step("家庭成员均符合特困条件,不属低保边缘", "all members eligible for 特困: not an edge household"))
        return _done("dibao_edge", False, "dibao_edge.is_tekun", REF_EDGE, h, ctx, steps)
    d = assess_dibao(h, ctx.rules, inc)
    if d.rule_id in ("dibao.eligible", "dibao.taper"):
        steps.append(Step("已符合低保条件,不属低保边缘", "already eligible for 低保: not an edge household"))
        ctx.used.update(d.parameters)
        return _done("dibao_edge", False, "dibao_edge.is_dibao", REF_EDGE, h, ctx, steps)
    std, std_m = _standard(ctx, steps)
    mult = ctx.num("dibao_edge_multiplier")
    limit = mult * std
    pc = inc.per_capita_year
    below = pc < limit
    steps.append(Step(f"年人均收入 {r2(pc)} {'<' if below else '≥'} {mult} × 低保标准 {std} = {r2(limit)} 元",
                      f"per-capita income {r2(pc)} {'<' if below else '≥'} {mult} × standard {std} = {r2(limit)}"))
    assets_ok = _assets_ok(h, inc, ctx, std_m, "edge", steps)
    details = {"limit_year": r2(limit), "per_capita_income_year": r2(pc)}
    if not below:
        return _done("dibao_edge", False, "dibao_edge.income_not_below_limit", REF_EDGE, h, ctx, steps, details=details)
    if not assets_ok:
        return _done("dibao_edge", False, "dibao_edge.assets_over_limit", REF_EDGE, h, ctx, steps, details=details)
    if d.rule_id == "dibao.separate_coverage":
        details["separately_covered"] = d.details["covered_members"]
    return _done("dibao_edge", True, "dibao_edge.eligible", REF_EDGE, h, ctx, steps, details=details)


# ---------------------------------------------------------------------------------------------- 3. 刚性支出困难
def assess_rigid_spending(h: Household, rules: Rules | None = None, income: IncomeBreakdown | None = None) -> Decision:
    """刚性支出困难 — POLICY.md §10 [V]: income < last year's local per-capita disposable income, assets ok, heavy
    medical/education spending. "Heavy" = spending ≥ ratio × that income ([assumption] parameter)."""
    ctx, inc, steps = _begin(h, rules, income)
    edge = assess_dibao_edge(h, ctx.rules, inc)
    if edge.eligible or edge.rule_id in ("dibao_edge.is_dibao", "dibao_edge.is_tekun"):
        ctx.used.update(edge.parameters)
        steps.append(Step("已属低保/特困/低保边缘,不单列为刚性支出困难家庭",
                          "already 低保/特困/低保边缘: not counted again as rigid-spending hardship [judgment: layers "
                          "are exclusive, 2023 opinion]"))
        return _done("rigid_spending", False, "rigid_spending.already_covered", REF_RIGID, h, ctx, steps,
                     details={"covered_as": edge.rule_id if not edge.eligible else "dibao_edge.eligible"})
    disp = ctx.num("rural_disposable_income_prev_year")
    ref = ctx.used["rural_disposable_income_prev_year"].reference
    pc = inc.per_capita_year
    below = pc < disp
    steps.append(Step(f"年人均收入 {r2(pc)} {'<' if below else '≥'} 上年农村居民人均可支配收入 {disp} 元 [{ref}]",
                      f"per-capita income {r2(pc)} {'<' if below else '≥'} last year's disposable income {disp} [{ref}]"))
    _, std_m = _standard(ctx, steps)
    assets_ok = _assets_ok(h, inc, ctx, std_m, "edge", steps)
    ratio = ctx.num("rigid_spending_heavy_ratio_of_disposable_income")
    threshold = r2(ratio * disp)
    spend = h.spending.total
    heavy = spend >= threshold
    steps.append(Step(
        f"刚性支出 = 医疗自付 {h.spending.medical_oop} + 教育 {h.spending.education} = {spend} 元 "
        f"{'≥' if heavy else '<'} {ratio} × {disp} = {threshold} 元",
        f"rigid spending = medical {h.spending.medical_oop} + education {h.spending.education} = {spend} "
        f"{'≥' if heavy else '<'} {ratio} × {disp} = {threshold}"))
    details = {"rigid_spending": spend, "heavy_threshold": threshold}
    for ok, rid in ((below, "rigid_spending.income_not_below_limit"), (assets_ok, "rigid_spending.assets_over_limit"),
                    (heavy, "rigid_spending.spending_not_heavy")):
        if not ok:
            return _done("rigid_spending", False, rid, REF_RIGID, h, ctx, steps, details=details)
    return _done("rigid_spending", True, "rigid_spending.eligible", REF_RIGID, h, ctx, steps, details=details)


# ---------------------------------------------------------------------------------------------- 5. 临时救助
def assess_temporary_assistance(h: Household, kind: str, need: Any, rules: Rules | None = None,
                                income: IncomeBreakdown | None = None) -> Decision:
    """临时救助 — POLICY.md §10: emergency (急难型, EMERGENCY) or spending-driven (支出型, SPENDING); one-off amount as
    a multiple of the monthly 低保 standard within a [min, max] range; no household-registration restriction for
    emergencies. ``need`` = the loss or spending not covered by insurance or other aid (元)."""
    kind = kind.upper()
    if kind not in ("EMERGENCY", "SPENDING"):
        raise EligibilityInputError("kind must be EMERGENCY (急难型) or SPENDING (支出型) / 类型应为急难型或支出型")
    need_d = money(need)
    ctx, inc, steps = _begin(h, rules, income)
    std, std_m = _standard(ctx, steps)
    details: dict[str, Any] = {"kind": kind, "need": need_d}
    if kind == "EMERGENCY":
        steps.append(Step("急难型临时救助:不受户籍限制,先行救助", "emergency assistance: no household-registration "
                          "restriction (POLICY.md §10)"))
        max_months = ctx.num("temporary_aid_max_months_emergency")
    else:
        if not h.local_hukou:
            steps.append(Step("支出型临时救助由户籍地受理,非本地户籍", "spending-driven assistance is handled where the "
                              "household is registered [judgment: POLICY.md §10 exempts only emergencies]"))
            return _done("temporary", False, "temporary.not_local", REF_TEMP, h, ctx, steps, details=details)
        after = (inc.assessed_income - h.spending.total) / inc.size
        hard = after < std
        steps.append(Step(
            f"扣除刚性支出后年人均收入 = ({inc.assessed_income} − {h.spending.total}) ÷ {inc.size} = {r2(after)} 元 "
            f"{'<' if hard else '≥'} 低保标准 {std}",
            f"per-capita income after rigid spending = ({inc.assessed_income} − {h.spending.total}) ÷ {inc.size} = "
            f"{r2(after)} {'<' if hard else '≥'} standard {std} [assumption: 支出型 test]"))
        if not hard:
            return _done("temporary", False, "temporary.income_sufficient", REF_TEMP, h, ctx, steps, details=details)
        max_months = ctx.num("temporary_aid_max_months_spending")
    if need_d <= 0:
        steps.append(Step("无未覆盖的损失或支出,不予救助", "no uncovered loss or spending"))
        return _done("temporary", False, "temporary.no_need", REF_TEMP, h, ctx, steps, details=details)
    min_months = ctx.num("temporary_aid_min_months")
    lo, hi = r2(min_months * std_m), r2(max_months * std_m)
    amount = min(max(r2(need_d), lo), hi)
    steps.append(Step(
        f"一次性救助金 = 需求 {need_d} 元,限定在 [{min_months} × {r2(std_m)}, {max_months} × {r2(std_m)}] = "
        f"[{lo}, {hi}] 之内 → {amount} 元",
        f"one-off amount = need {need_d} clamped to [{min_months} × {r2(std_m)}, {max_months} × {r2(std_m)}] = "
        f"[{lo}, {hi}] → {amount} yuan"))
    details.update({"min_amount": lo, "max_amount": hi, "months_of_standard": r2(amount / std_m)})
    rid = "temporary.emergency" if kind == "EMERGENCY" else "temporary.spending"
    return _done("temporary", True, rid, REF_TEMP, h, ctx, steps, amount_once=amount, details=details)


# ---------------------------------------------------------------------------------------------- 6. 医疗救助
MEDICAL_CATEGORIES = ("TEKUN", "DIBAO", "DIBAO_EDGE", "MONITORED", "RIGID_SPENDING", "TUOPIN", "NONE")
_AID_TIER = {"TEKUN": "tekun", "DIBAO": "dibao", "DIBAO_EDGE": "edge", "MONITORED": "edge",
             "RIGID_SPENDING": "rigid"}


def assess_medical_assistance(h: Household, member: int | str, bill: MedicalBill | dict[str, Any], category: str,
                              rules: Rules | None = None) -> Decision:
    """Medical assistance (医疗救助) — seed 004 line 71 §十二: basic insurance → critical-illness insurance → medical
    assistance; premium subsidy (full for 特困, fixed for 低保, adjusting for 脱贫); annual cap; in-policy self-pay
    ratio control. ``bill`` = the person's year-to-date settlement; ``category`` ∈ :data:`MEDICAL_CATEGORIES`."""
    if isinstance(bill, dict):
        bill = MedicalBill(**bill)
    category = category.upper()
    if category not in MEDICAL_CATEGORIES:
        raise EligibilityInputError(f"category must be one of {MEDICAL_CATEGORIES} / 救助类别应为 {MEDICAL_CATEGORIES}")
    m = _member(h, member)
    ctx = Ctx(rules, h.region_code, h.date)
    steps: list[Step] = []
    premium = ctx.num("medical_premium_individual_year")
    if category == "TEKUN":
        sub = r2(premium * ctx.num("medical_premium_subsidy_tekun_ratio"))
        how = ("特困全额资助", "full subsidy for 特困")
    elif category == "DIBAO":
        sub = r2(min(premium, ctx.num("medical_premium_subsidy_dibao_fixed_year")))
        how = ("低保定额资助", "fixed subsidy for 低保")
    elif category in ("TUOPIN", "MONITORED"):
        sub = r2(premium * ctx.num("medical_premium_subsidy_tuopin_ratio"))
        how = ("脱贫/监测对象按比例资助", "ratio subsidy for formerly poor / monitored")
    else:
        sub, how = ZERO, ("无资助", "no subsidy")
    steps.append(Step(f"参保个人缴费 {premium} 元,{how[0]} {sub} 元,个人缴纳 {premium - sub} 元",
                      f"premium {premium}, {how[1]} {sub}, person pays {premium - sub}"))
    basic, crit = bill.basic_insurance_paid, bill.critical_insurance_paid
    selfpay_in = bill.in_policy_cost - basic - crit
    out_policy = bill.total_cost - bill.in_policy_cost
    steps.append(Step(
        f"第一重 基本医保支付 {basic} 元;第二重 大病保险支付 {crit} 元;政策范围内自付 = {bill.in_policy_cost} − {basic} − "
        f"{crit} = {selfpay_in} 元;政策范围外费用 {out_policy} 元",
        f"tier 1 basic insurance {basic}; tier 2 critical-illness insurance {crit}; in-policy self-pay = "
        f"{bill.in_policy_cost} − {basic} − {crit} = {selfpay_in}; out-of-policy {out_policy}"))
    details: dict[str, Any] = {"member": m.label, "category": category, "premium_individual": premium,
                               "premium_subsidy": sub, "premium_self": premium - sub,
                               "in_policy_self_pay_before_aid": selfpay_in}
    tier = _AID_TIER.get(category)
    if tier is None:
        rid = "medical.premium_only" if category == "TUOPIN" else "medical.not_covered_group"
        steps.append(Step("不属医疗救助对象(第三重)", "not in a medical-assistance group (tier 3)"))
        details["remaining_self_pay"] = selfpay_in + out_policy
        return _done("medical", category == "TUOPIN", rid, REF_MEDICAL, h, ctx, steps, amount_year=ZERO,
                     details=details)
    disp = ctx.num("rural_disposable_income_prev_year")
    ded_ratio = ctx.num(f"medical_aid_deductible_ratio_{tier}")
    deductible = r2(ded_ratio * disp)
    ratio = ctx.num(f"medical_aid_ratio_{tier}")
    cap = ctx.num("medical_aid_annual_cap")
    base = max(selfpay_in - deductible, ZERO)
    raw = r2(base * ratio)
    aid_year = min(raw, cap)
    capped = raw > cap
    steps.append(Step(
        f"第三重 医疗救助 = (自付 {selfpay_in} − 起付线 {ded_ratio} × {disp} = {deductible}) × {ratio} = {raw} 元"
        + (f",超过年度限额 {cap},按 {cap} 元" if capped else f"(年度限额 {cap})"),
        f"tier 3 medical assistance = (self-pay {selfpay_in} − deductible {ded_ratio} × {disp} = {deductible}) × "
        f"{ratio} = {raw}" + (f", above the annual cap {cap}: {cap}" if capped else f" (annual cap {cap})")))
    now = max(aid_year - bill.assistance_paid_this_year, ZERO)
    if bill.assistance_paid_this_year > 0:
        steps.append(Step(f"本年已获医疗救助 {bill.assistance_paid_this_year} 元,本次支付 {now} 元",
                          f"already paid this year {bill.assistance_paid_this_year}; paid now {now}"))
    remaining_in = selfpay_in - aid_year
    remaining = remaining_in + out_policy
    ratio_after = r2(remaining_in / bill.in_policy_cost * 100) / 100 if bill.in_policy_cost > 0 else ZERO
    target = ctx.num("medical_inpolicy_selfpay_target_ratio")
    above = ratio_after > target
    steps.append(Step(
        f"救助后个人自付 = 政策内 {remaining_in} + 政策外 {out_policy} = {remaining} 元;政策范围内自付比例 = "
        f"{remaining_in} ÷ {bill.in_policy_cost} = {ratio_after} {'>' if above else '≤'} 控制目标 {target}",
        f"remaining self-pay = in-policy {remaining_in} + out-of-policy {out_policy} = {remaining}; in-policy self-pay "
        f"ratio = {ratio_after} {'>' if above else '≤'} target {target}"))
    details.update({"deductible": deductible, "aid_ratio": ratio, "annual_cap": cap, "capped": capped,
                    "paid_now": now, "remaining_self_pay": remaining, "in_policy_self_pay_ratio": ratio_after,
                    "self_pay_ratio_above_target": above})
    if capped:
        rid = "medical.cap_reached"
    elif base == 0:
        rid = "medical.below_deductible"
    else:
        rid = "medical.assistance"
    return _done("medical", True, rid, REF_MEDICAL, h, ctx, steps, amount_year=aid_year, amount_once=now,
                 details=details)


# ---------------------------------------------------------------------------------------------- 7. 养老保险代缴
PENSION_GROUPS = ("TEKUN", "DIBAO", "MONITORED", "SEVERELY_DISABLED", "TUOPIN")


def assess_pension_contribution(h: Household, member: int | str, groups: list[str] | tuple[str, ...] = (),
                                rules: Rules | None = None) -> Decision:
    """Government pension contribution (城乡居民养老保险代缴) — seed 004 lines 73–75 §十三: the government pays part or
    all of the minimum tier for 低保, 特困, 返贫致贫 (MONITORED) and severely disabled people; they (and other formerly
    poor people, TUOPIN) may keep the minimum tier when tiers rise. SEVERELY_DISABLED is derived from grade 1–2."""
    gs = {g.upper() for g in groups}
    bad = gs - set(PENSION_GROUPS)
    if bad:
        raise EligibilityInputError(f"unknown groups {sorted(bad)}; allowed {PENSION_GROUPS} / 未知群体")
    m = _member(h, member)
    if m.severely_disabled:
        gs.add("SEVERELY_DISABLED")
    ctx = Ctx(rules, h.region_code, h.date)
    steps: list[Step] = []
    age = m.age_on(h.date)
    lo, hi = int(ctx.num("pension_contribution_age_min")), int(ctx.num("pension_contribution_age_max"))
    details: dict[str, Any] = {"member": m.label, "groups": sorted(gs)}
    if not lo <= age < hi or m.is_student:
        steps.append(Step(f"年龄 {age}(缴费年龄 {lo}–{hi - 1} 周岁){',全日制在校生' if m.is_student else ''}:不在缴费范围",
                          f"age {age} (contribution ages {lo}–{hi - 1}){', full-time student' if m.is_student else ''}: "
                          "not contributing"))
        return _done("pension", False, "pension.not_contributing", REF_PENSION, h, ctx, steps, details=details)
    tier = ctx.num("pension_min_tier_year")
    steps.append(Step(f"现行最低缴费档次 {tier} 元/年", f"current minimum tier {tier} yuan/year"))
    if gs:
        try:
            kept = ctx.num("pension_retained_min_tier_year")
        except LookupError:
            kept = None
        if kept is not None and kept < tier:
            steps.append(Step(f"提高档次后困难群体保留原最低档次 {kept} 元/年",
                              f"tiers raised: difficult groups keep the former minimum tier {kept} yuan/year"))
            tier = kept
    pay_groups = gs - {"TUOPIN"}
    if not pay_groups:
        steps.append(Step("不属代缴对象(低保、特困、返贫致贫、重度残疾)",
                          "not in a group the government pays for"))
        details.update({"tier": tier, "government_pays": ZERO, "self_pays": tier})
        return _done("pension", False, "pension.not_in_group", REF_PENSION, h, ctx, steps, amount_year=ZERO,
                     details=details)
    pname = {"TEKUN": "pension_paid_ratio_tekun", "DIBAO": "pension_paid_ratio_dibao",
             "MONITORED": "pension_paid_ratio_monitored", "SEVERELY_DISABLED": "pension_paid_ratio_severely_disabled"}
    ratios = {g: ctx.num(pname[g]) for g in sorted(pay_groups)}
    best = max(ratios, key=lambda g: ratios[g])
    gov = r2(ratios[best] * tier)
    steps.append(Step(
        f"代缴 = 最高比例 {ratios[best]}({best})× 档次 {tier} = {gov} 元/年;个人缴纳 {tier - gov} 元",
        f"government pays = highest ratio {ratios[best]} ({best}) × tier {tier} = {gov} yuan/year; person pays "
        f"{tier - gov}"))
    details.update({"tier": tier, "government_pays": gov, "self_pays": tier - gov, "ratio_group": best})
    return _done("pension", True, "pension.government_pays", REF_PENSION, h, ctx, steps, amount_year=gov,
                 details=details)
