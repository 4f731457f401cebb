"""Inputs and outputs of the eligibility calculators (救助资格测算的输入与结果).

All money is :class:`decimal.Decimal` yuan; incomes and spending are **12-month totals** (POLICY.md §3 [L] "income
counted over a rolling 12 months"). Codes come from ``fangpin.codes`` (relation_to_head, labour_skill, health,
disability_grade, disability_category, monitored_types, household_types); names and aliases are accepted and
normalised to codes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fangpin.codes import lookup

__all__ = [
    "Assets",
    "CARE_LEVELS",
    "Decision",
    "EligibilityInputError",
    "Household",
    "Income",
    "MedicalBill",
    "Member",
    "Spending",
    "Step",
    "household_from_dict",
    "money",
]

CENT = Decimal("0.01")
ZERO = Decimal(0)

# 特困 care tiers (照料护理等级), POLICY.md §10 "+ care allowance"; amounts are parameters.
CARE_LEVELS = ("SELF_CARE", "PARTIAL", "FULL")


class EligibilityInputError(ValueError):
    """Input that the calculators cannot decide on (bilingual message). 测算输入错误。"""


def money(x: Any) -> Decimal:
    """Decimal yuan from int/float/str/Decimal (floats go through ``str`` so 0.1 stays 0.1)."""
    if isinstance(x, Decimal):
        return x
    if isinstance(x, bool) or x is None:
        raise EligibilityInputError(f"not an amount: {x!r} / 不是金额")
    try:
        return Decimal(str(x))
    except Exception as e:  # noqa: BLE001
        raise EligibilityInputError(f"not an amount: {x!r} / 不是金额") from e


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def _code(list_name: str, value: Any, what: str) -> str:
    c = lookup(list_name, value)
    if c is None:
        raise EligibilityInputError(f"{what}: {value!r} is not in code list {list_name} / {what} 不在代码表 {list_name} 中")
    return c.code


@dataclass
class Income:
    """12-month income by type (收入, 元/年). POLICY.md §3 [V high] 纯收入 = 工资性 + 生产经营性 + 财产性 + 转移性 −
    生产经营性支出; POLICY.md §10 [V] excluded from 低保 income: 优抚 payments, family-planning rewards, awards,
    assistance received, basic pension. Excluded items are recorded separately (not inside ``transfer``)."""

    wage: Decimal = ZERO  # 工资性收入
    business: Decimal = ZERO  # 生产经营性收入(毛)
    business_cost: Decimal = ZERO  # 生产经营性支出
    property: Decimal = ZERO  # 财产净收入
    transfer: Decimal = ZERO  # 计入的转移性收入(赡养费、其他转移)
    youfu: Decimal = ZERO  # 优抚对象抚恤补助 — excluded
    family_planning_reward: Decimal = ZERO  # 计划生育奖励扶助 — excluded
    awards: Decimal = ZERO  # 见义勇为等奖励 — excluded
    assistance_received: Decimal = ZERO  # 已获社会救助(低保金、临时救助等) — excluded
    basic_pension: Decimal = ZERO  # 城乡居民基本养老金 — excluded while income_excludes_basic_pension

    EXCLUDED = ("youfu", "family_planning_reward", "awards", "assistance_received", "basic_pension")

    def __post_init__(self) -> None:
        for f in fields(self):
            v = money(getattr(self, f.name))
            if v < 0:
                raise EligibilityInputError(f"income.{f.name} must not be negative / 收入不能为负")
            setattr(self, f.name, v)


@dataclass
class Assets:
    """Declared assets (家庭财产). POLICY.md §10 "assets within limits"; limits are parameters."""

    financial: Decimal = ZERO  # 存款、有价证券等金融资产合计(元)
    vehicles: int = 0  # 非生活必需机动车(不含残疾人代步车、农用车)
    extra_housing: int = 0  # 自住房以外的住房套数

    def __post_init__(self) -> None:
        self.financial = money(self.financial)


@dataclass
class Spending:
    """12-month rigid spending (刚性支出, 元/年): compliant medical out-of-pocket and education."""

    medical_oop: Decimal = ZERO  # 合规医疗自付
    education: Decimal = ZERO  # 教育支出

    def __post_init__(self) -> None:
        self.medical_oop = money(self.medical_oop)
        self.education = money(self.education)

    @property
    def total(self) -> Decimal:
        return self.medical_oop + self.education


@dataclass
class Member:
    """One person on the household record (家庭成员)."""

    name: str = ""
    relation: str = "02"  # relation_to_head code/name (GB/T 4761); "02" 户主
    age: int | None = None
    birth_date: date | None = None
    sex: str | None = None
    labour: str = "ORDINARY"  # labour_skill code
    health: str = "HEALTHY"  # health code
    disability_grade: str | None = None  # disability_grade "1".."4"
    disability_category: str | None = None  # disability_category "1".."7"
    is_student: bool = False  # 全日制在校生(本科及以下)
    lives_together: bool = True  # 共同居住
    able_to_live_independently: bool = True  # 成年子女能否独立生活
    # 特困: has a legal supporter (法定赡养/抚养/扶养义务人) able to support. None = derive it: another counted adult
    # member under 60 with labour capacity counts as able [judgment]; set it explicitly for relatives living elsewhere.
    has_legal_supporter_able: bool | None = None
    counted: bool | None = None  # officer's override of the membership rule (None = apply the rule)
    months_worked: int = 12  # months of work in the 12-month window (employment-cost deduction)
    care_level: str | None = None  # 特困 care tier: SELF_CARE / PARTIAL / FULL
    income: Income = field(default_factory=Income)

    def __post_init__(self) -> None:
        self.relation = _code("relation_to_head", self.relation, "relation")
        self.labour = _code("labour_skill", self.labour, "labour")
        self.health = _code("health", self.health, "health")
        if self.disability_grade is not None:
            self.disability_grade = _code("disability_grade", self.disability_grade, "disability_grade")
        if self.disability_category is not None:
            self.disability_category = _code("disability_category", self.disability_category, "disability_category")
        if self.care_level is not None and self.care_level not in CARE_LEVELS:
            raise EligibilityInputError(f"care_level must be one of {CARE_LEVELS} / 护理等级应为 {CARE_LEVELS}")
        if isinstance(self.income, dict):
            self.income = Income(**self.income)
        if not 0 <= self.months_worked <= 12:
            raise EligibilityInputError("months_worked must be 0..12 / 务工月数应为0到12")
        if self.age is None and self.birth_date is None:
            raise EligibilityInputError(f"member {self.name or self.relation}: age or birth_date needed / 需要年龄或出生日期")

    def age_on(self, on: date) -> int:
        if self.birth_date is None:
            assert self.age is not None
            return self.age
        b = self.birth_date
        return on.year - b.year - ((on.month, on.day) < (b.month, b.day))

    @property
    def label(self) -> str:
        return self.name or lookup("relation_to_head", self.relation).zh  # type: ignore[union-attr]

    @property
    def has_labour(self) -> bool:
        return bool(lookup("labour_skill", self.labour).has_labour)  # type: ignore[union-attr]

    @property
    def severely_disabled(self) -> bool:
        """Grade 1–2 (disability_grade.severe)."""
        return self.disability_grade is not None and bool(lookup("disability_grade", self.disability_grade).severe)  # type: ignore[union-attr]

    @property
    def grade3_intellectual_or_mental(self) -> bool:
        return self.disability_grade == "3" and self.disability_category in ("5", "6")

    @property
    def works(self) -> bool:
        return self.months_worked > 0 and (self.income.wage > 0 or self.income.business > 0)


@dataclass
class MedicalBill:
    """One person's 12-month medical costs after the 医保 settlement (三重保障 tier 1 and 2 amounts as settled)."""

    total_cost: Decimal  # 医疗总费用
    in_policy_cost: Decimal  # 政策范围内费用
    basic_insurance_paid: Decimal = ZERO  # 基本医保支付
    critical_insurance_paid: Decimal = ZERO  # 大病保险支付
    assistance_paid_this_year: Decimal = ZERO  # 本年度已获医疗救助

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, money(getattr(self, f.name)))
        if self.in_policy_cost > self.total_cost:
            raise EligibilityInputError("in_policy_cost exceeds total_cost / 政策范围内费用大于总费用")
        if self.basic_insurance_paid + self.critical_insurance_paid > self.in_policy_cost:
            raise EligibilityInputError(
                "insurance payments exceed the in-policy cost / 基本医保与大病保险支付之和大于政策范围内费用")


