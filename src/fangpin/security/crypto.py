"""Field encryption at rest (AES-256-GCM) and keyed blind indexes (HMAC-SHA256) for ID numbers and phones.

Keys
----
A *master key* is 32 random bytes. Each master key has a public key id (``kid``: 8 hex digits of a SHA-256 of the
key, safe to store and to log) and derives, with HKDF-SHA256, two independent keys:

* the **data key** (AES-256-GCM) that encrypts the values;
* the **index key** (HMAC-SHA256) that computes the blind index used for exact lookup.

Where the keys come from (first that exists):

1. ``FANGPIN_DATA_KEY``: base64 master keys separated by commas; the FIRST is active (new writes), the others are
   older keys still needed to read data that ``fangpin keys rotate`` has not re-encrypted yet.
2. The key file ``FANGPIN_KEY_FILE`` or ``<data home>/keys/fangpin.keys`` (JSON, mode 0600, written by
   ``fangpin keys init`` / ``fangpin keys rotate``). A key file readable by group or others is refused.
3. Nothing: a key file is created on first use (mode 0600) and a warning names it - unless
   ``FANGPIN_REQUIRE_KEY=1`` (production), where a missing key is an error.

The key is never stored in the database and never in a backup (docs/SECURITY.md, key escrow).

Formats
-------
* ciphertext: ``v1:<kid>:<base64url(nonce 12 bytes + AES-GCM ciphertext + tag)>``; the associated data is the
  column's *purpose* (e.g. ``person.id_number``) so a ciphertext copied into another column does not decrypt.
* blind index: 32 hex digits (first 128 bits of HMAC-SHA256(index key, purpose + value)). Purposes: ``id`` for
  every 18-digit resident ID (person and household head share it, so the two can be joined), ``phone`` for phones.
  During a rotation rows can carry the index of an older key; lookups therefore ask for the index under EVERY
  known key (:meth:`Keyring.blind_all`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fangpin.issues import FangpinValueError, Issue

log = logging.getLogger(__name__)

PREFIX = "v1:"
BIDX_HEX = 32

__all__ = ["Keyring", "keyring", "reset_keyring", "encrypt", "decrypt", "blind", "blind_all", "key_file_path",
           "init_key_file", "add_key_to_file", "KeyError_", "kid_of", "PURPOSE_ID", "PURPOSE_PHONE"]

PURPOSE_ID = "id"
PURPOSE_PHONE = "phone"


class KeyError_(FangpinValueError):
    """A key problem (missing, unknown key id, wrong key, unsafe key file), bilingual."""


def _err(code: str, zh: str, en: str) -> KeyError_:
    return KeyError_(Issue(code, zh, en))


def kid_of(master: bytes) -> str:
    return hashlib.sha256(b"fangpin-kid\0" + master).hexdigest()[:8]


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fangpin", info=info).derive(master)


@dataclass
class _Key:
    kid: str
    aead: AESGCM
    index: "hmac.HMAC"


@dataclass
class Keyring:
    """The active master key (``active``) and older ones still readable, each with its derived keys."""

    active: str
    masters: dict[str, bytes]
    source: str = ""
    _keys: dict[str, _Key] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for kid, m in self.masters.items():
            self._keys[kid] = _Key(kid, AESGCM(_derive(m, b"fangpin/data/v1")),
                                   hmac.new(_derive(m, b"fangpin/blind-index/v1"), digestmod=hashlib.sha256))

    # -- encryption -----------------------------------------------------------------------------------------------
    def encrypt(self, value: str | None, purpose: str) -> str | None:
        if value is None or value == "":
            return value
        k = self._keys[self.active]
        nonce = os.urandom(12)
        ct = k.aead.encrypt(nonce, value.encode(), purpose.encode())
        return f"{PREFIX}{k.kid}:{base64.urlsafe_b64encode(nonce + ct).decode()}"

    def encrypt_many(self, values: Sequence[str | None], purpose: str) -> list[str | None]:
        """Batch form (one bound method, one AAD encoding) for bulk loads of millions of values."""
        k = self._keys[self.active]
        enc, aad, rnd, b64 = k.aead.encrypt, purpose.encode(), os.urandom, base64.urlsafe_b64encode
        head = f"{PREFIX}{k.kid}:"
        out: list[str | None] = []
        for v in values:
            if v is None or v == "":
                out.append(v)
                continue
            n = rnd(12)
            out.append(head + b64(n + enc(n, v.encode(), aad)).decode())
        return out

    def decrypt(self, token: str | None, purpose: str) -> str | None:
        if token is None or token == "":
            return token
        if not token.startswith(PREFIX):
            raise _err("KEY_NOT_CIPHERTEXT", "数据不是密文（数据库未迁移或被篡改）",
                       "the value is not a fangpin ciphertext (database not migrated, or tampered with)")
        kid, _, body = token[len(PREFIX):].partition(":")
        k = self._keys.get(kid)
        if k is None:
            raise _err("KEY_UNKNOWN_KID", f"缺少密钥 {kid}：请配置该密钥（FANGPIN_DATA_KEY 或密钥文件）后重试",
                       f"data key {kid} is not configured (FANGPIN_DATA_KEY or the key file); restore it from "
                       f"escrow (docs/SECURITY.md)")
        raw = base64.urlsafe_b64decode(body)
        try:
            return k.aead.decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except InvalidTag:
            raise _err("KEY_BAD_CIPHERTEXT", "密文校验失败（被篡改、放错列或密钥不符）",
                       "ciphertext failed authentication (tampered with, moved to another column, or wrong key)")

    def decrypt_many(self, tokens: Iterable[str | None], purpose: str) -> list[str | None]:
        cache: dict[str, AESGCM] = {}
        aad = purpose.encode()
        out: list[str | None] = []
        for t in tokens:
            if t is None or t == "":
                out.append(t)
                continue
            kid = t[3:11]
            a = cache.get(kid)
            if a is None or t[11:12] != ":" or not t.startswith(PREFIX):
                out.append(self.decrypt(t, purpose))
                if kid in self._keys:
                    cache[kid] = self._keys[kid].aead
                continue
            raw = base64.urlsafe_b64decode(t[12:])
            try:
                out.append(a.decrypt(raw[:12], raw[12:], aad).decode())
            except InvalidTag:
                out.append(self.decrypt(t, purpose))  # raises the bilingual error
        return out

    @staticmethod
    def kid_in(token: str | None) -> str | None:
        return token[3:11] if token and token.startswith(PREFIX) else None

    # -- blind index ----------------------------------------------------------------------------------------------
    def _bidx(self, kid: str, value: str, purpose: str) -> str:
        h = self._keys[kid].index.copy()
        h.update(purpose.encode() + b"\0" + value.encode())
        return h.hexdigest()[:BIDX_HEX]

    def blind(self, value: str | None, purpose: str) -> str | None:
        """Blind index under the active key (what new rows store)."""
        if value is None or value == "":
            return None
        return self._bidx(self.active, value, purpose)

    def blind_many(self, values: Sequence[str | None], purpose: str) -> list[str | None]:
        base = self._keys[self.active].index
        p = purpose.encode() + b"\0"
        out: list[str | None] = []
        for v in values:
            if v is None or v == "":
                out.append(None)
                continue
            h = base.copy()
            h.update(p + v.encode())
            out.append(h.hexdigest()[:BIDX_HEX])
        return out

    def blind_all(self, value: str | None, purpose: str) -> list[str]:
        """Blind index of ``value`` under every known key, active first (lookups during a rotation)."""
        if value is None or value == "":
            return []
        return [self._bidx(k, value, purpose) for k in [self.active, *[k for k in self._keys if k != self.active]]]

    def blind_map(self, values: Iterable[str], purpose: str) -> dict[str, str]:
        """{blind index -> value} over every known key: look up many values with one ``IN`` and map back."""
        out: dict[str, str] = {}
        vals = [v for v in values if v]
        for kid in [self.active, *[k for k in self._keys if k != self.active]]:
            base = self._keys[kid].index
            p = purpose.encode() + b"\0"
            for v in vals:
                h = base.copy()
                h.update(p + v.encode())
                out[h.hexdigest()[:BIDX_HEX]] = v
        return out


# -- where keys come from -------------------------------------------------------------------------------------------

def key_file_path() -> Path:
    env = os.environ.get("FANGPIN_KEY_FILE")
    if env:
        return Path(env)
    from fangpin.config import data_home

    return data_home() / "keys" / "fangpin.keys"


def _write_key_file(path: Path, data: dict) -> None:
    """Atomic write with mode 0600 (tmp file in the same directory, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:  # pragma: no cover - a directory we do not own
        pass
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_key_file(path: Path) -> dict:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _err("KEY_FILE_MODE", f"密钥文件 {path} 权限过宽（应为 600）：chmod 600 {path}",
                   f"key file {path} is readable by group/others; run: chmod 600 {path}")
    data = json.loads(path.read_text())
    if not data.get("keys") or data.get("active") not in {k["kid"] for k in data["keys"]}:
        raise _err("KEY_FILE_BAD", f"密钥文件 {path} 格式有误", f"key file {path} is malformed")
    return data


def _new_entry() -> dict:
    m = secrets.token_bytes(32)
    return {"kid": kid_of(m), "key": base64.b64encode(m).decode(),
            "created": datetime.now().replace(microsecond=0).isoformat()}


def init_key_file(path: Path | None = None) -> tuple[Path, str, bool]:
    """Create the key file with one new key unless it exists. Returns (path, active kid, created?)."""
    path = path or key_file_path()
    if path.exists():
        return path, _read_key_file(path)["active"], False
    e = _new_entry()
    _write_key_file(path, {"version": 1, "active": e["kid"], "keys": [e]})
    return path, e["kid"], True


def add_key_to_file(path: Path | None = None) -> str:
    """Add a new key to the key file and make it active (older keys stay, to read not-yet-rotated data)."""
    path = path or key_file_path()
    data = _read_key_file(path)
    e = _new_entry()
    data["keys"].append(e)
    data["active"] = e["kid"]
    _write_key_file(path, data)
    reset_keyring()
    return e["kid"]


def remove_key_from_file(kid: str, path: Path | None = None) -> None:
    path = path or key_file_path()
    data = _read_key_file(path)
    if kid == data["active"]:
        raise _err("KEY_RETIRE_ACTIVE", "不能停用当前使用中的密钥", "cannot retire the active key")
    if kid not in {k["kid"] for k in data["keys"]}:
        raise _err("KEY_UNKNOWN_KID", f"密钥文件中没有 {kid}", f"key {kid} is not in the key file")
    data["keys"] = [k for k in data["keys"] if k["kid"] != kid]
    _write_key_file(path, data)
    reset_keyring()


def _b64key(s: str) -> bytes:
    try:
        m = base64.b64decode(s.strip(), validate=True)
    except ValueError:
        m = b""
    if len(m) != 32:
        raise _err("KEY_ENV_BAD", "FANGPIN_DATA_KEY 应为 base64 编码的 32 字节密钥（多个用逗号分隔）",
                   "FANGPIN_DATA_KEY must be base64 of 32 random bytes (several separated by commas)")
    return m


def _load() -> Keyring:
    env = os.environ.get("FANGPIN_DATA_KEY")
    if env:
        ms = [_b64key(s) for s in env.split(",") if s.strip()]
        masters = {kid_of(m): m for m in ms}
        return Keyring(kid_of(ms[0]), masters, "env FANGPIN_DATA_KEY")
    path = key_file_path()
    if not path.exists():
        if os.environ.get("FANGPIN_REQUIRE_KEY") == "1":
            raise _err("KEY_MISSING", "未配置数据密钥：设置 FANGPIN_DATA_KEY 或运行 fangpin keys init",
                       "no data key: set FANGPIN_DATA_KEY or run `fangpin keys init`")
        path, kid, created = init_key_file(path)
        if created:
            log.warning("created a new data key %s in %s - back it up (docs/SECURITY.md, key escrow)", kid, path)
    data = _read_key_file(path)
    masters = {k["kid"]: base64.b64decode(k["key"]) for k in data["keys"]}
    return Keyring(data["active"], masters, f"key file {path}")


_CACHE: dict[tuple, Keyring] = {}


def keyring() -> Keyring:
    """The process keyring (cached per key source; see the module docstring for the resolution order)."""
    sig = (os.environ.get("FANGPIN_DATA_KEY"), os.environ.get("FANGPIN_KEY_FILE"), os.environ.get("FANGPIN_HOME"))
    kr = _CACHE.get(sig)
    if kr is None:
        kr = _CACHE[sig] = _load()
    return kr


def reset_keyring() -> None:
    _CACHE.clear()


def encrypt(value: str | None, purpose: str) -> str | None:
    return keyring().encrypt(value, purpose)


def decrypt(token: str | None, purpose: str) -> str | None:
    return keyring().decrypt(token, purpose)


def blind(value: str | None, purpose: str) -> str | None:
    return keyring().blind(value, purpose)


def blind_all(value: str | None, purpose: str) -> list[str]:
    return keyring().blind_all(value, purpose)
