"""Dated, per-jurisdiction policy parameters (政策参数).

Every policy number is data, not code (POLICY.md preamble: "Every number here is a dated, per-province
parameter, never a constant in code"). Values live in ``fangpin/policy/params/*.yaml``, one file per
jurisdiction (辖区), in the OpenFisca style (STYLE.md): each value has a ``from`` date and a ``reference`` to
its source; a law change *adds* a dated value and never edits history; a value of ``null`` marks a parameter
as ended in that jurisdiction from that date.

Jurisdictions are identified by administrative-division prefixes (POLICY.md §12):

* ``"00"``     national defaults (全国), file ``cn.yaml``;
* 2 digits     province (省), e.g. ``"53"`` Yunnan;
* 4 digits     prefecture-level city (市/州), e.g. ``"5301"``;
* 6 digits     county (县/区), GB/T 2260 code, e.g. ``"530102"``.

Lookup takes any code (up to the 12-digit village statistical code) and falls back
county → city → province → national, choosing the most specific jurisdiction that has a value *in force*
on the requested date.

The allowed parameter names, their unit and their value kind are declared once, in :data:`CATALOGUE`.
A file using a name that is not in the catalogue is rejected.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "CATALOGUE",
    "NATIONAL_REGION",
    "ParamSpec",
    "ParamValue",
    "DatedValue",
    "Jurisdiction",
    "ParameterSet",
    "ParameterError",
    "ParameterFileError",
    "ParameterLookupError",
    "candidate_regions",
    "load_file",
    "load_parameters",
    "package_params_dir",
]

NATIONAL_REGION = "00"

ValueKind = Literal["int", "number", "ratio", "bool"]

# --------------------------------------------------------------------------------------------------
# Catalogue (参数目录) — declared once. A key not listed here is an error in any parameter file.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """Declaration of one parameter: its unit, value kind and meaning.

    ``kind``: ``int`` (whole number > 0), ``number`` (int or float > 0), ``ratio`` (number in 0..1),
    ``bool`` (true/false). YAML booleans are never accepted as numbers and vice versa. ``allow_zero`` lets an
    ``int``/``number`` be 0 (catalogues of other modules, e.g. the eligibility calculators').
    """

    name: str
    kind: ValueKind
    unit: str
    description_en: str
    description_zh: str
    policy: str  # where the concept is defined (POLICY.md section / seed line)
    allow_zero: bool = False  # 0 is a meaningful value (e.g. "no deductible"); the shared catalogue never allows it


def _spec(name: str, kind: ValueKind, unit: str, en: str, zh: str, policy: str) -> ParamSpec:
    return ParamSpec(name, kind, unit, en, zh, policy)


CATALOGUE: Mapping[str, ParamSpec] = {
    s.name: s
    for s in [
        # --- Monitoring (监测) — POLICY.md §3
        _spec("monitoring_line", "number", "yuan_per_person_year",
              "Monitoring line: yearly per-capita net income threshold", "防止返贫监测标准(人均纯收入)", "POLICY.md §3"),
        _spec("income_rolling_months", "int", "months",
              "Months of income counted before identification (rolling window)", "收入测算滚动月数", "POLICY.md §3"),
        _spec("sudden_hardship_uses_claims", "bool", "boolean",
              "Sudden-hardship reference income adds insurance claim income", "突发严重困难测算是否计入理赔收入",
              "POLICY.md §3"),
        _spec("sudden_hardship_deducts_compliant_oop", "bool", "boolean",
              "Sudden-hardship reference income deducts compliant out-of-pocket spending",
              "突发严重困难测算是否扣减合规自付支出", "POLICY.md §3"),
        _spec("sharp_income_drop_ratio", "ratio", "ratio",
              "Fall in household income (share of previous level) counted as a sharp drop", "收入大幅缩减比例",
              "POLICY.md §2 (TFYZKN); seed 004 line 43"),
        # --- Medical-cost screening (医保预警) — POLICY.md §6
        _spec("medical_oop_trigger_ratio_monitored", "ratio", "ratio_of_rural_disposable_income",
              "Out-of-pocket medical cost trigger for formerly-poor/monitored households, "
              "as a share of last year's rural per-capita disposable income",
              "脱贫户/监测户医疗自付预警比例(占上年农村居民人均可支配收入)", "POLICY.md §6"),
        _spec("medical_oop_trigger_ratio_general", "number", "ratio_of_rural_disposable_income",
              "Out-of-pocket medical cost trigger for other households, as a multiple of last year's rural "
              "per-capita disposable income", "一般农户医疗自付预警倍数(占上年农村居民人均可支配收入)",
              "POLICY.md §6"),
        _spec("medical_oop_fixed_low_income", "number", "yuan_per_year",
              "Fixed yearly out-of-pocket trigger (after the three insurance tiers) for low-income people",
              "低收入人口医疗自付固定预警线(三重保障后)", "POLICY.md §6"),
        _spec("medical_oop_fixed_general", "number", "yuan_per_year",
              "Fixed yearly out-of-pocket trigger (after the three insurance tiers) for others",
              "一般人群医疗自付固定预警线(三重保障后)", "POLICY.md §6"),
        _spec("rural_disposable_income_prev_year", "number", "yuan_per_person_year",
              "Previous calendar year's rural per-capita disposable income (in force from 1 January of the "
              "following year)", "上年农村居民人均可支配收入", "POLICY.md §6, §10; CALIBRATION.md"),
        # --- Civil-affairs assistance (民政社会救助) — POLICY.md §10
        _spec("dibao_standard_rural_year", "number", "yuan_per_person_year",
              "Rural minimum-living-guarantee (低保) standard", "农村低保标准", "POLICY.md §10"),
        _spec("dibao_edge_multiplier", "number", "multiplier",
              "低保边缘 income limit as a multiple of the 低保 standard", "低保边缘收入倍数(低保标准的倍数)",
              "POLICY.md §10"),
        _spec("dibao_review_months", "int", "months",
              "Review interval for 低保 households", "低保复核周期", "POLICY.md §10"),
        _spec("dibao_review_months_unstable", "int", "months",
              "Review interval for 低保 households with labour and unstable income", "收入不稳定有劳动力低保户复核周期",
              "POLICY.md §10"),
        _spec("dibao_taper_months_min", "int", "months",
              "Shortest taper period (渐退期) after income rises above the standard", "低保渐退期下限",
              "POLICY.md §10"),
        _spec("dibao_taper_months_max", "int", "months",
              "Longest taper period (渐退期)", "低保渐退期上限", "POLICY.md §10"),
        _spec("dibao_notice_days", "int", "days",
              "Public notice period for a 低保 decision", "低保公示天数", "POLICY.md §10"),
        _spec("dibao_decision_working_days", "int", "working_days",
              "Working days to decide a 低保 application", "低保审批时限(工作日)", "POLICY.md §10"),
        _spec("dibao_decision_working_days_extended", "int", "working_days",
              "Extended working-day limit for complex 低保 cases", "低保审批延长时限(工作日)", "POLICY.md §10"),
        _spec("employment_cost_deduction_disabled_ratio_of_min_wage", "ratio", "ratio_of_minimum_wage",
              "Necessary employment cost deducted for a working disabled person, as a share of the local "
              "monthly minimum wage", "残疾人就业成本扣减比例(占当地最低工资)", "POLICY.md §10; seed 004 line 69"),
        _spec("minimum_wage_month", "number", "yuan_per_month",
              "Local monthly minimum wage (最低工资标准, used for employment-cost deduction)", "月最低工资标准",
              "POLICY.md §10"),
        _spec("tekun_support_multiplier", "number", "multiplier",
              "特困 basic-living support as a multiple of the 低保 standard (care allowance extra)",
              "特困人员基本生活标准(低保标准的倍数)", "POLICY.md §10"),
        # --- Identification procedure (识别程序) — POLICY.md §1, §4, §5
        _spec("identification_max_days", "int", "days",
              "Maximum days from lead to identification decision", "识别认定最长天数", "POLICY.md §1, §5"),
        _spec("self_application_accept_days", "int", "days",
              "Days for the township to accept an online self-application", "农户自主申报受理时限", "POLICY.md §4"),
        _spec("home_verification_days", "int", "days",
              "Days allowed for the home verification visit", "入户核实时限", "POLICY.md §5"),
        _spec("data_check_days", "int", "days",
              "Days allowed for cross-department data comparison", "部门信息比对时限", "POLICY.md §5"),
        _spec("public_notice_min_days", "int", "days",
              "Minimum length of the village public notice", "村内公示最少天数", "POLICY.md §5"),
        _spec("first_measure_max_days", "int", "days",
              "Days after identification by which the first assistance measure must start",
              "认定后落实首项帮扶措施时限", "POLICY.md §5"),
        _spec("follow_up_visit_interval_days", "int", "days",
              "Days between scheduled follow-up visits (回访) to a monitored household",
              "定期跟踪回访间隔天数", "POLICY.md §4.2; seed 004 line 45"),
        # --- Risk removal (风险消除) — POLICY.md §9
        _spec("removal_min_stable_income_months", "int", "months",
              "Months of stable income above the line required for risk removal", "风险消除收入持续稳定月数",
              "POLICY.md §9"),
        _spec("removal_min_months_since_identification", "int", "months",
              "Minimum months between identification and risk removal", "认定后至风险消除最短月数",
              "POLICY.md §9"),
        _spec("removal_early_flag_days", "int", "days",
              "A removal within this many days of identification is flagged for review", "过早消除风险预警天数",
              "POLICY.md §9"),
        # --- Other mechanisms
        _spec("large_resettlement_site_persons", "int", "persons",
              "Population from which a relocation resettlement site counts as large", "大型安置区人口规模下限",
              "POLICY.md §11; seed 004 line 49"),
        _spec("disaster_measures_before_identification", "bool", "boolean",
              "Disaster-risk households may receive measures before formal identification",
              "受灾风险户可先帮扶后认定", "POLICY.md §1"),
        _spec("max_risk_types_per_household", "int", "count",
              "Maximum number of risk types recorded per household", "每户最多风险类型数", "POLICY.md §7"),
    ]
}

_REGION_RE = re.compile(r"^(?:00|\d{2}|\d{4}|\d{6})$")
_LOOKUP_RE = re.compile(r"^\d+$")
_LOOKUP_LENGTHS = (2, 4, 6, 9, 12)


# --------------------------------------------------------------------------------------------------
# Errors (bilingual, English / 中文)
# --------------------------------------------------------------------------------------------------


class ParameterError(Exception):
    """Base class of parameter errors. 参数错误基类。"""


class ParameterFileError(ParameterError):
    """A parameter file is invalid. Message: ``<file>: <key path>: <reason> / <原因>``.

    参数文件无效;信息包含文件名、键路径和原因(英文/中文)。
    """

    def __init__(self, file: str, key_path: str, reason_en: str, reason_zh: str) -> None:
        self.file = file
        self.key_path = key_path
        self.reason_en = reason_en
        self.reason_zh = reason_zh
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {reason_en} / {reason_zh}")


class ParameterLookupError(ParameterError, LookupError):
    """No value in force, unknown parameter name or malformed region code. 查无在用参数值。"""


# --------------------------------------------------------------------------------------------------
# File structure (pydantic) — shape only; meaning is checked in _check_semantics with exact key paths
# --------------------------------------------------------------------------------------------------


def _parse_iso_date(v: Any) -> date:
    # YAML gives datetime.date for 2023-01-01; accept a quoted "2023-01-01" too, nothing else
    # (pydantic's lax mode would also take integers as Unix timestamps).
    if isinstance(v, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date-time||应为日期(YYYY-MM-DD),不能带时间")
    if isinstance(v, date):
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
        return date.fromisoformat(v.strip())
    raise ValueError("must be a date written YYYY-MM-DD||日期应写作 YYYY-MM-DD")


class _ValueEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date = Field(alias="from")
    value: Any = Field(...)
    reference: str = Field(min_length=1)

    @field_validator("from_", mode="before")
    @classmethod
    def _date(cls, v: Any) -> date:
        return _parse_iso_date(v)

    @field_validator("reference", mode="before")
    @classmethod
    def _ref(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("reference must not be empty||出处(reference)不能为空")
        return v


class _ParameterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    description: str | None = None
    unit: str | None = None
    values: list[_ValueEntry] = Field(min_length=1)


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    region: str
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    parameters: dict[str, _ParameterEntry]


_PYDANTIC_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的未知键",
    "string_type": "应为字符串",
    "list_type": "应为列表",
    "dict_type": "应为映射(键: 值)",
    "model_type": "应为映射(键: 值)",
    "too_short": "不能为空",
    "string_too_short": "不能为空",
}


def _loc_to_path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = "from" if part == "from_" else str(part)
            out += f".{part}" if out else part
    return out


# --------------------------------------------------------------------------------------------------
# Loaded data
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DatedValue:
    """One dated value of a parameter in one jurisdiction. ``value is None`` means "ended" (停止执行)."""

    from_date: date
    value: int | float | bool | None
    reference: str


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """One loaded parameter file (辖区参数文件)."""

    region: str
    name_zh: str
    name_en: str
    source_file: str
    parameters: Mapping[str, tuple[DatedValue, ...]]

    def canonical(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "parameters": {
                name: [
                    {"from": dv.from_date.isoformat(), "value": dv.value, "reference": dv.reference}
                    for dv in series
                ]
                for name, series in sorted(self.parameters.items())
            },
        }


@dataclass(frozen=True, slots=True)
class ParamValue:
    """A parameter value in force for a region on a date, with its provenance (出处).

    ``region_matched`` is the jurisdiction that supplied the value (``"00"`` = national default);
    ``to_date`` is the next change date in that jurisdiction's series (exclusive), if any.
    """

    name: str
    value: int | float | bool
    unit: str
    from_date: date
    to_date: date | None
    reference: str
    source_file: str
    region_matched: str


class ParameterSet:
    """All loaded jurisdictions plus the catalogue; answers ``get(name, region, date)``.

    ``version`` (16 hex chars) and ``version_full`` (64) are the sha256 of the canonical JSON of every loaded
    file's content (sorted by region). YAML comments and formatting do not affect it; any value, date or
    reference change does. Decisions store ``version`` so that they can be re-explained later.
    """

    def __init__(self, jurisdictions: Iterable[Jurisdiction],
                 catalogue: Mapping[str, ParamSpec] | None = None) -> None:
        self.catalogue: Mapping[str, ParamSpec] = CATALOGUE if catalogue is None else catalogue
        self._by_region: dict[str, Jurisdiction] = {}
        for j in jurisdictions:
            if j.region in self._by_region:
                other = self._by_region[j.region].source_file
                raise ParameterFileError(
                    j.source_file, "region",
                    f"duplicate region {j.region!r}, already defined in {other}",
                    f"辖区代码 {j.region!r} 重复,已在 {other} 中定义",
                )
            self._by_region[j.region] = j
        canonical = [self._by_region[r].canonical() for r in sorted(self._by_region)]
        blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.version_full: str = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        self.version: str = self.version_full[:16]

    # -- introspection
    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_region))

    def jurisdiction(self, region: str) -> Jurisdiction:
        try:
            return self._by_region[region]
        except KeyError:
            raise ParameterLookupError(f"no parameter file for region {region!r} / 无辖区 {region!r} 的参数文件") from None

    def series(self, name: str, region: str) -> tuple[DatedValue, ...]:
        """The dated history of ``name`` declared by exactly ``region`` (no fallback); empty if none."""
        _spec_or_raise(name, self.catalogue)
        j = self._by_region.get(region)
        return j.parameters.get(name, ()) if j else ()

    # -- lookup
    def get(self, name: str, region_code: str, on: date) -> ParamValue:
        """Value of ``name`` in force on ``on`` for ``region_code`` (2/4/6/9/12 digits or ``"00"``).

        Tries the county (6), city (4), province (2) prefixes, then national; takes the first
        jurisdiction whose latest value with ``from <= on`` exists and is not ``null``.
        Raises :class:`ParameterLookupError` when nothing is in force.
        """
        spec = _spec_or_raise(name, self.catalogue)
        if isinstance(on, datetime) or not isinstance(on, date):
            raise TypeError("on must be a datetime.date / on 必须为日期")
        for region in candidate_regions(region_code):
            j = self._by_region.get(region)
            if j is None:
                continue
            series = j.parameters.get(name)
            if not series:
                continue
            found = _in_force(series, on)
            if found is None:
                continue
            idx, dv = found
            if dv.value is None:  # explicitly ended here: fall back to the next jurisdiction
                continue
            nxt = series[idx + 1].from_date if idx + 1 < len(series) else None
            return ParamValue(
                name=name, value=dv.value, unit=spec.unit, from_date=dv.from_date, to_date=nxt,
                reference=dv.reference, source_file=j.source_file, region_matched=region,
            )
        raise ParameterLookupError(
            f"no value of {name!r} in force on {on.isoformat()} for region {region_code!r} "
            f"(searched {', '.join(candidate_regions(region_code))}) / "
            f"{on.isoformat()} 辖区 {region_code!r} 无在用的参数 {name!r}"
        )

    def snapshot(self, region_code: str, on: date) -> dict[str, ParamValue]:
        """Every catalogue parameter in force for ``region_code`` on ``on`` (parameters with none are omitted)."""
        out: dict[str, ParamValue] = {}
        for name in self.catalogue:
            try:
                out[name] = self.get(name, region_code, on)
            except ParameterLookupError:
                continue
        return out


def _spec_or_raise(name: str, catalogue: Mapping[str, ParamSpec] = CATALOGUE) -> ParamSpec:
    try:
        return catalogue[name]
    except KeyError:
        raise ParameterLookupError(f"unknown parameter {name!r} / 未登记的参数 {name!r}") from None


def _in_force(series: tuple[DatedValue, ...], on: date) -> tuple[int, DatedValue] | None:
    found = None
    for i, dv in enumerate(series):
        if dv.from_date <= on:
            found = (i, dv)
        else:
            break
    return found


def candidate_regions(region_code: str) -> tuple[str, ...]:
    """Jurisdictions to try, most specific first: county(6) → city(4) → province(2) → national("00")."""
    if not isinstance(region_code, str):
        raise ParameterLookupError(f"region code must be a string, got {region_code!r} / 区划代码必须为字符串")
    code = region_code.strip()
    if code == NATIONAL_REGION:
        return (NATIONAL_REGION,)
    if not _LOOKUP_RE.fullmatch(code) or len(code) not in _LOOKUP_LENGTHS:
        raise ParameterLookupError(
            f"region code {region_code!r} must be 2, 4, 6, 9 or 12 digits / 区划代码 {region_code!r} 应为2、4、6、9或12位数字"
        )
    out = [code[:n] for n in (6, 4, 2) if len(code) >= n]
    out.append(NATIONAL_REGION)
    return tuple(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def package_params_dir() -> Path:
    """Directory holding the shipped parameter files (``fangpin/policy/params``)."""
    return Path(str(resources.files("fangpin.policy") / "params"))


def _display_name(path: Path, package_dir: Path, prefix: str = "policy/params") -> str:
    try:
        return f"{prefix}/{path.relative_to(package_dir).as_posix()}"
    except ValueError:
        return str(path)


def load_file(path: Path, display: str | None = None,
              catalogue: Mapping[str, ParamSpec] | None = None) -> Jurisdiction:
    """Load and validate one parameter file against ``catalogue`` (default: the shared :data:`CATALOGUE`).
    Raises :class:`ParameterFileError`."""
    name = display or path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ParameterFileError(name, "", f"cannot read file: {e}", f"无法读取文件:{e}") from e
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ParameterFileError(name, where, f"invalid YAML: {problem}", f"YAML 格式错误:{problem}") from e
    if not isinstance(raw, dict):
        raise ParameterFileError(name, "", "top level must be a mapping", "顶层必须为映射(键: 值)")
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        path_s = _loc_to_path(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        zh = _PYDANTIC_ZH.get(err["type"], "格式错误")
        if err["type"] == "value_error":  # our validators write "English||中文"
            msg, _, zh = msg.removeprefix("Value error, ").partition("||")
            zh = zh or "取值无效"
        raise ParameterFileError(name, path_s, msg, zh) from None
    return _check_semantics(model, path, name, CATALOGUE if catalogue is None else catalogue)


def _check_semantics(model: _FileModel, path: Path, name: str, catalogue: Mapping[str, ParamSpec]) -> Jurisdiction:
    region = model.region.strip()
    if not _REGION_RE.fullmatch(region) or (region != NATIONAL_REGION and (
        region[:2] == "00" or (len(region) > 2 and region[-2:] == "00")
    )):
        raise ParameterFileError(
            name, "region",
            f"region code {model.region!r} must be '00' (national) or a 2-digit province, 4-digit city or "
            "6-digit county code",
            f"辖区代码 {model.region!r} 应为 '00'(全国)或2位省级、4位市级、6位县级代码",
        )
    expected = "cn" if region == NATIONAL_REGION else region
    if path.stem != expected:
        raise ParameterFileError(
            name, "region",
            f"file for region {region!r} must be named {expected}.yaml",
            f"辖区 {region!r} 的文件应命名为 {expected}.yaml",
        )
    params: dict[str, tuple[DatedValue, ...]] = {}
    for pname, entry in model.parameters.items():
        base = f"parameters.{pname}"
        spec = catalogue.get(pname)
        if spec is None:
            raise ParameterFileError(
                name, base, "unknown parameter (not in the catalogue)", "未登记的参数(不在参数目录中)"
            )
        if entry.unit is not None and entry.unit != spec.unit:
            raise ParameterFileError(
                name, f"{base}.unit", f"unit must be {spec.unit!r}, got {entry.unit!r}",
                f"单位应为 {spec.unit!r},实际为 {entry.unit!r}",
            )
        series: list[DatedValue] = []
        for i, ve in enumerate(entry.values):
            vpath = f"{base}.values[{i}]"
            if series and ve.from_ <= series[-1].from_date:
                raise ParameterFileError(
                    name, f"{vpath}.from", "dates must increase", "生效日期必须严格递增"
                )
            if ve.value is None and i == 0:
                raise ParameterFileError(
                    name, f"{vpath}.value", "the first value cannot be null (null only ends an earlier value)",
                    "首个取值不能为空(null 仅用于终止此前的取值)",
                )
            if ve.value is not None:
                _check_kind(spec, ve.value, name, f"{vpath}.value")
            series.append(DatedValue(ve.from_, ve.value, ve.reference.strip()))
        params[pname] = tuple(series)
    return Jurisdiction(region, model.name_zh, model.name_en, name, params)


def _check_kind(spec: ParamSpec, value: Any, file: str, key: str) -> None:
    def fail(en: str, zh: str) -> None:
        raise ParameterFileError(file, key, en, zh)

    if spec.kind == "bool":
        if not isinstance(value, bool):
            fail(f"must be true or false, got {value!r}", f"应为 true 或 false,实际为 {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(f"must be a number, got {value!r}", f"应为数值,实际为 {value!r}")
    if spec.kind == "int" and not isinstance(value, int):
        fail(f"must be a whole number, got {value!r}", f"应为整数,实际为 {value!r}")
    if spec.kind == "ratio":
        if not 0 <= value <= 1:
            fail(f"ratio must be between 0 and 1, got {value!r}", f"比例应在0到1之间,实际为 {value!r}")
    elif value < 0 or (value == 0 and not spec.allow_zero):
        if spec.allow_zero:
            fail(f"must not be negative, got {value!r}", f"不能为负数,实际为 {value!r}")
        fail(f"must be greater than 0, got {value!r}", f"应大于0,实际为 {value!r}")


def load_parameters(dirs: list[Path] | None = None, *, catalogue: Mapping[str, ParamSpec] | None = None,
                    package_dir: Path | None = None, display_prefix: str = "policy/params") -> ParameterSet:
    """Load the shipped parameter files plus every ``*.yaml`` in ``dirs`` (e.g. a county's own file).

    Another module with its own dated parameters passes its ``catalogue`` and the ``package_dir`` holding its
    shipped files (e.g. ``fangpin.assistance`` for the eligibility calculators); the file format, the fallback
    county → city → province → national and the version hash are the same.

    Raises :class:`ParameterFileError` on the first invalid file, including a region defined twice.
    """
    pkg = package_dir or package_params_dir()
    files: list[tuple[Path, str]] = [(p, _display_name(p, pkg, display_prefix)) for p in sorted(pkg.glob("*.yaml"))]
    for d in dirs or []:
        d = Path(d)
        if not d.is_dir():
            raise ParameterFileError(str(d), "", "not a directory", "不是目录")
        files.extend((p, str(p)) for p in sorted(d.glob("*.yaml")))
    return ParameterSet((load_file(p, disp, catalogue) for p, disp in files), catalogue)
