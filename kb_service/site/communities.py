"""Resident pages per community, from snippets/communities/: a community index for residents to
find theirs, and for each community a landing page, its fee transparency page with the calculator,
its public-income ledger and the feedback form preset to it. Company-wide pages (service
standards, handbook) are not repeated per community: the landing page links to them and says
they apply to every community.

A company may run 200 communities, and a fee change must be on the site within seconds, so these
pages are not built by MkDocs one by one (800 pages, minutes per build; see bench/README.md).
`community_pages(corpus)` gives the site generator one *shell* per kind of page (the theme,
navigation and assets, with a slot); the service fills the slot at request time from the current
content (`page_markdown`, rendered by site/community_view.py). Links are site-absolute URLs.

Every value from content is escaped before it goes into HTML or a Markdown table.
"""

from __future__ import annotations

import posixpath
from decimal import Decimal

from kb_service.content.markup import cell, esc
from kb_service.content.model import Community, Corpus
from kb_service.site import templates

INDEX = "communities/index.md"
PAGES = {"index": "小区首页", "fees": "收费公示", "revenue": "公共收益", "feedback": "反馈与投诉"}
AREA_UNIT = "元/平方米·月"
SHELL = "_shell"                 # communities/_shell/<page>: same depth as communities/<id>/<page>
SLOT = "KB-COMMUNITY-SLOT"       # replaced by the page's HTML at request time
TITLE = "KB-COMMUNITY-TITLE"     # replaced by the page's title


def page_uri(community: Community | str, page: str = "index") -> str:
    cid = community if isinstance(community, str) else community.id
    return f"communities/{cid}/{page}.md"


def community_of(src_uri: str, corpus: Corpus) -> Community | None:
    """The community a generated page belongs to (from its path), or None for company-wide pages."""
    parts = src_uri.split("/")
    if len(parts) == 3 and parts[0] == "communities":
        return corpus.communities.get(parts[1])
    return None


def _link(from_uri: str, to_uri: str) -> str:
    """The site URL of a source page (`residents/fees.md` -> `/residents/fees/`); `from_uri` is
    kept so the call sites read like the generated pages' relative links."""
    path = posixpath.splitext(to_uri)[0]
    path = path.removesuffix("index")
    return "/" + (path.rstrip("/") + "/" if path.strip("/") else "")


def community_pages(corpus: Corpus) -> dict[str, str]:
    """What the site generator builds: the shells the service fills (index, and one per page kind)."""
    shells = {INDEX: shell(INDEX)}
    for page in PAGES:
        shells[page_uri(SHELL, page)] = shell(page_uri(SHELL, page))
    return shells


def shell(uri: str) -> str:
    return "\n".join(["---", f"title: {TITLE}", "hide: [toc]", "search:", "  exclude: true", "---", "",
                      f'<div class="kb-community-page" markdown="0">{SLOT}</div>', ""])


def page_markdown(corpus: Corpus, uri: str) -> tuple[str, str] | None:
    """(title, Markdown) of a community page at request time; None when there is no such page."""
    if uri == INDEX:
        return "找到您的小区", index_page(corpus)
    parts = uri.split("/")
    c = corpus.communities.get(parts[1]) if len(parts) == 3 and parts[0] == "communities" else None
    page = parts[2].removesuffix(".md") if c is not None else None
    if page not in PAGES:
        return None
    make = {"index": landing_page, "fees": fees_page, "revenue": revenue_page, "feedback": feedback_page}[page]
    title = c.label if page == "index" else f"{c.name}{PAGES[page]}"
    return title, make(corpus, c)


# -- pages --------------------------------------------------------------------------------------

def _example_note(c: Community) -> list[str]:
    if not c.example:
        return []
    return ['!!! warning "示例小区"', f"    {cell(c.name)}是虚构的示例，名称、地址、电话、价格和收支金额都不是真实数据。", ""]


def _nav(corpus: Corpus, c: Community, here: str) -> str:
    uri = page_uri(c, here)
    items = [f"[{label}]({_link(uri, page_uri(c, page))})" if page != here else f"**{label}**"
             for page, label in PAGES.items()]
    if not corpus.single_community:
        items.append(f"[其他小区]({_link(uri, INDEX)})")
    return '<p class="kb-community-nav" markdown="1">' + " · ".join(items) + "</p>"


