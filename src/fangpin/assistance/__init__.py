"""Eligibility calculators for civil-affairs assistance (分层分类社会救助资格测算) — POLICY.md §10; seed 004 §五(十)–(十四).

Pure domain functions (no database). Import from here::

    from datetime import date
    from fangpin.assistance import Household, Member, Income, assess_dibao
    h = Household("530102", date(2024, 6, 1), [Member(age=45, income=Income(wage=9000))])
    d = assess_dibao(h)
    d.eligible, d.amount_month, d.rule_id
    print(d.explain())          # the arithmetic, in Chinese and English

Every decision carries the rule id, the POLICY.md / seed reference, each parameter used (value, reference, source
file, parameter-set version) and the arithmetic steps. :func:`household_income` is the ONE income calculation shared
by all calculators and by the monitoring module. See docs/ELIGIBILITY.md.
"""
from fangpin.assistance.eligibility import (
    MEDICAL_CATEGORIES,
    PENSION_GROUPS,
    assess_dibao,
    assess_dibao_edge,
    assess_medical_assistance,
    assess_pension_contribution,
    assess_rigid_spending,
    assess_tekun,
    assess_temporary_assistance,
)
from fangpin.assistance.income import IncomeBreakdown, MembershipEntry, household_income, household_members
from fangpin.assistance.model import (
    CARE_LEVELS,
    Assets,
    Decision,
    EligibilityInputError,
    Household,
    Income,
    MedicalBill,
    Member,
    Spending,
    Step,
    household_from_dict,
)
from fangpin.assistance.params import (
    CATALOGUE,
    AssistanceParameterError,
    AssistanceParameterSet,
    ParamUse,
    Rules,
    load_assistance_parameters,
    load_rules,
)
from fangpin.assistance.profile import LOW_INCOME_CATEGORIES, LowIncomeProfile, low_income_profile

__all__ = [
    "CARE_LEVELS",
    "CATALOGUE",
    "LOW_INCOME_CATEGORIES",
    "MEDICAL_CATEGORIES",
    "PENSION_GROUPS",
    "Assets",
    "AssistanceParameterError",
    "AssistanceParameterSet",
    "Decision",
    "EligibilityInputError",
    "Household",
    "Income",
    "IncomeBreakdown",
    "LowIncomeProfile",
    "MedicalBill",
    "Member",
    "MembershipEntry",
    "ParamUse",
    "Rules",
    "Spending",
    "Step",
    "assess_dibao",
    "assess_dibao_edge",
    "assess_medical_assistance",
    "assess_pension_contribution",
    "assess_rigid_spending",
    "assess_tekun",
    "assess_temporary_assistance",
    "household_from_dict",
    "household_income",
    "household_members",
    "load_assistance_parameters",
    "load_rules",
    "low_income_profile",
]
