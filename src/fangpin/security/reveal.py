"""Role-gated reveal of a household's phone or a member's full ID number; every reveal is audited.

Who may reveal (docs/SECURITY.md, threat model - least privilege, each within their own region only):

===================  =====  ========================================================================
role                 phone  ID number (head or member)
===================  =====  ========================================================================
village_cadre        yes    no  - calls the household to arrange a home visit (DESIGN.md: cadres on a phone)
township_officer     yes    yes - cross-department checks of the township's cases
county_officer       yes    yes
admin                yes    yes
department_officer   no     no  - sees aggregates only
province_viewer      no     no  - sees aggregates only
===================  =====  ========================================================================

A reveal needs a reason (purpose limitation); the audit row stores who, what (household, person id, field), when
and the reason - never the value.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from fangpin.issues import FangpinValueError, Issue
from fangpin.registry.service import household_as_of
from fangpin.security import audit
from fangpin.security.crypto import decrypt
from fangpin.security.fields import P_HEAD_ID, P_PERSON_ID, P_PHONE
from fangpin.security.logs import mask_pii

FIELDS = ("phone", "head_id", "member_id")
REVEAL_ROLES: dict[str, frozenset[str]] = {
    "phone": frozenset({"village_cadre", "township_officer", "county_officer", "admin"}),
    "head_id": frozenset({"township_officer", "county_officer", "admin"}),
    "member_id": frozenset({"township_officer", "county_officer", "admin"}),
}

__all__ = ["reveal", "may_reveal", "RevealRefused", "Revealed", "FIELDS", "REVEAL_ROLES"]


class RevealRefused(FangpinValueError):
    """Bilingual refusal; ``status`` is the HTTP status the web adapter answers (400, 403, 404)."""

    def __init__(self, status: int, issue: Issue):
        super().__init__(issue)
        self.status = status


@dataclass
class Revealed:
    field: str
    value: str | None
    person_id: int | None
    audit_id: int


def may_reveal(role: str, field: str) -> bool:
    return role in REVEAL_ROLES.get(field, frozenset())


def reveal(conn: Connection, user, hh_no: str, field: str, *, person_id: int | None = None,
           reason: str = "") -> Revealed:
    """Decrypt one value for ``user`` (a :class:`fangpin.auth.User`) and audit it in the same transaction."""
    if field not in FIELDS:
        raise RevealRefused(400, Issue("REVEAL_BAD_FIELD", "只能查看电话或证件号码",
                                       f"field must be one of {', '.join(FIELDS)}"))
    reason = mask_pii((reason or "").strip())  # a number typed into the reason is not kept
    if len(reason) < 2:
        raise RevealRefused(400, Issue("REVEAL_REASON", "查看完整信息须填写事由", "a reveal needs a reason"))
    hv = household_as_of(conn, hh_no)
    if hv is None or not user.in_scope(str(hv.attributes.get("region_code", ""))) or not user.sees_records:
        raise RevealRefused(404, Issue("NOT_FOUND", "未找到(或不在您的辖区)", "not found (or outside your region)"))
    if not may_reveal(user.role, field):
        raise RevealRefused(403, Issue("REVEAL_ROLE", "您的角色无权查看完整信息",
                                       "your role may not reveal this field"))
    a = hv.attributes
    if field == "phone":
        value = decrypt(a.get("phone_enc"), P_PHONE)
    elif field == "head_id":
        value = decrypt(a.get("head_id_enc"), P_HEAD_ID)
    else:
        m = next((m for m in hv.members if m["person_id"] == person_id), None)
        if m is None:
            raise RevealRefused(404, Issue("NOT_FOUND", "该户没有这名成员", "no such member in this household"))
        value = decrypt(m.get("id_number_enc"), P_PERSON_ID)
    aid = audit.record(conn, f"user:{user.id}:{user.username}", f"reveal.{field}", f"household:{hh_no}",
                       {"person_id": person_id, "role": user.role, "reason": reason[:200]})
    return Revealed(field, value, person_id, aid)
