"""The transition table (流程转移表) loaded from ``workflow.yaml`` and checked once at import.

The table is data: a policy officer reads ``workflow.yaml``; this module only validates it (every state,
role, guard and effect named there exists; every transition's roles belong to its level) and answers
``transition(state, action)``. Guards and effects are implemented in :mod:`fangpin.cases.guards`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import yaml

__all__ = ["Role", "StateInfo", "Transition", "Workflow", "workflow", "LEVEL_ORDER"]

LEVEL_ORDER = ("village", "township", "county", "city")  # escalation goes one step right


@dataclass(frozen=True)
class Role:
    code: str
    zh: str
    en: str
    level: str
    region_digits: int | None


@dataclass(frozen=True)
class StateInfo:
    code: str
    zh: str
    en: str
    phase: str
    level: str | None
    terminal: bool


@dataclass(frozen=True)
class Transition:
    from_state: str
    action: str
    to_state: str
    roles: tuple[str, ...]
    level: str
    guards: tuple[str, ...]
    effects: tuple[str, ...]
    comment_required: bool
    policy: str


@dataclass(frozen=True)
class LeadSource:
    code: str
    zh: str
    en: str
    roles: tuple[str, ...]
    policy: str


class WorkflowTableError(Exception):
    """workflow.yaml is inconsistent. 流程转移表有误。"""


class Workflow:
    def __init__(self, raw: dict) -> None:
        self.roles: Mapping[str, Role] = MappingProxyType(
            {k: Role(k, v["zh"], v["en"], v["level"], v.get("region_digits")) for k, v in raw["roles"].items()})
        self.states: Mapping[str, StateInfo] = MappingProxyType(
            {k: StateInfo(k, v["zh"], v["en"], v["phase"], v.get("level"), bool(v.get("terminal", False)))
             for k, v in raw["states"].items()})
        self.actions: Mapping[str, dict] = MappingProxyType(dict(raw["actions"]))
        self.lead_sources: Mapping[str, LeadSource] = MappingProxyType(
            {k: LeadSource(k, v["zh"], v["en"], tuple(v["roles"]), v["policy"]) for k, v in raw["lead_sources"].items()})
        table: dict[tuple[str, str], Transition] = {}
        for i, t in enumerate(raw["transitions"]):
            tr = Transition(t["from"], t["action"], t["to"], tuple(t["roles"]), t["level"], tuple(t.get("guards", ())),
                            tuple(t.get("effects", ())), bool(t.get("comment_required", False)), t["policy"])
            key = (tr.from_state, tr.action)
            if key in table:
                raise WorkflowTableError(f"transitions[{i}]: duplicate {key} / 重复的转移")
            table[key] = tr
        self.table: Mapping[tuple[str, str], Transition] = MappingProxyType(table)
        self.deadlines: Mapping[str, dict] = MappingProxyType(dict(raw.get("deadlines", {})))

    def validate(self, guard_names: set[str], effect_names: set[str]) -> None:
        for (s, a), t in self.table.items():
            where = f"transition {s} --{a}-->"
            for st in (t.from_state, t.to_state):
                if st not in self.states:
                    raise WorkflowTableError(f"{where}: unknown state {st!r} / 未知状态")
            if self.states[t.from_state].terminal:
                raise WorkflowTableError(f"{where}: leaves a terminal state / 终止状态不可再转移")
            if a not in self.actions:
                raise WorkflowTableError(f"{where}: action {a!r} has no name in `actions` / 动作未命名")
            if not t.roles:
                raise WorkflowTableError(f"{where}: no role / 未指定角色")
            for r in t.roles:
                if r not in self.roles:
                    raise WorkflowTableError(f"{where}: unknown role {r!r} / 未知角色")
                rl = self.roles[r].level
                if rl != "admin" and LEVEL_ORDER.index(rl) < LEVEL_ORDER.index(t.level):
                    # a lower office can never take a higher office's step (STYLE.md: no township approval
                    # by a village, no county approval by a township); a higher office may do a lower step
                    # where the table lists it (e.g. POLICY.md §4.1: the township accepts applications).
                    raise WorkflowTableError(f"{where}: role {r!r} is below level {t.level!r} / 角色层级低于该步骤")
            for g in t.guards:
                if g not in guard_names:
                    raise WorkflowTableError(f"{where}: unknown guard {g!r} / 未实现的校验")
            for e in t.effects:
                if e not in effect_names:
                    raise WorkflowTableError(f"{where}: unknown effect {e!r} / 未实现的处理")
            if not t.policy.strip():
                raise WorkflowTableError(f"{where}: no policy citation / 缺少政策依据")
        for k, src in self.lead_sources.items():
            for r in src.roles:
                if r not in self.roles:
                    raise WorkflowTableError(f"lead source {k}: unknown role {r!r}")
        from fangpin.policy import CATALOGUE

        for k, d in self.deadlines.items():
            if "parameter" in d and d["parameter"] not in CATALOGUE:
                raise WorkflowTableError(f"deadline {k}: unknown parameter {d['parameter']!r} / 未登记的参数")
            for st in d.get("states", []):
                if st not in self.states:
                    raise WorkflowTableError(f"deadline {k}: unknown state {st!r}")
            if not d.get("policy"):
                raise WorkflowTableError(f"deadline {k}: no policy citation / 缺少政策依据")
        # every non-terminal state must be reachable and have a way out
        for s, info in self.states.items():
            if not info.terminal and not any(f == s for f, _ in self.table):
                raise WorkflowTableError(f"state {s}: no transition out / 状态无出口")

    def transition(self, state: str, action: str) -> Transition | None:
        return self.table.get((state, action))

    def actions_from(self, state: str) -> list[Transition]:
        return [t for (s, _), t in self.table.items() if s == state]

    def open_states(self) -> list[str]:
        return [s for s, i in self.states.items() if not i.terminal]


@lru_cache(maxsize=1)
def workflow() -> Workflow:
    text = (resources.files("fangpin.cases") / "workflow.yaml").read_text(encoding="utf-8")
    wf = Workflow(yaml.safe_load(text))
    from fangpin.cases.guards import EFFECTS, GUARDS

    wf.validate(set(GUARDS), set(EFFECTS))
    return wf
