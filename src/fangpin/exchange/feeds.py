"""Department feed import (FEEDS.md §B, POLICY.md §6): contract → normalise → link → one batch, one transaction.

``import_feed(engine, feed, path)`` reads one delivered file (CSV UTF-8/GB18030 or xlsx) with the feed's contract
(``exchange/contracts/<feed>.yaml``):

* **File level** — unreadable, not a table, missing required column, duplicated column: the file is rejected,
  nothing is written and the report says why (FEEDS.md: "a missing required column rejects the file").
* **Row level** — every FEEDS.md mess is normalised (IDs with x / full-width / spaces / 15 digits, four date
  styles and Excel serials, amounts with separators and 元, names with spaces and middle dots) or the row is
  rejected with row number, column, value (masked if sensitive) and a reason in Chinese and English. An ID that was
  stored as a number and lost digits (4.10102E+17) rejects the row; it is never guessed (FEEDS.md). An exact
  repeat of an earlier row of the batch is rejected as ``duplicate_in_batch`` naming the first row.
* **Unknown code values** follow the column's ``on_unknown``: ``reject`` the row, or ``warn`` = the raw value is kept
  and counted as *drift* for feed health (``fangpin feeds status``).
* **Linkage** — a valid ID links exactly (15 → 18 digits; a 20-digit disability certificate via its first 18) to the
  registry person with that ID; household-head feeds (housing, disaster) link to the head's household; rows without
  an ID go to the probabilistic linker (``fangpin.linkage.link``): ``auto`` → linked, ``review`` → a pending
  ``link_review``, ``unmatched`` → accepted unlinked. A valid ID that is not in the registry is **accepted as
  unmatched** (department data about a person we do not register: kept and reported, never rejected). The water
  feed is village level: ``link_method = village`` and its households are resolved at read time
  (:func:`village_record_households`) because households move, split and are created after the delivery.
* **Batch** — accepted rows are written in one transaction with their ``import_batch`` (kind ``feed:<key>``).
  The file's sha256 makes a re-import a no-op. The raw file is kept, AES-GCM encrypted, in the landing zone
  ``<data home>/landing/<feed>/<sha256><ext>.enc`` (``FANGPIN_LANDING_DIR`` overrides) and listed in
  ``manifest.jsonl`` there, so :func:`replay` can rebuild every batch in a fresh database in the original order.

Sensitive values (ID numbers, certificates, addresses, phones) are stored in ``feed_record.payload`` but only ever
shown masked in reports and logs.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, and_, func, select, text, update
from sqlalchemy.engine import Connection

from fangpin import codes, ids
from fangpin.config import data_home
from fangpin.db import bulk_insert, next_id, reset_sequence, upgrade
from fangpin.exchange.contracts import ColumnContract, Contract, load_contract
from fangpin.exchange.models import FeedRecord, LinkReview, PersonAudit
from fangpin.exchange.tabular import FileRejected, read_table
from fangpin.exchange.values import (
    is_blank,
    parse_amount,
    parse_date,
    parse_int,
    parse_text,
    parse_yes_no,
)
from fangpin.issues import FangpinValueError, Issue, issue
from fangpin.registry.models import HouseholdVersion, ImportBatch, MemberVersion, Person
from fangpin.registry.service import (current_households, household_regions, member_households,
                                      regions_with_active_households)
from fangpin.security.crypto import PURPOSE_ID, blind, blind_all, decrypt, encrypt, keyring
from fangpin.security.fields import (P_PERSON_ID, SEALED_SUFFIX, is_sealed, open_file, open_payload, seal_file,
                                     seal_payload, sensitive_keys)
from fangpin.textnorm import clean_name

__all__ = [
    "FeedReport", "RowIssue", "import_feed", "replay", "landing_root", "list_reviews", "decide_review",
    "labelled_pairs", "merge_persons", "split_person", "resolve_person", "village_record_households",
    "PAUSE_ENV",
]

# Fault-injection hook for the crash-safety test: when set to a file path, the importer writes that file and
# sleeps inside the open transaction (after every row is written, before COMMIT). Never set it in production.
PAUSE_ENV = "FANGPIN_FEEDS_TEST_PAUSE_IN_TX"
_LOCK_KEY = 0x66656564  # pg_advisory_xact_lock key serialising feed batches ("feed")
_MAX_STORED_ISSUES = 2000
_UPGRADED: "weakref.WeakSet[Engine]" = weakref.WeakSet()


# ---------------------------------------------------------------------------------------------------------------
# Report


@dataclass
class RowIssue:
    row: int
    column: str
    value: str
    code: str
    reason_zh: str
    reason_en: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "code": self.code,
                "reason": f"{self.reason_zh} / {self.reason_en}", "reason_zh": self.reason_zh,
                "reason_en": self.reason_en}


@dataclass
class FeedReport:
    feed: str
    file: str = ""
    status: str = "pending"  # committed | unchanged | rejected
    batch_id: int | None = None
    sha256: str = ""
    contract_version: int | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    linked_exact: int = 0
    linked_probabilistic: int = 0
    linked_village: int = 0
    to_review: int = 0
    unmatched: int = 0
    errors: list[RowIssue] = field(default_factory=list)
    warnings: list[RowIssue] = field(default_factory=list)
    unmatched_rows: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)
    drift: dict[str, dict] = field(default_factory=dict)
    landing: str | None = None
    linker: str | None = None
    seconds: float = 0.0
    message_zh: str = ""
    message_en: str = ""

    def as_dict(self) -> dict:
        return {
            "feed": self.feed, "file": self.file, "status": self.status, "batch_id": self.batch_id,
            "sha256": self.sha256, "contract_version": self.contract_version,
            "rows": self.rows, "accepted": self.accepted, "rejected": self.rejected,
            "linked_exact": self.linked_exact, "linked_probabilistic": self.linked_probabilistic,
            "linked_village": self.linked_village, "to_review": self.to_review, "unmatched": self.unmatched,
            "errors": [e.as_dict() for e in self.errors], "warnings": [w.as_dict() for w in self.warnings],
            "unmatched_rows": self.unmatched_rows, "skipped": self.skipped, "extra_columns": self.extra_columns,
            "drift": self.drift, "landing": self.landing, "linker": self.linker, "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds > 0 else None,
            "message": f"{self.message_zh} / {self.message_en}",
        }

    def stored(self) -> dict:
        """What goes into ``import_batch.report`` (values already masked; issue lists capped)."""
        d = self.as_dict()
        for k in ("errors", "warnings", "unmatched_rows"):
            d[k] = d[k][:_MAX_STORED_ISSUES]
        return d


def _display(col: ColumnContract | None, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e15:
        s = f"{value:.5E}"  # how Excel shows an ID that went through a number (4.10102E+17)
    elif isinstance(value, (date, datetime)):
        s = value.isoformat()
    else:
        s = str(value)
    if col is not None and col.sensitive:
        return ids.mask_id(s)
    return s[:80]


# ---------------------------------------------------------------------------------------------------------------
# Row parsing


class _Bad(Exception):
    """The row is rejected (issue already recorded)."""


@dataclass
class _Row:
    row: int
    payload: dict[str, Any]
    id_number: str | None = None  # normalised 18-digit ID (from 证件号码 or the certificate)
    village_code: str | None = None
    event_date: date | None = None
    person_id: int | None = None
    household_id: int | None = None
    link_method: str = "unmatched"
    probability: float | None = None
    review: tuple[int, float | None, str] | None = None  # (candidate person, probability, explanation)


MAX_CELL_CHARS = 1000  # no contract column holds more (names, addresses, reasons are far shorter)


class _Parser:
    def __init__(self, contract: Contract, report: FeedReport):
        self.c = contract
        self.report = report
        self.lists = codes.load_code_lists()
        self.choice_maps: dict[str, dict[str, str]] = {}
        for col in contract.columns:
            if col.type == "choice" and col.allowed:
                m: dict[str, str] = {}
                for a in col.allowed:
                    for spelling in (a.value, *a.aliases):
                        m[codes.normalise(spelling)] = a.value
                self.choice_maps[col.key] = m

    def err(self, row: int, col: ColumnContract | None, value: Any, iss: Issue) -> None:
        self.report.errors.append(RowIssue(row, col.name if col else "", _display(col, value), iss.code, iss.zh, iss.en))

    def warn(self, row: int, col: ColumnContract | None, value: Any, iss: Issue) -> None:
        self.report.warnings.append(RowIssue(row, col.name if col else "", _display(col, value), iss.code, iss.zh,
                                             iss.en))

    # one cell ------------------------------------------------------------------------------------------------
    def cell(self, n: int, col: ColumnContract, v: Any) -> Any:
        if isinstance(v, str) and len(v) > MAX_CELL_CHARS:  # a pasted blob: refuse the row before parsing it
            raise FangpinValueError(issue("text.too_long", f"“{col.name}”内容过长（{len(v):,} 个字符），请检查是否误粘贴",
                                          f"'{col.name}' is far too long ({len(v):,} characters); was something "
                                          "pasted into it by mistake?"))
        if is_blank(v):
            if col.empty_is_zero:
                return 0 if col.type == "int" else 0.0
            if col.nullable:
                return None
            raise FangpinValueError(issue("value.empty", f"“{col.name}”没有填写（此列必填）",
                                          f"'{col.name}' is empty (this column must be filled in)"))
        t = col.type
        if t == "text":
            if col.identity == "name":
                s = clean_name(v)
                if not s:
                    raise FangpinValueError(issue("value.empty", "姓名没有填写", "the name is empty"))
                if len(s) > col.max_length:
                    raise FangpinValueError(issue("text.too_long", f"“{col.name}”过长", f"'{col.name}' too long"))
                return s
            return parse_text(v, col.max_length, field_zh=col.name)
        if t == "date":
            return parse_date(v, field_zh=col.name)
        if t in ("amount", "decimal"):
            d = parse_amount(v, empty_is_zero=col.empty_is_zero, field_zh=col.name)
            x = float(d) if isinstance(d, Decimal) else d
            self._range(col, x)
            return x
        if t == "int":
            x = parse_int(v, field_zh=col.name)
            self._range(col, x)
            return x
        if t == "yes_no":
            return parse_yes_no(v, field_zh=col.name)
        if t == "region":
            return _region_code(v, col.name)
        if t == "id":
            return ids.parse_id(ids.normalize_id_text(v))
        if t == "certificate":
            info = ids.parse_id(ids.normalize_id_text(v))
            if info.kind != "disability20":
                raise FangpinValueError(issue(
                    "certificate.bad_length", f"“{col.name}”应为20位（18位身份证号+残疾类别+残疾等级）",
                    f"'{col.name}' must have 20 digits (18-digit ID + category + grade)"))
            return info
        if t == "choice":
            return self._choice(n, col, v)
        raise AssertionError(t)  # pragma: no cover - the contract schema forbids other types

    def _range(self, col: ColumnContract, x: float) -> None:
        if (col.min is not None and x < col.min) or (col.max is not None and x > col.max):
            lo = "" if col.min is None else f"≥{col.min:g}"
            hi = "" if col.max is None else f"≤{col.max:g}"
            raise FangpinValueError(issue("value.out_of_range", f"“{col.name}”超出范围（应{lo}{hi}）：{x:g}",
                                          f"'{col.name}' out of range (must be {lo}{hi}): {x:g}"))

    def _choice(self, n: int, col: ColumnContract, v: Any) -> str:
        raw = v
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if col.code_list:
            hit = self.lists[col.code_list].lookup(v)
            if hit is not None:
                return hit.code if col.store == "code" else hit.zh
            allowed = [e.zh for e in self.lists[col.code_list]]
        else:
            canon = self.choice_maps[col.key].get(codes.normalise(v))
            if canon is not None:
                return canon
            allowed = [a.value for a in col.allowed or []]
        shown = "、".join(allowed)
        if col.on_unknown == "reject":
            raise FangpinValueError(issue("code.unknown", f"“{col.name}”的值不在契约允许范围内，可填：{shown}",
                                          f"'{col.name}' is not an allowed value; allowed: {', '.join(allowed)}"))
        s = parse_text(raw, 40, field_zh=col.name)
        self.warn(n, col, s, issue("code.drift", f"“{col.name}”出现契约外的新值，已按原值接收（代码漂移）",
                                   f"'{col.name}' has a value outside the contract; accepted as given (code drift)"))
        d = self.report.drift.setdefault(col.name, {"count": 0, "examples": []})
        d["count"] += 1
        if s not in d["examples"] and len(d["examples"]) < 10:
            d["examples"].append(s)
        return s

    # one row -------------------------------------------------------------------------------------------------
    def row(self, n: int, values: dict[str, Any]) -> _Row | None:
        payload: dict[str, Any] = {}
        infos: dict[str, ids.IdInfo] = {}
        bad = False
        for col in self.c.columns:
            try:
                x = self.cell(n, col, values.get(col.name))
            except FangpinValueError as e:
                self.err(n, col, values.get(col.name), e.issue)
                bad = True
                continue
            if isinstance(x, ids.IdInfo):
                infos[col.key] = x
                for w in x.warnings:
                    self.warn(n, col, x.number, w)
                x = x.number if col.type == "id" else x.number + str(x.disability_category) + str(x.disability_grade)
            payload[col.key] = x
        if bad:
            return None
        r = _Row(n, payload)
        id_col = self.c.by_role("id_number")
        if id_col is not None:
            info = infos.get(id_col.key)
            cert_col = next((c for c in self.c.columns if c.type == "certificate"), None)
            cert = infos.get(cert_col.key) if cert_col else None
            if cert is not None:
                if info is not None and info.number != cert.number:
                    self.err(n, cert_col, payload[cert_col.key], issue(
                        "certificate.id_mismatch", "残疾人证号前18位与证件号码不一致",
                        "the first 18 digits of the disability certificate differ from the ID number"))
                    return None
                for key, attr in (("category", "disability_category"), ("grade", "disability_grade")):
                    col = self.c.column(key)
                    if col is not None and payload.get(key) is not None and str(payload[key]).isdigit() \
                            and int(payload[key]) != getattr(cert, attr):
                        self.err(n, col, payload[key], issue(
                            f"certificate.{key}_mismatch", f"“{col.name}”与残疾人证号第{19 if key == 'category' else 20}位不一致",
                            f"'{col.name}' differs from digit {19 if key == 'category' else 20} of the certificate"))
                        return None
                if info is None:
                    info = cert  # POLICY.md §12: the certificate carries the 18-digit ID
            if info is not None:
                r.id_number = info.number
                sex_col, birth_col = self.c.by_role("sex"), self.c.by_role("birth_date")
                if sex_col and payload.get(sex_col.key) and payload[sex_col.key] != info.sex:
                    self.warn(n, sex_col, payload[sex_col.key], issue(
                        "id_sex_mismatch", "性别与证件号码第17位不符（按证件号码匹配）",
                        "sex does not match the 17th digit of the ID number (linked by the ID)"))
                if birth_col and payload.get(birth_col.key) and payload[birth_col.key] != info.birth_date:
                    self.warn(n, birth_col, payload[birth_col.key], issue(
                        "id_birth_mismatch", "出生日期与证件号码不符（按证件号码匹配）",
                        "birth date does not match the ID number (linked by the ID)"))
        vc = self.c.by_role("village_code")
        r.village_code = payload.get(vc.key) if vc else None
        r.event_date = payload.get(self.c.event_date)
        if self.c.feed == "water" and payload.get("end_date") and payload.get("start_date") \
                and payload["end_date"] < payload["start_date"]:
            col = self.c.column("end_date")
            self.err(n, col, payload["end_date"], issue("date.end_before_start", "结束日期早于开始日期",
                                                         "the end date is before the start date"))
            return None
        return r


def _region_code(v: Any, name: str) -> str:
    s = "".join(ch for ch in parse_text(v, 20, field_zh=name) if not ch.isspace())
    if len(s) != 12 or not s.isdigit():
        raise FangpinValueError(issue("region.bad_code", f"“{name}”应为12位数字（县6位+乡镇3位+村3位）",
                                      f"'{name}' must have 12 digits (county 6 + township 3 + village 3)"))
    return s


def _jsonable(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    return v


# ---------------------------------------------------------------------------------------------------------------
# Linkage


def _linker() -> tuple[Callable[[pa.Table, pa.Table], pa.Table], str]:
    """``fangpin.linkage.link`` when installed; else the deterministic fallback rule (documented in the report)."""
    try:
        from fangpin.linkage import link  # noqa: PLC0415 - lazy: the linkage package is optional at import time
    except ImportError as e:
        # Only "the linkage package (or its link function) is not there yet" falls back; a bug inside the
        # package (an import of something else failing) is raised.
        missing_pkg = isinstance(e, ModuleNotFoundError) and e.name == "fangpin.linkage"
        missing_fn = not isinstance(e, ModuleNotFoundError) and getattr(e, "name", None) == "fangpin.linkage"
        if not (missing_pkg or missing_fn):
            raise
        return fallback_link, "fallback:exact_name_birth_sex_village"
    return link, "fangpin.linkage"


LEFT_SCHEMA = pa.schema([("row_id", pa.int64()), ("name", pa.string()), ("sex", pa.string()),
                         ("birth_date", pa.date32()), ("village_code", pa.string()), ("address", pa.string()),
                         ("phone", pa.string())])


def fallback_link(left: pa.Table, registry: pa.Table) -> pa.Table:
    """Deterministic stand-in for ``fangpin.linkage.link``: exact cleaned name + birth date + sex + village.

    Unique hit → ``auto`` (probability 1.0); several hits, or a unique hit on name + birth + sex in another village
    → ``review`` with the lowest person id as candidate; else ``unmatched``.
    """
    reg = registry.select(["person_id", "name", "sex", "birth_date", "village_code"]).to_pylist()
    full: dict[tuple, list[int]] = {}
    loose: dict[tuple, list[int]] = {}
    for p in reg:
        nm = clean_name(p["name"])
        full.setdefault((nm, p["birth_date"], p["sex"], p["village_code"]), []).append(p["person_id"])
        loose.setdefault((nm, p["birth_date"], p["sex"]), []).append(p["person_id"])
    out = {k: [] for k in ("row_id", "person_id", "probability", "match_weight", "decision", "second_best_gap",
                           "explanation")}
    for r in left.to_pylist():
        nm = clean_name(r["name"])
        hits = sorted(full.get((nm, r["birth_date"], r["sex"], r["village_code"]), []))
        if len(hits) == 1:
            pid, p, dec, why = hits[0], 1.0, "auto", "fallback rule: name+birth+sex+village equal, unique"
        elif hits:
            pid, p, dec, why = hits[0], 0.5, "review", f"fallback rule: {len(hits)} persons share name+birth+sex+village"
        else:
            lh = sorted(loose.get((nm, r["birth_date"], r["sex"]), []))
            if lh:
                pid, p, dec, why = lh[0], 0.5, "review", "fallback rule: name+birth+sex equal, village differs"
            else:
                pid, p, dec, why = None, 0.0, "unmatched", "fallback rule: no person with this name+birth+sex"
        for k, v in (("row_id", r["row_id"]), ("person_id", pid), ("probability", p), ("match_weight", None),
                     ("decision", dec), ("second_best_gap", None), ("explanation", why)):
            out[k].append(v)
    return pa.table(out, schema=pa.schema([("row_id", pa.int64()), ("person_id", pa.int64()),
                                           ("probability", pa.float64()), ("match_weight", pa.float64()),
                                           ("decision", pa.string()), ("second_best_gap", pa.float64()),
                                           ("explanation", pa.string())]))


def _chunks(xs: list, n: int = 500):
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


def _merge_redirects(conn: Connection) -> dict[int, int]:
    """{dropped person: kept person} from merges (transitive), so links always use the surviving person id."""
    pa_ = PersonAudit.__table__
    m = dict(conn.execute(select(pa_.c.other_person_id, pa_.c.person_id).where(pa_.c.action == "merge")
                          .order_by(pa_.c.id)).all())
    out = {}
    for k in m:
        seen, v = {k}, m[k]
        while v in m and m[v] not in seen:
            seen.add(v)
            v = m[v]
        out[k] = v
    return out


def _households_of(conn: Connection, person_ids: list[int]) -> dict[int, int]:
    """Latest known household per person, active or not (registry.service's definition of "latest"), looked up
    by key: the cost follows the batch, not the registry (issue 8)."""
    return member_households(conn, person_ids)


def _villages_of(conn: Connection, household_ids: list[int]) -> dict[int, str]:
    """Region code of each household's latest version, looked up by key."""
    return household_regions(conn, household_ids)


def _model_with_feedback(conn: Connection, left: pa.Table, registry: pa.Table):
    """Officers' review decisions feed back into training (issue 3 §3): the decided rows join this batch's rows
    for EM, with their accept/reject as labelled pairs. None when nobody has decided anything yet."""
    pairs = labelled_pairs(conn)
    pairs = pairs.filter(pc.is_valid(pairs["person_id"])) if pairs.num_rows else pairs
    if pairs.num_rows == 0:
        return None
    from fangpin.linkage import train

    offset = int(pc.max(left["row_id"]).as_py() or 0) + 1 if left.num_rows else 1
    ids = pa.array(range(offset, offset + pairs.num_rows), pa.int64())
    extra = pa.table({n: (ids if n == "row_id" else pairs[n].cast(left.schema.field(n).type))
                      for n in left.schema.names}, schema=left.schema)
    labelled = pa.table({"row_id": ids, "person_id": pairs["person_id"].cast(pa.int64()),
                         "is_match": pc.equal(pairs["label"], 1)})
    return train(pa.concat_tables([left, extra]), registry, labelled_pairs=labelled)


def _link(conn: Connection, c: Contract, rows: list[_Row], report: FeedReport) -> None:
    if c.identity == "village":
        have = regions_with_active_households(conn, {r.village_code for r in rows if r.village_code})
        for r in rows:
            if r.village_code in have:
                r.link_method = "village"
            else:
                r.link_method = "unmatched"
                report.unmatched_rows.append({"row": r.row, "code": "village_not_in_registry",
                                              "reason": "该村代码在系统中没有登记的农户 / no registered household in this village"})
        return
    redirects = _merge_redirects(conn)
    with_id = [r for r in rows if r.id_number]
    pid_of: dict[str, int] = {}
    kr = keyring()
    for part in _chunks(sorted({r.id_number for r in with_id})):
        back = kr.blind_map(part, PURPOSE_ID)  # blind index under every known key (rotation in progress)
        for bidx, pid in conn.execute(select(Person.id_number_bidx, Person.id)
                                      .where(Person.id_number_bidx.in_(list(back)))).all():
            pid_of[back[bidx]] = pid
    exact_method = "household_head" if c.identity == "household_head" else "exact"
    for r in with_id:
        pid = pid_of.get(r.id_number)
        if pid is None:
            r.link_method = "unmatched"
            report.unmatched_rows.append({"row": r.row, "code": "not_in_registry",
                                          "reason": "证件号码有效，但此人不在本系统登记范围内（已接收，未关联） / valid ID, "
                                                    "but the person is not in the registry (accepted, unlinked)"})
            continue
        r.person_id = redirects.get(pid, pid)
        r.link_method = exact_method
        r.probability = 1.0
    no_id = [r for r in rows if not r.id_number]
    if no_id:
        from fangpin.registry.snapshot import persons

        link, name = _linker()
        report.linker = name
        left = pa.table({
            "row_id": pa.array([r.row for r in no_id], pa.int64()),
            "name": [r.payload.get(_key(c, "name")) for r in no_id],
            "sex": [r.payload.get(_key(c, "sex")) for r in no_id],
            "birth_date": pa.array([r.payload.get(_key(c, "birth_date")) for r in no_id], pa.date32()),
            "village_code": [r.payload.get(_key(c, "village_code")) for r in no_id],
            "address": [r.payload.get(_key(c, "address")) for r in no_id],
            "phone": [r.payload.get(_key(c, "phone")) for r in no_id],
        }, schema=LEFT_SCHEMA)
        registry = persons(conn, reveal=("phone",))  # the linker compares phones, never ID numbers
        # nothing to match against (empty registry): every row is unmatched, the linker is not asked
        model = _model_with_feedback(conn, left, registry) if registry.num_rows and name == "fangpin.linkage" else None
        res = (link(left, registry, model=model) if model is not None else link(left, registry)).to_pylist() \
            if registry.num_rows else []
        by_row = {int(x["row_id"]): x for x in res}
        for r in no_id:
            x = by_row.get(r.row)
            dec = x["decision"] if x else "unmatched"
            pid = x.get("person_id") if x else None
            prob = float(x["probability"]) if x and x.get("probability") is not None else None
            why = x.get("explanation") if x else None
            if why is not None and not isinstance(why, str):
                why = json.dumps(why, ensure_ascii=False, default=str)
            if dec == "auto" and pid is not None:
                r.person_id, r.link_method, r.probability = redirects.get(int(pid), int(pid)), "probabilistic", prob
            elif dec == "review" and pid is not None:
                r.link_method, r.probability = "review", prob
                r.review = (redirects.get(int(pid), int(pid)), prob, why or "")
            else:
                r.link_method, r.probability = "unmatched", prob
                report.unmatched_rows.append({"row": r.row, "code": "no_match",
                                              "reason": "没有证件号码，按姓名等信息也未找到对应人员（已接收，未关联） / no ID "
                                                        "and no registry person matches the other identity columns "
                                                        "(accepted, unlinked)"})
    linked = [r for r in rows if r.person_id is not None]
    hh = _households_of(conn, [r.person_id for r in linked])
    for r in linked:
        r.household_id = hh.get(r.person_id)
    vill = _villages_of(conn, [r.household_id for r in rows if r.household_id is not None and not r.village_code])
    for r in rows:
        if not r.village_code and r.household_id is not None:
            r.village_code = vill.get(r.household_id)


def _key(c: Contract, role: str) -> str:
    col = c.by_role(role)
    return col.key if col else f"__no_{role}"


# ---------------------------------------------------------------------------------------------------------------
# Landing zone


def landing_root() -> Path:
    """``FANGPIN_LANDING_DIR`` or ``<data home>/landing``: raw delivered files, content-addressed."""
    env = os.environ.get("FANGPIN_LANDING_DIR")
    p = Path(env) if env else data_home() / "landing"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _land(root: Path, feed: str, sha: str, ext: str, blob: bytes) -> Path:
    """Keep the delivered file, encrypted (``.enc``: the raw file holds IDs and phones; docs/SECURITY.md)."""
    rel = Path(feed) / f"{sha}{ext}{SEALED_SUFFIX}"
    dest = root / rel
    if not dest.exists() and not (root / feed / f"{sha}{ext}").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(seal_file(blob, sha))
        os.replace(tmp, dest)  # atomic: a landed file is always complete
    elif not dest.exists():
        rel = Path(feed) / f"{sha}{ext}"  # landed before files were sealed: kept as it is
    return rel


def _manifest_lines(root: Path) -> list[dict]:
    """The manifest's entries; a line torn by a crash mid-write is skipped (its batch is re-listed on re-import)."""
    mf = root / "manifest.jsonl"
    out = []
    for line in (mf.read_text(encoding="utf-8").splitlines() if mf.exists() else []):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _manifest_append(root: Path, entry: dict) -> None:
    mf = root / "manifest.jsonl"
    with open(mf, "a+b") as f:
        f.seek(0, os.SEEK_END)
        lead = b""
        if f.tell() > 0:  # a crash mid-line left no newline: start on a fresh line so this entry stays whole
            f.seek(-1, os.SEEK_END)
            lead = b"" if f.read(1) == b"\n" else b"\n"
        f.write(lead + (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _manifest_heal(root: Path, conn: Connection, batch_id: int, feed: str, sha: str) -> None:
    """A crash between the batch's commit and its manifest line leaves the batch out of the manifest; re-importing
    the same file (answered "unchanged") writes the missing line, so replay stays complete."""
    if any(e.get("feed") == feed and e.get("sha256") == sha for e in _manifest_lines(root)):
        return
    b = conn.execute(select(ImportBatch.valid_from, ImportBatch.started_at, ImportBatch.files)
                     .where(ImportBatch.id == batch_id)).first()
    if b is None or not b.files:
        return
    f = b.files[0]
    _manifest_append(root, {"feed": feed, "sha256": sha, "file": f["landing"], "name": f["name"],
                            "as_of": b.valid_from.isoformat(), "recorded_at": b.started_at.isoformat(),
                            "contract_version": f.get("contract_version")})


# ---------------------------------------------------------------------------------------------------------------
# Import


def import_feed(engine: Engine, feed: str, path: Path | str, *, filename: str | None = None,
                as_of: date | None = None, recorded_at: datetime | None = None,
                contract: Contract | None = None, landing_dir: Path | None = None,
                progress: Callable[[float, str], None] | None = None) -> FeedReport:
    """Import one department file for ``feed`` (FEEDS.md §B) as one batch; see the module docstring.

    ``progress(fraction, stage)`` (optional) is told how far the import is: stages read, validate, link, write."""
    t0 = time.perf_counter()
    tick = progress or (lambda f, s: None)
    tick(0.0, "read")
    if engine not in _UPGRADED:  # one schema check per engine and process (a replay imports hundreds of files)
        upgrade(engine)
        _UPGRADED.add(engine)
    c = contract or load_contract(feed)
    path = Path(path)
    report = FeedReport(feed=c.feed, file=filename or path.name, contract_version=c.version)
    try:
        blob = path.read_bytes()
    except OSError as e:
        return _file_rejected(report, issue("file.unreadable", f"无法打开文件：{path.name}", f"cannot open file {path.name}: "
                                            f"{e.strerror}"), t0)
    if is_sealed(blob):  # a landed copy (replay)
        blob = open_file(blob)
        if path.suffix == SEALED_SUFFIX:
            path = path.with_suffix("")
    sha = hashlib.sha256(blob).hexdigest()
    report.sha256 = sha
    with engine.connect() as conn:
        done = conn.execute(select(ImportBatch.id).where(ImportBatch.kind == c.kind,
                                                         ImportBatch.content_sha256 == sha)).scalar()
        if done is not None:
            _manifest_heal(Path(landing_dir) if landing_dir else landing_root(), conn, done, c.feed, sha)
    if done is not None:
        return _unchanged(report, done, t0)
    try:
        table = read_table(blob, columns=c.column_specs(), filename=report.file)
    except FileRejected as e:
        return _file_rejected(report, e.issue, t0)
    report.skipped = [{"row": r, "reason": why} for r, why in table.skipped]
    report.extra_columns = list(table.extra_columns)
    report.rows = len(table.rows)
    tick(0.1, "validate")

    parser = _Parser(c, report)
    rows: list[_Row] = []
    first_seen: dict[str, int] = {}
    same_person: dict[str, int] = {}
    n_rows = max(len(table.rows), 1)
    for k, src in enumerate(table.rows):
        if k % 2000 == 0:
            tick(0.1 + 0.4 * k / n_rows, "validate")
        r = parser.row(src.row_number, src.values)
        if r is None:
            continue
        key = json.dumps(r.payload, sort_keys=True, default=str, ensure_ascii=False)
        if key in first_seen:
            parser.err(r.row, None, "", issue(
                "duplicate_in_batch", f"与第 {first_seen[key]} 行完全相同（同一人、同样内容），重复行不导入",
                f"exact repeat of row {first_seen[key]} (same person, same content); the repeat is not imported"))
            continue
        first_seen[key] = r.row
        if r.id_number:
            if r.id_number in same_person and c.identity == "person":
                parser.warn(r.row, c.by_role("id_number"), r.id_number, issue(
                    "same_person_twice", f"同一人在本批中出现多次（首次在第 {same_person[r.id_number]} 行），内容不同，均已接收",
                    f"the same person appears again (first in row {same_person[r.id_number]}) with different "
                    "content; both rows accepted"))
            same_person.setdefault(r.id_number, r.row)
        rows.append(r)
    report.rejected = len({e.row for e in report.errors})
    report.accepted = len(rows)

    tick(0.5, "link")
    with engine.connect() as conn:
        _link(conn, c, rows, report)
    for r in rows:
        if r.link_method in ("exact", "household_head"):
            report.linked_exact += 1
        elif r.link_method == "probabilistic":
            report.linked_probabilistic += 1
        elif r.link_method == "review":
            report.to_review += 1
        elif r.link_method == "village":
            report.linked_village += 1
        else:
            report.unmatched += 1

    root = Path(landing_dir) if landing_dir else landing_root()
    ext = path.suffix.lower() or (".xlsx" if table.format == "xlsx" else ".csv")
    rel = _land(root, c.feed, sha, ext, blob)
    report.landing = str(rel)
    recorded_at = recorded_at or datetime.now().replace(microsecond=0)
    as_of = as_of or date.today()
    tick(0.8, "write")
    committed = _write(engine, c, report, rows, sha, rel, as_of, recorded_at, t0)
    if not committed:
        return report
    _manifest_append(root, {"feed": c.feed, "sha256": sha, "file": str(rel), "name": report.file,
                            "as_of": as_of.isoformat(), "recorded_at": recorded_at.isoformat(),
                            "contract_version": c.version})
    return report


def _write(engine: Engine, c: Contract, report: FeedReport, rows: list[_Row], sha: str, rel: Path, as_of: date,
           recorded_at: datetime, t0: float) -> bool:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        done = conn.execute(select(ImportBatch.id).where(ImportBatch.kind == c.kind,
                                                         ImportBatch.content_sha256 == sha)).scalar()
        if done is not None:  # imported meanwhile by another process
            _unchanged(report, done, t0)
            return False
        batch_id = conn.execute(ImportBatch.__table__.insert().returning(ImportBatch.id), {
            "kind": c.kind, "content_sha256": sha, "status": "committed", "valid_from": as_of,
            "files": [{"name": report.file, "landing": str(rel), "sha256": sha, "contract_version": c.version}],
            "started_at": recorded_at, "rows_total": report.rows, "rows_accepted": report.accepted,
            "rows_rejected": report.rejected,
        }).scalar_one()
        first = next_id(conn, FeedRecord.__table__)
        ids_ = {r.row: first + k for k, r in enumerate(rows)}
        cols = ["id", "batch_id", "feed", "row_number", "event_date", "person_id", "household_id", "village_code",
                "link_method", "link_probability", "payload", "recorded_at"]
        secret = sensitive_keys(c)  # IDs, certificates, phones, addresses: sealed (fangpin.security.fields)
        bulk_insert(conn, FeedRecord.__table__, cols, (
            (ids_[r.row], batch_id, c.feed, r.row, r.event_date, r.person_id, r.household_id, r.village_code,
             r.link_method, r.probability,
             json.dumps(seal_payload({k: _jsonable(v) for k, v in r.payload.items()}, secret), ensure_ascii=False,
                        sort_keys=True),
             recorded_at) for r in rows))
        reset_sequence(conn, FeedRecord.__table__)
        reviews = [(ids_[r.row], r.review[0], r.review[1], r.review[2], "pending", recorded_at)
                   for r in rows if r.review]
        if reviews:
            bulk_insert(conn, LinkReview.__table__, ["feed_record_id", "person_id", "probability", "explanation",
                                                     "status", "created_at"], reviews)
        _pause_hook(batch_id)
        report.status = "committed"
        report.batch_id = batch_id
        report.seconds = time.perf_counter() - t0
        _message(report)
        conn.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(
            finished_at=datetime.now().replace(microsecond=0), report=report.stored()))
    report.seconds = time.perf_counter() - t0
    return True


def _pause_hook(batch_id: int) -> None:
    marker = os.environ.get(PAUSE_ENV)
    if not marker:
        return
    Path(marker).write_text(str(batch_id))
    time.sleep(float(os.environ.get(PAUSE_ENV + "_SECONDS", "60")))


def _message(report: FeedReport) -> None:
    report.message_zh = (f"导入成功：{report.rows} 行，接收 {report.accepted} 行，拒收 {report.rejected} 行；"
                         f"按证件号码关联 {report.linked_exact}，按信息匹配 {report.linked_probabilistic}，"
                         f"待人工核对 {report.to_review}，村级 {report.linked_village}，未关联 {report.unmatched}")
    report.message_en = (f"imported {report.rows} rows: {report.accepted} accepted, {report.rejected} rejected; "
                         f"linked by ID {report.linked_exact}, probabilistically {report.linked_probabilistic}, "
                         f"to review {report.to_review}, village level {report.linked_village}, "
                         f"unmatched {report.unmatched}")


def _unchanged(report: FeedReport, batch_id: int, t0: float) -> FeedReport:
    report.status = "unchanged"
    report.batch_id = batch_id
    report.message_zh = "此文件此前已导入，未做任何更改"
    report.message_en = "this file was imported before; nothing changed"
    report.seconds = time.perf_counter() - t0
    return report


def _file_rejected(report: FeedReport, iss: Issue, t0: float) -> FeedReport:
    report.status = "rejected"
    report.errors.append(RowIssue(0, "", "", iss.code, iss.zh, iss.en))
    report.message_zh = f"文件“{report.file}”无法导入，未写入任何数据：{iss.zh}"
    report.message_en = f"file '{report.file}' cannot be imported; nothing was written: {iss.en}"
    report.seconds = time.perf_counter() - t0
    return report


# ---------------------------------------------------------------------------------------------------------------
# Replay


def replay(engine: Engine, *, landing_dir: Path | None = None, source: Engine | None = None,
           progress: Callable[[FeedReport], None] | None = None) -> list[FeedReport]:
    """Re-import every landed batch in original order into ``engine`` (idempotent: imported batches are skipped).

    The order comes from the landing zone's ``manifest.jsonl`` or, with ``source``, from that database's
    ``import_batch`` rows. Links are recomputed against the registry in ``engine``: load the same registry first.
    """
    root = Path(landing_dir) if landing_dir else landing_root()
    entries: list[dict] = []
    if source is not None:
        with source.connect() as conn:
            for kind, valid_from, started_at, files in conn.execute(
                    select(ImportBatch.kind, ImportBatch.valid_from, ImportBatch.started_at, ImportBatch.files)
                    .where(ImportBatch.kind.like("feed:%")).order_by(ImportBatch.id)):
                f = files[0]
                entries.append({"feed": kind.split(":", 1)[1], "file": f["landing"], "name": f["name"],
                                "as_of": valid_from.isoformat(), "recorded_at": started_at.isoformat()})
    else:
        seen = set()
        for e in _manifest_lines(root):
            if (e["feed"], e["sha256"]) not in seen:
                seen.add((e["feed"], e["sha256"]))
                entries.append(e)
    out = []
    for e in entries:
        path = root / e["file"]
        if not path.exists() and path.with_name(path.name + SEALED_SUFFIX).exists():
            path = path.with_name(path.name + SEALED_SUFFIX)  # sealed since (`fangpin keys seal-landing`)
        rep = import_feed(engine, e["feed"], path, filename=e["name"],
                          as_of=date.fromisoformat(e["as_of"]), recorded_at=datetime.fromisoformat(e["recorded_at"]),
                          landing_dir=root)
        out.append(rep)
        if progress:
            progress(rep)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Review queue


def list_reviews(conn: Connection, *, feed: str | None = None, status: str | None = "pending",
                 limit: int = 200) -> list[dict]:
    """Review items with the feed row's identity and the candidate's registry identity (ID numbers masked)."""
    lr, fr = LinkReview.__table__, FeedRecord.__table__
    q = (select(lr, fr.c.feed, fr.c.row_number, fr.c.batch_id, fr.c.payload, fr.c.village_code)
         .join(fr, fr.c.id == lr.c.feed_record_id).order_by(lr.c.id).limit(limit))
    if feed:
        q = q.where(fr.c.feed == feed)
    if status:
        q = q.where(lr.c.status == status)
    items = [dict(r._mapping) for r in conn.execute(q)]
    cands = _person_identity(conn, [i["person_id"] for i in items if i["person_id"] is not None])
    out = []
    for i in items:
        p = open_payload(i.pop("payload"))
        i["left"] = {"name": p.get("name"), "sex": p.get("sex"), "birth_date": p.get("birth_date"),
                     "village_code": i.pop("village_code"), "id_number": ids.mask_id(p.get("id_number"))}
        i["candidate"] = cands.get(i["person_id"])
        out.append(i)
    return out


def _person_identity(conn: Connection, person_ids: list[int]) -> dict[int, dict]:
    if not person_ids:
        return {}
    mv, p = MemberVersion.__table__, Person.__table__
    out: dict[int, tuple] = {}
    for part in _chunks(sorted(set(person_ids))):
        for row in conn.execute(select(mv.c.person_id, mv.c.household_id, mv.c.name, mv.c.sex, mv.c.birth_date,
                                       mv.c.valid_from, mv.c.recorded_at, mv.c.id, p.c.id_number_enc)
                                .join(p, p.c.id == mv.c.person_id).where(mv.c.person_id.in_(part))):
            key = (row.valid_from, row.recorded_at, row.id)
            if row.person_id not in out or key > out[row.person_id][0]:
                out[row.person_id] = (key, {"person_id": row.person_id, "household_id": row.household_id,
                                            "name": row.name, "sex": row.sex, "birth_date": row.birth_date,
                                            "id_number": ids.mask_id(decrypt(row.id_number_enc, P_PERSON_ID))})
    vill = _villages_of(conn, [v[1]["household_id"] for v in out.values()])
    for v in out.values():
        v[1]["village_code"] = vill.get(v[1]["household_id"])
    return {k: v[1] for k, v in out.items()}


def _review_error(code: str, zh: str, en: str) -> FangpinValueError:
    return FangpinValueError(issue(code, zh, en))


def decide_review(engine: Engine, review_id: int, *, accept: bool, by: str, comment: str | None = None,
                  at: datetime | None = None) -> dict:
    """Accept or reject a pending review item; accepting links the feed row to the candidate (person + household)."""
    if not by or not by.strip():
        raise _review_error("review.no_actor", "必须填写审核人", "the reviewer's name is required")
    at = at or datetime.now().replace(microsecond=0)
    lr, fr = LinkReview.__table__, FeedRecord.__table__
    with engine.begin() as conn:
        item = conn.execute(select(lr).where(lr.c.id == review_id)).first()
        if item is None:
            raise _review_error("review.not_found", f"找不到核对项 {review_id}", f"no review item {review_id}")
        if item.status != "pending":
            raise _review_error("review.decided", f"核对项 {review_id} 已处理（{item.status}，{item.decided_by}）",
                                f"review item {review_id} was already decided ({item.status} by {item.decided_by})")
        status = "accepted" if accept else "rejected"
        conn.execute(update(lr).where(lr.c.id == review_id).values(status=status, decided_by=by.strip(),
                                                                  decided_at=at, comment=comment))
        if accept:
            pid = _merge_redirects(conn).get(item.person_id, item.person_id)
            hid = _households_of(conn, [pid]).get(pid)
            conn.execute(update(fr).where(fr.c.id == item.feed_record_id).values(
                person_id=pid, household_id=hid, link_method="review", link_probability=item.probability))
        else:
            still = conn.execute(select(func.count()).select_from(lr).where(
                lr.c.feed_record_id == item.feed_record_id, lr.c.status != "rejected")).scalar_one()
            if not still:
                conn.execute(update(fr).where(fr.c.id == item.feed_record_id).values(
                    person_id=None, household_id=None, link_method="unmatched"))
    return {"id": review_id, "status": status, "decided_by": by.strip(), "decided_at": at,
            "feed_record_id": item.feed_record_id, "person_id": item.person_id}


_PAIR_SCHEMA = pa.schema([("review_id", pa.int64()), ("feed", pa.string()), ("row_id", pa.int64()),
                          ("name", pa.string()), ("sex", pa.string()), ("birth_date", pa.date32()),
                          ("village_code", pa.string()), ("address", pa.string()), ("phone", pa.string()),
                          ("person_id", pa.int64()), ("probability", pa.float64()), ("label", pa.int8()),
                          ("decided_by", pa.string()), ("decided_at", pa.timestamp("s"))])


def labelled_pairs(conn: Connection) -> pa.Table:
    """Decided reviews as training pairs for the linker: left fields (``row_id`` = feed_record id), candidate
    ``person_id``, ``label`` 1 = same person (accepted), 0 = different (rejected). Contains sensitive data."""
    lr, fr = LinkReview.__table__, FeedRecord.__table__
    q = (select(lr.c.id, fr.c.feed, fr.c.id.label("row_id"), fr.c.payload, fr.c.village_code, lr.c.person_id,
                lr.c.probability, lr.c.status, lr.c.decided_by, lr.c.decided_at)
         .join(fr, fr.c.id == lr.c.feed_record_id).where(lr.c.status.in_(("accepted", "rejected")))
         .order_by(lr.c.id))
    cols: dict[str, list] = {n: [] for n in _PAIR_SCHEMA.names}
    for r in conn.execute(q):
        p = open_payload(r.payload)
        bd = p.get("birth_date")
        for k, v in (("review_id", r.id), ("feed", r.feed), ("row_id", r.row_id), ("name", p.get("name")),
                     ("sex", p.get("sex")), ("birth_date", date.fromisoformat(bd) if bd else None),
                     ("village_code", p.get("village_code") or r.village_code), ("address", p.get("address")),
                     ("phone", p.get("phone")), ("person_id", r.person_id), ("probability", r.probability),
                     ("label", 1 if r.status == "accepted" else 0), ("decided_by", r.decided_by),
                     ("decided_at", r.decided_at)):
            cols[k].append(v)
    return pa.table(cols, schema=_PAIR_SCHEMA)


# ---------------------------------------------------------------------------------------------------------------
# Person merges and splits (person ids never change meaning silently; every move is audited)


def resolve_person(conn: Connection, person_id: int) -> int:
    """The surviving person id after merges (itself when never merged)."""
    return _merge_redirects(conn).get(person_id, person_id)


def merge_persons(conn: Connection, keep_id: int, drop_id: int, actor: str, reason: str,
                  at: datetime | None = None) -> int:
    """Fold ``drop_id`` into ``keep_id``: re-point feed rows and review candidates, audit it; returns the audit id.

    Both person rows stay (ids are never reused or deleted); later imports that find ``drop_id`` by its ID number
    are redirected to ``keep_id``. Run inside the caller's transaction (``engine.begin()``).
    """
    if keep_id == drop_id:
        raise _review_error("person.merge_self", "不能把一个人合并到自己", "cannot merge a person into itself")
    if not actor or not reason:
        raise _review_error("person.audit_required", "合并须填写操作人和原因", "a merge needs an actor and a reason")
    p = Person.__table__
    found = set(conn.execute(select(p.c.id).where(p.c.id.in_([keep_id, drop_id]))).scalars())
    if found != {keep_id, drop_id}:
        raise _review_error("person.not_found", "人员不存在", f"person(s) not found: {sorted({keep_id, drop_id} - found)}")
    red = _merge_redirects(conn)
    if drop_id in red:
        raise _review_error("person.already_merged", f"人员 {drop_id} 已被合并到 {red[drop_id]}",
                            f"person {drop_id} was already merged into {red[drop_id]}")
    if red.get(keep_id) == drop_id or keep_id in red:
        raise _review_error("person.merged_target", f"人员 {keep_id} 已被合并，请合并到 {red.get(keep_id)}",
                            f"person {keep_id} was itself merged; merge into {red.get(keep_id)}")
    fr, lr = FeedRecord.__table__, LinkReview.__table__
    moved = list(conn.execute(select(fr.c.id, fr.c.household_id).where(fr.c.person_id == drop_id)
                              .order_by(fr.c.id)).all())
    reviews = list(conn.execute(select(lr.c.id).where(lr.c.person_id == drop_id).order_by(lr.c.id)).scalars())
    keep_hh = _households_of(conn, [keep_id]).get(keep_id)
    if moved:
        conn.execute(update(fr).where(fr.c.person_id == drop_id).values(
            person_id=keep_id, household_id=func.coalesce(keep_hh, fr.c.household_id)))
    if reviews:
        conn.execute(update(lr).where(lr.c.person_id == drop_id).values(person_id=keep_id))
    return conn.execute(PersonAudit.__table__.insert().returning(PersonAudit.id), {
        "action": "merge", "person_id": keep_id, "other_person_id": drop_id, "actor": actor, "reason": reason,
        "at": at or datetime.now().replace(microsecond=0),
        "details": {"feed_records": [m[0] for m in moved], "old_households": {str(m[0]): m[1] for m in moved},
                    "link_reviews": reviews},
    }).scalar_one()


def split_person(conn: Connection, person_id: int, feed_record_ids: list[int], actor: str, reason: str, *,
                 into_person_id: int | None = None, id_number: str | None = None,
                 at: datetime | None = None) -> int:
    """Move some feed rows of ``person_id`` to another person (``into_person_id``, or a new person row with
    ``id_number``); audited. Returns the person id the rows now belong to."""
    if not actor or not reason:
        raise _review_error("person.audit_required", "拆分须填写操作人和原因", "a split needs an actor and a reason")
    fr, p = FeedRecord.__table__, Person.__table__
    rows = list(conn.execute(select(fr.c.id, fr.c.person_id, fr.c.household_id)
                             .where(fr.c.id.in_(list(feed_record_ids)))).all())
    wrong = sorted(set(feed_record_ids) - {r.id for r in rows if r.person_id == person_id})
    if wrong or not rows:
        raise _review_error("person.split_rows", "要拆分的记录不属于该人员",
                            f"feed records {wrong or feed_record_ids} do not belong to person {person_id}")
    now = at or datetime.now().replace(microsecond=0)
    if into_person_id is None:
        number = ids.parse_id(ids.normalize_id_text(id_number)).number if id_number else None
        if number and conn.execute(select(p.c.id).where(p.c.id_number_bidx.in_(blind_all(number, PURPOSE_ID)))
                                   ).scalar() is not None:
            raise _review_error("person.id_exists", "该证件号码已属于另一人员，请改为拆分到该人员",
                                "this ID number belongs to another person already; split into that person")
        into_person_id = conn.execute(p.insert().returning(p.c.id), {
            "id_number_enc": encrypt(number, P_PERSON_ID), "id_number_bidx": blind(number, PURPOSE_ID),
            "created_at": now}).scalar_one()
    elif conn.execute(select(p.c.id).where(p.c.id == into_person_id)).scalar() is None:
        raise _review_error("person.not_found", "人员不存在", f"person {into_person_id} not found")
    if into_person_id == person_id:
        raise _review_error("person.split_self", "不能拆分到同一人员", "cannot split a person into itself")
    new_hh = _households_of(conn, [into_person_id]).get(into_person_id)
    conn.execute(update(fr).where(fr.c.id.in_([r.id for r in rows])).values(person_id=into_person_id,
                                                                           household_id=new_hh))
    conn.execute(PersonAudit.__table__.insert(), {
        "action": "split", "person_id": person_id, "other_person_id": into_person_id, "actor": actor,
        "reason": reason, "at": now,
        "details": {"feed_records": sorted(r.id for r in rows),
                    "old_households": {str(r.id): r.household_id for r in rows}},
    })
    return into_person_id


# ---------------------------------------------------------------------------------------------------------------
# Village-level rows (water)


def village_record_households(conn: Connection, *, on: date | None = None, feed: str = "water") -> pa.Table:
    """(feed_record_id, household_id) for every village-level row and every active household of its village as of
    ``on`` — resolved at read time (households move, split and are created after a delivery)."""
    fr = FeedRecord.__table__
    h = current_households(on).subquery()
    q = (select(fr.c.id, h.c.household_id).join(h, and_(h.c.region_code == fr.c.village_code, h.c.active.is_(True)))
         .where(fr.c.feed == feed, fr.c.link_method == "village").order_by(fr.c.id, h.c.household_id))
    rows = conn.execute(q).all()
    return pa.table({"feed_record_id": pa.array([r[0] for r in rows], pa.int64()),
                     "household_id": pa.array([r[1] for r in rows], pa.int64())})
