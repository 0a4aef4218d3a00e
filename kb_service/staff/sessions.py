"""Who is staff: bearer tokens for the API, a session cookie with a CSRF token for the pages.

Tokens come from KB_STAFF_TOKENS and are compared in constant time; neither tokens nor session
cookies are ever logged or stored in plain form (sessions are stored as a SHA-256 of the cookie).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kb_service.db import reading, staff_sessions
from kb_service.errors import KBError
from kb_service.settings import Settings
from kb_service.times import utcnow

COOKIE = "kb_staff"
SESSION_TTL = dt.timedelta(hours=12)


class Forbidden(KBError):
    status_code = 403


def token_owner(settings: Settings, presented: str | None) -> str | None:
    """The staff name for a token, comparing against every configured token in constant time."""
    if not presented:
        return None
    found = None
    given = presented.encode("utf-8", "surrogatepass")
    for token, name in settings.staff_tokens.items():
        if hmac.compare_digest(token.encode("utf-8"), given):
            found = name
    return found


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def start_session(engine: Engine, name: str, *, now: dt.datetime | None = None, account_id: int | None = None,
                  role: str | None = None) -> tuple[str, str]:
    """A new session for `name` (an account's id, or the role of a KB_STAFF_TOKENS name):
    returns (cookie value, csrf token)."""
    now = now or utcnow()
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(staff_sessions.delete().where(staff_sessions.c.expires_at < now))
        conn.execute(staff_sessions.insert().values(id_hash=_digest(cookie), name=name, csrf=csrf,
                                                    created_at=now, expires_at=now + SESSION_TTL,
                                                    account_id=account_id, role=role))
    return cookie, csrf


def session(engine: Engine, cookie: str | None, *, now: dt.datetime | None = None) -> dict | None:
    """{'name', 'csrf', 'account_id', 'role'} for a live session cookie, else None."""
    if not cookie or len(cookie) > 100:
        return None
    now = now or utcnow()
    with reading(engine) as conn:
        row = conn.execute(sa.select(staff_sessions.c.name, staff_sessions.c.csrf, staff_sessions.c.account_id,
                                     staff_sessions.c.role).where(
            staff_sessions.c.id_hash == _digest(cookie), staff_sessions.c.expires_at > now)).mappings().first()
    return dict(row) if row else None


def end_session(engine: Engine, cookie: str | None) -> None:
    if cookie:
        with engine.begin() as conn:
            conn.execute(staff_sessions.delete().where(staff_sessions.c.id_hash == _digest(cookie)))


def check_csrf(sess: dict, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(sess["csrf"].encode(), presented.encode("utf-8", "surrogatepass")):
        raise Forbidden("表单已过期或来源不明（CSRF 校验失败）：请刷新页面后重试")
