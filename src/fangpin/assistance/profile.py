"""The household's place in the rural low-income population (低收入人口画像) — one assistance chain per household.

2023 opinion (POLICY.md §10 [P]): low-income population = 低保 + 特困 + monitored households + 低保边缘 + 刚性支出困难
+ others; "one assistance chain per household" (一户一条救助链). :func:`low_income_profile` counts the household and
its income ONCE (:func:`household_income`) and passes that same result to every calculator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fangpin.assistance.eligibility import (
    assess_dibao,
    assess_dibao_edge,
    assess_rigid_spending,
    assess_tekun,
)
from fangpin.assistance.income import Ctx, IncomeBreakdown, household_income
from fangpin.assistance.model import Decision, Household, Step
from fangpin.assistance.params import Rules

__all__ = ["LOW_INCOME_CATEGORIES", "LowIncomeProfile", "low_income_profile"]

# Order of the 2023 opinion (POLICY.md §10); the first one held is the household's primary layer.
LOW_INCOME_CATEGORIES = ("TEKUN", "DIBAO", "MONITORED", "DIBAO_EDGE", "RIGID_SPENDING")
_ZH = {"TEKUN": "特困", "DIBAO": "低保", "MONITORED": "防返贫监测对象", "DIBAO_EDGE": "低保边缘",
       "RIGID_SPENDING": "刚性支出困难"}


@dataclass
class LowIncomeProfile:
    income: IncomeBreakdown
    categories: list[str]  # subset of LOW_INCOME_CATEGORIES, in that order
    decisions: dict[str, Decision]  # "dibao", "dibao_edge", "rigid_spending", "tekun:<member>"
    tekun_members: list[str]
    steps: list[Step] = field(default_factory=list)

    @property
    def primary(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def is_low_income(self) -> bool:
        return bool(self.categories)

    def medical_category(self, member_label: str | None = None) -> str:
        """Category for :func:`assess_medical_assistance` (person-level 特困 first, then the household layer)."""
        if member_label is not None and member_label in self.tekun_members:
            return "TEKUN"
        for c in ("DIBAO", "DIBAO_EDGE", "MONITORED", "RIGID_SPENDING"):
            if c in self.categories:
                return c
        return "NONE"

    def pension_groups(self, member_label: str | None = None) -> list[str]:
        """Groups for :func:`assess_pension_contribution` (SEVERELY_DISABLED is derived there)."""
        out = [c for c in ("DIBAO", "MONITORED") if c in self.categories]
        if member_label is not None and member_label in self.tekun_members:
            out.insert(0, "TEKUN")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": self.categories,
            "primary": self.primary,
            "tekun_members": self.tekun_members,
            "size": self.income.size,
            "assessed_income": str(self.income.assessed_income),
            "net_income": str(self.income.net_income),
            "decisions": {k: d.to_dict() for k, d in self.decisions.items()},
            "steps": [{"zh": s.zh, "en": s.en} for s in self.steps],
        }


def low_income_profile(h: Household, rules: Rules | None = None) -> LowIncomeProfile:
    """Where the household stands in the low-income population, from ONE income calculation."""
    ctx = Ctx(rules, h.region_code, h.date)
    inc = household_income(h, ctx=ctx)
    decisions: dict[str, Decision] = {
        "dibao": assess_dibao(h, ctx.rules, inc),
        "dibao_edge": assess_dibao_edge(h, ctx.rules, inc),
        "rigid_spending": assess_rigid_spending(h, ctx.rules, inc),
    }
    tekun_members = []
    for i, e in enumerate(inc.membership):
        if not e.counted:
            continue
        d = assess_tekun(h, i, ctx.rules, inc)
        decisions[f"tekun:{e.member.label}"] = d
        if d.eligible:
            tekun_members.append(e.member.label)
    held = set()
    if tekun_members:
        held.add("TEKUN")
    all_tekun = len(tekun_members) == inc.size
    # judgment: a person is 特困 or 低保, not both — a household whose every counted member is 特困 is not also 低保.
    if not all_tekun and decisions["dibao"].rule_id in ("dibao.eligible", "dibao.taper", "dibao.separate_coverage"):
        held.add("DIBAO")
    if h.monitored_type is not None:
        held.add("MONITORED")
    if decisions["dibao_edge"].eligible:
        held.add("DIBAO_EDGE")
    if decisions["rigid_spending"].eligible:
        held.add("RIGID_SPENDING")
    cats = [c for c in LOW_INCOME_CATEGORIES if c in held]
    steps = list(inc.steps)
    if cats:
        steps.append(Step("属农村低收入人口:" + "、".join(_ZH[c] for c in cats),
                          "rural low-income population: " + ", ".join(cats) + " (2023 opinion, POLICY.md §10)"))
    else:
        steps.append(Step("不属农村低收入人口(按已测算类别)", "not in the low-income population (categories tested)"))
    return LowIncomeProfile(income=inc, categories=cats, decisions=decisions, tekun_members=tekun_members, steps=steps)
