"""Parameters of the eligibility calculators (救助测算参数) — dated values with references, read by the ONE shared
loader :func:`fangpin.policy.load_parameters` with this module's :data:`CATALOGUE`.

* Shared policy parameters (``fangpin/policy/params/*.yaml``, the policy catalogue): 低保 standard, edge multiplier,
  review and taper months, employment-cost ratio, minimum wage, 特困 multiplier, last year's disposable income …;
* calculator-specific defaults in ``fangpin/assistance/params_data/cn.yaml`` (same file format, same fallback
  county → city → province → national, same version hash) with names declared in :data:`CATALOGUE` below, where
  ``0`` is a valid value (``allow_zero``).

:class:`Rules` answers both, preferring the shared catalogue for a shared name. Every value a calculator reads is
recorded (name → value, reference, source file, parameter-set version) so a decision can be re-explained later.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fangpin.policy import CATALOGUE as POLICY_CATALOGUE
from fangpin.policy import ParameterError, ParameterSet, ParamSpec, load_parameters

__all__ = [
    "CATALOGUE",
    "AssistanceParameterError",
    "AssistanceParameterSet",
    "ParamUse",
    "Rules",
    "load_assistance_parameters",
    "load_rules",
]

# The same error and parameter-set types as the policy module (one loader); the names stay for callers.
AssistanceParameterError = ParameterError
AssistanceParameterSet = ParameterSet


def _s(name: str, kind: str, unit: str, zh: str, policy: str) -> ParamSpec:
    en = name.replace("_", " ")
    return ParamSpec(name, kind, unit, en, zh, policy, allow_zero=True)  # type: ignore[arg-type]


CATALOGUE: Mapping[str, ParamSpec] = {
    s.name: s
    for s in [
        _s("income_excludes_basic_pension", "bool", "boolean", "基本养老金不计入家庭收入", "POLICY.md §10"),
        _s("employment_cost_deduction_general_ratio_of_min_wage", "ratio", "ratio_of_minimum_wage",
           "一般就业人员就业成本扣减比例", "POLICY.md §10; seed 004 line 69"),
        _s("assets_financial_limit_months_dibao", "number", "months_of_standard", "低保/特困人均金融资产上限(月数)",
           "POLICY.md §10"),
        _s("assets_financial_limit_months_edge", "number", "months_of_standard", "低保边缘/刚性支出人均金融资产上限(月数)",
           "POLICY.md §10"),
        _s("assets_vehicle_limit", "int", "count", "非必需机动车数量上限", "POLICY.md §10"),
        _s("assets_extra_housing_limit", "int", "count", "自住房以外住房套数上限", "POLICY.md §10"),
        _s("rigid_spending_heavy_ratio_of_disposable_income", "number", "ratio_of_rural_disposable_income",
           "刚性支出较大的比例", "POLICY.md §10, §6"),
        _s("tekun_elderly_age", "int", "years", "特困老年人年龄", "POLICY.md §10"),
        _s("tekun_minor_age", "int", "years", "特困未成年人年龄上限", "POLICY.md §10"),
        _s("tekun_care_allowance_self_care_month", "number", "yuan_per_month", "照料护理补贴(自理)", "POLICY.md §10"),
        _s("tekun_care_allowance_partial_month", "number", "yuan_per_month", "照料护理补贴(半护理)", "POLICY.md §10"),
        _s("tekun_care_allowance_full_month", "number", "yuan_per_month", "照料护理补贴(全护理)", "POLICY.md §10"),
        _s("temporary_aid_min_months", "number", "months_of_standard", "临时救助下限(月数)", "POLICY.md §10"),
        _s("temporary_aid_max_months_emergency", "number", "months_of_standard", "急难型临时救助上限(月数)",
           "POLICY.md §10"),
        _s("temporary_aid_max_months_spending", "number", "months_of_standard", "支出型临时救助上限(月数)",
           "POLICY.md §10"),
        _s("medical_premium_individual_year", "number", "yuan_per_person_year", "居民医保个人缴费标准",
           "seed 004 line 71"),
        _s("medical_premium_subsidy_tekun_ratio", "ratio", "ratio", "特困参保资助比例", "seed 004 line 71"),
        _s("medical_premium_subsidy_dibao_fixed_year", "number", "yuan_per_person_year", "低保参保定额资助",
           "seed 004 line 71"),
        _s("medical_premium_subsidy_tuopin_ratio", "ratio", "ratio", "脱贫人口参保资助比例", "seed 004 line 71"),
        _s("medical_aid_deductible_ratio_tekun", "number", "ratio_of_rural_disposable_income", "医疗救助起付(特困)",
           "seed 004 line 71"),
        _s("medical_aid_deductible_ratio_dibao", "number", "ratio_of_rural_disposable_income", "医疗救助起付(低保)",
           "seed 004 line 71"),
        _s("medical_aid_deductible_ratio_edge", "number", "ratio_of_rural_disposable_income",
           "医疗救助起付(低保边缘/监测)", "seed 004 line 71"),
        _s("medical_aid_deductible_ratio_rigid", "number", "ratio_of_rural_disposable_income",
           "医疗救助起付(刚性支出困难)", "seed 004 line 71"),
        _s("medical_aid_ratio_tekun", "ratio", "ratio", "医疗救助比例(特困)", "seed 004 line 71"),
        _s("medical_aid_ratio_dibao", "ratio", "ratio", "医疗救助比例(低保)", "seed 004 line 71"),
        _s("medical_aid_ratio_edge", "ratio", "ratio", "医疗救助比例(低保边缘/监测)", "seed 004 line 71"),
        _s("medical_aid_ratio_rigid", "ratio", "ratio", "医疗救助比例(刚性支出困难)", "seed 004 line 71"),
        _s("medical_aid_annual_cap", "number", "yuan_per_person_year", "医疗救助年度限额", "seed 004 line 71"),
        _s("medical_inpolicy_selfpay_target_ratio", "ratio", "ratio", "政策范围内自付比例控制目标", "seed 004 line 71"),
        _s("pension_min_tier_year", "number", "yuan_per_year", "居民养老保险最低缴费档次", "seed 004 line 73"),
        _s("pension_retained_min_tier_year", "number", "yuan_per_year",
           "提高缴费档次后困难群体可保留的原最低档次", "seed 004 line 73-75"),
        _s("pension_contribution_age_min", "int", "years", "养老保险缴费年龄下限", "seed 004 line 73"),
        _s("pension_contribution_age_max", "int", "years", "养老保险缴费年龄上限(不含)", "seed 004 line 73"),
        _s("pension_paid_ratio_tekun", "ratio", "ratio", "代缴比例(特困)", "seed 004 line 73"),
        _s("pension_paid_ratio_severely_disabled", "ratio", "ratio", "代缴比例(重度残疾)", "seed 004 line 73"),
        _s("pension_paid_ratio_dibao", "ratio", "ratio", "代缴比例(低保)", "seed 004 line 73"),
        _s("pension_paid_ratio_monitored", "ratio", "ratio", "代缴比例(返贫致贫)", "seed 004 line 73"),
    ]
}


def package_dir() -> Path:
    """Directory of the shipped calculator parameter files (``fangpin/assistance/params_data``)."""
    return Path(str(resources.files("fangpin.assistance") / "params_data"))


def _package_file() -> Path:
    return package_dir() / "cn.yaml"


def load_assistance_parameters(dirs: list[Path] | None = None) -> ParameterSet:
    """Shipped ``fangpin/assistance/params_data/cn.yaml`` plus every ``*.yaml`` in ``dirs`` (province/county overrides,
    one region per file, named ``<region>.yaml``) — through the shared loader with this module's catalogue."""
    return load_parameters(dirs, catalogue=CATALOGUE, package_dir=package_dir(), display_prefix="assistance")


