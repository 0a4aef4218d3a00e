"""One mechanism guards the API and the staff pages: AuthenticationMiddleware with StaffBackend
(a Bearer secret or the staff session cookie) puts a StaffUser and its role's scopes on every
request; every staff endpoint, API or page, says which scope it needs with `@requires(scope)`
(a page adds `redirect=LOGIN`). What one request needs beyond that (each part of a PATCH) is
checked with `check_scopes` inside the endpoint.

No credentials on the API -> 401 with WWW-Authenticate; on a page, a GET goes to the sign-in page
and back (next= stays on this site), a POST is refused (403). The wrong role -> 403 naming the
roles that may. A bad Bearer secret -> 401, and after BEARER_FAILURES wrong secrets from one
address in a minute -> 429. Bearer and cookie are looked at only under /api/ and /staff/, and on
Zensical's search index (/search.json: staff get the scripts and templates in it,
web/pages/site_search.py); the static site ignores them.
"""

from __future__ import annotations

import functools
import hmac
from urllib.parse import urlencode

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse

from kb_service.errors import KBError, NotFound, Unauthorized, ValidationFailed
from kb_service.staff import accounts, sessions
from kb_service.web import unavailable
from kb_service.staff.sessions import COOKIE, Forbidden
from kb_service.web.middleware.guards import check_same_origin
from kb_service.web.params import client_address
from kb_service.web.services import Services, services

BEARER_FAILURES = 20          # wrong Bearer secrets per address per minute before 429
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_HEADER = "x-csrf-token"
LOGIN = "/staff/login"
HOME = "/staff/entries/"        # where a sign-in without a (valid) next= goes
# Where a sign-in may return to: this site's staff pages and the scripts the lookup opens.
NEXT_PREFIXES = ("/staff/", "/scripts/")
CLOSED = ("员工区未开启：服务端既没有配置员工令牌（KB_STAFF_TOKENS），也没有员工账号，无法登录。"
          "请管理员用 kb staff add 建立账号。")


class StaffUser(BaseUser):
    def __init__(self, name: str, role: str, *, account_id: int | None = None, community: str | None = None,
                 via: str = "bearer", csrf: str | None = None):
        self.name, self.role, self.account_id, self.community = name, role, account_id, community
        self.via, self.csrf = via, csrf

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def scopes(self) -> frozenset[str]:
        return accounts.ROLE_SCOPES.get(self.role, frozenset())

    @property
    def session(self) -> dict:
        """The shape staff/sessions.session() returns, for code written against it."""
        return {"name": self.name, "csrf": self.csrf, "role": self.role, "account_id": self.account_id}


class AuthFailed(AuthenticationError):
    def __init__(self, message: str, status_code: int = 401, retry_after: int | None = None):
        super().__init__(message)
        self.message, self.status_code, self.retry_after = message, status_code, retry_after


def staff_open(svc: Services) -> bool:
    """Staff access exists: names in KB_STAFF_TOKENS or at least one active account."""
    return svc.settings.staff_enabled or accounts.any_accounts(svc.store.engine)


def env_owner(svc: Services, presented: str) -> str | None:
    return sessions.token_owner(svc.settings, presented)


class StaffBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection):
        path = conn.url.path
        if not (path.startswith("/api/") or path.startswith("/staff/") or path == "/search.json"):
            return None
        svc: Services | None = getattr(conn.app.state, "services", None)
        if svc is None:        # still starting: nobody is signed in yet
            return None
        scheme, _, token = (conn.headers.get("authorization") or "").partition(" ")
        try:
            if scheme.lower() == "bearer":
                user = await run_in_threadpool(bearer_user, svc, token.strip(), client_address(conn))
            else:
                cookie = conn.cookies.get(COOKIE)
                if not cookie:
                    return None
                user = await run_in_threadpool(session_user, svc, cookie)
                if user is None:
                    return None
        except unavailable.DOWN as exc:
            if not unavailable.is_down(exc):
                raise
            # The accounts are in the database: without it nobody can be checked (503, not 500).
            raise AuthFailed(unavailable.message(conn.scope["method"]), 503, unavailable.RETRY_AFTER) from None
        if user.via == "session" and path.startswith("/api/") and conn.scope["method"] not in SAFE_METHODS:
            # A cookie rides along with any cross-site request: API writes with it must come
            # from this origin and carry the session's CSRF token in a header that only our
            # own pages can read and send. Without the header the request is simply anonymous,
            # so public writes (filling a template, the feedback form) work for a signed-in
            # member of staff too, and staff-only ones answer 401.
            presented = conn.headers.get(CSRF_HEADER)
            if presented is None:
                return None
            try:
                check_same_origin(conn.headers, str(conn.base_url))
            except KBError as exc:
                raise AuthFailed(exc.message, 403) from None
            if not hmac.compare_digest(user.csrf.encode(), presented.encode("utf-8", "surrogatepass")):
                raise AuthFailed("X-CSRF-Token 请求头不对：请刷新页面（重新登录）后再试", 403)
        return AuthCredentials(sorted(user.scopes)), user


