"""The dashboard's answers as inline SVG (site/svg.py): communities side by side, promises kept
per week, problems growing. Data in, markup out; the tables under each chart hold the numbers."""

from __future__ import annotations

from kb_service.site import svg

TOP = 20      # bars in a chart; the table below lists every row


def charts(data: dict, *, community_names: dict[str, str]) -> dict[str, str]:
    out = {}
    compare = data.get("compare")
    if compare and compare["rows"]:
        rows = sorted(compare["rows"], key=lambda r: -r["per_100"])[:TOP]
        out["compare"] = svg.hbar_chart([(r["name"], r["per_100"]) for r in rows],
                                        title="每百户反馈量（所选期间）", unit=" 条")
    tiers = data["promises"]["tiers"]
    if tiers:
        out["promises"] = svg.line_chart(data["promises"]["weeks"], [(t["label"], t["trend"]) for t in tiers],
                                         title="按时兑现的比例（%，按周）", top=100)
    growing = data["growing"]["categories"]
    if growing:
        out["growing"] = svg.hbar_chart([(g["label"], g["change"]) for g in growing[:TOP]],
                                        title="各分类反馈量：本期比上期增减", unit=" 条")
    return out
