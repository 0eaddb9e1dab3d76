"""Small inline SVG charts drawn on the server: no JavaScript library, they render offline."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2f6fb0", "#d2691e", "#3a9a5b", "#8e44ad", "#c0392b", "#7f8c8d")


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.1%}" if percent else (f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}")


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str,
               percent: bool = False, width: int = 640, height: int = 220) -> SafeString:
    """Lines over a shared x axis (e.g. days or training runs); None leaves a gap."""
    left, right, top, bottom = 56, 24, 26, 34  # right: room for half of the last x label
    values = [v for points in series.values() for v in points if v is not None]
    top_value = max(values, default=0.0) or 1.0
    inner_w, inner_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top + inner_h * (1 - v / top_value)

    parts = [f'<svg class="goodsassoc-chart" role="img" aria-label="{escape(title)}" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="15" font-weight="bold">{escape(title)}</text>']
    for step in range(5):
        value = top_value * step / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{_fmt(value, percent)}</text>')
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - 16}" text-anchor="middle">{escape(label)}</text>')
    for number, (name, points) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        line = f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{{}}"/>'
        segment: list[str] = []
        for i, value in enumerate(points):
            if value is None:
                if len(segment) > 1:
                    parts.append(line.format(" ".join(segment)))
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(value):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}">'
                         f'<title>{escape(name)} {escape(labels[i])}: {_fmt(value, percent)}</title></circle>')
        if len(segment) > 1:
            parts.append(line.format(" ".join(segment)))
        legend_x = left + 8 + number * 150
        parts.append(f'<rect x="{legend_x}" y="{height - 10}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="{height - 6}">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text part above is escaped


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, percent: bool = False,
              width: int = 320, height: int = 180) -> SafeString:
    """Horizontal bars, one per label."""
    top, row = 24, max(14, (height - 30) // max(len(labels), 1))
    height = top + row * len(labels) + 6
    peak = max(values, default=0.0) or 1.0
    parts = [f'<svg class="goodsassoc-chart" role="img" aria-label="{escape(title)}" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="0" y="15" font-weight="bold">{escape(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar = (width - 170) * value / peak
        y = top + i * row
        parts.append(f'<text x="0" y="{y + row * 0.7:.1f}">{escape(label)}</text>'
                     f'<rect x="100" y="{y + 2}" width="{bar:.1f}" height="{row - 4}" fill="{PALETTE[0]}"/>'
                     f'<text x="{104 + bar:.1f}" y="{y + row * 0.7:.1f}">{_fmt(value, percent)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text part above is escaped