def bearer_user(svc: Services, token: str, address: str) -> StaffUser:
    if not staff_open(svc):
        raise AuthFailed("员工接口未开启：服务端没有配置 KB_STAFF_TOKENS，也没有员工账号（kb staff add）")
    if not token:
        raise AuthFailed("需要员工令牌：请求头 Authorization: Bearer <令牌>")
    key = f"bearer-fail:{address}"
    try:
        # Counted before the token is checked, in one database step with the limit check, so a
        # burst of wrong tokens cannot all be checked at once; a right token hands its count back.
        svc.limits.reserve(key, BEARER_FAILURES, 60, "令牌错误次数太多：同一网络每分钟最多 {limit} 次，请 {retry} 秒后再试")
    except KBError as exc:
        raise AuthFailed(exc.message, exc.status_code, exc.extra.get("retry_after")) from None
    name = env_owner(svc, token)
    if name is not None:
        svc.limits.release(key, 60)
        return StaffUser(name, accounts.ENV_ROLE)
    found = accounts.account_for_secret(svc.store.engine, token)
    if found is not None:
        svc.limits.release(key, 60)
        return StaffUser(found["name"], found["role"], account_id=found["id"], community=found["community"])
    accounts.record(svc.store.engine, "bearer_failed", account=None, actor="-", address=address)
    raise AuthFailed("员工令牌无效")


def session_user(svc: Services, cookie: str) -> StaffUser | None:
    sess = sessions.session(svc.store.engine, cookie)
    if sess is None:
        return None
    if sess.get("account_id") is not None:
        found = accounts.account(svc.store.engine, sess["account_id"])
        if found is None or not found["active"]:
            return None
        return StaffUser(found["name"], found["role"], account_id=found["id"], community=found["community"],
                         via="session", csrf=sess["csrf"])
    if sess["name"] not in svc.settings.staff_tokens.values():
        return None      # the name was taken out of KB_STAFF_TOKENS: its sessions end with it
    return StaffUser(sess["name"], sess.get("role") or accounts.ENV_ROLE, via="session", csrf=sess["csrf"])


def on_auth_error(conn: HTTPConnection, exc: Exception) -> JSONResponse:
    status = getattr(exc, "status_code", 401)
    if status == 503:
        return unavailable.response(conn)
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="kb-staff"'
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"error": getattr(exc, "message", str(exc))}, status_code=status, headers=headers)


# -- what an endpoint needs ----------------------------------------------------------------------

def refuse(user: BaseUser, scope: str) -> Forbidden:
    role = accounts.ROLES.get(getattr(user, "role", ""), "未知")
    return Forbidden(f"权限不足：您的角色是{role}，不能{accounts.SCOPES.get(scope, scope)}；"
                     f"可以这样做的角色：{'、'.join(accounts.roles_with(scope))}。如需权限请联系管理员。",
                     need=scope)


def check_scopes(request: Request, *scopes: str) -> StaffUser:
    """The staff user of this request, holding every scope; 401 without credentials, 403 otherwise."""
    user = request.user
    if not user.is_authenticated:
        if request.method not in SAFE_METHODS and request.cookies.get(COOKIE) and CSRF_HEADER not in request.headers:
            raise Forbidden("用登录会话写入时必须带上 X-CSRF-Token 请求头（GET /api/staff/session 给出令牌）")
        if not staff_open(request.app.state.services):
            raise Unauthorized("员工接口未开启：服务端没有配置 KB_STAFF_TOKENS，也没有员工账号（kb staff add）")
        raise Unauthorized("需要员工令牌：请求头 Authorization: Bearer <令牌>")
    for scope in scopes:
        if scope not in user.scopes:
            raise refuse(user, scope)
    return user


def requires(scope: str = "log:read", *, redirect: str | None = None):
    """Guard an endpoint, API or page, with the scope it needs. Without credentials an API
    endpoint (no `redirect`) answers 401 with WWW-Authenticate; a page sends a GET to `redirect`
    with next= the page asked for, and refuses anything else (403: a form posted after the
    session ended). The wrong role is a 403 either way. The scope is kept on the endpoint
    (`required_scope`), where the OpenAPI document reads which operations need a token."""
    def wrap(endpoint):
        @functools.wraps(endpoint)
        async def guarded(request: Request, *args):
            if redirect is not None and not request.user.is_authenticated:
                if not await run_in_threadpool(staff_open, services(request)):
                    raise Forbidden(CLOSED)
                if request.method not in SAFE_METHODS:
                    raise Forbidden("登录已过期或尚未登录，请重新登录后再提交。")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(redirect + "?" + urlencode({"next": on_site(target)}), status_code=303,
                                        headers={"Cache-Control": "no-store"})
            check_scopes(request, scope)
            return await endpoint(request, *args)
        guarded.required_scope = scope
        return guarded
    return wrap


