"""Bar charts drawn on the server as inline SVG: no script, no library, no network.

Each chart carries a <title> and a <desc> (read by screen readers through role="img");
the page puts the same figures in a table right after it, for screen readers and copying.
Colours come from classes styled in static/css/app.css (the CSP forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR_GAP = 6
LABEL_WIDTH = 200  # left margin of horizontal bars, for the labels
ROW_HEIGHT = 28
COLUMN_AREA = 200  # height of the area of vertical bars
AXIS = 40  # room under vertical bars for their labels


def _svg(chart_id: str, title: str, desc: str, height: int, body: list[str]) -> Markup:
    # Every text in `body` went through escape(); ids and numbers are ours.
    return Markup(  # noqa: S704
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: object, css: str, anchor: str = "start") -> str:
    return f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(str(text))}</text>'


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[tuple[str, int]]) -> Markup:
    """Horizontal bars, one row per (label, value): for long labels such as EPCI names."""
    top = max((value for _, value in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 60
    body = []
    for index, (label, value) in enumerate(bars):
        y = index * ROW_HEIGHT
        length = room * value / top
        short = label if len(label) <= 28 else label[:27] + "…"
        body.append(_text(LABEL_WIDTH - 8, y + ROW_HEIGHT / 2 + 5, short, "chart__label", "end"))
        body.append(f'<rect class="chart__bar" x="{LABEL_WIDTH}" y="{y + BAR_GAP / 2:.1f}" '
                    f'width="{length:.1f}" height="{ROW_HEIGHT - BAR_GAP}"></rect>')
        body.append(_text(LABEL_WIDTH + length + 6, y + ROW_HEIGHT / 2 + 5, value, "chart__value"))
    return _svg(chart_id, title, desc, max(len(bars), 1) * ROW_HEIGHT, body)


def column_chart(chart_id: str, title: str, desc: str, columns: Sequence[tuple[str, int]]) -> Markup:
    """Vertical bars, one per (short label, value) from left to right: for months."""
    top = max((value for _, value in columns), default=0) or 1
    step = WIDTH / max(len(columns), 1)
    base = COLUMN_AREA + 20
    body = [f'<line class="chart__axis" x1="0" y1="{base}" x2="{WIDTH}" y2="{base}"></line>']
    for index, (label, value) in enumerate(columns):
        height = COLUMN_AREA * value / top
        x = index * step
        body.append(f'<rect class="chart__bar" x="{x + BAR_GAP / 2:.1f}" y="{base - height:.1f}" '
                    f'width="{step - BAR_GAP:.1f}" height="{height:.1f}"></rect>')
        body.append(_text(x + step / 2, COLUMN_AREA + 14 - height, value, "chart__value", "middle"))
        body.append(_text(x + step / 2, COLUMN_AREA + 38, label, "chart__label", "middle"))
    return _svg(chart_id, title, desc, base + AXIS, body)
