"""Charts as inline SVG, generated on the server (no CDN, no JavaScript).

Every text that reaches the SVG (titles, labels, department names, tooltips) goes through
`markupsafe.escape`, so a label such as ``<script>`` is drawn as text. The functions return
`Markup` that templates insert as is; `standalone(svg)` adds the XML prolog for an
``image/svg+xml`` answer.

* `distribution(values, title=..., low=, high=)` — department scores: a dot per person under
  `DOT_PLOT_BELOW` people (a histogram of one or two people says nothing), a histogram from
  there on; `axis_range(all values)` gives the one axis every department's chart shares.
* `histogram(values, title=..., bins=...)` — a distribution.
* `dots(values, title=..., low=, high=)` — one dot per value on a number line.
* `line(points, title=...)` — a trend over periods, `points = [(label, value | None), ...]`.
* `bars(items, title=...)` — signed horizontal bars (per-indicator points or adjustments).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

from server.display import number
from server.scoring.numbers import fmt_short, to_decimal

FONT = ('font-family="Microsoft YaHei, PingFang SC, WenQuanYi Micro Hei, Noto Sans CJK SC, '
        'sans-serif"')
BRAND = "#0b6e4f"
ACCENT = "#1565c0"
BAD = "#c53030"
GRID = "#e4e7eb"
MUTED = "#616e7c"

Number = int | float | Decimal


def _fmt(v: Number) -> str:
    """An axis tick: at most 2 decimals, trailing zeros dropped (85, 87.5)."""
    return fmt_short(to_decimal(v), 2)


def _svg(width: int, height: int, title: str, body: list[str], css_class: str) -> Markup:
    t = escape(title)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{t}" {FONT} font-size="12">')
    return Markup(head + f"<title>{t}</title>" + "".join(body) + "</svg>")


DOT_PLOT_BELOW = 10  # people: fewer get a dot plot, not a histogram


def axis_range(values: Sequence[Number | None]) -> tuple[float, float]:
    """(low, high): the values' range widened to multiples of 5 (at least 5 wide), the axis
    that charts compared side by side share."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return 0.0, 100.0
    lo, hi = math.floor(min(data) / 5) * 5, math.ceil(max(data) / 5) * 5
    return (lo, hi) if hi > lo else (lo, lo + 5)


def distribution(values: Sequence[Number], *, title: str = "", low: Number | None = None,
                 high: Number | None = None, bins: int = 10) -> Markup:
    """A group's scores: dots for fewer than DOT_PLOT_BELOW people, else a histogram."""
    if len([v for v in values if v is not None]) < DOT_PLOT_BELOW:
        return dots(values, title=title, low=low, high=high)
    return histogram(values, title=title, bins=bins, low=low, high=high)


