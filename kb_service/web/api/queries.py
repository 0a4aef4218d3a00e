"""The query strings of the API and the staff pages, declared once with kb_service.inputs: the
handlers read them through these, and web/openapi.py documents the same declarations (limits,
choices, ranges), so the two cannot drift apart."""

from __future__ import annotations

from starlette.requests import Request

from kb_service.content.model import Corpus
from kb_service.feedback.insights import PERIODS
from kb_service.feedback.store import MAX_LIMIT, STATUSES
from kb_service.inputs import Body, Choice, IdList, Integer, Overdue, Query, Text
from kb_service.web import access

KINDS = {"script": "话术", "template": "模板", "page": "页面"}

SEARCH = Query((
    Text("q", "查询词", "最多 200 字", limit=200, default=""),
    Integer("limit", "最多返回几条", "1–50，默认 10", lo=1, hi=50, default=10),
    Choice("kind", "只要某一类", options=KINDS),
))


def _types(corpus: Corpus) -> dict[str, str]:
    return {k: v.label for k, v in corpus.feedback.types.items()}


def _categories(corpus: Corpus) -> dict[str, str]:
    return dict(corpus.feedback.categories)


def _communities(corpus: Corpus) -> dict[str, str]:
    return {c.id: c.name for c in corpus.communities.values()}


LOG_FILTERS = Query((
    Choice("status", "状态", options=STATUSES),
    Choice("type", "类型", options=_types),
    Choice("category", "分类", options=_categories),
    Overdue("overdue", "只看超时（true）、未超时（false）、超答复时限（response）或超处理时限（result）的"),
    Choice("community", "小区", "只看这个小区的条目", options=_communities),
    IdList("ids", "条目编号", "逗号分隔，最多 1000 个：看板上一个数字背后的条目", most=1000),
))
PAGING = Query((
    Integer("limit", "每页条数", f"1–{MAX_LIMIT}，默认 50", lo=1, hi=MAX_LIMIT, default=50),
    Integer("offset", "跳过前几条", lo=0, hi=10**9, default=0),
))
COMMUNITY = Query((LOG_FILTERS.inputs[4],))
CALLER = Query((Text("phone", "来电号码", "只看这个号码的条目（至少 7 位数字）", limit=40),))
GAPS = Query((Integer("limit", "最多几条", "1–1000，默认 100", lo=1, hi=1000, default=100),))
LIST_PAGE = Query((
    Integer("page", "页码", lo=1, hi=10**6, default=1),
    Text("q", "搜索", "编号、内容、位置或负责人", limit=200, default=""),
))

MATCHES = {"strong": "有可靠答案", "weak": "可能相关", "none": "没有专门的话术"}
PICK = Body((
    Text("query", "查询文字", "1–200 字", limit=200, required=True),
    Choice("id", "打开的话术或模板", "例如 emergency.elevator-entrapment", required=True,
           options=lambda corpus: {sid: s.title for sid, s in corpus.snippets.items()}),
    Choice("match", "速查当时的把握", required=True, options=MATCHES),
))


def log_filters(request: Request, corpus: Corpus) -> dict:
    """The list's filters from the query string; an account tied to a community sees only its own."""
    filters = LOG_FILTERS.read(request.query_params, corpus)
    filters["community"] = access.community_filter(request, filters["community"])
    return filters


# -- the pages' own parameters -------------------------------------------------------------------

def done(messages: dict[str, str]) -> Query:
    """`?ok=<what was just done>` after a form's redirect; the page shows messages[ok]
    (done_message)."""
    return Query((Choice("ok", "刚完成的操作", options=messages),))


def done_message(done: Query, params) -> str | None:
    """The message a `done` query's `?ok=` picks, or None without one (a wrong one: 400)."""
    ok = done.read(params)["ok"]
    return done.inputs[0].mapping().get(ok) if ok else None


DASHBOARD = COMMUNITY + Query((Choice("days", "统计周期", options={str(k): v for k, v in PERIODS.items()}),))
PREVIEW = Query((Integer("epoch", "预览的构建序号", "等到构建序号不再是它时才回答", lo=0, hi=10**12 - 1),))
LOGIN = Query((Text("next", "登录后回到", "本站内的地址", limit=500, default=""),))
STATUS_VIEW = Query((
    Text("ref", "编号", "例如 FB20261201-ABCDE", limit=40, default=""),
    Choice("wrong", "上一次查询没有对上的", options={"code": "查询码", "phone": "手机号后四位"}),
))
