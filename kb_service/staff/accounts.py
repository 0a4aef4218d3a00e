"""Staff accounts and roles: who may do what, secrets stored only as a slow hash, every change an event.

A secret looks like `kb_<secret_id>_<random>`: the `secret_id` finds the account's row, the whole
secret is checked against a scrypt hash (hashlib.scrypt, a per-account salt). The secret is shown
once, by `kb staff add` or `kb staff reset`, and works as `Authorization: Bearer <secret>` and on
the login page. A verified secret is remembered in this process (as a SHA-256, together with the
hash it matched) so that the API does not pay for scrypt on every request; a reset or a disabled
account takes effect at once because the row is read on every request.

Names in KB_STAFF_TOKENS keep working as the simple option: they get the role ENV_ROLE.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.db import reading, staff_accounts, staff_events, staff_sessions
from kb_service.errors import Conflict, NotFound, UsageError
from kb_service.times import iso, utcnow

ROLES = {"agent": "客服", "supervisor": "主管", "editor": "编辑", "admin": "管理员"}
# What each role may do. Endpoints ask for one scope; a PATCH asks for the scopes of its parts.
SCOPES = {
    "log:read": "查看改进日志",
    "log:write": "登记、分派、处理条目",
    "approve": "关闭条目、公开摘要、批准公开的改进措施与补偿",
    "dashboard": "查看统计看板与导出",
    "gaps": "查看检索缺口",
    "actions": "添加与完成改进措施",
    "accounts": "管理员工账号",
}
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "agent": frozenset({"staff", "log:read", "log:write"}),
    "editor": frozenset({"staff", "log:read", "gaps", "actions"}),
    "supervisor": frozenset({"staff", "log:read", "log:write", "approve", "dashboard", "gaps", "actions"}),
    "admin": frozenset({"staff", *SCOPES}),
}
# KB_STAFF_TOKENS names: the whole team of a small set-up shared one list, so they keep what they
# could do before accounts existed, except managing accounts.
ENV_ROLE = "supervisor"
NAME = re.compile(r"^[\w.\-]{1,50}$")
COMMUNITY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SECRET = re.compile(r"^kb_([a-z2-7]{10})_([A-Za-z0-9_-]{20,100})$")
# scrypt: 16 MiB and about 50 ms per check on one core; slow for guessing, cheap once cached.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def roles_with(scope: str) -> list[str]:
    return [ROLES[r] for r, scopes in ROLE_SCOPES.items() if scope in scopes]


# -- secrets ------------------------------------------------------------------------------------

def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, maxmem=64 * 1024 * 1024, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(base64.b64decode(digest)), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def new_secret() -> tuple[str, str]:
    """(secret_id, secret): the id is the lookup key and part of the secret."""
    secret_id = base64.b32encode(secrets.token_bytes(10)).decode().lower()[:10]
    return secret_id, f"kb_{secret_id}_{secrets.token_urlsafe(32)}"


def secret_id_of(presented: str | None) -> str | None:
    match = SECRET.match(presented or "")
    return match.group(1) if match else None


_verified: dict[str, tuple[int, str]] = {}
_verified_lock = threading.Lock()


def account_for_secret(engine: Engine, presented: str | None) -> dict | None:
    """The active account a secret belongs to, else None (slow only the first time per secret)."""
    secret_id = secret_id_of(presented)
    if secret_id is None:
        return None
    with reading(engine) as conn:
        row = conn.execute(sa.select(staff_accounts).where(staff_accounts.c.secret_id == secret_id)).mappings().first()
    if row is None or not row["active"]:
        return None
    key = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()
    with _verified_lock:
        known = _verified.get(key)
    if known != (row["id"], row["secret_hash"]):
        if not verify_secret(presented, row["secret_hash"]):
            return None
        with _verified_lock:
            if len(_verified) > 10_000:
                _verified.clear()
            _verified[key] = (row["id"], row["secret_hash"])
    return dict(row)


def list_by_secret_id(engine: Engine, secret_id: str) -> list[dict]:
    with reading(engine) as conn:
        return [dict(r) for r in conn.execute(sa.select(staff_accounts.c.name).where(
            staff_accounts.c.secret_id == secret_id)).mappings()]


def account(engine: Engine, account_id: int) -> dict | None:
    with reading(engine) as conn:
        row = conn.execute(sa.select(staff_accounts).where(staff_accounts.c.id == account_id)).mappings().first()
    return dict(row) if row else None


def owner_names(engine: Engine, *, community: str | None = None) -> list[str]:
    """Active accounts that may handle an entry (log:write), the ones an entry can be assigned to;
    for a community's entry, that community's accounts and company-wide ones."""
    roles = [r for r, scopes in ROLE_SCOPES.items() if "log:write" in scopes]
    query = sa.select(staff_accounts.c.name).where(staff_accounts.c.active.is_(True), staff_accounts.c.role.in_(roles))
    if community is not None:
        query = query.where(sa.or_(staff_accounts.c.community.is_(None), staff_accounts.c.community == community))
    with reading(engine) as conn:
        return list(conn.scalars(query))


def any_accounts(engine: Engine) -> bool:
    with reading(engine) as conn:
        return conn.scalar(sa.select(staff_accounts.c.id).where(staff_accounts.c.active.is_(True)).limit(1)) is not None


# -- events -------------------------------------------------------------------------------------

def record(conn_or_engine, kind: str, *, account: str | None, actor: str, address: str | None = None,
           data: dict | None = None) -> None:
    values = {"at": utcnow(), "kind": kind, "account": account, "actor": actor[:50],
              "address": (address or None) and address[:64], "data": data}
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.begin() as conn:
            conn.execute(staff_events.insert().values(**values))
    else:
        conn_or_engine.execute(staff_events.insert().values(**values))


def events(engine: Engine, *, limit: int = 100) -> list[dict]:
    with reading(engine) as conn:
        rows = conn.execute(sa.select(staff_events).order_by(staff_events.c.id.desc()).limit(limit)).mappings().all()
    return [{**dict(r), "at": iso(r["at"])} for r in rows]


# -- managing accounts (kb staff ...) ---------------------------------------------------------------

def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UsageError(f"角色只能是：{'、'.join(f'{k}（{v}）' for k, v in ROLES.items())}")


def add(engine: Engine, name: str, role: str, *, community: str | None = None, actor: str = "kb staff") -> str:
    """Create an account; returns its secret (shown once, never stored)."""
    if not NAME.match(name or ""):
        raise UsageError("账号名只能用字母、数字、汉字、点、下划线和连字符，最多 50 个字符")
    _check_role(role)
    if community is not None and not COMMUNITY.match(community):
        raise UsageError("--community 应为小区 id（小写字母、数字、连字符），见 GET /api/communities")
    secret_id, secret = new_secret()
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(staff_accounts.insert().values(
                name=name, role=role, community=community, secret_id=secret_id, secret_hash=hash_secret(secret),
                active=True, created_at=now, updated_at=now))
            record(conn, "account_added", account=name, actor=actor, data={"role": role, "community": community})
    except sa.exc.IntegrityError:
        raise Conflict(f"账号 {name} 已存在；要换发密钥请用 kb staff reset {name}") from None
    return secret


def list_accounts(engine: Engine) -> list[dict[str, Any]]:
    with reading(engine) as conn:
        rows = conn.execute(sa.select(staff_accounts).order_by(staff_accounts.c.name)).mappings().all()
    return [{"name": r["name"], "role": r["role"], "community": r["community"], "active": r["active"],
             "created_at": iso(r["created_at"]), "last_login_at": iso(r["last_login_at"])} for r in rows]


def _change(engine: Engine, name: str, kind: str, values: dict, data: dict | None, actor: str) -> None:
    with engine.begin() as conn:
        row = conn.execute(sa.select(staff_accounts).where(staff_accounts.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"没有名为 {name} 的员工账号；kb staff list 列出所有账号")
        conn.execute(staff_accounts.update().where(staff_accounts.c.id == row["id"])
                     .values(**values, updated_at=utcnow()))
        if kind in ("secret_reset", "account_disabled"):
            # A reset is what one does when a secret may be known to someone else: the sessions
            # signed in with it end now, not when they expire (issue 29).
            conn.execute(staff_sessions.delete().where(staff_sessions.c.account_id == row["id"]))
        record(conn, kind, account=name, actor=actor, data={"from": row["role"], **(data or {})}
               if kind == "role_changed" else data)


def disable(engine: Engine, name: str, *, actor: str = "kb staff") -> None:
    # A disabled account's sessions end too: the session check reads the account every time.
    _change(engine, name, "account_disabled", {"active": False}, None, actor)


def reset(engine: Engine, name: str, *, actor: str = "kb staff") -> str:
    """A new secret for the account (and the account active again); the old one stops working."""
    secret_id, secret = new_secret()
    _change(engine, name, "secret_reset", {"secret_id": secret_id, "secret_hash": hash_secret(secret), "active": True},
            None, actor)
    return secret


def set_role(engine: Engine, name: str, role: str, *, actor: str = "kb staff") -> None:
    _check_role(role)
    _change(engine, name, "role_changed", {"role": role}, {"to": role}, actor)


def touch_login(engine: Engine, account_id: int, name: str, address: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(staff_accounts.update().where(staff_accounts.c.id == account_id).values(last_login_at=utcnow()))
        record(conn, "login", account=name, actor=name, address=address)
