"""Household membership and the ONE shared income calculation (家庭成员认定与家庭收入测算).

POLICY.md §1 [P]: "From 2026 ... income is counted the same way for both systems. Design for ... one income-counting
module." :func:`household_income` is that module: every calculator in this package and the relapse-monitoring
module call it, and it returns both figures side by side:

* ``net_income`` — POLICY.md §3 [V high] 家庭纯收入 = 工资性 + 生产经营性 + 财产性 + 转移性 − 生产经营性支出
  (all transfers, incl. pensions and assistance, count here: the monitoring definition);
* ``assessed_income`` — POLICY.md §10 [V] the civil-affairs income: the same sum minus the excluded items
  (优抚, family-planning rewards, awards, assistance received, basic pension) minus necessary employment costs
  (seed 004 line 69 §十一 "在计算家庭收入时扣减必要的就业成本").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fangpin.assistance.model import ZERO, EligibilityInputError, Household, Member, Step, r2
from fangpin.assistance.params import ParamUse, Rules, load_rules
from fangpin.policy import ParameterLookupError

__all__ = ["IncomeBreakdown", "MembershipEntry", "household_income", "household_members", "Ctx"]

# Age of majority (成年): Civil Code art. 17 [P] — law, not a local policy number.
ADULT_AGE = 18

SPOUSE = {"10", "11", "12"}
CHILD = {"20", "30"}
CHILD_IN_LAW = {"28", "38"}
GRANDCHILD = {"40", "41", "42", "43", "44", "45", "46", "47", "48"}
PARENT = {"50", "51", "52"}
PARENT_IN_LAW = {"53", "54", "55", "56"}
GRANDPARENT = {"60", "61", "62", "63", "64"}
SIBLING = {"70", "71", "73", "75", "77"}

_EXCLUDED_ZH = {
    "youfu": "优抚金", "family_planning_reward": "计生奖励", "awards": "奖励金",
    "assistance_received": "已获救助", "basic_pension": "基本养老金",
}


class Ctx:
    """Parameter reader for one decision: records every value used (name → :class:`ParamUse`)."""

    def __init__(self, rules: Rules | None, region_code: str, on: date) -> None:
        self.rules = rules or load_rules()
        self.region_code = region_code
        self.on = on
        self.used: dict[str, ParamUse] = {}

    def use(self, name: str) -> ParamUse:
        pu = self.rules.lookup(name, self.region_code, self.on)
        self.used[name] = pu
        return pu

    def num(self, name: str) -> Decimal:
        return Decimal(str(self.use(name).value))

    def flag(self, name: str) -> bool:
        return bool(self.use(name).value)

    def record(self, pu: ParamUse) -> None:
        self.used[pu.name] = pu


@dataclass(frozen=True)
class MembershipEntry:
    member: Member
    counted: bool
    reason_zh: str
    reason_en: str


def _membership(m: Member, on: date) -> tuple[bool, str, str]:
    """POLICY.md §10 [V] household = spouse, minor children, adult children unable to live independently (incl.
    full-time students), others with legal support duty living together."""
    if m.counted is not None:
        return m.counted, "经办人认定" + ("计入" if m.counted else "不计入"), "officer override"
    age = m.age_on(on)
    rel = m.relation
    if rel == "02":
        return True, "户主(申请人)", "household head (applicant)"
    if rel in SPOUSE:
        return True, "配偶", "spouse"
    if rel in CHILD:
        if age < ADULT_AGE:
            return True, "未成年子女", "minor child"
        if m.is_student:
            return True, "成年全日制在校生子女", "adult child in full-time education"
        if not m.able_to_live_independently:
            return True, "不能独立生活的成年子女", "adult child unable to live independently"
        if m.lives_together:
            return True, "共同居住、有赡养义务的成年子女", "adult child with a support duty living together"
        return False, "已独立生活且不共同居住的成年子女", "adult child living independently elsewhere"
    # "others with legal support duty living together" — judgment [V]: in-laws of a counted child, parents,
    # parents-in-law (via the counted spouse), grandparents/grandchildren and siblings (Civil Code arts. 1074–1075,
    # conditional duties) count when living together; other relatives and non-relatives do not.
    if rel in CHILD_IN_LAW | GRANDCHILD | PARENT | PARENT_IN_LAW | GRANDPARENT | SIBLING:
        if m.lives_together:
            return True, "共同居住、有法定赡养扶养抚养义务关系", "living together, legal support relation"
        return False, "不共同居住", "not living together"
    return False, "无法定赡养扶养抚养义务关系", "no legal support relation"


def household_members(h: Household) -> list[MembershipEntry]:
    """Who counts in the household (家庭成员认定), with the reason for each person."""
    out = []
    for m in h.members:
        c, zh, en = _membership(m, h.date)
        out.append(MembershipEntry(m, c, zh, en))
    return out


@dataclass
class IncomeBreakdown:
    """Result of :func:`household_income` (12-month totals, 元/年)."""

    size: int
    membership: list[MembershipEntry]
    wage: Decimal
    business: Decimal
    business_cost: Decimal
    property: Decimal
    transfer: Decimal
    excluded: dict[str, Decimal]  # item -> amount excluded from the civil-affairs income
    recorded_not_excluded: dict[str, Decimal]  # e.g. basic pension once the exclusion has ended
    employment_cost_deduction: Decimal
    employment_cost_detail: list[dict[str, Any]]
    net_income: Decimal  # POLICY.md §3 monitoring definition
    assessed_income: Decimal  # POLICY.md §10 civil-affairs definition (≥ 0)
    parameters: dict[str, ParamUse] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def counted_members(self) -> list[Member]:
        return [e.member for e in self.membership if e.counted]

    @property
    def per_capita_year(self) -> Decimal:
        """Civil-affairs per-capita income (家庭年人均收入, POLICY.md §10)."""
        return self.assessed_income / self.size

    @property
    def per_capita_month(self) -> Decimal:
        return self.assessed_income / self.size / 12

    @property
    def net_per_capita_year(self) -> Decimal:
        """Monitoring per-capita net income (人均纯收入, POLICY.md §3)."""
        return self.net_income / self.size


def _minimum_wage(h: Household, ctx: Ctx) -> Decimal:
    if h.minimum_wage_month is not None:
        ctx.record(ParamUse("minimum_wage_month", h.minimum_wage_month,
                            "input: Household.minimum_wage_month (supplied by the caller)", "input", "", None, "input"))
        return h.minimum_wage_month
    try:
        return ctx.num("minimum_wage_month")
    except ParameterLookupError:
        raise EligibilityInputError(
            "the employment-cost deduction (POLICY.md §10 [L]; seed 004 line 69) needs the local monthly minimum wage: "
            "no minimum_wage_month parameter is in force for region "
            f"{h.region_code} on {h.date.isoformat()} — add it to the province/county parameter file or pass "
            "Household.minimum_wage_month / 计算就业成本扣减需要当地月最低工资标准:该辖区该日期无 minimum_wage_month 参数,"
            "请在省/县参数文件中补充,或在输入中提供 minimum_wage_month"
        ) from None


def household_income(h: Household, rules: Rules | None = None, *, ctx: Ctx | None = None) -> IncomeBreakdown:
    """Count the household and its income once (一户一次收入测算). Every calculator reuses the result."""
    ctx = ctx or Ctx(rules, h.region_code, h.date)
    used_before = set(ctx.used)
    steps: list[Step] = []
    membership = household_members(h)
    counted = [e for e in membership if e.counted]
    if not counted:
        raise EligibilityInputError("no member counts in the household / 无计入家庭成员")
    for e in membership:
        mark = "计入" if e.counted else "不计入"
        steps.append(Step(f"成员 {e.member.label}:{mark}({e.reason_zh})",
                          f"member {e.member.label}: {'counted' if e.counted else 'not counted'} ({e.reason_en})"))
    size = len(counted)
    steps.append(Step(f"家庭人口 = {size} 人", f"household size = {size}"))

    sources = [h.income] + [e.member.income for e in counted]
    tot = {k: sum((getattr(s, k) for s in sources), ZERO) for k in
           ("wage", "business", "business_cost", "property", "transfer", *h.income.EXCLUDED)}
    excl_items = {k: tot[k] for k in h.income.EXCLUDED if tot[k] > 0}
    net = tot["wage"] + tot["business"] - tot["business_cost"] + tot["property"] + tot["transfer"] + sum(
        excl_items.values(), ZERO)
    steps.append(Step(
        f"家庭年纯收入 = 工资 {tot['wage']} + 经营 {tot['business']} − 经营支出 {tot['business_cost']} + 财产 "
        f"{tot['property']} + 转移 {tot['transfer'] + sum(excl_items.values(), ZERO)} = {net} 元",
        f"yearly net income = wages {tot['wage']} + business {tot['business']} − business costs "
        f"{tot['business_cost']} + property {tot['property']} + transfers "
        f"{tot['transfer'] + sum(excl_items.values(), ZERO)} = {net} yuan (POLICY.md §3)"))

    # Excluded items — POLICY.md §10 [V]
    excluded: dict[str, Decimal] = {}
    kept: dict[str, Decimal] = {}
    for k, v in excl_items.items():
        if k == "basic_pension" and not ctx.flag("income_excludes_basic_pension"):
            kept[k] = v
            steps.append(Step(f"基本养老金 {v} 元计入收入(不计入政策已结束)",
                              f"basic pension {v} yuan counted (exclusion no longer in force)"))
            continue
        excluded[k] = v
    excluded_total = sum(excluded.values(), ZERO)
    if excluded:
        parts = " + ".join(f"{_EXCLUDED_ZH[k]} {v}" for k, v in excluded.items())
        steps.append(Step(f"不计入收入的项目 = {parts} = {excluded_total} 元",
                          f"excluded items ({', '.join(excluded)}) = {excluded_total} yuan (POLICY.md §10)"))

    # Necessary employment costs — seed 004 line 69 §十一; POLICY.md §10 [L] disabled workers 50% of min wage
    deduction = ZERO
    detail: list[dict[str, Any]] = []
    workers = [e.member for e in counted if e.member.works]
    for m in workers:
        disabled = m.disability_grade is not None or m.health == "DISABLED"
        pname = ("employment_cost_deduction_disabled_ratio_of_min_wage" if disabled
                 else "employment_cost_deduction_general_ratio_of_min_wage")
        ratio = ctx.num(pname)
        if ratio == 0:
            continue
        mw = _minimum_wage(h, ctx)
        earned = max(m.income.wage + m.income.business - m.income.business_cost, ZERO)
        d = min(r2(ratio * mw * m.months_worked), earned)
        deduction += d
        detail.append({"member": m.label, "ratio": ratio, "minimum_wage_month": mw, "months": m.months_worked,
                       "deduction": d, "disabled": disabled})
        who = "残疾人" if disabled else ""
        steps.append(Step(
            f"就业成本扣减({who}{m.label})= {ratio} × 月最低工资 {mw} × {m.months_worked} 月 = {d} 元"
            + ("(以其劳动收入为限)" if d == earned and earned < r2(ratio * mw * m.months_worked) else ""),
            f"employment-cost deduction ({'disabled ' if disabled else ''}{m.label}) = {ratio} × minimum wage {mw} × "
            f"{m.months_worked} months = {d} yuan (seed 004 line 69)"))

    assessed = net - excluded_total - deduction
    if assessed < 0:
        steps.append(Step(f"认定收入 {assessed} 元为负,按 0 计", f"assessed income {assessed} is negative, taken as 0"))
        assessed = ZERO
    steps.append(Step(
        f"认定家庭年收入 = {net} − {excluded_total} − {deduction} = {assessed} 元;年人均 = {assessed} ÷ {size} = "
        f"{r2(assessed / size)} 元;月人均 = {r2(assessed / size / 12)} 元",
        f"assessed yearly income = {net} − {excluded_total} − {deduction} = {assessed} yuan; per capita "
        f"{r2(assessed / size)} yuan/year, {r2(assessed / size / 12)} yuan/month (POLICY.md §10)"))
    params = {k: v for k, v in ctx.used.items() if k not in used_before}
    return IncomeBreakdown(
        size=size, membership=membership, wage=tot["wage"], business=tot["business"],
        business_cost=tot["business_cost"], property=tot["property"], transfer=tot["transfer"], excluded=excluded,
        recorded_not_excluded=kept, employment_cost_deduction=deduction, employment_cost_detail=detail,
        net_income=net, assessed_income=assessed, parameters=params, steps=steps,
    )
