"""Tiny SVG charts for the staff dashboard and the public log: inline markup, no JavaScript, no
outside hosts.

Python works out the geometry (where each bar, point and label goes); site/html/chart.svg writes
the markup, escaping every piece of text (labels, series names, titles) like every other template.
Colours are presentation attributes, not style attributes, so the pages' CSP (style-src 'self')
does not block them. Each bar and point carries a <title> with its exact value, which browsers
show on hover and screen readers read.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup

from kb_service.site import templates

PALETTE = ("#3949ab", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#c0ca33",
           "#1e88e5", "#d81b60", "#5e35b1", "#00acc1", "#7cb342", "#f4511e", "#546e7a", "#fdd835")
FONT = {"font-family": "system-ui, sans-serif"}


def _shape(tag: str, *, text: str | None = None, title: str | None = None, **attrs) -> dict:
    """One SVG element for the template: attribute names with `_` for `-` (text_anchor)."""
    return {"tag": tag, "attrs": {k.replace("_", "-"): v for k, v in attrs.items()}, "text": text, "title": title}


def _f(value: float) -> str:
    return f"{value:.1f}"


def _nice_max(value: float) -> float:
    """A round top for the y axis at or above `value`, so that its 4 ticks are round numbers."""
    for step in sorted({m * 10 ** e for e in range(9) for m in (1, 2, 5)} | {25 * 10 ** e for e in range(8)}):
        if value <= step * 4:
            return step * 4
    return float(value)


class _Frame:
    """Plot area geometry shared by both charts."""

    def __init__(self, width: int, height: int, n: int, top: float, legend_rows: int):
        self.width, self.height, self.n, self.top = width, height, n, top
        self.left, self.right = 40, 10
        self.upper = 10 + 18 * legend_rows
        self.lower = 38
        self.plot_w = width - self.left - self.right
        self.plot_h = height - self.upper - self.lower

    def x(self, i: float) -> float:
        return self.left + self.plot_w * (i + 0.5) / max(self.n, 1)

    def y(self, value: float) -> float:
        return self.upper + self.plot_h * (1 - value / self.top)

    def axes(self, labels: Sequence[str], ticks: int = 4) -> list[dict]:
        out = []
        for k in range(ticks + 1):
            value = self.top * k / ticks
            y = self.y(value)
            out.append(_shape("line", x1=self.left, y1=_f(y), x2=self.width - self.right, y2=_f(y),
                              stroke="#d0d7de", stroke_width=1))
            out.append(_shape("text", x=self.left - 4, y=_f(y + 4), text_anchor="end", font_size=11, **FONT,
                              fill="#59636e", text=templates.num(round(value, 1))))
        every = max(1, -(-len(labels) // 8))        # at most ~8 x labels so they stay readable
        for i, label in enumerate(labels):
            if (len(labels) - 1 - i) % every == 0:      # counted from the newest, which is always shown
                out.append(_shape("text", x=_f(self.x(i)), y=self.height - self.lower + 16, text_anchor="middle",
                                  font_size=11, **FONT, fill="#59636e", text=label))
        return out


def _legend(series_names: Sequence[str], width: int) -> tuple[list[dict], int]:
    out, x, row = [], 40.0, 0
    for k, name in enumerate(series_names):
        w = 22 + 13 * len(name)
        if x + w > width and x > 40:
            x, row = 40.0, row + 1
        y = 6 + 18 * row
        out.append(_shape("rect", x=f"{x:.0f}", y=y, width=12, height=12, fill=PALETTE[k % len(PALETTE)]))
        out.append(_shape("text", x=f"{x + 16:.0f}", y=y + 11, font_size=12, **FONT, fill="#1f2328", text=name))
        x += w
    return out, row + 1 if series_names else 0


def _svg(width: int, height: int, title: str, body: list[dict]) -> Markup:
    return Markup(templates.render("chart.svg", width=width, height=height, title=title, shapes=body))


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[int | float]]], *, title: str,
              stacked: bool = True, width: int = 720, height: int = 280) -> Markup:
    """Bars per x label; one colour per series, stacked (default) or side by side."""
    legend, rows = _legend([name for name, _ in series], width)
    if stacked:
        peak = max((sum(vals[i] for _, vals in series) for i in range(len(labels))), default=0)
    else:
        peak = max((v for _, vals in series for v in vals), default=0)
    f = _Frame(width, height, len(labels), _nice_max(peak), rows)
    body = legend + f.axes(labels)
    slot = f.plot_w / max(len(labels), 1)
    bar_w = slot * 0.7 if stacked else slot * 0.8 / max(len(series), 1)
    for i, label in enumerate(labels):
        base = 0.0
        for k, (name, vals) in enumerate(series):
            value = vals[i]
            if not value:
                continue
            if stacked:
                x0, y_top, y_bottom = f.x(i) - bar_w / 2, f.y(base + value), f.y(base)
                base += value
            else:
                x0 = f.x(i) - slot * 0.4 + k * bar_w
                y_top, y_bottom = f.y(value), f.y(0)
            body.append(_shape("rect", x=_f(x0), y=_f(y_top), width=_f(bar_w), height=_f(y_bottom - y_top),
                               fill=PALETTE[k % len(PALETTE)], title=f"{label} {name}：{templates.num(value)}"))
    return _svg(width, height, title, body)


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
               top: float | None = None, width: int = 720, height: int = 280) -> Markup:
    """One line per series; None values leave a gap (no data that month)."""
    legend, rows = _legend([name for name, _ in series], width)
    peak = max((v for _, vals in series for v in vals if v is not None), default=0)
    f = _Frame(width, height, len(labels), top if top is not None else _nice_max(peak), rows)
    body = legend + f.axes(labels)
    for k, (name, vals) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        run: list[dict] = []
        for i, value in enumerate(list(vals) + [None]):
            if value is None:
                if len(run) > 1:
                    body.append(_shape("polyline", points=" ".join(run), fill="none", stroke=colour, stroke_width=2))
                run = []
                continue
            run.append(f"{f.x(i):.1f},{f.y(value):.1f}")
        for i, value in enumerate(vals):
            if value is not None:
                body.append(_shape("circle", cx=_f(f.x(i)), cy=_f(f.y(value)), r=3.5, fill=colour,
                                   title=f"{labels[i]} {name}：{templates.num(value)}"))
    return _svg(width, height, title, body)


def hbar_chart(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "", width: int = 720,
               row_height: int = 22) -> Markup:
    """One horizontal bar per labelled row (readable with many rows: communities, categories).
    Negative values (a fall) are drawn to the left of the zero line in another colour."""
    label_w, value_w = 170, 70
    plot_w = width - label_w - value_w - 10
    low = min([0.0] + [v for _, v in rows])
    high = max([0.0] + [v for _, v in rows])
    span = (high - low) or 1
    zero = label_w + plot_w * (-low / span)
    height = 10 + row_height * max(len(rows), 1)
    body = [_shape("line", x1=_f(zero), y1=4, x2=_f(zero), y2=height - 4, stroke="#d0d7de", stroke_width=1)]
    for i, (label, value) in enumerate(rows):
        y = 6 + i * row_height
        w = plot_w * abs(value) / span
        x = zero if value >= 0 else zero - w
        colour = PALETTE[0] if value >= 0 else PALETTE[2]
        text = f"{templates.num(value)}{unit}"
        body.append(_shape("text", x=label_w - 6, y=y + 14, text_anchor="end", font_size=12, **FONT, fill="#1f2328",
                           text=label[:14]))
        body.append(_shape("rect", x=_f(x), y=y + 3, width=_f(max(w, 0.5)), height=row_height - 8, fill=colour,
                           title=f"{label}：{text}"))
        body.append(_shape("text", x=width - value_w + 4, y=y + 14, font_size=12, **FONT, fill="#59636e", text=text))
    return _svg(width, height, title, body)
