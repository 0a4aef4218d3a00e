"""The login page's checks: a per-address limit, a lock per account and address, events.

Limits count the real client address (web/proxies: X-Forwarded-For only from KB_TRUSTED_PROXIES)
in the shared database, so they hold across workers and nodes. A lock lasts at most one
LOCK_WINDOW and only for that account from that address: a stranger guessing from elsewhere
cannot lock a staff member out, and nobody is locked out for good.
"""

from __future__ import annotations

from kb_service.staff import accounts
from kb_service.web.access import StaffUser, env_owner
from kb_service.web.services import Services

ATTEMPTS_PER_MINUTE = 10      # login posts per address per minute, right or wrong
LOCK_AFTER = 5                # wrong secrets for one account from one address ...
LOCK_WINDOW = 15 * 60         # ... within this many seconds lock that pair until the window ends


def lock_key(token: str, address: str) -> str:
    """An account is known by the public id inside its secret even when the rest is wrong."""
    return f"login-lock:{accounts.secret_id_of(token) or '-'}:{address}"


def attempt(svc: Services, token: str, address: str) -> StaffUser | None:
    """The user a login secret belongs to, or None (recorded as a failed login). 429 when limited."""
    limits = svc.limits
    limits.hit(f"login:{address}", ATTEMPTS_PER_MINUTE, 60,
               "登录尝试太频繁：同一网络每分钟最多 {limit} 次，请 {retry} 秒后再试")
    key = lock_key(token, address)
    # Counted before the secret is checked (one database step with the limit check): concurrent
    # wrong secrets cannot all be tried; a right one clears the count below.
    limits.reserve(key, LOCK_AFTER, LOCK_WINDOW,
                   "这个账号从您的地址连续输错 {limit} 次，已暂时锁定；请 {retry} 秒后再试，或请管理员 kb staff reset")
    engine = svc.store.engine
    name = env_owner(svc, token) if token else None
    if name is not None:
        limits.clear(key)
        accounts.record(engine, "login", account=name, actor=name, address=address, data={"via": "KB_STAFF_TOKENS"})
        return StaffUser(name, accounts.ENV_ROLE, via="session")
    found = accounts.account_for_secret(engine, token) if token else None
    if found is not None:
        accounts.touch_login(engine, found["id"], found["name"], address)
        limits.clear(key)
        return StaffUser(found["name"], found["role"], account_id=found["id"], community=found["community"],
                         via="session")
    accounts.record(engine, "login_failed", account=known_name(svc, token), actor="-", address=address)
    return None


def known_name(svc: Services, token: str) -> str | None:
    secret_id = accounts.secret_id_of(token)
    if secret_id is None:
        return None
    for row in accounts.list_by_secret_id(svc.store.engine, secret_id):
        return row["name"]
    return None