@dataclass
class Household:
    """A household as declared for an assistance decision (申请家庭)."""

    region_code: str  # 6–12 digit administrative code (POLICY.md §12)
    date: date  # decision date: parameters in force on this date are used
    members: list[Member]
    income: Income = field(default_factory=Income)  # household-level income (family farm, rent …)
    assets: Assets = field(default_factory=Assets)
    spending: Spending = field(default_factory=Spending)
    household_type: str | None = None  # household_types: TPH 脱贫户 / YBNH 一般农户
    monitored_type: str | None = None  # monitored_types: TPBWD / BYYZP / TFYZKN (防返贫监测对象)
    current_dibao: bool = False  # currently receives 低保
    current_dibao_amount_month: Decimal = ZERO  # current monthly 低保 payment (for 渐退期)
    income_unstable: bool = False  # 收入不稳定 (review every 6 months if there is labour)
    taper_months: int | None = None  # 渐退期 months chosen under local rules (default: the minimum)
    minimum_wage_month: Decimal | None = None  # local monthly minimum wage if no parameter is in force
    local_hukou: bool = True  # 户籍在本地

    def __post_init__(self) -> None:
        if not self.members:
            raise EligibilityInputError("a household needs at least one member / 家庭至少有一名成员")
        if isinstance(self.income, dict):
            self.income = Income(**self.income)
        if isinstance(self.assets, dict):
            self.assets = Assets(**self.assets)
        if isinstance(self.spending, dict):
            self.spending = Spending(**self.spending)
        self.members = [Member(**m) if isinstance(m, dict) else m for m in self.members]
        if self.household_type is not None:
            self.household_type = _code("household_types", self.household_type, "household_type")
        if self.monitored_type is not None:
            self.monitored_type = _code("monitored_types", self.monitored_type, "monitored_type")
        self.current_dibao_amount_month = money(self.current_dibao_amount_month)
        if self.minimum_wage_month is not None:
            self.minimum_wage_month = money(self.minimum_wage_month)


