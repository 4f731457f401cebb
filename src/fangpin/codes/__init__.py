"""Code lists as data (代码表): risk types, household types, GB/T member codes, department feeds …

Each list is one YAML file in this package (``fangpin/codes/<list>.yaml``)::

    list: sex
    name_zh: 性别
    name_en: Sex
    source: "GB/T 2261.1-2003 [V]"
    fields:                       # optional extra attributes of entries, declared once per list
      has_labour: {type: bool, required: true}
    entries:
      - {code: "1", zh: 男, en: Male, aliases: [男性, M], source: "GB/T 2261.1-2003 [V]"}

Matching (``CodeList.lookup`` / :func:`lookup`) accepts the code, the Chinese name, the English name or
any alias, ignoring whitespace (incl. full-width spaces), full-width/half-width forms (NFKC) and letter case.
In lists whose codes are all digits of one width, a shorter number is left-padded ("1" → "01"), because
spreadsheets drop leading zeros.

Extra attribute types: ``bool``, ``int``, ``str``, ``str_list``; ``allowed`` restricts values; ``refers_to``
names another list whose codes (for ``str``/``str_list``) or list name (``refers_to: "@list"``) are valid.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Code",
    "CodeList",
    "CodeListError",
    "UnknownCodeError",
    "load_code_lists",
    "lookup",
    "normalise",
]


class CodeListError(Exception):
    """A code-list file is invalid: ``<file>: <key path>: <reason> / <原因>``. 代码表文件无效。"""

    def __init__(self, file: str, key_path: str, reason_en: str, reason_zh: str) -> None:
        self.file, self.key_path, self.reason_en, self.reason_zh = file, key_path, reason_en, reason_zh
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {reason_en} / {reason_zh}")


class UnknownCodeError(LookupError):
    """A value does not match any entry of a code list. 值不在代码表中。"""


def normalise(value: Any) -> str:
    """Matching key: NFKC (full-width → half-width), all whitespace removed, case-folded."""
    s = unicodedata.normalize("NFKC", str(value))
    return "".join(s.split()).casefold()


class _FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["bool", "int", "str", "str_list"]
    required: bool = False
    allowed: list[str] | None = None
    refers_to: str | None = None  # list name whose codes are valid, or "@list" for a list name


class Code(BaseModel):
    """One entry of a code list. List-specific attributes (declared in the file's ``fields``) are
    attributes too, e.g. ``code.has_labour`` or ``code.group``; ``code.extra`` holds them as a mapping."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    code: str = Field(min_length=1)
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=1)

    @property
    def extra(self) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.__pydantic_extra__ or {}))

    def __str__(self) -> str:
        return f"{self.code} {self.zh}"


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    list_name: str = Field(min_length=1, alias="list")
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    source: str = Field(min_length=1)
    note: str | None = None
    fields: dict[str, _FieldSpec] = {}
    entries: list[dict[str, Any]] = Field(min_length=1)


class CodeList:
    """An ordered, immutable code list with lookup by code and by any name.

    ``by_code``: exact code → :class:`Code`. ``by_name``: normalised code / zh / en / alias → :class:`Code`.
    """

    def __init__(self, name: str, name_zh: str, name_en: str, source: str, entries: tuple[Code, ...],
                 fields: Mapping[str, Any], source_file: str, note: str | None = None) -> None:
        self.name, self.name_zh, self.name_en, self.source = name, name_zh, name_en, source
        self.note = note
        self.entries = entries
        self.fields = MappingProxyType(dict(fields))
        self.source_file = source_file
        self.by_code: Mapping[str, Code] = MappingProxyType({c.code: c for c in entries})
        names: dict[str, Code] = {}
        for c in entries:
            for key in (c.code, c.zh, c.en, *c.aliases):
                k = normalise(key)
                if k in names and names[k] is not c:
                    raise CodeListError(
                        source_file, f"entries[{entries.index(c)}]",
                        f"name {key!r} of code {c.code!r} already used by code {names[k].code!r}",
                        f"名称 {key!r}(代码 {c.code!r})已被代码 {names[k].code!r} 使用",
                    )
                names[k] = c
        self.by_name: Mapping[str, Code] = MappingProxyType(names)
        widths = {len(c.code) for c in entries}
        self._pad = widths.pop() if len(widths) == 1 and all(c.code.isdigit() for c in entries) else 0

    def lookup(self, value: Any) -> Code | None:
        """The entry matching ``value`` (code, Chinese/English name or alias), or ``None``."""
        if value is None or isinstance(value, bool):
            return None
        key = normalise(value)
        if not key:
            return None
        hit = self.by_name.get(key)
        if hit is None and self._pad and key.isdigit() and len(key) < self._pad:
            hit = self.by_name.get(key.zfill(self._pad))
        return hit

    def require(self, value: Any) -> Code:
        """Like :meth:`lookup` but raises :class:`UnknownCodeError` (bilingual) when nothing matches."""
        hit = self.lookup(value)
        if hit is None:
            raise UnknownCodeError(
                f"{value!r} is not in code list {self.name!r} / {value!r} 不在代码表“{self.name_zh}”中"
            )
        return hit

    def __iter__(self) -> Iterator[Code]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, value: Any) -> bool:
        return self.lookup(value) is not None

    def __repr__(self) -> str:
        return f"CodeList({self.name!r}, {len(self)} entries)"


def _package_dir() -> Path:
    return Path(str(resources.files("fangpin.codes")))


