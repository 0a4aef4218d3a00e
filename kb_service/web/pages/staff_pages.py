"""Staff web pages under /staff/: token login, the log list (/staff/entries/), entry detail and changes, intake,
CSV export, dashboard and content gaps. Server-rendered HTML, no JavaScript.

Sessions: a token typed into the login form starts a session (sessions.start_session); its cookie
is HttpOnly, SameSite=Strict and scoped to /staff. Every POST checks the Origin (guards) and the
session's CSRF token from a hidden `csrf` field. A GET without a session goes to the login page;
a POST without one is refused (403). With KB_STAFF_TOKENS empty the staff area is closed.
"""

from __future__ import annotations

import functools
import json
import secrets
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kb_service.errors import Conflict, KBError, ValidationFailed
from kb_service.feedback import contact, history
from kb_service.feedback import reports
from kb_service.feedback.fields_spec import (
    ACTION,
    ACTION_DONE,
    ACTION_KINDS,
    INTAKE,
    PATCH,
    STATUSES,
    Errors,
    Form,
    from_html,
    labels,
)
from kb_service.feedback import communities
from kb_service.feedback import insights
from kb_service.site import svg
from kb_service.times import local_now, utcnow
from kb_service import inputs
from kb_service.staff import accounts, sessions
from kb_service.web import access, params
from kb_service.web.api import api, queries
from kb_service.web.pages import dashboard_charts, logins
from kb_service.site import templates
from kb_service.staff.sessions import COOKIE, SESSION_TTL
from kb_service.web.middleware.guards import check_same_origin
from kb_service.web.services import services

PAGE_SIZE = 50
REPAIR = "repair"     # the feedback type whose tiers (snippets/feedback.yaml) the intake form offers
# The built site already has /staff/ (员工专区), /staff/lookup/ and /staff/fill/: these pages take
# only their own paths under /staff/ and leave everything else to the site. The list lives here.
LIST = access.HOME
NO_STORE = {"Cache-Control": "no-store"}
EVENT_KINDS = {"created": "登记", "status": "状态变更", "owner": "负责人", "category": "分类", "note": "备注",
               "publish": "公开摘要", "action": "改进措施", "action_done": "措施完成", "purge": "删除个人信息",
               "contacted": "已联系业主", "reply": "给业主的答复", "claim": "赔偿主张"}
SOURCES = reports.SOURCES
# Messages after a successful change (PRG redirect ?ok=...): fixed texts, never user input.
ENTRY_DONE = queries.done({
    "contacted": "已记录联系业主", "status": "状态已更新", "owner": "负责人已更新", "category": "分类已更新", "note": "备注已记录",
    "action": "改进措施已添加", "action_done": "改进措施已标记完成", "publish": "公开摘要已保存", "reply": "给业主的答复已保存",
    "created": "已登记，下面是这条记录"})
FIELD_LABELS = {**labels(INTAKE), **labels(PATCH), "content": "投诉内容", "action_done.id": "完成的措施", "community": "小区"}
# The status form sends a note with the new status (satisfied is a yes/no choice, read by hand).
PATCH_STATUS = Form("status", (PATCH["note"],))


# -- plumbing ---------------------------------------------------------------------------------------

def page(request: Request, name: str, *, status_code: int = 200, sess: dict | None = None, **context) -> HTMLResponse:
    svc = services(request)
    user = request.scope.get("user")
    html = templates.render(name, site=svc.corpus.site, staff_name=sess["name"] if sess else None,
                            csrf=sess["csrf"] if sess else "",
                            # the nav offers only what this role may open (no 统计 for an agent)
                            staff_scopes=user.scopes if sess and user is not None and user.is_authenticated else frozenset(), **context)
    return HTMLResponse(html, status_code=status_code, headers=NO_STORE)


