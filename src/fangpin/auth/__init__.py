"""Accounts, roles and regions (auth): who may log in, what they may see (their region prefix only).

Passwords are hashed with Argon2id (argon2-cffi). Roles and the length of the region code each role holds:

=====================  ======  ==================================================================
role                   digits  sees
=====================  ======  ==================================================================
village_cadre          12      households, alerts and cases of their village; acts on cases
township_officer       9       … of their township; opens cases from alerts
county_officer         6       … of their county; opens cases from alerts
department_officer     6       aggregates of their county only (feed health comes later)
province_viewer        2       aggregates of their province only
admin                  2–12    everything under their prefix ("00" = all of China)
=====================  ======  ==================================================================

Domain services (``fangpin.cases``) enforce the same rules again; this package only maps a login to an
:class:`fangpin.cases.Actor`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from fangpin.auth.models import AppUser
from fangpin.issues import FangpinValueError, Issue

__all__ = ["ROLES", "User", "AuthError", "create_user", "authenticate", "get_user", "seed_demo_users",
           "hash_password", "verify_password", "set_password", "set_active", "user_by_name"]

ROLES: dict[str, dict] = {
    "village_cadre": {"digits": 12, "records": True, "zh": "村级干部", "en": "Village cadre"},
    "township_officer": {"digits": 9, "records": True, "zh": "乡镇干部", "en": "Township officer"},
    "county_officer": {"digits": 6, "records": True, "zh": "县级干部", "en": "County officer"},
    "department_officer": {"digits": 6, "records": False, "zh": "部门数据专员", "en": "Department data officer"},
    "province_viewer": {"digits": 2, "records": False, "zh": "省级查看", "en": "Province viewer"},
    "admin": {"digits": None, "records": True, "zh": "系统管理员", "en": "Administrator"},
}

# Low-cost but still Argon2id parameters: a login must not steal CPU from a 2-core county server.
_PH = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class AuthError(FangpinValueError):
    pass


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: str
    region_code: str

    @property
    def scope(self) -> str:
        """Region prefix this user may see ("" = everywhere)."""
        return "" if self.region_code == "00" else self.region_code

    @property
    def sees_records(self) -> bool:
        """May see individual households, alerts and cases (not only aggregates)."""
        return bool(ROLES[self.role]["records"])

    def in_scope(self, region_code: str | None) -> bool:
        return region_code is not None and region_code.startswith(self.scope)

    def actor(self):
        """The domain actor for the case service."""
        from fangpin.cases import Actor

        return Actor(str(self.id), self.display_name, self.role, self.region_code)


def hash_password(password: str) -> str:
    return _PH.hash(password)


def verify_password(hashed: str, password: str) -> bool:
    try:
        return _PH.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _check(role: str, region_code: str, username: str, password: str) -> None:
    if role not in ROLES:
        raise AuthError(Issue("AUTH_BAD_ROLE", f"未知角色“{role}”", f"Unknown role {role!r}; known: {', '.join(ROLES)}"))
    want = ROLES[role]["digits"]
    ok = region_code.isdigit() and (len(region_code) == want if want else len(region_code) in (2, 4, 6, 9, 12))
    if not ok:
        raise AuthError(Issue("AUTH_BAD_REGION", f"{ROLES[role]['zh']}的辖区代码应为 {want or '2/4/6/9/12'} 位数字",
                              f"A {role} needs a region code of {want or '2/4/6/9/12'} digits, got {region_code!r}"))
    if not username or len(username) > 60:
        raise AuthError(Issue("AUTH_BAD_USERNAME", "用户名不能为空且不超过60字符", "Username must be 1–60 characters"))
    if len(password) < 8:
        raise AuthError(Issue("AUTH_WEAK_PASSWORD", "密码至少8位", "The password needs at least 8 characters"))


def _user(row) -> User:
    return User(row.id, row.username, row.display_name, row.role, row.region_code)


def create_user(conn: Connection, username: str, password: str, role: str, region_code: str,
                display_name: str | None = None) -> User:
    """Create an account; raises :class:`AuthError` (bilingual) on a bad role, region or password."""
    _check(role, region_code, username, password)
    if conn.execute(select(AppUser.id).where(AppUser.username == username)).first() is not None:
        raise AuthError(Issue("AUTH_USER_EXISTS", f"用户名“{username}”已存在", f"Username {username!r} exists"))
    uid = conn.execute(insert(AppUser).values(
        username=username, display_name=display_name or username, password_hash=hash_password(password), role=role,
        region_code=region_code, active=True, created_at=datetime.now().replace(microsecond=0),
    ).returning(AppUser.id)).scalar_one()
    return get_user(conn, uid)


def get_user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(AppUser.__table__).where(AppUser.id == user_id, AppUser.active.is_(True))).first()
    return _user(row) if row else None


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The user when the password matches (and the account is active), else None. Always hashes (no timing oracle
    on unknown usernames)."""
    row = conn.execute(select(AppUser.__table__).where(AppUser.username == username)).first()
    if row is None:
        verify_password(_DUMMY, password)
        return None
    if not row.active or not verify_password(row.password_hash, password):
        return None
    conn.execute(update(AppUser).where(AppUser.id == row.id).values(last_login_at=datetime.now().replace(microsecond=0)))
    return _user(row)


_DUMMY = _PH.hash("not-a-real-password")


def user_by_name(conn: Connection, username: str):
    """The ``app_user`` row (active or not) or a bilingual :class:`AuthError`."""
    row = conn.execute(select(AppUser.__table__).where(AppUser.username == username)).first()
    if row is None:
        raise AuthError(Issue("AUTH_NO_USER", f"用户“{username}”不存在", f"No user {username!r}"))
    return row


def set_password(conn: Connection, username: str, password: str) -> int:
    """Change a password and end every session of the account (a thief holding a cookie loses it with the old
    password). Returns how many sessions were revoked."""
    from fangpin.auth.sessions import revoke_user

    if len(password) < 8:
        raise AuthError(Issue("AUTH_WEAK_PASSWORD", "密码至少8位", "The password needs at least 8 characters"))
    row = user_by_name(conn, username)
    conn.execute(update(AppUser).where(AppUser.id == row.id).values(password_hash=hash_password(password)))
    return revoke_user(conn, row.id, "password_changed")


def set_active(conn: Connection, username: str, active: bool) -> int:
    """Enable or disable an account; disabling ends every session of it. Returns how many sessions were revoked."""
    from fangpin.auth.sessions import revoke_user

    row = user_by_name(conn, username)
    conn.execute(update(AppUser).where(AppUser.id == row.id).values(active=active))
    return 0 if active else revoke_user(conn, row.id, "account_disabled")


def seed_demo_users(conn: Connection, village_code: str, password: str = "fangpin-demo") -> list[dict]:
    """One demo account per role for the county/township/village of ``village_code`` (12 digits); existing
    usernames are left alone. Returns [{username, password, role, region_code}] to print for the demo."""
    v = village_code
    plan = [
        ("demo_village", "village_cadre", v, "示范村干部"),
        ("demo_township", "township_officer", v[:9], "示范乡镇干部"),
        ("demo_county", "county_officer", v[:6], "示范县级干部"),
        ("demo_department", "department_officer", v[:6], "示范部门专员"),
        ("demo_province", "province_viewer", v[:2], "示范省级查看"),
        ("demo_admin", "admin", "00", "示范管理员"),
    ]
    out = []
    for username, role, region, name in plan:
        if conn.execute(select(AppUser.id).where(AppUser.username == username)).first() is None:
            create_user(conn, username, password, role, region, name)
        out.append({"username": username, "password": password, "role": role, "region_code": region})
    return out