def index_page(corpus: Corpus) -> str:
    lines = ["# 找到您的小区", ""]
    if corpus.single_community:
        c = corpus.default_community
        if c is not None:
            lines += [f"本公司服务的小区是 [{esc(c.label)}]({_link(INDEX, page_uri(c))})，"
                      f"服务中心电话 {cell(c.hotline)}。", ""]
        return "\n".join(lines)
    lines += [f"本公司目前服务 {len(corpus.communities)} 个小区。服务标准全公司统一；收费、公共收益和服务中心"
              "每个小区不同，请在下表找到您住的小区。也可以用页面顶部的搜索框搜小区名称或地址。", "",
              "| 小区 | 地址 | 服务中心电话 | 收费公示 | 公共收益 | 反馈 |", "| --- | --- | --- | --- | --- | --- |"]
    for c in sorted(corpus.communities.values(), key=lambda c: c.name):
        lines.append(f"| [{cell(c.label)}]({_link(INDEX, page_uri(c))}) | {cell(c.address)} | {cell(c.hotline)} "
                     f"| [收费]({_link(INDEX, page_uri(c, 'fees'))}) | [收益]({_link(INDEX, page_uri(c, 'revenue'))}) "
                     f"| [反馈]({_link(INDEX, page_uri(c, 'feedback'))}) |")
    return "\n".join(lines + [""])


def landing_page(corpus: Corpus, c: Community) -> str:
    uri = page_uri(c)
    buildings = "；".join(f"{b.name}（{'、'.join(b.units)}）" if b.units else b.name for b in c.buildings)
    return "\n".join([
        f"# {esc(c.label)}", "",
        _nav(corpus, c, "index"), "",
        *_example_note(c),
        templates.render("community_notices.html", c=c).rstrip("\n"), "",
        f'<div class="kb-community" data-community="{esc(c.id)}" markdown="1">', "",
        "| | |", "| --- | --- |",
        f"| 地址 | {cell(c.address)} |",
        f"| 物业服务中心 | {cell(c.office_place)} |",
        f"| 办公时间 | {cell(c.office_hours)} |",
        f"| 服务中心电话 | **{cell(c.hotline)}** |",
        f"| 全公司服务电话 | {cell(corpus.site.hotline)} |",
        f"| 户数 | {c.households} 户 |",
        f"| 楼栋与单元 | {cell(buildings)} |",
        "", "</div>", "",
        "## 在这里可以", "",
        f"- [收费公示]({_link(uri, page_uri(c, 'fees'))})：本小区每一项收费的单价、算法和依据，以及物业费计算器。",
        f"- [公共收益]({_link(uri, page_uri(c, 'revenue'))})：电梯广告、临时停车等利用共有部分取得的收入、成本和归业主的收益。",
        f"- [反馈与投诉]({_link(uri, page_uri(c, 'feedback'))})：在线提交投诉、建议、表扬或咨询，自动记在本小区名下。",
        f"- [你说我改]({_link(uri, 'residents/changes.md')})：反馈带来的改变（全公司汇总）。",
        "",
        "## 服务标准全公司统一", "",
        f"报修多久上门、投诉多久回复等[服务标准]({_link(uri, 'residents/standards.md')})适用于本公司服务的所有小区，"
        f"不因小区而不同；[如何报修]({_link(uri, 'residents/repair.md')})和[投诉与处理]({_link(uri, 'residents/complaint.md')})也一样。",
        "",
    ])