def on_site(target: str | None) -> str:
    """Where to go after signing in: `target` if it is one of our own pages, else HOME (no open
    redirect: not another host, not `//host`, not a backslash browsers read as a slash)."""
    if target and target.startswith(NEXT_PREFIXES) and not target.startswith("//") and "\\" not in target \
            and len(target) < 500:
        return target
    return HOME


# -- accounts tied to one community (kb staff add NAME --community ID) ----------------------------

def own_community(request: Request) -> str | None:
    """The community a signed-in account is limited to; None for company-wide staff."""
    return getattr(request.user, "community", None) if request.user.is_authenticated else None


def offered_communities(request: Request, communities: dict[str, str]) -> dict[str, str]:
    """What a staff form's community selector offers: every community, or a community's account
    only its own (it may neither see nor write for another)."""
    own = own_community(request)
    return {cid: name for cid, name in communities.items() if own is None or cid == own}


def community_filter(request: Request, asked: str | None) -> str | None:
    """The community= filter a staff view may use: the account's own one whatever was asked for
    (asking for another is a 403 that says so), else what was asked."""
    own = own_community(request)
    if own is None:
        return asked
    if asked not in (None, own):
        raise Forbidden(f"您的账号只负责小区 {own}，不能查看其他小区的数据", need="community")
    return own


def check_entry(request: Request, entry: dict) -> dict:
    """An entry of another community is not there for a community's account (404, as if missing:
    nothing about it is revealed). Page feedback has no community: company-wide staff only."""
    own = own_community(request)
    if own is not None and entry.get("community") != own:
        raise NotFound(f"没有编号为 {entry.get('id')} 的条目", id=entry.get("id"))
    return entry


def with_own_community(request: Request, data: dict) -> dict:
    """A community's account records for its own community: an intake without one gets it filled in
    (one that names another is still refused by check_community)."""
    own = own_community(request)
    if own is not None and isinstance(data, dict) and data.get("community") in (None, ""):
        return {**data, "community": own}
    return data


def check_community(request: Request, community: str | None) -> None:
    """Writing for a community (an intake, a notice): a community's account writes only for its own."""
    own = own_community(request)
    if own is not None and community != own:
        where = f"小区 {community}" if community else "全公司"
        raise Forbidden(f"您的账号只负责小区 {own}，不能为{where}登记或发布", need="community")


# Each part of a PATCH needs its own scope (issue 29: an editor, who may add actions, could also
# set `contacted` and `claim` in the same request).
PART_SCOPES = {"status": "log:write", "owner": "log:write", "note": "log:write", "category": "log:write",
               "satisfied": "log:write", "contacted": "log:write", "claim": "log:write", "reply": "log:write",
               "publish": "approve", "action": "actions", "action_done": "actions"}


def patch_scopes(patch: dict) -> list[str]:
    """Which scopes a change to an entry needs, part by part: closing, publishing and anything
    that puts a link or an action on the public page need a supervisor's approval; actions are an
    editor's work; the rest is an agent's. An unknown part needs log:write (and is then refused
    by the form check)."""
    if not isinstance(patch, dict):
        return ["log:write"]
    out = {PART_SCOPES.get(k, "log:write") for k in patch}
    if patch.get("status") == "closed":
        out.add("approve")
    action = patch.get("action")
    if isinstance(action, dict) and (action.get("public") is True or action.get("pr_url")):
        out.add("approve")
    return sorted(out) or ["log:write"]


def check_patch(request: Request, store, entry: dict, patch: dict) -> None:
    """What the scopes alone cannot tell: the link of a public action shows on the public page,
    so only a supervisor or admin sets it; an owner is an account that may handle this entry
    (or a KB_STAFF_TOKENS name)."""
    done = patch.get("action_done") if isinstance(patch, dict) else None
    if isinstance(done, dict) and done.get("pr_url") and "approve" not in request.user.scopes:
        if store.action_is_public(entry["id"], done.get("id")):
            raise refuse(request.user, "approve")
    owner = patch.get("owner") if isinstance(patch, dict) else None
    # Enforced once staff accounts exist: with KB_STAFF_TOKENS alone every name is a supervisor
    # (no roles to keep apart) and the owner stays free text, as the outside contract uses it.
    if isinstance(owner, str) and owner.strip() and owner != entry.get("owner") \
            and accounts.any_accounts(store.engine):
        names = set(request.app.state.services.settings.staff_tokens.values())
        names |= set(accounts.owner_names(store.engine, community=entry.get("community")))
        if owner.strip() not in names:
            raise ValidationFailed([{"field": "owner", "message": "负责人应为能处理这条反馈的员工账号："
                                     + ("、".join(sorted(names)) or "（还没有员工账号：kb staff add）")}])
