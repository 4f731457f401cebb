"""Who acts (经办人) and where they may act: a village cadre in their village (12-digit code), a township
officer in their township (9 digits), a county officer in their county (6 digits); an administrator in the
region prefix they are given ("00" = everywhere). Enforced by the service, never only by a page."""
from __future__ import annotations

from dataclasses import dataclass

from fangpin.cases.errors import CaseError, refuse
from fangpin.cases.workflow import workflow

__all__ = ["Actor", "check_actor", "in_region"]


@dataclass(frozen=True)
class Actor:
    user_id: str
    name: str
    role: str  # village_cadre | township_officer | county_officer | admin
    region_code: str


def check_actor(actor: Actor) -> None:
    roles = workflow().roles
    if actor.role not in roles:
        raise refuse("CASE_UNKNOWN_ROLE", f"未知角色“{actor.role}”,可用:{'、'.join(roles)}",
                     f"Unknown role {actor.role!r}; known roles: {', '.join(roles)}")
    want = roles[actor.role].region_digits
    code = actor.region_code or ""
    ok = code.isdigit() and (len(code) == want if want else len(code) in (2, 4, 6, 9, 12))
    if not ok:
        need = f"{want} 位" if want else "2/4/6/9/12 位(00 = 全国)"
        raise refuse("CASE_BAD_ACTOR_REGION",
                     f"{roles[actor.role].zh}的辖区代码应为 {need}数字,实际为“{code}”",
                     f"A {roles[actor.role].en.lower()} needs a region code of {want or '2/4/6/9/12'} digits, "
                     f"got {code!r}")


def in_region(actor: Actor, region_code: str) -> bool:
    return actor.region_code == "00" or region_code.startswith(actor.region_code)


def require_region(actor: Actor, region_code: str, what: str = "case") -> None:
    if not in_region(actor, region_code):
        raise refuse("CASE_OUTSIDE_REGION",
                     f"{actor.name}({workflow().roles[actor.role].zh},辖区 {actor.region_code})无权办理辖区外 "
                     f"{region_code} 的事项",
                     f"{actor.name} ({actor.role}, region {actor.region_code}) may not act on {what} in region "
                     f"{region_code}, outside their region")


__all__ += ["require_region", "CaseError"]