def message_page(request: Request, title: str, text: str, status_code: int, sess: dict | None = None) -> HTMLResponse:
    return page(request, "staff_message.html", status_code=status_code, sess=sess, title=title, text=text)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def staff_page(*, post: bool = False, scope: str = "log:read"):
    """Wrap an endpoint: `access.requires(scope)` (signed in with a role holding `scope`, else the
    sign-in page or a 403), and for POST also same origin + CSRF. KBErrors become HTML pages with
    their status instead of the API's JSON; the wrong role is a 403 page that says which roles may."""
    def wrap(endpoint):
        @access.requires(scope, redirect=access.LOGIN)
        async def signed_in(request: Request) -> Response:
            user = request.user
            sess = user.session if user.via == "session" else {"name": user.name, "csrf": "", "role": user.role}
            request.state.staff_session = sess          # for the error page's header
            if not post:
                return await endpoint(request, sess)
            form = await read_form(request)
            if user.via == "session":
                sessions.check_csrf(sess, form.pop("csrf", None))
            else:
                form.pop("csrf", None)
            return await endpoint(request, sess, form)

        @functools.wraps(endpoint)
        async def handler(request: Request) -> Response:
            try:
                if post:
                    check_same_origin(request.headers, str(request.base_url))
                return await signed_in(request)
            except KBError as exc:
                return message_page(request, _status_title(exc.status_code), exc.message, exc.status_code,
                                    getattr(request.state, "staff_session", None))
        handler.required_scope = scope
        return handler
    return wrap


def _status_title(code: int) -> str:
    return {403: "操作被拒绝", 404: "没有找到", 409: "无法执行", 413: "内容太多", 415: "格式不对",
            429: "太频繁"}.get(code, "请求有误")


async def read_form(request: Request) -> dict[str, Any]:
    """A posted HTML form as a dict (record.* and ratings.* grouped), with the API's size limit."""
    data, from_form = await params.read_submission(request)
    if not from_form:
        raise KBError("这里只接受网页表单提交")
    return data


def closed(request: Request) -> HTMLResponse:
    return message_page(request, "员工区未开启", access.CLOSED, 403)


# -- login ------------------------------------------------------------------------------------------

async def login_form(request: Request) -> Response:
    if not await run_in_threadpool(access.staff_open, services(request)):
        return closed(request)
    asked = queries.LOGIN.read(request.query_params)["next"]
    return page(request, "staff_login.html", next=access.on_site(asked), error=None)


