"""Markdown for the pages generated from snippets/ at build time (nothing generated is committed).

Every value from content is escaped before it goes into HTML or a Markdown table, so a stray `<`
or `|` in a script can never break a page.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections import defaultdict


from kb_service.content.filling import SMS_SINGLE, examples, render
from kb_service.content.markup import BLOCK_NAMES, cell, esc
from kb_service.content.model import CHANNEL_TEXT, KIND_DIRS, KIND_TEXT, MEASURE_TEXT, SOURCE_TEXT, TYPE_TEXT, Corpus, Script, Snippet, Template
from kb_service.errors import ValidationFailed
from kb_service.feedback.fields_spec import HONEYPOT, SUBMISSION, limits
from kb_service.site import communities, laws, public_log, templates

STANDARDS_PAGE = "residents/standards.md"


def link(from_uri: str, to_uri: str) -> str:
    return posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")


def page_url(src_uri: str) -> str:
    """Where a Markdown page is served with directory URLs: `a/b.md` -> `a/b/`, `a/index.md` -> `a/`."""
    stem = src_uri.removesuffix(".md")
    return stem.removesuffix("index") if stem == "index" or stem.endswith("/index") else stem + "/"


def html_link(from_uri: str, to_uri: str) -> str:
    """A link written in raw HTML, which no builder rewrites: relative between the served
    directories, not between the Markdown files (from `scripts/x.md`, served at `scripts/x/`,
    the category page is `../../categories/c/`)."""
    rel = posixpath.relpath(page_url(to_uri) or ".", page_url(from_uri) or ".")
    return rel + "/" if rel != "." else "./"


def category_uri(category: str) -> str:
    return f"categories/{category}.md"


def standard_anchor(standard_id: str) -> str:
    return "std-" + standard_id.replace(".", "-")


# -- one page per snippet ---------------------------------------------------------------------

# Staff scripts and templates stay in the site search (staff use it too) but rank below the pages
# written for residents (front matter boost 3): a resident who searches 停水 finds the outage
# notice and the resident pages first, and the labelled staff entries after them (search_labels).
# Material scores a title match 1000 times a text match: at 0.1 a template titled 停水通知 still
# came before every resident page that explains an outage; 0.001 puts it after them and before
# pages that do not mention the words at all.
SNIPPET_SEARCH = ["---", "search:", "  boost: 0.001", "---", ""]


def snippet_page(corpus: Corpus, snippet: Snippet, *, now: dt.datetime) -> str:
    uri = snippet.src_uri
    cat = corpus.site.categories[snippet.category]
    lines = [
        *SNIPPET_SEARCH,
        f"# {snippet.title}",
        "",
        _parts().meta(snippet, KIND_TEXT[snippet.kind], cat, html_link(uri, category_uri(snippet.category))),
        "",
        f"!!! abstract \"适用场景\"\n    {cell(corpus.expand(snippet.applies_when))}",
        "",
        f"{cell(corpus.expand(snippet.summary))}",
        "",
    ]
    if isinstance(snippet, Script):
        lines += script_body(corpus, snippet)
    else:
        lines += template_body(corpus, snippet, now=now)
    if snippet.related:
        lines += ["## 相关话术与模板", ""]
        for rid in snippet.related:
            other = corpus.snippets[rid]
            lines.append(f"- [{esc(other.title)}]({link(uri, other.src_uri)}) · {KIND_TEXT[other.kind]} `{other.id}`")
        lines.append("")
    if snippet.tags:
        lines += [_parts().tags(snippet.tags, html_link(uri, "tags/index.md"), tag_anchor), ""]
    if snippet.aliases:
        lines += [_parts().aliases(snippet.aliases), ""]
    return "\n".join(lines)


def _parts():
    """The macros of html/snippet_parts.html (each returns escaped markup)."""
    return templates.env().get_template("snippet_parts.html").module


def script_body(corpus: Corpus, script: Script) -> list[str]:
    steps = [{k: corpus.expand(step[k]) for k in ("say", "do", "note") if k in step} for step in script.steps]
    lines = ["## 通话步骤", "", _parts().steps(steps), ""]
    if script.avoid:
        lines += ["## 不要这样说", "", "| 不要说 | 可以这样说 | 原因 |", "| --- | --- | --- |"]
        lines += [f"| {cell(a['phrase'])} | {cell(corpus.expand(a['instead']))} | {cell(corpus.expand(a.get('why', '')))} |"
                  for a in script.avoid]
        lines.append("")
    if script.commitments:
        lines += commitments_table(corpus, script.src_uri, script.commitments)
    return lines


def commitments_table(corpus: Corpus, uri: str, ids: list[str]) -> list[str]:
    lines = ["## 依据的服务承诺", "", "| 承诺 | 时限 | 适用 |", "| --- | --- | --- |"]
    for sid in ids:
        s = corpus.standards[sid]
        target = link(uri, standards_page(s))
        lines.append(f"| [{cell(s.name)}]({target}#{standard_anchor(s.id)}) | {s.text} | {cell(s.applies_to)} |")
    return lines + [""]


def template_body(corpus: Corpus, template: Template, *, now: dt.datetime) -> list[str]:
    lines = ["## 填写项", "", "| 字段 | 类型 | 必填 | 说明 | 示例 |", "| --- | --- | --- | --- | --- |"]
    for f in template.fields:
        spec = f.get("computed")
        if spec:
            source = SOURCE_TEXT[spec["source"]]
            if spec["source"] == "standard":
                s = corpus.standards[spec["key"]]
                source += f"：{s.name}（{s.text}）"
            lines.append(f"| {cell(f['label'])} `{f['name']}` | {TYPE_TEXT[f['type']]} | 自动 | 由{cell(source)}计算 | |")
            continue
        kind = TYPE_TEXT[f["type"]]
        if f.get("choices"):
            kind += "：" + "、".join(f["choices"])
        lines.append(f"| {cell(f['label'])} `{f['name']}` | {cell(kind)} | {'是' if f.get('required') else '否'} "
                     f"| {cell(f.get('help', ''))} | {cell(f.get('example', ''))} |")
    lines += ["", "## 示例效果", "", "以下用各字段的示例值填写：", ""]
    for channel in template.channels:
        try:
            result = render(template, channel, examples(template), corpus, now=now)
        except ValidationFailed as exc:  # lint has already rejected this; keep the page honest
            raise ValueError(f"{template.id}: 示例值无法填写 {exc.errors}") from exc
        title = CHANNEL_TEXT[channel]
        if channel == "sms":
            title += f"（{result.length} 字{'，1 条' if result.length <= SMS_SINGLE else f'，{result.segments} 条'}）"
        lines += [f'=== "{title}"', "",
                  f'    <div class="kb-preview kb-preview-{channel}">{esc(result.text)}</div>',
                  f'    <button class="kb-copy md-button" type="button" data-copy="{esc(result.text)}">复制全文</button>',
                  ""]
    return lines


def tag_anchor(tag: str) -> str:
    return "tag-" + tag


# -- index pages ------------------------------------------------------------------------------

def library_index(corpus: Corpus, kind: str) -> str:
    uri = f"{KIND_DIRS[kind]}/index.md"
    items = [s for s in corpus.snippets.values() if s.kind == kind]
    by_cat = defaultdict(list)
    for s in items:
        by_cat[s.category].append(s)
    title = "话术库" if kind == "script" else "模板库"
    intro = ("接听电话、接待来访、处理投诉和突发事件时照着说的话。每条都有编号，可在工单里引用。"
             if kind == "script" else "通知、回执、报告的标准写法。填入字段即可得到短信、微信群通知和张贴通知的文字。")
    lines = [f"# {title}", "", intro, "", f"共 {len(items)} 条。按标签查找见[标签索引]({link(uri, 'tags/index.md')})。", ""]
    for cat in corpus.site.categories:
        if cat not in by_cat:
            continue
        lines += [f"## {esc(corpus.site.categories[cat])}", ""]
        lines += snippet_list(corpus, uri, sorted(by_cat[cat], key=lambda s: s.id))
        lines.append("")
    return "\n".join(lines)


def snippet_list(corpus: Corpus, uri: str, snippets: list[Snippet]) -> list[str]:
    return [f"- [{esc(s.title)}]({link(uri, s.src_uri)}) `{s.id}` — {cell(corpus.expand(s.summary))}" for s in snippets]


# Listing pages repeat every summary once per tag or category (a fifth of the site search index,
# which phones download and index on every full page load) and would push the script's own page
# out of the first results: they stay out of the site's search, reachable from the navigation.
NOT_IN_SEARCH = ["---", "search:", "  exclude: true", "---", ""]


def category_page(corpus: Corpus, category: str) -> str:
    uri = category_uri(category)
    items = sorted((s for s in corpus.snippets.values() if s.category == category), key=lambda s: s.id)
    lines = [*NOT_IN_SEARCH, f"# {esc(corpus.site.categories[category])}", "",
             f"分类编号 `{category}`，共 {len(items)} 条。", ""]
    return "\n".join(lines + snippet_list(corpus, uri, items) + [""])


def categories_index(corpus: Corpus) -> str:
    uri = "categories/index.md"
    lines = [*NOT_IN_SEARCH, "# 分类", ""]
    for cat, name in corpus.site.categories.items():
        n = sum(1 for s in corpus.snippets.values() if s.category == cat)
        if n:
            lines.append(f"- [{esc(name)}]({link(uri, category_uri(cat))}) `{cat}` · {n} 条")
    return "\n".join(lines + [""])


def tags_page(corpus: Corpus) -> str:
    uri = "tags/index.md"
    by_tag = defaultdict(list)
    for s in corpus.snippets.values():
        for t in s.tags:
            by_tag[t].append(s)
    lines = [*NOT_IN_SEARCH, "# 标签索引", "", "话术与模板按标签列出。", ""]
    for tag in sorted(by_tag, key=lambda t: (-len(by_tag[t]), t)):
        lines += [_parts().tag_heading(tag, tag_anchor(tag)), ""]
        lines += snippet_list(corpus, uri, sorted(by_tag[tag], key=lambda s: s.id))
        lines.append("")
    return "\n".join(lines)


def generated_pages(corpus: Corpus, *, now: dt.datetime) -> dict[str, str]:
    """src_uri -> Markdown for every page built from snippets/."""
    pages = {s.src_uri: snippet_page(corpus, s, now=now) for s in corpus.snippets.values()}
    pages["scripts/index.md"] = library_index(corpus, "script")
    pages["templates/index.md"] = library_index(corpus, "template")
    pages["categories/index.md"] = categories_index(corpus)
    for cat in {s.category for s in corpus.snippets.values()}:
        pages[category_uri(cat)] = category_page(corpus, cat)
    pages["tags/index.md"] = tags_page(corpus)
    pages[laws.URI] = laws.laws_page(corpus)
    pages.update(communities.community_pages(corpus))
    return pages


# -- blocks inside hand-written pages ---------------------------------------------------------

# Record-keeping periods are the staff's business (how long a complaint's contact details are
# kept): on the staff page's full table, not in the table residents read.
STAFF_ONLY_CATEGORIES = {"records"}
STAFF_STANDARDS_PAGE = "staff/index.md"


def for_residents(s) -> bool:
    return s.category not in STAFF_ONLY_CATEGORIES


def standards_page(s) -> str:
    """The page whose table has the standard's row (and its anchor)."""
    return STANDARDS_PAGE if for_residents(s) else STAFF_STANDARDS_PAGE


