"""Small inline SVG charts for the HTML report: no JavaScript, no fonts, no network.

Each function takes plain numbers and labels and returns :class:`markupsafe.Markup` holding
one ``<svg>`` element. Every label is escaped here, so a channel called
``<script>alert(1)</script>`` is drawn as text, never run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

#: Week dates as a chart takes them: a list, an Index or a Series of dates.
Dates: TypeAlias = "Sequence[Any] | pd.Index | pd.Series"

__all__ = [
    "PALETTE",
    "Series",
    "curve_grid",
    "dot_intervals",
    "hbar_pair",
    "line_chart",
    "nice_ticks",
    "stacked_area",
]

#: Colour-blind friendly qualitative palette (Okabe-Ito, then darker tones).
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
    "#000000", "#8C6D31", "#6B6ECF", "#B5CF6B", "#E7969C",
)  # fmt: skip
GREY = "#9AA0A6"
ACCENT = "#0B6E4F"
#: Latin system fonts first, then the CJK fonts of macOS, Windows, Linux and Android, so
#: Chinese channel and outcome names never fall back to empty boxes (the HTML uses it too).
FONT_STACK = (
    "system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,'PingFang SC',"
    "'Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Noto Sans SC',"
    "'Source Han Sans SC','WenQuanYi Micro Hei',sans-serif"
)
FONT = f"font-family:{FONT_STACK}"
#: Charts never shrink below this share of their drawn size: on a phone they scroll sideways
#: inside their figure, so 9-11 px labels stay at 7.5 px or more instead of about 4 px.
MIN_SCALE = 0.85


@dataclass(frozen=True)
class Series:
    """One line (or dot series) of a chart."""

    name: str
    values: Sequence[float]
    color: str
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    dash: bool = False
    width: float = 1.8


def _f(x: float) -> str:
    return f"{x:.1f}"


def short(x: float) -> str:
    """Compact axis label: 1.2M, 350K, 0.5."""
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.1f}B".replace(".0B", "B")
    if a >= 1e6:
        return f"{x / 1e6:.1f}M".replace(".0M", "M")
    if a >= 1e3:
        return f"{x / 1e3:.0f}K"
    if a >= 10 or x == 0:
        return f"{x:.0f}"
    return f"{x:.2g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.5:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" style="min-width:{math.ceil(MIN_SCALE * width)}px;{FONT}" role="img" '
        f'aria-label="{escape(title)}">'
    )
    return Markup(head + f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", size: int = 11,
          color: str = "#333", weight: str = "normal") -> str:  # fmt: skip
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{color}" font-weight="{weight}">{escape(s)}</text>'
    )


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> list[str]:
    out = []
    for name, color in items:
        out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{color}"/>')
        out.append(_text(x + 14, y, name))
        x += 24 + 6.5 * len(name)
    return out


def hbar_pair(
    labels: Sequence[str],
    a: Sequence[float],
    b: Sequence[float],
    names: tuple[str, str] = ("current", "recommended"),
    title: str = "",
) -> Markup:
    """Two horizontal bars per label (e.g. current and recommended spend)."""
    left, right, row = 150, 90, 34
    width = 720
    height = 40 + row * len(labels)
    top = max([*a, *b, 1.0])
    ticks = nice_ticks(0, top)
    span = ticks[-1] or 1.0
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + plot_w * v / span

    body = _legend([(names[0], GREY), (names[1], ACCENT)], left, 14)
    for t in ticks:
        body.append(f'<line x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="24" y2="{height - 4}" '
                    'stroke="#e5e7eb"/>')  # fmt: skip
        body.append(_text(sx(t), height, short(t), "middle", 10, "#666"))
    for i, lab in enumerate(labels):
        y = 30 + i * row
        body.append(_text(left - 8, y + 16, lab, "end"))
        for k, (v, color) in enumerate(((a[i], GREY), (b[i], ACCENT))):
            yy = y + 3 + k * 13
            body.append(f'<rect x="{left}" y="{_f(yy)}" width="{_f(max(sx(v) - left, 0))}" '
                        f'height="11" fill="{color}"/>')  # fmt: skip
        delta = (b[i] - a[i]) / a[i] if a[i] > 0 else float("nan")
        tag = f"{delta:+.0%}" if math.isfinite(delta) else "new"
        color = ACCENT if b[i] >= a[i] else "#B3261E"
        body.append(_text(sx(max(a[i], b[i])) + 6, y + 21, tag, color=color, weight="bold"))
    return _svg(width, height + 6, body, title or "current vs recommended")


def dot_intervals(
    labels: Sequence[str],
    series: Sequence[Series],
    reference: float | None = None,
    title: str = "",
    unit: str = "",
) -> Markup:
    """Posterior means (dots) with 90% intervals (whiskers), one row per label."""
    left, right, row = 150, 30, 16 + 12 * len(series)
    width = 720
    height = 44 + row * len(labels)
    vals = [v for s in series for v in [*(s.low or s.values), *(s.high or s.values)]]
    vals = [v for v in vals if v is not None and math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(0.0, min(vals)), max(vals)
    ticks = nice_ticks(lo, hi)
    t0, t1 = ticks[0], ticks[-1]
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + plot_w * (v - t0) / ((t1 - t0) or 1.0)

    body = _legend([(s.name, s.color) for s in series], left, 14)
    for t in ticks:
        body.append(f'<line x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="24" y2="{height - 16}" '
                    'stroke="#e5e7eb"/>')  # fmt: skip
        body.append(_text(sx(t), height - 4, short(t) + unit, "middle", 10, "#666"))
    if reference is not None and t0 <= reference <= t1:
        x = sx(reference)
        body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="24" y2="{height - 16}" '
                    'stroke="#B3261E" stroke-dasharray="4 3"/>')  # fmt: skip
    for i, lab in enumerate(labels):
        y = 32 + i * row
        body.append(_text(left - 8, y + row / 2, lab, "end"))
        for k, s in enumerate(series):
            yy = y + 8 + 12 * k
            m = s.values[i]
            if m is None or not math.isfinite(m):
                continue
            if s.low is not None and s.high is not None:
                body.append(
                    f'<line x1="{_f(sx(s.low[i]))}" x2="{_f(sx(s.high[i]))}" y1="{_f(yy)}" '
                    f'y2="{_f(yy)}" stroke="{s.color}" stroke-width="2"/>'
                )
            body.append(f'<circle cx="{_f(sx(m))}" cy="{_f(yy)}" r="4" fill="{s.color}"/>')
    return _svg(width, height, body, title or "intervals")


def _date_ticks(dates: pd.DatetimeIndex) -> list[pd.Timestamp]:
    span_days = (dates[-1] - dates[0]).days
    freq = "QS" if span_days <= 800 else "YS"
    ticks = pd.date_range(dates[0], dates[-1], freq=freq)
    return list(ticks) if len(ticks) else [dates[0]]


def line_chart(
    dates: Dates,
    series: Sequence[Series],
    title: str = "",
    marker: Any = None,
    marker_label: str = "",
    height: int = 260,
    width: int = 720,
) -> Markup:
    """Lines over weeks, with optional 90% bands and a vertical marker (e.g. holdout start)."""
    idx = pd.DatetimeIndex(pd.to_datetime(pd.Index(list(dates))))
    left, right, top, bottom = 64, 16, 30, 28
    vals = []
    for s in series:
        for arr in (s.values, s.low, s.high):
            if arr is not None:
                vals += [float(v) for v in arr if v is not None and math.isfinite(float(v))]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    ticks = nice_ticks(lo - pad, hi + pad)
    t0, t1 = ticks[0], ticks[-1]
    x0, x1 = idx[0].value, idx[-1].value
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(d: pd.Timestamp) -> float:
        return left + plot_w * (d.value - x0) / ((x1 - x0) or 1)

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - t0) / ((t1 - t0) or 1.0))

    body = _legend([(s.name, s.color) for s in series], left, 14)
    for t in ticks:
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(sy(t))}" '
                    f'y2="{_f(sy(t))}" stroke="#eef0f2"/>')  # fmt: skip
        body.append(_text(left - 6, sy(t) + 4, short(t), "end", 10, "#666"))
    for d in _date_ticks(idx):
        body.append(_text(sx(d), height - 8, d.strftime("%Y-%m"), "middle", 10, "#666"))
    if marker is not None:
        x = sx(pd.Timestamp(marker))
        body.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{top}" y2="{height - bottom}" '
                    'stroke="#555" stroke-dasharray="3 3"/>')  # fmt: skip
        body.append(_text(x + 4, top + 10, marker_label, size=10, color="#555"))
    for s in series:
        xs = [sx(d) for d in idx]
        if s.low is not None and s.high is not None:
            upper = " ".join(f"{_f(x)},{_f(sy(v))}" for x, v in zip(xs, s.high, strict=True))
            lower = " ".join(
                f"{_f(x)},{_f(sy(v))}" for x, v in zip(xs[::-1], s.low[::-1], strict=True)
            )
            body.append(f'<polygon points="{upper} {lower}" fill="{s.color}" opacity="0.18"/>')
        pts = " ".join(f"{_f(x)},{_f(sy(v))}" for x, v in zip(xs, s.values, strict=True))
        dash = ' stroke-dasharray="5 3"' if s.dash else ""
        body.append(f'<polyline points="{pts}" fill="none" stroke="{s.color}" '
                    f'stroke-width="{s.width}"{dash}/>')  # fmt: skip
    return _svg(width, height, body, title or "weekly series")


def stacked_area(
    dates: Dates,
    layers: Sequence[tuple[str, str, Sequence[float] | np.ndarray]],
    title: str = "",
    height: int = 300,
) -> Markup:
    """Stacked areas over weeks: positive parts stack up from zero, negative parts down."""
    idx = pd.DatetimeIndex(pd.to_datetime(pd.Index(list(dates))))
    left, right, top, bottom = 64, 16, 30 + 16 * ((len(layers) - 1) // 6), 28
    width = 720
    values = np.array([np.asarray(v, dtype=float) for _, _, v in layers])
    pos = np.cumsum(np.clip(values, 0, None), axis=0)
    neg = np.cumsum(np.clip(values, None, 0), axis=0)
    ticks = nice_ticks(float(min(neg.min(), 0.0)), float(max(pos.max(), 1.0)))
    t0, t1 = ticks[0], ticks[-1]
    x0, x1 = idx[0].value, idx[-1].value
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(d: pd.Timestamp) -> float:
        return left + plot_w * (d.value - x0) / ((x1 - x0) or 1)

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - t0) / ((t1 - t0) or 1.0))

    body = []
    for row in range(0, len(layers), 6):
        chunk = [(name, color) for name, color, _ in layers[row : row + 6]]
        body += _legend(chunk, left, 14 + 16 * (row // 6))
    for t in ticks:
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(sy(t))}" '
                    f'y2="{_f(sy(t))}" stroke="#eef0f2"/>')  # fmt: skip
        body.append(_text(left - 6, sy(t) + 4, short(t), "end", 10, "#666"))
    for d in _date_ticks(idx):
        body.append(_text(sx(d), height - 8, d.strftime("%Y-%m"), "middle", 10, "#666"))
    xs = [sx(d) for d in idx]
    for stack in (pos, neg):
        for k, (_, color, _) in enumerate(layers):
            upper = stack[k]
            lower = stack[k - 1] if k > 0 else np.zeros_like(upper)
            if np.allclose(upper, lower):
                continue
            a = " ".join(f"{_f(x)},{_f(sy(v))}" for x, v in zip(xs, upper, strict=True))
            b = " ".join(f"{_f(x)},{_f(sy(v))}" for x, v in zip(xs[::-1], lower[::-1], strict=True))
            body.append(f'<polygon points="{a} {b}" fill="{color}" opacity="0.85"/>')
    return _svg(width, height, body, title or "decomposition")


def curve_grid(
    curves: Sequence[dict],
    title: str = "",
    columns: int = 3,
) -> Markup:
    """Small response curves: mean line, 90% band, current (grey) and recommended points.

    Each item: ``name``, ``spend``, ``mean``, ``low``, ``high`` (arrays) and ``current``,
    ``recommended`` as ``(spend, value)``.
    """
    cell_w, cell_h = 236, 170
    width = cell_w * columns
    rows = math.ceil(len(curves) / columns) or 1
    height = 26 + rows * cell_h
    body = _legend([("current", GREY), ("recommended", ACCENT)], 8, 14)
    for i, c in enumerate(curves):
        ox, oy = (i % columns) * cell_w, 26 + (i // columns) * cell_h
        left, top, pw, ph = ox + 44, oy + 20, cell_w - 56, cell_h - 46
        xs = np.asarray(c["spend"], float)
        vals = [*c["low"], *c["high"], c["current"][1], c["recommended"][1], 0.0]
        yt = nice_ticks(min(vals), max(vals), 3)
        xt = nice_ticks(0.0, float(xs.max()), 3)

        def sx(v: float, xt: list[float] = xt, left: float = left, pw: float = pw) -> float:
            return left + pw * (v - xt[0]) / ((xt[-1] - xt[0]) or 1.0)

        def sy(v: float, yt: list[float] = yt, top: float = top, ph: float = ph) -> float:
            return top + ph * (1 - (v - yt[0]) / ((yt[-1] - yt[0]) or 1.0))

        body.append(_text(ox + cell_w / 2, oy + 12, c["name"], "middle", 12, weight="bold"))
        for t in yt:
            body.append(f'<line x1="{_f(left)}" x2="{_f(left + pw)}" y1="{_f(sy(t))}" '
                        f'y2="{_f(sy(t))}" stroke="#eef0f2"/>')  # fmt: skip
            body.append(_text(left - 4, sy(t) + 3, short(t), "end", 9, "#666"))
        for t in xt:
            body.append(_text(sx(t), top + ph + 12, short(t), "middle", 9, "#666"))
        up = " ".join(f"{_f(sx(x))},{_f(sy(v))}" for x, v in zip(xs, c["high"], strict=True))
        dn = " ".join(
            f"{_f(sx(x))},{_f(sy(v))}" for x, v in zip(xs[::-1], list(c["low"])[::-1], strict=True)
        )
        body.append(f'<polygon points="{up} {dn}" fill="{ACCENT}" opacity="0.15"/>')
        line = " ".join(f"{_f(sx(x))},{_f(sy(v))}" for x, v in zip(xs, c["mean"], strict=True))
        body.append(f'<polyline points="{line}" fill="none" stroke="{ACCENT}" '
                    'stroke-width="1.6"/>')  # fmt: skip
        for key, color in (("current", GREY), ("recommended", ACCENT)):
            x, v = c[key]
            body.append(f'<circle cx="{_f(sx(x))}" cy="{_f(sy(v))}" r="4.5" fill="{color}" '
                        'stroke="#fff" stroke-width="1.2"/>')  # fmt: skip
        body.append(_text(ox + cell_w / 2, oy + cell_h - 4, "spend over the quarter",
                          "middle", 9, "#888"))  # fmt: skip
    return _svg(width, height, body, title or "response curves")


def columns(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    title: str = "",
    height: int = 240,
) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (name, colour, values)."""
    left, right, top, bottom = 56, 12, 30, 34
    width = 720
    top_v = max([v for _, _, vals in series for v in vals] + [1.0])
    ticks = nice_ticks(0.0, float(top_v), 4)
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / max(len(labels), 1)
    bar_w = 0.8 * group_w / max(len(series), 1)

    def sy(v: float) -> float:
        return top + plot_h * (1 - v / (ticks[-1] or 1.0))

    body = _legend([(n, c) for n, c, _ in series], left, 14)
    for t in ticks:
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{_f(sy(t))}" '
                    f'y2="{_f(sy(t))}" stroke="#eef0f2"/>')  # fmt: skip
        body.append(_text(left - 6, sy(t) + 4, short(t), "end", 10, "#666"))
    for i, lab in enumerate(labels):
        x0 = left + i * group_w + 0.1 * group_w
        for k, (_, color, vals) in enumerate(series):
            v = float(vals[i])
            body.append(f'<rect x="{_f(x0 + k * bar_w)}" y="{_f(sy(v))}" width="{_f(bar_w - 1)}" '
                        f'height="{_f(max(sy(0) - sy(v), 0))}" fill="{color}"/>')  # fmt: skip
        body.append(_text(left + (i + 0.5) * group_w, height - 16, lab, "middle", 10, "#444"))
    return _svg(width, height, body, title or "columns")