async def login(request: Request) -> Response:
    svc = services(request)
    if not await run_in_threadpool(access.staff_open, svc):
        return closed(request)
    address = params.client_address(request)
    try:
        check_same_origin(request.headers, str(request.base_url))
        form = await read_form(request)
        token = form.get("token")
        token = token.strip() if isinstance(token, str) else ""
        who = await run_in_threadpool(logins.attempt, svc, token, address)
    except KBError as exc:
        return message_page(request, _status_title(exc.status_code), exc.message, exc.status_code)
    target = access.on_site(form.get("next"))
    if who is None:
        return page(request, "staff_login.html", status_code=401, next=target,
                    error="令牌不正确，请检查后重新输入（令牌区分大小写）。")
    cookie, _csrf = await run_in_threadpool(lambda: sessions.start_session(svc.store.engine, who.name,
                                                                           account_id=who.account_id, role=who.role))
    response = see_other(target)
    # Path "/": the same session also signs the lookup page's record panel into /api/ (with a
    # CSRF header for writes, see web/api/calls.py).
    response.set_cookie(COOKIE, cookie, max_age=int(SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    svc = services(request)
    try:
        check_same_origin(request.headers, str(request.base_url))
        form = await read_form(request)
        cookie = request.cookies.get(COOKIE)
        sess = await run_in_threadpool(sessions.session, svc.store.engine, cookie)
        if sess is not None:
            sessions.check_csrf(sess, form.get("csrf"))
            await run_in_threadpool(sessions.end_session, svc.store.engine, cookie)
    except KBError as exc:
        return message_page(request, _status_title(exc.status_code), exc.message, exc.status_code)
    response = see_other(access.LOGIN)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
    return response


# -- list, export -------------------------------------------------------------------------------------

async def _choices(request: Request, entry: dict | None = None) -> dict[str, Any]:
    """What the staff forms offer. A community's account is offered only its own community (`own`
    set: no 全部 option either), as it may neither see nor write for another. Owners are the
    KB_STAFF_TOKENS names and the active accounts that handle entries (for an entry: of its
    community or company-wide)."""
    svc = services(request)
    config = svc.corpus.feedback
    corpus = svc.corpus
    own = access.own_community(request)
    owners = await run_in_threadpool(accounts.owner_names, svc.store.engine,
                                     community=(entry or {}).get("community") or own)
    return {"statuses": STATUSES, "types": {k: v.label for k, v in config.types.items()},
            "categories": config.categories, "emotions": config.emotions, "ratings": config.ratings,
            "action_kinds": ACTION_KINDS, "sources": SOURCES, "contact_ways": contact.WAYS,
            "staff_names": sorted({*svc.settings.staff_tokens.values(), *owners}),
            # one community: no selector anywhere (the template hides it when this is empty)
            "communities": {} if corpus.single_community else access.offered_communities(
                request, {c.id: c.label for c in corpus.communities.values()}),
            "own": own}


@staff_page()
async def entry_list(request: Request, sess: dict) -> Response:
    svc = services(request)
    filters = queries.log_filters(request, svc.corpus)
    asked = queries.LIST_PAGE.read(request.query_params)
    number, q = asked["page"], asked["q"]
    now = utcnow()
    # Page feedback ("这页有帮助吗？") is kept apart: listed only when its type is chosen.
    exclude = () if filters["type"] else ("page",)
    total, rows = await run_in_threadpool(
        lambda: history.search(svc.store, q, **filters, exclude=exclude, limit=PAGE_SIZE,
                               offset=(number - 1) * PAGE_SIZE, now=now))
    shown = {k: ("true" if v is True else "false" if v is False else ",".join(map(str, v)) if k == "ids" else v)
             for k, v in filters.items() if v is not None}
    if q:
        shown["q"] = q
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, "staff_list.html", sess=sess, rows=rows, total=total, filters=shown,
                page_number=number, pages=pages,
                prev_url=_list_url(shown, number - 1) if number > 1 else None,
                next_url=_list_url(shown, number + 1) if number < pages else None,
                export_url="/staff/export.csv" + (f"?{urlencode(shown)}" if shown else ""),
                **(await _choices(request)))


def _list_url(filters: dict, number: int) -> str:
    return LIST + "?" + urlencode({**filters, "page": number})


@staff_page(scope="dashboard")
async def export(request: Request, sess: dict) -> Response:
    svc = services(request)
    filters = queries.log_filters(request, svc.corpus)
    return api.csv_response(await run_in_threadpool(
        lambda: reports.export_csv(svc.store, filters, community_names=api.community_names(svc.corpus))))


# -- one entry --------------------------------------------------------------------------------------

@staff_page()
async def entry_detail(request: Request, sess: dict) -> Response:
    ok = queries.done_message(ENTRY_DONE, request.query_params)
    return await _detail(request, sess, ok=ok)


async def _detail(request: Request, sess: dict, *, ok: str | None = None, error: str | None = None,
                  errors: list | None = None, status_code: int = 200) -> Response:
    svc = services(request)
    entry_id = inputs.path_id(request)
    entry = access.check_entry(request, await run_in_threadpool(svc.store.get, entry_id))
    actions_by_id = {a["id"]: a for a in entry["actions"]}
    return page(request, "staff_entry.html", status_code=status_code, sess=sess, e=entry, ok=ok, error=error,
                errors=errors or [], labels=FIELD_LABELS, event_kinds=EVENT_KINDS, actions_by_id=actions_by_id,
                today=(local_now()).date().isoformat(), **(await _choices(request, entry)))


def patch_from_form(form: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The detail page's forms -> (operation, Store.update patch). Each form names its `op` and
    sends the PATCH fields of that operation (fields_spec.PATCH); Store.update checks them."""
    op = form.get("op")
    if op == "status":
        patch = {"status": form.get("status"), **from_html(PATCH_STATUS, form)}
        if form.get("status") == "triaged":
            owner = (form.get("owner") or "").strip() if isinstance(form.get("owner"), str) else ""
            if not owner:   # assigning is one action with its owner, never 已分派 without one
                raise ValidationFailed([{"field": "owner", "message": "分派需要负责人：请从名单中选择"}])
            patch["owner"] = owner
        if form.get("status") == "followed_up":
            errors = Errors()
            if form.get("satisfied") not in ("yes", "no"):
                errors.add("satisfied", "请选择回访时业主是否满意")
            errors.raise_if_any()
            patch["satisfied"] = form["satisfied"] == "yes"
        return op, patch
    if op == "contacted":
        at = form.get("at")
        return op, {"contacted": {"how": form.get("how"), "at": at.strip() if isinstance(at, str) else None}}
    if op in ("owner", "note", "publish", "category", "reply"):
        value = form.get(op)
        return op, {op: value.strip() if isinstance(value, str) else ""}
    if op == "action":
        return op, {"action": from_html(ACTION, form)}
    if op == "action_done":
        return op, {"action_done": from_html(ACTION_DONE, form, {"id": "action_id"})}
    raise KBError("未知的操作；请从条目页面上的表单提交")


@staff_page(post=True)
async def entry_update(request: Request, sess: dict, form: dict) -> Response:
    svc = services(request)
    entry_id = inputs.path_id(request)
    try:
        op, patch = patch_from_form(form)
        access.check_scopes(request, *access.patch_scopes(patch))
        entry = access.check_entry(request, await run_in_threadpool(svc.store.get, entry_id))
        await run_in_threadpool(access.check_patch, request, svc.store, entry, patch)
        names = (await _choices(request, entry))["staff_names"]
        if patch.get("owner") and patch["owner"] not in names:
            raise ValidationFailed([{"field": "owner", "message": "负责人请从员工名单中选择：" + "、".join(names)}])
        await run_in_threadpool(lambda: svc.store.update(entry_id, patch, actor=sess["name"]))
    except Conflict as exc:
        return await _detail(request, sess, error=exc.message, status_code=409)
    except ValidationFailed as exc:
        return await _detail(request, sess, error=exc.message, errors=exc.errors, status_code=422)
    return see_other(f"/staff/entries/{entry_id}?ok={op}")


# -- intake -------------------------------------------------------------------------------------------

async def _intake_page(request: Request, sess: dict, *, values: dict | None = None, errors: list | None = None,
                       status_code: int = 200) -> Response:
    values = values or {}
    record = values.get("record") if isinstance(values.get("record"), dict) else {}
    now_local = local_now()
    corpus = services(request).corpus
    repair = corpus.feedback.types.get(REPAIR)
    asked = queries.COMMUNITY.read(request.query_params, corpus)["community"]
    return page(request, "staff_intake.html", status_code=status_code, sess=sess,
                tiers=[{"id": k, "name": s.name, "text": s.text} for k, s in (repair.tiers if repair else {}).items()],
                default_tier=f"{repair.response.name}，{repair.response.text}内" if repair and repair.response else "",
                preset_community=asked if asked in corpus.communities else "",
                v={k: v for k, v in values.items() if isinstance(v, str)}, r=record, errors=errors or [],
                labels=FIELD_LABELS, key=values.get("idempotency_key") or secrets.token_urlsafe(16),
                default_time=now_local.strftime("%Y-%m-%dT%H:%M"), **(await _choices(request)))


@staff_page(scope="log:write")
async def intake_form(request: Request, sess: dict) -> Response:
    return await _intake_page(request, sess)


@staff_page(post=True, scope="log:write")
async def intake(request: Request, sess: dict, form: dict) -> Response:
    svc = services(request)
    data = access.with_own_community(request, dict(form))
    data.setdefault("consent", "false")
    kind = svc.corpus.feedback.types.get(data.get("type") if isinstance(data.get("type"), str) else "")
    if not (kind and kind.tiers and data.get("tier")):
        data.pop("tier", None)     # the tier select only means something for a type with tiers (报修)
    try:
        sub = communities.parse(data, svc.corpus, source="staff")
        access.check_community(request, sub.community)
    except ValidationFailed as exc:
        values, errors = await _community_from_history(request, form, exc.errors)
        return await _intake_page(request, sess, values=values, errors=errors, status_code=422)
    entry, _created = await run_in_threadpool(lambda: svc.store.submit(sub, actor=sess["name"]))
    return see_other(f"/staff/entries/{entry['id']}?ok=created")


async def _community_from_history(request: Request, form: dict, errors: list) -> tuple[dict, list]:
    """No community chosen, but the caller's number called before: preselect the community of their
    latest entry and say so (the person confirms by sending the form again)."""
    phone = form.get("contact_phone")
    if not any(e.get("field") == "community" for e in errors) or not isinstance(phone, str) or not phone.strip():
        return form, errors
    svc = services(request)
    _total, rows = await run_in_threadpool(lambda: history.by_phone(svc.store, phone, limit=1))
    latest = rows[0]["community"] if rows else None
    if latest not in svc.corpus.communities:
        return form, errors
    name = svc.corpus.communities[latest].label
    return ({**form, "community": latest},
            [{**e, "message": f"已按这个号码上次来电预选“{name}”，请确认后再提交"} if e.get("field") == "community" else e
             for e in errors])


# -- dashboard, gaps -----------------------------------------------------------------------------------

def charts(data: dict, minimum: int = 1) -> dict[str, str]:
    weeks = data["week_labels"]
    by_type = [(v["label"], v["counts"]) for v in data["volume_by_type"].values()]
    by_category = [(v["label"], v["counts"]) for v in data["volume_by_category"].values()]
    months = data["csi"]["months"]
    # no point from fewer ratings than the configured minimum (feedback.yaml csi_min_ratings)
    csi_series = [(v["label"], [c if n >= minimum else None for c, n in zip(v["csi"], v["n"])])
                  for v in data["csi"]["dimensions"].values()]
    return {
        "by_type": svg.bar_chart(weeks, by_type, title="每周反馈量（按类型）"),
        "by_category": svg.bar_chart(weeks, by_category, title="每周反馈量（按分类）"),
        "csi": svg.line_chart(months, csi_series, title="每月满意度指数 CSI（0–100）", top=100),
    }


@staff_page(scope="dashboard")
async def dashboard(request: Request, sess: dict) -> Response:
    svc = services(request)
    corpus = svc.corpus
    asked = queries.DASHBOARD.read(request.query_params, corpus)
    community = access.community_filter(request, asked["community"])
    days = insights.period_days(asked["days"])
    now = utcnow()
    window = insights.window(days, now)

    def compute() -> dict:
        return {"d": reports.dashboard(svc.store, now=now, community=community),
                # comparing communities is for company-wide staff, not for one community's account
                "compare": None if corpus.single_community or access.own_community(request) else insights.compare(
                    svc.store, corpus.communities.values(), window=window),
                "promises": insights.promises(svc.store, window=window, community=community),
                "growing": insights.growing(svc.store, window=window, community=community)}

    data = await run_in_threadpool(compute)
    minimum = corpus.feedback.csi_min_ratings
    choices = await _choices(request)
    pictures = {**charts(data["d"], minimum), **dashboard_charts.charts(data, community_names=choices["communities"])}
    return page(request, "staff_dashboard.html", sess=sess, charts=pictures, formula=reports.CSI_FORMULA,
                periods=insights.PERIODS, days=days, community=community, min_ratings=minimum,
                **data, **choices)


@staff_page(scope="gaps")
async def gaps(request: Request, sess: dict) -> Response:
    svc = services(request)
    await run_in_threadpool(svc.gaps.flush)
    rows = await run_in_threadpool(lambda: svc.store.gaps(limit=300))
    chosen = await run_in_threadpool(lambda: svc.store.picks(limit=100))
    for row in chosen:
        top = row["chosen"][0]["id"] if row["chosen"] else None
        script = svc.corpus.scripts.get(top) if top else None
        row["script"] = top if script else None
        row["yaml"] = callers_yaml(script.path, [row["query"]]) if script else ""
        for c in row["chosen"]:
            s = svc.corpus.snippets.get(c["id"])
            c["title"] = s.title if s else c["id"]
    return page(request, "staff_gaps.html", sess=sess, gaps=rows, picks=chosen)


def callers_yaml(path: str, queries: list[str]) -> str:
    """callers_say lines for a pull request: what agents typed, as YAML strings (JSON quoting is
    valid YAML and keeps every character as typed)."""
    lines = [f"# {path}：加到 callers_say 里（没有这个字段就连同下一行一起加）", "callers_say:"]
    lines += [f"  - {json.dumps(q, ensure_ascii=False)}" for q in queries]
    return "\n".join(lines) + "\n"


async def list_redirect(request: Request) -> Response:
    return see_other(LIST)
