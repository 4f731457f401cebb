"""Feed contracts as data: one YAML file per department feed (FEEDS.md §B), validated with pydantic.

A contract says what a department delivers and how each column is read::

    feed: medical                 # a code of the `feeds` code list (fangpin/codes/feeds.yaml)
    version: 1                    # bump on every change; the version is stored with each imported batch
    effective_from: 2024-01-01
    department: {zh: 医保, en: Medical insurance, unit_zh: 县医疗保障局}
    identity: person              # person | household_head | village (must equal the feeds code list)
    event_date: as_of_date        # key of the date column that dates a row
    freshness: {every_days: 10, grace_days: 5, source: "POLICY.md §6 ..."}   # delivery deadline
    columns:
      - {name: 证件号码, key: id_number, en: ID number, type: id, identity: id_number, required: true,
         nullable: true, sensitive: true, aliases: [身份证号]}

Column fields: ``name`` canonical Chinese header; ``aliases`` other headers seen in practice; ``key`` the payload
key (snake_case); ``type`` text | date | amount | decimal | int | choice | id | region | yes_no | certificate;
``required`` the header must be present (else the whole file is rejected, FEEDS.md); ``nullable`` a blank cell is
allowed; ``empty_is_zero`` a blank amount/number means 0 (FEEDS.md: "only where the column says so");
``allowed`` (values with aliases) or ``code_list`` (a shipped code list) for choices; ``store`` zh | code for
code-list values; ``on_unknown`` reject (the row) | warn (accept the raw value and count it as *drift* in feed health);
``min``/``max``; ``max_length``; ``sensitive`` (masked in every report); ``identity`` the role of an identity column
(name, id_number, sex, birth_date, village_code, address, phone).

Rules every contract shares (documented for departments in docs/FEEDS_IMPORT.md):

* a blank ID is allowed: the row is matched on the other identity columns (FEEDS.md §B), or queued for review;
* an ID that is filled in but invalid (lost digits such as 4.10102E+17, wrong check digit, wrong length) rejects the
  row — it is never guessed (FEEDS.md);
* a **valid ID of a person not in the registry is accepted as "unmatched"**: department data about someone we do not
  register is kept and reported, not rejected (the person may be registered later, or lives elsewhere);
* household-head feeds (``identity: household_head``) link to the head's household; village feeds to every household
  of the village, resolved when read.

A bad contract file raises :class:`ContractError` naming the file and the key path (``medical.yaml:
columns[3].type: ...``), in English and Chinese.
"""
from __future__ import annotations

from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fangpin import codes
from fangpin.exchange.tabular import ColumnSpec

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: 10× faster, same semantics

__all__ = ["Contract", "ColumnContract", "ContractError", "load_contract", "load_contracts", "contract_dir"]

ColumnType = Literal["text", "date", "amount", "decimal", "int", "choice", "id", "region", "yes_no", "certificate"]
IdentityRole = Literal["name", "id_number", "sex", "birth_date", "village_code", "address", "phone"]


class ContractError(Exception):
    """A feed contract file is invalid: ``<file>: <key path>: <reason> / <原因>``. 数据契约文件无效。"""

    def __init__(self, file: str, key_path: str, reason_en: str, reason_zh: str) -> None:
        self.file, self.key_path, self.reason_en, self.reason_zh = file, key_path, reason_en, reason_zh
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {reason_en} / {reason_zh}")


class AllowedValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1)
    aliases: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _stringify(cls, data: Any) -> Any:
        if isinstance(data, dict) and "aliases" in data:
            data = {**data, "aliases": [str(a) for a in data["aliases"] or []]}
        return data


class ColumnContract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    en: str = Field(min_length=1)
    type: ColumnType
    required: bool
    nullable: bool = True
    aliases: list[str] = []
    empty_is_zero: bool = False
    allowed: list[AllowedValue] | None = None
    code_list: str | None = None
    store: Literal["zh", "code"] = "zh"
    on_unknown: Literal["reject", "warn"] = "reject"
    min: float | None = None
    max: float | None = None
    max_length: int = 200
    sensitive: bool = False
    identity: IdentityRole | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "ColumnContract":
        if self.type == "choice" and not (self.allowed or self.code_list):
            raise ValueError("a choice column needs `allowed` or `code_list` / 选择列须给出 allowed 或 code_list")
        if self.type != "choice" and (self.allowed or self.code_list):
            raise ValueError("`allowed`/`code_list` only for type choice / allowed、code_list 仅用于 choice 类型")
        if self.empty_is_zero and self.type not in ("amount", "decimal", "int"):
            raise ValueError("`empty_is_zero` only for amount/decimal/int / empty_is_zero 仅用于金额或数值列")
        if self.code_list is not None and self.code_list not in codes.load_code_lists():
            raise ValueError(f"unknown code list {self.code_list!r} / 无此代码表")
        return self


