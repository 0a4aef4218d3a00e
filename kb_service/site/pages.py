"""Markdown for the pages generated from snippets/ at build time (nothing generated is committed).

Every value from content is escaped before it goes into HTML or a Markdown table, so a stray `<`
or `|` in a script can never break a page.
"""

from __future__ import annotations

import datetime as dt
import html
import posixpath
import re
from collections import defaultdict
from typing import Callable, Iterator

from kb_service.content.filling import SMS_SINGLE, examples, render
from kb_service.content.markup import BLOCK_NAMES, cell, esc
from kb_service.content.model import CHANNEL_TEXT, KIND_DIRS, KIND_TEXT, MEASURE_TEXT, SOURCE_TEXT, TYPE_TEXT, Corpus, Script, Snippet, Template
from kb_service.errors import ValidationFailed
from kb_service.feedback.forms import HONEYPOT, LIMITS
from kb_service.site import public_log

STANDARDS_PAGE = "residents/standards.md"


def link(from_uri: str, to_uri: str) -> str:
    return posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")


def category_uri(category: str) -> str:
    return f"categories/{category}.md"


def standard_anchor(standard_id: str) -> str:
    return "std-" + standard_id.replace(".", "-")


# -- one page per snippet ---------------------------------------------------------------------

def snippet_page(corpus: Corpus, snippet: Snippet, *, now: dt.datetime) -> str:
    uri = snippet.src_uri
    cat = corpus.site.categories[snippet.category]
    lines = [
        f"# {snippet.title}",
        "",
        f'<p class="kb-meta"><span class="kb-id" title="在工单和记录里引用这个编号">编号 <code>{esc(snippet.id)}</code></span>'
        f' · {KIND_TEXT[snippet.kind]} · 分类 <a href="{esc(link(uri, category_uri(snippet.category)).removesuffix(".md"))}/">{esc(cat)}</a>'
        f" · 负责：{esc(snippet.owner)} · 审核：{esc(snippet.reviewed)}</p>",
        "",
        f"!!! abstract \"适用场景\"\n    {cell(snippet.applies_when)}",
        "",
        f"{cell(snippet.summary)}",
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
        tags = " ".join(f'<a class="kb-tag" href="{esc(link(uri, "tags/index.md").removesuffix("index.md"))}#{esc(tag_anchor(t))}">{esc(t)}</a>'
                        for t in snippet.tags)
        lines += [f'<p class="kb-tags">标签：{tags}</p>', ""]
    if snippet.aliases:
        lines += [f'<p class="kb-aliases">也叫：{esc("、".join(snippet.aliases))}</p>', ""]
    return "\n".join(lines)


def script_body(corpus: Corpus, script: Script) -> list[str]:
    lines = ["## 通话步骤", "", '<ol class="kb-steps">']
    for step in script.steps:
        lines.append("<li>")
        if "say" in step:
            say = corpus.expand(step["say"])
            lines.append(f'<div class="kb-say"><span class="kb-say-label">说</span>'
                         f'<span class="kb-say-text">{esc(say)}</span>'
                         f'<button class="kb-copy md-button" type="button" data-copy="{esc(say)}" '
                         f'title="复制这句话">复制</button></div>')
        if "do" in step:
            lines.append(f'<p class="kb-do"><span class="kb-label">做</span>{esc(corpus.expand(step["do"]))}</p>')
        if "note" in step:
            lines.append(f'<p class="kb-note"><span class="kb-label">提示</span>{esc(corpus.expand(step["note"]))}</p>')
        lines.append("</li>")
    lines += ["</ol>", ""]
    if script.avoid:
        lines += ["## 不要这样说", "", "| 不要说 | 可以这样说 | 原因 |", "| --- | --- | --- |"]
        lines += [f"| {cell(a['phrase'])} | {cell(a['instead'])} | {cell(a.get('why', ''))} |" for a in script.avoid]
        lines.append("")
    if script.commitments:
        lines += commitments_table(corpus, script.src_uri, script.commitments)
    return lines


def commitments_table(corpus: Corpus, uri: str, ids: list[str]) -> list[str]:
    target = link(uri, STANDARDS_PAGE)
    lines = ["## 依据的服务承诺", "", "| 承诺 | 时限 | 适用 |", "| --- | --- | --- |"]
    for sid in ids:
        s = corpus.standards[sid]
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
        lines += snippet_list(uri, sorted(by_cat[cat], key=lambda s: s.id))
        lines.append("")
    return "\n".join(lines)


def snippet_list(uri: str, snippets: list[Snippet]) -> list[str]:
    return [f"- [{esc(s.title)}]({link(uri, s.src_uri)}) `{s.id}` — {cell(s.summary)}" for s in snippets]


def category_page(corpus: Corpus, category: str) -> str:
    uri = category_uri(category)
    items = sorted((s for s in corpus.snippets.values() if s.category == category), key=lambda s: s.id)
    lines = [f"# {esc(corpus.site.categories[category])}", "", f"分类编号 `{category}`，共 {len(items)} 条。", ""]
    return "\n".join(lines + snippet_list(uri, items) + [""])


def categories_index(corpus: Corpus) -> str:
    uri = "categories/index.md"
    lines = ["# 分类", ""]
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
    lines = ["# 标签索引", "", "话术与模板按标签列出。", ""]
    for tag in sorted(by_tag, key=lambda t: (-len(by_tag[t]), t)):
        lines += [f'<h2 id="{esc(tag_anchor(tag))}">{esc(tag)}</h2>', ""]
        lines += snippet_list(uri, sorted(by_tag[tag], key=lambda s: s.id))
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
    return pages


# -- blocks inside hand-written pages ---------------------------------------------------------

def standards_table(corpus: Corpus, sources: dict | None = None) -> str:
    rows = ["| 承诺 | 时限 | 计时方式 | 适用情形 | 说明 |", "| --- | --- | --- | --- | --- |"]
    for s in corpus.standards.values():
        rows.append(f'| <span id="{standard_anchor(s.id)}"></span>{cell(s.name)} | **{s.text}** | {MEASURE_TEXT[s.measure]} '
                    f"| {cell(s.applies_to)} | {cell(s.description)} |")
    return "\n".join(rows)


BLOCKS = {"standards": standards_table}


def _money(text: str) -> str:
    from decimal import Decimal

    return f"{Decimal(text):,.2f}"


def fee_items(corpus: Corpus, sources: dict | None = None) -> str:
    fees = corpus.fees
    rows = ["| 收费项目 | 单价 | 计算方式 | 包含的服务 | 依据 | 适用 | 生效日期 |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for item in fees.get("items", []):
        rows.append(f"| {cell(item['name'])} | **{cell(item['unit_price'])}** {cell(item['unit'])} | {cell(item['computation'])} "
                    f"| {cell('、'.join(item['covers']))} | {cell(item['basis'])} | {cell(item['applies_to'])} "
                    f"| {cell(item['effective_date'])} |")
    return "\n".join(rows + ["", f"收费依据：{cell(fees.get('basis', ''))}　本价目自 {cell(fees.get('effective_date', ''))} 起执行。"])


def fee_disclosure(corpus: Corpus, sources: dict | None = None) -> str:
    return "\n".join(f"- {cell(x)}" for x in corpus.fees.get("disclosure_items", []))


def public_revenue(corpus: Corpus, sources: dict | None = None) -> str:
    from decimal import Decimal

    out = []
    for period in corpus.fees.get("public_revenue", []):
        rows = [f"### {cell(period['period'])}", "", "| 收入来源 | 收入（元） | 合理成本（元） | 成本说明 | 归业主的收益（元） |",
                "| --- | ---: | ---: | --- | ---: |"]
        total_in = total_cost = Decimal(0)
        for e in period["entries"]:
            income, costs = Decimal(e["income"]), Decimal(e["costs"])
            total_in, total_cost = total_in + income, total_cost + costs
            rows.append(f"| {cell(e['source'])} | {income:,.2f} | {costs:,.2f} | {cell(e.get('cost_note', ''))} | {income - costs:,.2f} |")
        rows.append(f"| **合计** | **{total_in:,.2f}** | **{total_cost:,.2f}** | | **{total_in - total_cost:,.2f}** |")
        if period.get("owners_share_note"):
            rows += ["", cell(period["owners_share_note"])]
        out += rows + [""]
    return "\n".join(out)


def fee_calculator(corpus: Corpus, sources: dict | None = None) -> str:
    """A form whose prices come from fees.yaml; fees.js does the arithmetic in cents."""
    area_items = [i for i in corpus.fees.get("items", []) if i["unit"] == "元/平方米·月"]
    options = "".join(f'<option value="{esc(i["unit_price"])}">{esc(i["name"])}（{esc(i["unit_price"])} 元/平方米·月）</option>'
                      for i in area_items)
    parking = "".join(f'<option value="{esc(p["monthly"])}">{esc(p["name"])}（{esc(p["monthly"])} 元/个·月）</option>'
                      for p in corpus.fees.get("parking", []))
    return f"""<form class="kb-calc" id="kb-fee-calculator" markdown="0">
<p><label>房屋类型 <select name="item">{options}</select></label></p>
<p><label>计费面积（平方米） <input name="area" type="number" min="0" max="100000" step="0.01" value="89.50" inputmode="decimal"></label></p>
<p><label>月数 <input name="months" type="number" min="1" max="120" step="1" value="12" inputmode="numeric"></label></p>
<p><label>车位 <select name="parking"><option value="0.00">没有车位</option>{parking}</select></label>
<label>个数 <input name="spaces" type="number" min="0" max="20" step="1" value="1" inputmode="numeric"></label></p>
<output name="result" for="item area months parking spaces" aria-live="polite"></output>
<noscript><p>计算器需要浏览器启用 JavaScript；也可以按上面的公式自行计算：面积 × 单价 × 月数 + 车位费 × 车位数 × 月数。</p></noscript>
</form>"""


BLOCKS.update({"fee-items": fee_items, "fee-disclosure": fee_disclosure, "public-revenue": public_revenue,
               "fee-calculator": fee_calculator})


def public_log_block(corpus: Corpus, sources: dict | None = None) -> str:
    """The "你说我改" summary exported by `kb export-log` (a data source outside docs/)."""
    return public_log.render(corpus, (sources or {}).get("public-log"))


BLOCKS["public-log"] = public_log_block


# -- resident feedback form (residents/feedback.md) ---------------------------------------------

def feedback_form(corpus: Corpus, sources: dict | None = None) -> str:
    """The 反馈与投诉 form. Types, categories, rating dimensions, answer times and the retention
    period all come from snippets/feedback.yaml and standards.yaml. It posts to the service as a
    plain form (works without JavaScript); feedback.js sends the same fields as JSON instead."""
    fb = corpus.feedback
    kinds = {tid: t for tid, t in fb.types.items() if tid != "page"}  # page: the widget under each page

    def error(name: str) -> str:
        return f'<p class="kb-fb-error" id="kb-fb-err-{esc(name.replace(".", "-"))}" hidden></p>'

    types = "".join(f'<label class="kb-fb-choice"><input type="radio" name="type" value="{esc(tid)}" required '
                    f'aria-describedby="kb-fb-err-type"> {esc(t.label)}</label>' for tid, t in kinds.items())
    by_time: dict[str, list[str]] = defaultdict(list)
    for t in kinds.values():
        if t.response is not None:
            by_time[t.response.text].append(t.label)
    answer = "；".join(f"{esc('、'.join(labels))} {esc(text)}内答复" for text, labels in by_time.items())
    results = "".join(f"；{esc(t.label)}的处理结果 {esc(t.result.text)}内告知" for t in kinds.values() if t.result)
    categories = "".join(f'<option value="{esc(cid)}">{esc(label)}</option>' for cid, label in fb.categories.items())
    ratings = []
    for rid, label in fb.ratings.items():
        name = f"ratings.{rid}"
        scores = "".join(f'<label class="kb-fb-choice"><input type="radio" name="{esc(name)}" value="{n}"> {n}</label>'
                         for n in range(1, 6))
        ratings.append(f'<div class="kb-fb-rating" role="radiogroup" aria-labelledby="kb-fb-rl-{esc(rid)}" '
                       f'aria-describedby="kb-fb-err-ratings-{esc(rid)}">'
                       f'<span class="kb-fb-rating-label" id="kb-fb-rl-{esc(rid)}">{esc(label)}</span>{scores}'
                       f'<label class="kb-fb-choice kb-fb-skip"><input type="radio" name="{esc(name)}" value="" checked> 不评</label>'
                       f'{error(name)}</div>')
    keep = fb.retention.text
    return f"""<form class="kb-fb" id="kb-feedback-form" method="post" action="/api/feedback" accept-charset="utf-8" data-hotline="{esc(corpus.site.hotline)}">
<p class="kb-fb-note">带 <span class="kb-fb-req">*</span> 的必须填写。答复时限：{answer}{results}。</p>
<fieldset class="kb-fb-group" id="kb-fb-type"><legend>反馈类型 <span class="kb-fb-req">*</span></legend>{types}{error("type")}</fieldset>
<div class="kb-fb-field"><label class="kb-fb-label" for="kb-fb-category">分类（可不选）</label>
<select class="kb-fb-input" id="kb-fb-category" name="category" aria-describedby="kb-fb-err-category"><option value="">请选择</option>{categories}</select>{error("category")}</div>
<div class="kb-fb-field"><label class="kb-fb-label" for="kb-fb-location">楼栋 / 单元 / 位置（可不填）</label>
<input class="kb-fb-input" id="kb-fb-location" name="location" type="text" maxlength="{LIMITS['location']}" placeholder="例如：3栋1单元 或 地下车库B区" aria-describedby="kb-fb-err-location">{error("location")}</div>
<div class="kb-fb-field"><label class="kb-fb-label" for="kb-fb-content">具体内容 <span class="kb-fb-req">*</span></label>
<textarea class="kb-fb-input" id="kb-fb-content" name="content" rows="6" maxlength="{LIMITS['content']}" required placeholder="发生了什么、在哪里、什么时候，希望我们怎么做" aria-describedby="kb-fb-err-content"></textarea>{error("content")}</div>
<fieldset class="kb-fb-group"><legend>满意度评分（可不评；1 分最低，5 分最高）</legend>{"".join(ratings)}</fieldset>
<fieldset class="kb-fb-group"><legend>联系方式（可不填）</legend>
<p class="kb-fb-note">只有勾选下面的“同意”，我们才会保存您的称呼和电话，并且只用来就这次反馈联系您。联系方式随反馈记录保存 {esc(keep)}，期满后删除。不勾选也能提交，但我们没法主动答复您；不勾选时，填了的称呼和电话也不会保存。</p>
<div class="kb-fb-field"><label class="kb-fb-label" for="kb-fb-contact_name">称呼</label>
<input class="kb-fb-input" id="kb-fb-contact_name" name="contact_name" type="text" maxlength="{LIMITS['contact_name']}" autocomplete="name" placeholder="例如：王女士" aria-describedby="kb-fb-err-contact_name">{error("contact_name")}</div>
<div class="kb-fb-field"><label class="kb-fb-label" for="kb-fb-contact_phone">电话</label>
<input class="kb-fb-input" id="kb-fb-contact_phone" name="contact_phone" type="tel" maxlength="{LIMITS['contact_phone']}" autocomplete="tel" inputmode="tel" placeholder="手机或座机" aria-describedby="kb-fb-err-contact_phone">{error("contact_phone")}</div>
<div class="kb-fb-field"><label class="kb-fb-choice"><input type="checkbox" id="kb-fb-consent" name="consent" value="true" aria-describedby="kb-fb-err-consent"> 同意保存我的称呼和电话，用于就这次反馈联系我（保存 {esc(keep)}）</label>{error("consent")}</div>
</fieldset>
<div class="kb-fb-hp" aria-hidden="true"><label>请勿填写此项 <input type="text" name="{HONEYPOT}" value="" tabindex="-1" autocomplete="off"></label></div>
<input type="hidden" name="idempotency_key" value="">
<p><button class="md-button md-button--primary" id="kb-fb-submit" type="submit">提交</button></p>
<div class="kb-fb-status" id="kb-fb-status" role="status" aria-live="polite"></div>
</form>
<div class="kb-fb-result" id="kb-fb-result" tabindex="-1" hidden></div>"""


BLOCKS["feedback-form"] = feedback_form

assert set(BLOCKS) == set(BLOCK_NAMES), "markup.BLOCK_NAMES and the blocks rendered here must match"
