"""Bilingual refusals of the programme services (they answer 422 in the web API like case refusals)."""
from __future__ import annotations

from fangpin.cases.errors import CaseError
from fangpin.issues import Issue


class ProgrammeError(CaseError):
    pass


def refuse(code: str, zh: str, en: str, **details) -> ProgrammeError:
    return ProgrammeError(Issue(code, zh, en), details)