@dataclass(frozen=True, slots=True)
class ParamUse:
    """One parameter value used by a decision, with its provenance (出处)."""

    name: str
    value: Any
    reference: str
    source: str
    region_matched: str
    from_date: date | None
    version: str

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        return {
            "value": str(v) if isinstance(v, Decimal) else v,
            "reference": self.reference,
            "source": self.source,
            "region_matched": self.region_matched,
            "from": self.from_date.isoformat() if self.from_date else None,
            "version": self.version,
        }


class Rules:
    """Both parameter sets behind one ``lookup(name, region, on)`` → :class:`ParamUse`."""

    def __init__(self, policy: ParameterSet, assistance: ParameterSet) -> None:
        self.policy = policy
        self.assistance = assistance

    @property
    def version(self) -> str:
        return f"policy:{self.policy.version}+assistance:{self.assistance.version}"

    def lookup(self, name: str, region_code: str, on: date) -> ParamUse:
        if name in POLICY_CATALOGUE:
            pv, tag = self.policy.get(name, region_code, on), "policy:" + self.policy.version
        else:
            pv, tag = self.assistance.get(name, region_code, on), "assistance:" + self.assistance.version
        return ParamUse(name, pv.value, pv.reference, pv.source_file, pv.region_matched, pv.from_date, tag)


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return Rules(load_parameters(), load_assistance_parameters())


def load_rules(policy_dirs: list[Path] | None = None, assistance_dirs: list[Path] | None = None) -> Rules:
    """Shipped parameters (cached) or shipped + extra directories (province/county overrides, test fixtures)."""
    if not policy_dirs and not assistance_dirs:
        return _default_rules()
    return Rules(load_parameters(dirs=policy_dirs), load_assistance_parameters(dirs=assistance_dirs))