def fees_page(corpus: Corpus, c: Community) -> str:
    uri = page_uri(c, "fees")
    fees = c.fees
    return "\n".join([
        f"# {esc(c.name)}收费公示", "",
        _nav(corpus, c, "fees"), "",
        *_example_note(c),
        "## 收费项目", "",
        fee_items(c), "",
        "## 收费公示应当写清楚的内容", "",
        "按《物业服务收费明码标价规定》，公示至少包括下面这些内容；缺了哪一项，可以向物业服务中心提出。", "",
        "\n".join(f"- {cell(x)}" for x in corpus.site.fee_disclosure), "",
        "## 物业费计算器", "",
        "物业服务费 = **计费面积 × 单价 × 月数**；车位管理费 = **车位个数 × 每月车位费 × 月数**。"
        f"怎么读这张表、公共收益归谁，见[收费说明]({_link(uri, 'residents/fees.md')})。", "",
        fee_calculator(c), "",
        "计算结果只是估算，不代替正式账单。", "",
        "## 对收费有疑问找谁", "",
        f"- 问收费明细：拨打服务中心电话 **{cell(c.hotline)}**，或到{cell(c.office_place)}（{cell(c.office_hours)}）。",
        f"- 认为收费违反价格规定：拨打价格举报电话 **{cell(fees['price_hotline'])}**。",
        f"- 对服务不满意：[在线反馈]({_link(uri, page_uri(c, 'feedback'))})。",
        "",
    ])


def revenue_page(corpus: Corpus, c: Community) -> str:
    uri = page_uri(c, "revenue")
    body = public_revenue(c) or "本小区目前没有公共收益记录。\n"
    return "\n".join([
        f"# {esc(c.name)}公共收益", "",
        _nav(corpus, c, "revenue"), "",
        *_example_note(c),
        "利用全体业主共有部分取得的收入（电梯广告、临时停车、场地出租等），扣除合理成本之后归全体业主共有。"
        f"为什么这样算，见[收费说明]({_link(uri, 'residents/fees.md')})。下面按期列出每一项收入、扣除的成本和归业主的部分。", "",
        body,
        f"对哪一笔有疑问，可以到{cell(c.office_place)}查阅台账，或拨打 {cell(c.hotline)}。", "",
    ])


def feedback_page(corpus: Corpus, c: Community) -> str:
    return "\n".join([
        f"# {esc(c.name)}反馈与投诉", "",
        _nav(corpus, c, "feedback"), "",
        *_example_note(c),
        f"这里提交的投诉、建议、表扬或咨询记在 **{esc(c.label)}** 名下，由本小区服务中心跟进。提交后您会看到一个编号。", "",
        "<!-- kb:feedback-form -->", "",
        f"不方便在网上填写，也可以拨打 {cell(c.hotline)}，或到{cell(c.office_place)}当面反映。", "",
    ])


# -- data blocks --------------------------------------------------------------------------------

def fee_items(c: Community) -> str:
    fees = c.fees
    rows = ["| 收费项目 | 单价 | 计算方式 | 包含的服务 | 依据 | 适用 | 生效日期 |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for item in fees["items"]:
        rows.append(f"| {cell(item['name'])} | **{cell(item['unit_price'])}** {cell(item['unit'])} | {cell(item['computation'])} "
                    f"| {cell('、'.join(item['covers']))} | {cell(item['basis'])} | {cell(item['applies_to'])} "
                    f"| {cell(item['effective_date'])} |")
    return "\n".join(rows + ["", f"收费依据：{cell(fees['basis'])}　本价目自 {cell(fees['effective_date'])} 起执行。"])


def public_revenue(c: Community) -> str:
    out = []
    for period in c.public_revenue:
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


def fee_calculator(c: Community) -> str:
    return templates.render("fee_calculator.html", c=c, unit=AREA_UNIT,
                            area_items=[i for i in c.fees["items"] if i["unit"] == AREA_UNIT]).rstrip("\n")


def community_list(corpus: Corpus, sources: dict | None = None) -> str:
    """Block `kb:community-list` (company-wide pages): each community's fee and revenue pages."""
    src = (sources or {}).get("src", "residents/fees.md")
    rows = []
    for c in sorted(corpus.communities.values(), key=lambda c: c.name):
        rows.append(f"- [{esc(c.label)}]({_link(src, page_uri(c))})：[收费公示]({_link(src, page_uri(c, 'fees'))})"
                    f" · [公共收益]({_link(src, page_uri(c, 'revenue'))})")
    if not corpus.single_community:
        rows.append(f"- [全部小区]({_link(src, INDEX)})")
    return "\n".join(rows)