def standards_table(corpus: Corpus, sources: dict | None = None) -> str:
    """On a residents' page: what residents are promised, in three plain columns, inside a box
    with readable text (kb-plain-table). Elsewhere (the staff page): every standard, with how it
    is timed and the staff's notes."""
    if (sources or {}).get("src", "").startswith("residents/"):
        rows = ["| 承诺 | 时限 | 哪些情况 |", "| --- | --- | --- |"]
        rows += [f'| <span id="{standard_anchor(s.id)}"></span>{cell(s.name)} | **{s.text}** | {cell(s.applies_to)} |'
                 for s in corpus.standards.values() if for_residents(s)]
        return "\n".join(['<div class="kb-plain-table" markdown="1">', "", *rows, "", "</div>"])
    rows = ["| 承诺 | 时限 | 计时方式 | 适用情形 | 说明 |", "| --- | --- | --- | --- | --- |"]
    for s in corpus.standards.values():
        rows.append(f'| <span id="{standard_anchor(s.id)}"></span>{cell(s.name)} | **{s.text}** | {MEASURE_TEXT[s.measure]} '
                    f"| {cell(s.applies_to)} | {cell(corpus.expand(s.description))} |")
    return "\n".join(rows)


BLOCKS = {"standards": standards_table}


BLOCKS["community-list"] = communities.community_list


