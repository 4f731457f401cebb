"""Parameters of the eligibility calculators (救助测算参数) and the parameter-use recorder.

Two sources, one lookup:

* the shared policy parameters (``fangpin.policy.load_parameters``): 低保 standard, 低保边缘 multiplier, review and
  taper months, employment-cost ratio, minimum wage, 特困 multiplier, last year's disposable income …;
* calculator-specific defaults in ``fangpin/assistance/params.yaml`` (same file shape: region / dated values with a
  reference). They are kept here because the shared loader validates against a fixed catalogue owned by the policy
  module. :data:`CATALOGUE` below declares the allowed names; unlike the shared catalogue, ``0`` is a valid value.

:class:`Rules` answers both, preferring the shared catalogue for a shared name. Every value a calculator reads is
recorded (name → value, reference, source file, parameter-set version) so a decision can be re-explained later.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from fangpin.policy import (
    CATALOGUE as POLICY_CATALOGUE,
)
from fangpin.policy import (
    NATIONAL_REGION,
    ParameterLookupError,
    ParameterSet,
    candidate_regions,
    load_parameters,
)

__all__ = [
    "CATALOGUE",
    "AssistanceParamSpec",
    "AssistanceParameterError",
    "AssistanceParameterSet",
    "ParamUse",
    "Rules",
    "load_assistance_parameters",
    "load_rules",
]

Kind = Literal["int", "number", "ratio", "bool"]


@dataclass(frozen=True, slots=True)
class AssistanceParamSpec:
    name: str
    kind: Kind
    unit: str
    description_zh: str
    policy: str


def _s(name: str, kind: Kind, unit: str, zh: str, policy: str) -> AssistanceParamSpec:
    return AssistanceParamSpec(name, kind, unit, zh, policy)


CATALOGUE: Mapping[str, AssistanceParamSpec] = {
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


class AssistanceParameterError(Exception):
    """Invalid calculator parameter file or missing value. 测算参数文件无效或无在用值。"""


@dataclass(frozen=True, slots=True)
class _Dated:
    from_date: date
    value: int | float | bool | None
    reference: str


@dataclass(frozen=True, slots=True)
class _Found:
    value: int | float | bool
    reference: str
    source_file: str
    region_matched: str
    from_date: date


def _date(v: Any, where: str) -> date:
    if isinstance(v, datetime):
        raise AssistanceParameterError(f"{where}: must be a date, not a date-time / 应为日期")
    if isinstance(v, date):
        return v
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise AssistanceParameterError(f"{where}: date must be written YYYY-MM-DD / 日期应写作 YYYY-MM-DD")


def _check_kind(spec: AssistanceParamSpec, v: Any, where: str) -> None:
    if spec.kind == "bool":
        if not isinstance(v, bool):
            raise AssistanceParameterError(f"{where}: must be true or false / 应为 true 或 false")
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise AssistanceParameterError(f"{where}: must be a number / 应为数值")
    if spec.kind == "int" and not isinstance(v, int):
        raise AssistanceParameterError(f"{where}: must be a whole number / 应为整数")
    if v < 0:
        raise AssistanceParameterError(f"{where}: must not be negative / 不能为负数")
    if spec.kind == "ratio" and v > 1:
        raise AssistanceParameterError(f"{where}: ratio must be between 0 and 1 / 比例应在0到1之间")


def _load_file(path: Path) -> tuple[str, dict[str, tuple[_Dated, ...]], dict[str, Any]]:
    name = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise AssistanceParameterError(f"{name}: cannot read: {e} / 无法读取") from e
    if not isinstance(raw, dict) or set(raw) - {"region", "name_zh", "name_en", "parameters"}:
        raise AssistanceParameterError(f"{name}: top level must have region, name_zh, name_en, parameters / 顶层键错误")
    region = str(raw.get("region", "")).strip()
    expected = "cn" if region == NATIONAL_REGION else region
    if not region or (path.stem != expected and not (path.stem == "params" and region == NATIONAL_REGION)):
        raise AssistanceParameterError(f"{name}: region {region!r} must be in a file named {expected}.yaml / 文件名应与辖区一致")
    out: dict[str, tuple[_Dated, ...]] = {}
    for pname, entry in (raw.get("parameters") or {}).items():
        where = f"{name}: parameters.{pname}"
        spec = CATALOGUE.get(pname)
        if spec is None:
            raise AssistanceParameterError(f"{where}: unknown parameter (not in the catalogue) / 未登记的参数")
        if not isinstance(entry, dict) or not entry.get("values"):
            raise AssistanceParameterError(f"{where}: needs a non-empty 'values' list / 缺少 values")
        if entry.get("unit") not in (None, spec.unit):
            raise AssistanceParameterError(f"{where}.unit: must be {spec.unit!r} / 单位应为 {spec.unit!r}")
        series: list[_Dated] = []
        for i, ve in enumerate(entry["values"]):
            vw = f"{where}.values[{i}]"
            if not isinstance(ve, dict) or set(ve) != {"from", "value", "reference"}:
                raise AssistanceParameterError(f"{vw}: needs exactly from, value, reference / 应含 from、value、reference")
            d = _date(ve["from"], vw + ".from")
            if series and d <= series[-1].from_date:
                raise AssistanceParameterError(f"{vw}.from: dates must increase / 生效日期必须严格递增")
            ref = str(ve["reference"] or "").strip()
            if not ref:
                raise AssistanceParameterError(f"{vw}.reference: must not be empty / 出处不能为空")
            if ve["value"] is None:
                if i == 0:
                    raise AssistanceParameterError(f"{vw}.value: first value cannot be null / 首个取值不能为空")
            else:
                _check_kind(spec, ve["value"], vw + ".value")
            series.append(_Dated(d, ve["value"], ref))
        out[pname] = tuple(series)
    canonical = {
        "region": region,
        "parameters": {
            k: [[dv.from_date.isoformat(), dv.value, dv.reference] for dv in v] for k, v in sorted(out.items())
        },
    }
    return region, out, canonical


class AssistanceParameterSet:
    """Calculator-specific parameters: ``get(name, region_code, on)`` with county → city → province → national
    fallback, like :meth:`fangpin.policy.ParameterSet.get`. ``version`` = sha256 (16 hex) of the canonical content."""

    def __init__(self, files: Iterable[Path]) -> None:
        self._by_region: dict[str, tuple[str, dict[str, tuple[_Dated, ...]]]] = {}
        canon = []
        for p in files:
            region, params, c = _load_file(p)
            if region in self._by_region:
                raise AssistanceParameterError(f"{p}: region {region!r} defined twice / 辖区重复")
            self._by_region[region] = (str(p.name), params)
            canon.append(c)
        blob = json.dumps(sorted(canon, key=lambda c: c["region"]), ensure_ascii=False, sort_keys=True)
        self.version = hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def get(self, name: str, region_code: str, on: date) -> _Found:
        if name not in CATALOGUE:
            raise AssistanceParameterError(f"unknown parameter {name!r} / 未登记的参数 {name!r}")
        for region in candidate_regions(region_code):
            entry = self._by_region.get(region)
            if not entry:
                continue
            src, params = entry
            series = params.get(name, ())
            cur = None
            for dv in series:
                if dv.from_date <= on:
                    cur = dv
                else:
                    break
            if cur is None or cur.value is None:
                continue
            return _Found(cur.value, cur.reference, src, region, cur.from_date)
        raise ParameterLookupError(
            f"no value of {name!r} in force on {on.isoformat()} for region {region_code!r} / "
            f"{on.isoformat()} 辖区 {region_code!r} 无在用的测算参数 {name!r}"
        )


def _package_file() -> Path:
    return Path(str(resources.files("fangpin.assistance") / "params.yaml"))


def load_assistance_parameters(dirs: list[Path] | None = None) -> AssistanceParameterSet:
    """Shipped ``fangpin/assistance/params.yaml`` plus every ``*.yaml`` in ``dirs`` (province/county overrides,
    one region per file, named ``<region>.yaml``)."""
    files = [_package_file()]
    for d in dirs or []:
        d = Path(d)
        if not d.is_dir():
            raise AssistanceParameterError(f"{d}: not a directory / 不是目录")
        files.extend(sorted(d.glob("*.yaml")))
    return AssistanceParameterSet(files)


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

    def __init__(self, policy: ParameterSet, assistance: AssistanceParameterSet) -> None:
        self.policy = policy
        self.assistance = assistance

    @property
    def version(self) -> str:
        return f"policy:{self.policy.version}+assistance:{self.assistance.version}"

    def lookup(self, name: str, region_code: str, on: date) -> ParamUse:
        if name in POLICY_CATALOGUE:
            pv = self.policy.get(name, region_code, on)
            return ParamUse(name, pv.value, pv.reference, pv.source_file, pv.region_matched, pv.from_date,
                            "policy:" + self.policy.version)
        f = self.assistance.get(name, region_code, on)
        return ParamUse(name, f.value, f.reference, "assistance/" + f.source_file, f.region_matched, f.from_date,
                        "assistance:" + self.assistance.version)


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return Rules(load_parameters(), load_assistance_parameters())


def load_rules(policy_dirs: list[Path] | None = None, assistance_dirs: list[Path] | None = None) -> Rules:
    """Shipped parameters (cached) or shipped + extra directories (province/county overrides, test fixtures)."""
    if not policy_dirs and not assistance_dirs:
        return _default_rules()
    return Rules(load_parameters(dirs=policy_dirs), load_assistance_parameters(dirs=assistance_dirs))