def dots(values: Sequence[Number], *, title: str = "", width: int = 420, height: int = 150,
         low: Number | None = None, high: Number | None = None) -> Markup:
    """One dot per value on a number line from `low` to `high`; equal values stack."""
    data = sorted(float(v) for v in values if v is not None)
    pad_l, pad_r, pad_t, pad_b = 36, 16, 38, 34
    body: list[str] = []
    if title:
        body.append(f'<text x="{pad_l}" y="16" font-weight="600" fill="#1f2933">'
                    f'{escape(title)}</text>')
    if not data:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                    f'fill="{MUTED}">—</text>')
        return _svg(width, height, title, body, "dots")
    lo, hi = axis_range(data)
    lo = float(low) if low is not None else lo
    hi = float(high) if high is not None else hi
    if hi <= lo:
        hi = lo + 5
    plot_w = width - pad_l - pad_r
    base = height - pad_b

    def px(v: float) -> float:
        return pad_l + plot_w * (min(max(v, lo), hi) - lo) / (hi - lo)

    step = _nice_step(hi - lo, 5)
    tick = math.ceil(lo / step) * step
    while tick <= hi + 1e-9:
        body.append(f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{pad_t - 10}" '
                    f'y2="{base}" stroke="{GRID}"/><text x="{px(tick):.1f}" y="{base + 16}" '
                    f'text-anchor="middle" fill="{MUTED}">{escape(_fmt(tick))}</text>')
        tick += step
    body.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{base}" y2="{base}" '
                f'stroke="{MUTED}"/>')
    stacked: dict[float, int] = {}
    for v in data:
        x = round(px(v), 0)
        level = stacked.get(x, 0)
        stacked[x] = level + 1
        cy = base - 9 - level * 14
        body.append(f'<circle cx="{px(v):.1f}" cy="{cy:.1f}" r="6" fill="{BRAND}" '
                    f'fill-opacity=".85" stroke="#fff"><title>{escape(number(v))}</title>'
                    f'</circle>')
    return _svg(width, height, title, body, "dots")


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def histogram(values: Sequence[Number], *, title: str = "", bins: int = 10,
              width: int = 420, height: int = 220, low: Number | None = None,
              high: Number | None = None, unit: str = "") -> Markup:
    """Counts of `values` in `bins` equal bins between `low` and `high` (default: the data's
    range, widened to round numbers)."""
    data = [float(v) for v in values if v is not None]
    pad_l, pad_r, pad_t, pad_b = 36, 12, 38, 34
    body: list[str] = []
    if title:
        body.append(f'<text x="{pad_l}" y="16" font-weight="600" fill="#1f2933">'
                    f'{escape(title)}</text>')
    if not data:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                    f'fill="{MUTED}">—</text>')
        return _svg(width, height, title, body, "histogram")
    lo = float(low) if low is not None else math.floor(min(data) / 5) * 5
    hi = float(high) if high is not None else math.ceil(max(data) / 5) * 5
    if hi <= lo:
        hi = lo + 5
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in data:
        i = min(bins - 1, max(0, int((v - lo) / step)))
        counts[i] += 1
    top = max(counts)
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    bar_w = plot_w / bins
    ystep = max(1, int(_nice_step(top, 4)))
    y = 0
    while y <= top:
        py = pad_t + plot_h - plot_h * y / top
        body.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{py:.1f}" y2="{py:.1f}" '
                    f'stroke="{GRID}"/><text x="{pad_l - 6}" y="{py + 4:.1f}" '
                    f'text-anchor="end" fill="{MUTED}">{y}</text>')
        y += ystep
    for i, c in enumerate(counts):
        x = pad_l + i * bar_w
        h = plot_h * c / top
        a, b = lo + i * step, lo + (i + 1) * step
        tip = escape(f"{_fmt(a)}–{_fmt(b)}{unit}: {c}")
        body.append(f'<rect x="{x + 1:.1f}" y="{pad_t + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                    f'height="{h:.1f}" fill="{BRAND}" rx="2"><title>{tip}</title></rect>')
        if c:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{pad_t + plot_h - h - 3:.1f}" '
                        f'text-anchor="middle" font-size="10" fill="#1f2933">{c}</text>')
    for i in range(0, bins + 1, 2 if bins > 6 else 1):
        x = pad_l + i * bar_w
        body.append(f'<text x="{x:.1f}" y="{height - pad_b + 16}" text-anchor="middle" '
                    f'fill="{MUTED}">{escape(_fmt(lo + i * step))}</text>')
    body.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{pad_t + plot_h}" '
                f'y2="{pad_t + plot_h}" stroke="{MUTED}"/>')
    return _svg(width, height, title, body, "histogram")