def public_log_block(corpus: Corpus, sources: dict | None = None) -> str:
    """The "你说我改" summary exported by `kb export-log` (a data source outside docs/)."""
    return public_log.render(corpus, (sources or {}).get("public-log"))


BLOCKS["public-log"] = public_log_block


# -- resident feedback form (residents/feedback.md) ---------------------------------------------

def feedback_form(corpus: Corpus, sources: dict | None = None) -> str:
    """The 反馈与投诉 form (template html/feedback_form.html). Types, categories, rating dimensions,
    answer times and the retention period all come from snippets/feedback.yaml and standards.yaml,
    the length limits from fields_spec. It posts to the service as a plain form (works without
    JavaScript); feedback.js sends the same fields as JSON instead."""
    fb = corpus.feedback
    kinds = {tid: t for tid, t in fb.types.items() if tid != "page"}  # page: the widget under each page
    by_time: dict[str, list[str]] = defaultdict(list)
    for t in kinds.values():
        if t.response is not None:
            by_time[t.response.text].append(t.label)
    preset = communities.community_of((sources or {}).get("src", ""), corpus)
    html = templates.render("feedback_form.html",
        # the number a resident of this community calls: with one community, its service centre's
        hotline=(preset or (corpus.default_community if corpus.single_community else None) or corpus.site).hotline,
        preset=None if corpus.single_community else preset,
        choices=[] if corpus.single_community else sorted(corpus.communities.values(), key=lambda c: c.name),
        kinds={tid: t.label for tid, t in kinds.items()},
        answer_times=list(by_time.items()),
        result_times=[(t.label, t.result.text) for t in kinds.values() if t.result],
        categories=fb.categories, ratings=fb.ratings, keep=fb.retention.text,
        limits=limits(SUBMISSION), honeypot=HONEYPOT)
    # One raw HTML block inside a Markdown page: an empty line would end it.
    return "\n".join(line for line in html.splitlines() if line.strip())


BLOCKS["feedback-form"] = feedback_form

assert set(BLOCKS) == set(BLOCK_NAMES), "markup.BLOCK_NAMES and the blocks rendered here must match"
