"""Bilingual refusals of the case service (Chinese + English, stable codes used by tests and YAML cases)."""
from __future__ import annotations

from typing import Any

from fangpin.issues import FangpinValueError, Issue

__all__ = ["CaseError", "CaseConflict", "refuse"]


class CaseError(FangpinValueError):
    """A refused case operation. ``code`` is stable (e.g. ``CASE_STEP_NOT_ALLOWED``); ``details`` is data for
    the UI (failing checklist items, allowed actions …)."""

    def __init__(self, issue: Issue, details: dict[str, Any] | None = None):
        super().__init__(issue)
        self.details = details or {}


class CaseConflict(CaseError):
    """Someone else changed the case (or the plan) first: reload and decide again. Nothing was written."""


def refuse(code: str, zh: str, en: str, **details: Any) -> CaseError:
    return CaseError(Issue(code, zh, en), details)


def conflict(kind: str, ident: int, expected: int | None, current: int | None) -> CaseConflict:
    return CaseConflict(Issue(
        "CASE_CONFLICT",
        f"{kind}(编号 {ident})已被他人修改(您看到的是第 {expected} 版,当前为第 {current} 版),本次操作未保存;请刷新后重新办理。",
        f"{kind} {ident} was changed by someone else (you saw version {expected}, it is now version {current}); "
        "nothing was saved — reload and act again.",
    ), {"expected_version": expected, "current_version": current})