def line(points: Sequence[tuple[str, Number | None]], *, title: str = "", width: int = 560,
         height: int = 220) -> Markup:
    """A trend: one point per label (e.g. period), gaps where the value is None."""
    pad_l, pad_r, pad_t, pad_b = 40, 16, 28, 40
    body: list[str] = []
    if title:
        body.append(f'<text x="{pad_l}" y="16" font-weight="600" fill="#1f2933">'
                    f'{escape(title)}</text>')
    values = [float(v) for _, v in points if v is not None]
    if not values:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                    f'fill="{MUTED}">—</text>')
        return _svg(width, height, title, body, "line")
    lo, hi = min(values), max(values)
    step = _nice_step(hi - lo or max(abs(hi), 1), 4)
    lo = math.floor(lo / step) * step - (step if hi == lo else 0)
    hi = math.ceil(hi / step) * step + (step if hi == lo + step else 0)
    if hi <= lo:
        hi = lo + step
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    n = len(points)

    def px(i: int) -> float:
        return pad_l + (plot_w * (i + 0.5) / n)

    def py(v: float) -> float:
        return pad_t + plot_h - plot_h * (v - lo) / (hi - lo)

    y = lo
    while y <= hi + 1e-9:
        body.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{py(y):.1f}" '
                    f'y2="{py(y):.1f}" stroke="{GRID}"/><text x="{pad_l - 6}" '
                    f'y="{py(y) + 4:.1f}" text-anchor="end" fill="{MUTED}">{_fmt(y)}</text>')
        y += step
    path: list[str] = []
    for i, (label, v) in enumerate(points):
        body.append(f'<text x="{px(i):.1f}" y="{height - pad_b + 18}" text-anchor="middle" '
                    f'fill="{MUTED}">{escape(label)}</text>')
        if v is None:
            if path:
                body.append(f'<polyline points="{" ".join(path)}" fill="none" '
                            f'stroke="{ACCENT}" stroke-width="2"/>')
            path = []
            continue
        path.append(f"{px(i):.1f},{py(float(v)):.1f}")
    if path:
        body.append(f'<polyline points="{" ".join(path)}" fill="none" stroke="{ACCENT}" '
                    f'stroke-width="2"/>')
    for i, (label, v) in enumerate(points):
        if v is None:
            continue
        tip = escape(f"{label}: {number(v)}")
        body.append(f'<circle cx="{px(i):.1f}" cy="{py(float(v)):.1f}" r="4" fill="#fff" '
                    f'stroke="{ACCENT}" stroke-width="2"><title>{tip}</title></circle>'
                    f'<text x="{px(i):.1f}" y="{py(float(v)) - 8:.1f}" text-anchor="middle" '
                    f'font-size="11" fill="#1f2933">{escape(number(v))}</text>')
    return _svg(width, height, title, body, "line")


def bars(items: Sequence[tuple[str, Number]], *, title: str = "", width: int = 560,
         row: int = 24) -> Markup:
    """Signed horizontal bars, one per (label, value); negative values in red."""
    pad_l, pad_r, pad_t = 150, 50, 28 if title else 6
    height = pad_t + row * max(1, len(items)) + 8
    body: list[str] = []
    if title:
        body.append(f'<text x="8" y="16" font-weight="600" fill="#1f2933">{escape(title)}</text>')
    if not items:
        return _svg(width, height, title, body, "bars")
    vals = [float(v) for _, v in items]
    neg = min(0.0, *vals)
    pos = max(0.0, *vals)
    span = (pos - neg) or 1.0
    plot_w = width - pad_l - pad_r
    zero = pad_l + plot_w * (-neg / span)
    for i, (label, v) in enumerate(items):
        y = pad_t + i * row
        w = plot_w * abs(float(v)) / span
        x = zero if float(v) >= 0 else zero - w
        colour = BAD if float(v) < 0 else BRAND
        body.append(f'<text x="{pad_l - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" '
                    f'fill="#1f2933">{escape(label)}</text>'
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{max(w, 1):.1f}" height="{row - 8}" '
                    f'fill="{colour}" rx="2"><title>{escape(f"{label}: {number(v)}")}</title>'
                    f'</rect><text x="{x + w + 4 if float(v) >= 0 else x - 4:.1f}" '
                    f'y="{y + row / 2 + 4:.1f}" text-anchor="{"start" if float(v) >= 0 else "end"}"'
                    f' font-size="11" fill="{MUTED}">{escape(number(v))}</text>')
    body.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{pad_t}" y2="{height - 8}" '
                f'stroke="{MUTED}"/>')
    return _svg(width, height, title, body, "bars")


def standalone(svg: Markup) -> str:
    """An SVG document for an image/svg+xml answer."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg)
