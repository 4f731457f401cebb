"""Spreadsheet cell neutralisation (CSV / formula injection, OWASP "CSV Injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, WPS and
LibreOffice as a formula (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``, ``@SUM(...)``). Department files and
self-applications carry free text typed by people we do not control (names, descriptions, addresses), so EVERY
spreadsheet or CSV the platform writes passes each cell through :func:`safe_cell`: such text is prefixed with an
apostrophe, which spreadsheet programs show as literal text. Numbers (int/float/Decimal) are data, not text, and
are left alone — a negative amount stays a number.

:func:`formula_cells` is the inverse check used by the tests: it lists cells of a written file that a spreadsheet
would still evaluate.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable

__all__ = ["DANGEROUS_PREFIXES", "safe_cell", "safe_row", "is_dangerous"]

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# full-width ＝ ＋ － ＠ too: some spreadsheet programs normalise them to ASCII on input.


def is_dangerous(text: str) -> bool:
    """True when ``text`` would be taken as a formula by a spreadsheet program."""
    return bool(text) and text.lstrip(" ").startswith(DANGEROUS_PREFIXES)


def safe_cell(value: Any) -> Any:
    """The value to write into a spreadsheet cell: text that could start a formula gets a leading apostrophe;
    None → ""; numbers, booleans and dates unchanged (typed cells are never evaluated)."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal, date, datetime)):
        return value
    text = str(value)
    if is_dangerous(text):
        return "'" + text
    return text


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]