class Freshness(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every_days: int = Field(ge=1, le=400)
    grace_days: int = Field(ge=0, le=120)
    source: str = Field(min_length=1)

    @property
    def deadline_days(self) -> int:
        return self.every_days + self.grace_days


class Department(BaseModel):
    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    unit_zh: str | None = None


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feed: str
    version: int = Field(ge=1)
    effective_from: date
    department: Department
    identity: Literal["person", "household_head", "village"]
    event_date: str
    freshness: Freshness
    source: str = Field(min_length=1)
    changes: list[str] = []
    columns: list[ColumnContract] = Field(min_length=1)
    file: str = ""  # set by the loader

    @model_validator(mode="after")
    def _consistent(self) -> "Contract":
        feeds = codes.load_code_lists()["feeds"]
        entry = feeds.by_code.get(self.feed)
        if entry is None:
            raise ValueError(f"feed {self.feed!r} is not in the feeds code list / 部门数据源代码表中无此数据源")
        if entry.extra["identity"] != self.identity:
            raise ValueError(f"identity must be {entry.extra['identity']!r} as in codes/feeds.yaml / "
                             "identity 须与 feeds 代码表一致")
        keys = [c.key for c in self.columns]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"duplicate column key(s) {dup} / 列 key 重复")
        headers: dict[str, str] = {}
        from fangpin.exchange.tabular import _norm_header

        for c in self.columns:
            for h in (c.name, *c.aliases):
                k = _norm_header(h)
                if headers.get(k, c.name) != c.name:
                    raise ValueError(f"header {h!r} claimed by {headers[k]!r} and {c.name!r} / 表头名称重复")
                headers[k] = c.name
        ev = self.column(self.event_date)
        if ev is None or ev.type != "date":
            raise ValueError(f"event_date {self.event_date!r} must be the key of a date column / "
                             "event_date 须为日期列的 key")
        roles = [c.identity for c in self.columns if c.identity]
        if len(roles) != len(set(roles)):
            raise ValueError("an identity role is used twice / 身份角色重复")
        if self.identity == "village":
            if "village_code" not in roles:
                raise ValueError("a village-level feed needs an identity: village_code column / 村级数据须有村代码列")
        elif "id_number" not in roles or "name" not in roles:
            raise ValueError("a person feed needs identity columns id_number and name / 个人数据须有证件号码和姓名列")
        return self

    def column(self, key: str) -> ColumnContract | None:
        return next((c for c in self.columns if c.key == key), None)

    def by_role(self, role: str) -> ColumnContract | None:
        return next((c for c in self.columns if c.identity == role), None)

    def column_specs(self) -> list[ColumnSpec]:
        return [ColumnSpec(c.name, c.required, tuple(c.aliases)) for c in self.columns]

    @property
    def kind(self) -> str:
        """``import_batch.kind`` of this feed's batches."""
        return f"feed:{self.feed}"


def contract_dir() -> Path:
    return Path(str(resources.files("fangpin.exchange.contracts")))


def _loc(loc: Any) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_ZH = {"missing": "缺少必填项", "extra_forbidden": "不允许的未知键", "literal_error": "取值不在允许范围内",
       "string_pattern_mismatch": "格式不符", "int_parsing": "应为整数", "date_from_datetime_parsing": "应为日期",
       "value_error": "取值不一致"}


def load_file(path: Path) -> Contract:
    """Load and validate one contract file; :class:`ContractError` names the file and key."""
    path = Path(path)
    name = path.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ContractError(name, "", f"cannot read YAML: {e}", f"无法读取 YAML：{e}") from e
    if not isinstance(raw, dict):
        raise ContractError(name, "", "top level must be a mapping", "顶层必须为映射（键: 值）")
    try:
        c = Contract.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        zh = msg.split(" / ", 1)[1] if " / " in msg else _ZH.get(err["type"], "格式错误")
        raise ContractError(name, _loc(err["loc"]), msg.split(" / ", 1)[0], zh) from None
    if c.feed != path.stem:
        raise ContractError(name, "feed", f"feed must equal the file name {path.stem!r}", f"feed 须与文件名 {path.stem!r} 一致")
    return c.model_copy(update={"file": name})


def load_contracts(directory: Path | None = None) -> dict[str, Contract]:
    """All contracts in ``directory`` (default: the shipped ones), keyed by feed."""
    if directory is None:
        return dict(_shipped())
    return {c.feed: c for c in (load_file(p) for p in sorted(Path(directory).glob("*.yaml")))}


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Contract]:
    out = {c.feed: c for c in (load_file(p) for p in sorted(contract_dir().glob("*.yaml")))}
    missing = [k.code for k in codes.load_code_lists()["feeds"] if k.code not in out]
    if missing:
        raise ContractError("contracts/", "", f"no contract for feed(s) {missing}", f"缺少数据源契约：{missing}")
    return out


def load_contract(feed: str) -> Contract:
    """The shipped contract of ``feed`` (a feed key or its Chinese name, e.g. 医保)."""
    all_ = _shipped()
    if feed in all_:
        return all_[feed]
    hit = codes.lookup("feeds", feed)
    if hit is None or hit.code not in all_:
        raise KeyError(f"unknown feed {feed!r}; known: {', '.join(all_)} / 未知数据源 {feed!r}")
    return all_[hit.code]