def _load_file(path: Path) -> tuple[_FileModel, list[Code]]:
    name = path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise CodeListError(name, "", f"cannot read YAML: {e}", f"无法读取 YAML:{e}") from e
    if not isinstance(raw, dict):
        raise CodeListError(name, "", "top level must be a mapping", "顶层必须为映射(键: 值)")
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise CodeListError(name, _loc(err["loc"]), _msg(err), _zh(err)) from None
    if model.list_name != path.stem:
        raise CodeListError(name, "list", f"list name must equal the file name {path.stem!r}",
                            f"list 名称应与文件名 {path.stem!r} 一致")
    codes: list[Code] = []
    seen: set[str] = set()
    for i, entry in enumerate(model.entries):
        where = f"entries[{i}]"
        if isinstance(entry.get("code"), int) and not isinstance(entry.get("code"), bool):
            raise CodeListError(name, f"{where}.code", "code must be quoted text (e.g. \"01\")",
                                "代码须为带引号的文本(如 \"01\")")
        if "aliases" in entry and isinstance(entry["aliases"], list):
            entry = {**entry, "aliases": tuple(entry["aliases"])}
        unknown = set(entry) - {"code", "zh", "en", "aliases", "source"} - set(model.fields)
        if unknown:
            key = sorted(unknown)[0]
            raise CodeListError(name, f"{where}.{key}", "unknown key (declare it under fields)",
                                "未声明的键(须在 fields 中声明)")
        for fname, spec in model.fields.items():
            if fname not in entry:
                if spec.required:
                    raise CodeListError(name, f"{where}.{fname}", "required field missing", "缺少必填字段")
                continue
            _check_field(name, f"{where}.{fname}", spec, entry[fname])
            if spec.type == "str_list":  # immutable: entries are shared by every caller
                entry = {**entry, fname: tuple(entry[fname])}
        try:
            code = Code.model_validate(entry)
        except ValidationError as e:
            err = e.errors()[0]
            raise CodeListError(name, f"{where}.{_loc(err['loc'])}", _msg(err), _zh(err)) from None
        if code.code in seen:
            raise CodeListError(name, f"{where}.code", f"duplicate code {code.code!r}", f"代码 {code.code!r} 重复")
        seen.add(code.code)
        codes.append(code)
    return model, codes


def _check_field(file: str, key: str, spec: _FieldSpec, v: Any) -> None:
    ok = {
        "bool": isinstance(v, bool),
        "int": isinstance(v, int) and not isinstance(v, bool),
        "str": isinstance(v, str),
        "str_list": isinstance(v, list) and all(isinstance(x, str) for x in v),
    }[spec.type]
    if not ok:
        raise CodeListError(file, key, f"must be of type {spec.type}, got {v!r}", f"类型应为 {spec.type},实际为 {v!r}")
    if spec.allowed is not None:
        for x in v if isinstance(v, list) else [v]:
            if str(x) not in spec.allowed:
                raise CodeListError(file, key, f"{x!r} not in allowed values {spec.allowed}",
                                    f"{x!r} 不在允许值 {spec.allowed} 中")


_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的未知键",
    "string_type": "应为字符串",
    "bool_type": "应为 true 或 false",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "dict_type": "应为映射(键: 值)",
    "too_short": "不能为空",
    "string_too_short": "不能为空",
    "literal_error": "取值不在允许范围内",
}


def _msg(err: Any) -> str:
    return "unknown key" if err["type"] == "extra_forbidden" else err["msg"]


def _zh(err: Any) -> str:
    return _ZH.get(err["type"], "格式错误")


def _loc(loc: Any) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _load_dir(directory: Path) -> dict[str, CodeList]:
    lists: dict[str, CodeList] = {}
    models: dict[str, _FileModel] = {}
    for path in sorted(directory.glob("*.yaml")):
        model, codes = _load_file(path)
        lists[model.list_name] = CodeList(model.list_name, model.name_zh, model.name_en, model.source, tuple(codes),
                                     {k: v.model_dump() for k, v in model.fields.items()}, path.name, model.note)
        models[model.list_name] = model
    # Cross-list references (e.g. risk type evidence → feed keys; subtypes → a list name).
    for lname, model in models.items():
        for fname, spec in model.fields.items():
            if spec.refers_to is None:
                continue
            for i, c in enumerate(lists[lname].entries):
                v = c.extra.get(fname)
                if v is None:
                    continue
                for x in v if isinstance(v, tuple) else [v]:
                    if spec.refers_to == "@list":
                        valid = x in lists
                    else:
                        target = lists.get(spec.refers_to)
                        valid = target is not None and x in target.by_code
                    if not valid:
                        raise CodeListError(
                            lists[lname].source_file, f"entries[{i}].{fname}",
                            f"{x!r} does not refer to an existing {spec.refers_to!r} entry",
                            f"{x!r} 未对应 {spec.refers_to!r} 中的条目",
                        )
    return lists


@lru_cache(maxsize=1)
def _shipped() -> Mapping[str, CodeList]:
    return MappingProxyType(_load_dir(_package_dir()))


def load_code_lists(directory: Path | None = None) -> dict[str, CodeList]:
    """All code lists, keyed by list name. Shipped lists are loaded once and cached;
    ``directory`` loads another set of files instead (tests, a local extension)."""
    if directory is None:
        return dict(_shipped())
    return _load_dir(Path(directory))


def lookup(list_name: str, value: Any) -> Code | None:
    """Entry of shipped list ``list_name`` matching ``value`` (code, zh, en, alias), or ``None``.

    Raises ``KeyError`` for an unknown list name.
    """
    lists = _shipped()
    if list_name not in lists:
        raise KeyError(f"unknown code list {list_name!r} / 无代码表 {list_name!r}")
    return lists[list_name].lookup(value)