@dataclass(frozen=True)
class Step:
    """One line of arithmetic, in Chinese and English. 一步计算过程。"""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} | {self.en}"


@dataclass
class Decision:
    """Result of one calculator (测算结论), kept with the data and rules that produced it."""

    calculator: str  # dibao / dibao_edge / rigid_spending / tekun / temporary / medical / pension
    eligible: bool
    rule_id: str  # e.g. "dibao.eligible", "tekun.has_supporter"
    reference: str  # POLICY.md § / seed line (+ confidence tag)
    amount_month: Decimal | None = None
    amount_year: Decimal | None = None
    amount_once: Decimal | None = None
    details: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)  # name -> ParamUse
    steps: list[Step] = field(default_factory=list)
    region_code: str = ""
    date: date | None = None
    parameter_version: str = ""

    def explain(self) -> str:
        return "\n".join(str(s) for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        def conv(v: Any) -> Any:
            if isinstance(v, Decimal):
                return str(v)
            if isinstance(v, date):
                return v.isoformat()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            return v

        return {
            "calculator": self.calculator,
            "eligible": self.eligible,
            "rule_id": self.rule_id,
            "reference": self.reference,
            "amount_month": conv(self.amount_month),
            "amount_year": conv(self.amount_year),
            "amount_once": conv(self.amount_once),
            "details": conv(self.details),
            "parameters": {k: p.to_dict() for k, p in self.parameters.items()},
            "steps": [{"zh": s.zh, "en": s.en} for s in self.steps],
            "region_code": self.region_code,
            "date": conv(self.date),
            "parameter_version": self.parameter_version,
        }


def household_from_dict(region_code: str, on: date | str, data: dict[str, Any]) -> Household:
    """Build a :class:`Household` from plain data (YAML test case, JSON API body)."""
    d = dict(data)
    on = date.fromisoformat(on) if isinstance(on, str) else on
    members = []
    for m in d.pop("members", []):
        m = dict(m)
        if isinstance(m.get("birth_date"), str):
            m["birth_date"] = date.fromisoformat(m["birth_date"])
        for k in ("disability_grade", "disability_category"):
            if m.get(k) is not None:
                m[k] = str(m[k])
        members.append(Member(**m))
    known = {f.name for f in fields(Household)} - {"region_code", "date", "members"}
    unknown = set(d) - known
    if unknown:
        raise EligibilityInputError(f"unknown household keys {sorted(unknown)} / 未知的家庭字段")
    return Household(region_code=str(region_code), date=on, members=members, **d)
