"""No PII in logs: a logging filter that masks resident ID numbers and phone numbers in every record.

The filter rewrites the formatted message (``msg % args``) and the exception text of a record, so an ID in an
argument, in an f-string or in a traceback is masked alike. It is installed on the root logger's handlers and on
the root logger itself by :func:`install` (the CLI and the web app call it at start; tests call it in conftest).
Patterns (POLICY.md §5 sensitive data): 18-digit IDs (last digit may be X), 15-digit old IDs, mobile phones
(1[3-9] + 9 digits, also written with spaces/dashes or +86), landlines with an area code.
"""
from __future__ import annotations

import logging
import re

__all__ = ["mask_pii", "contains_pii", "PiiFilter", "install"]

_ID18 = r"(?<![0-9A-Za-z])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9A-Za-z])"
_ID15 = r"(?<![0-9])[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])"
_MOBILE = r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])"
_LANDLINE = r"(?<![0-9])0[1-9][0-9]{1,2}-[0-9]{7,8}(?![0-9])"
_PATTERN = re.compile("|".join(f"(?:{p})" for p in (_ID18, _ID15, _MOBILE, _LANDLINE)))


def _mask(m: re.Match) -> str:
    s = m.group(0)
    digits = [i for i, ch in enumerate(s) if ch.isdigit() or ch in "Xx"]
    keep = set(digits[:3] + digits[-2:]) if len(digits) > 8 else set()
    return "".join(ch if i in keep or not (ch.isdigit() or ch in "Xx") else "*" for i, ch in enumerate(s))


def mask_pii(text: str) -> str:
    """``text`` with every ID number and phone number masked (first 3 and last 2 digits kept)."""
    return _PATTERN.sub(_mask, text)


def contains_pii(text: str) -> bool:
    return _PATTERN.search(text) is not None


def _mask_arg(v):
    if isinstance(v, str):
        return mask_pii(v)
    if isinstance(v, (int, float, bool)) or v is None:
        return mask_pii(str(v)) if contains_pii(str(v)) else v
    t = str(v)
    return mask_pii(t) if contains_pii(t) else v


class PiiFilter(logging.Filter):
    """Masks PII in ``record.msg``/``args`` and in the exception text. A record without PII is left as it is."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: keep the raw message, masked
            msg = str(record.msg)
        masked = mask_pii(msg)
        if masked != msg:
            # keep the record's shape (formatters such as uvicorn's access log unpack ``args``): mask the message
            # template and each argument; if PII still shows (split across arguments), fall back to the masked text
            if record.args:
                tmpl, args = record.msg, record.args
                record.msg = mask_pii(tmpl) if isinstance(tmpl, str) else tmpl
                if isinstance(args, dict):
                    record.args = {k: _mask_arg(v) for k, v in args.items()}
                else:
                    record.args = tuple(_mask_arg(v) for v in args)
                try:
                    ok = not contains_pii(record.getMessage())
                except Exception:
                    ok = False
                if not ok:
                    record.msg, record.args = masked, None
            else:
                record.msg = masked
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        return True


_FILTER = PiiFilter()
_INSTALLED = False


def install() -> None:
    """Mask PII in EVERY log record of the process, whatever logger or handler (idempotent).

    The record factory is wrapped, so the masking happens when a record is created - before any handler (files,
    console, pytest's caplog, uvicorn's) can see it."""
    global _INSTALLED
    if _INSTALLED:
        return
    old = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        rec = old(*args, **kwargs)
        _FILTER.filter(rec)
        return rec

    logging.setLogRecordFactory(factory)
    _INSTALLED = True
