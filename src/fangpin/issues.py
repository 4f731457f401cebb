"""Bilingual issues shared by all importers and validators.

An :class:`Issue` is a machine-readable ``code`` plus a Chinese and an English message. Importers report
rejected rows and soft warnings with issues (FEEDS.md: "reject with a clear per-row reason").
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Issue", "issue", "FangpinValueError"]


@dataclass(frozen=True)
class Issue:
    """One problem found in input data: stable ``code``, Chinese ``zh`` and English ``en`` message."""

    code: str
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


def issue(code: str, zh: str, en: str) -> Issue:
    """Build an :class:`Issue`."""
    return Issue(code, zh, en)


class FangpinValueError(ValueError):
    """A ``ValueError`` that carries the :class:`Issue` explaining it; ``str()`` is ``"zh / en"``."""

    def __init__(self, issue: Issue):
        super().__init__(f"{issue.zh} / {issue.en}")
        self.issue = issue

    @property
    def code(self) -> str:
        return self.issue.code
