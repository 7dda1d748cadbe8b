"""Small inline SVG charts for the analytics page (pure string building, no plotting library).

matplotlib would work but costs ~1 s of CPU per page on this class of machine and renders
text as paths; these charts are a few kB of real text the browser scales and a test can read.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#b83280", "#6b46c1", "#c53030", "#2c7a7b", "#975a16", "#4a5568", "#d69e2e")


def _svg(width: int, height: int, title: str, body: list[str], chart_id: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" style="max-width:100%;height:auto" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="8" y="18" class="chart-title" font-size="14" font-weight="bold">{escape(title)}</text>{"".join(body)}</svg>')  # fmt: skip


def _linked(href: str | None, element: str) -> str:
    """``element`` as a link to ``href`` (the calls behind a bar), or as it is."""
    return f'<a href="{escape(href)}" class="drill">{element}</a>' if href else element


def hbar_chart(chart_id: str, title: str, items: list[tuple[str, float]], unit: str = "", width: int = 520,
               links: list[str] | None = None) -> str:
    """Horizontal bars, one per (label, value), largest first as given; ``links[i]`` opens the calls behind bar i."""
    row, left, top = 24, 170, 30
    height = top + row * max(1, len(items)) + 10
    top_value = max((v for _, v in items), default=0) or 1
    body: list[str] = []
    if not items:
        body.append(f'<text x="{left}" y="{top + 16}" font-size="12" fill="#718096">no data yet</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = (width - left - 60) * value / top_value
        bar = (f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[0]}" data-label="{escape(str(label))}" '
               f'data-value="{value:g}"/>')  # fmt: skip
        body.append(f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">{escape(str(label))}</text>'
                    f'{_linked(links[i] if links else None, bar)}<text x="{left + w + 4:.1f}" y="{y + 15}" font-size="12">{value:g}{escape(unit)}</text>')  # fmt: skip
    return _svg(width, height, title, body, chart_id)


def grouped_bars(chart_id: str, title: str, groups: list[str], series: dict[str, list[float | None]], unit: str = "",
                 y_max: float | None = None, width: int = 720, height: int = 260,
                 link: Callable[[str, str], str] | None = None) -> str:  # fmt: skip
    """Vertical bars: one group per x label (a day), one bar per series (a language); ``link(group, series)``
    opens the calls behind a bar."""
    left, right, top, bottom = 44, 110, 30, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top_value = y_max or max(values, default=0) or 1
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#a0aec0"/>']
    for k in range(5):
        v = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        label = f"{v:.0%}" if unit == "%" else f"{v:g}"
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{label}</text>'
                    f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#edf2f7"/>')  # fmt: skip
    n_series = max(1, len(series))
    group_w = plot_w / max(1, len(groups))
    bar_w = max(2.0, (group_w - 8) / n_series)
    for gi, group in enumerate(groups):
        x0 = left + gi * group_w + 4
        body.append(f'<text x="{x0 + (group_w - 8) / 2:.1f}" y="{top + plot_h + 14}" font-size="10" text-anchor="middle">{escape(group[5:] if len(group) == 10 else group)}</text>')
        for si, (name, vs) in enumerate(series.items()):
            v = vs[gi]
            if v is None:
                continue
            h = max(1.5, plot_h * v / top_value)  # a zero still shows that there were calls
            shown = f"{v:.0%}" if unit == "%" else f"{v:g}"
            bar = (f'<rect x="{x0 + si * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                   f'fill="{PALETTE[si % len(PALETTE)]}" data-group="{escape(group)}" data-series="{escape(name)}" data-value="{v:g}">'
                   f"<title>{escape(group)} {escape(name)}: {shown}</title></rect>")  # fmt: skip
            body.append(_linked(link(group, name) if link else None, bar))
    for si, name in enumerate(series):
        y = top + 6 + si * 16
        body.append(f'<rect x="{width - right + 12}" y="{y}" width="10" height="10" fill="{PALETTE[si % len(PALETTE)]}"/>'
                    f'<text x="{width - right + 26}" y="{y + 9}" font-size="11">{escape(name)}</text>')  # fmt: skip
    if not groups:
        body.append(f'<text x="{left + 10}" y="{top + 20}" font-size="12" fill="#718096">no data yet</text>')
    return _svg(width, height, title, body, chart_id)


def box_rows(chart_id: str, title: str, rows: list[tuple[str, list[float]]], unit: str = "ms", width: int = 720) -> str:
    """One box plot per row: whiskers p5-p95, box p25-p75, a line at the median, and n."""
    from voicebot.records.analytics import quantile

    row, left, right, top = 30, 250, 150, 30
    height = top + row * max(1, len(rows)) + 24
    top_value = max((quantile(v, 0.95) or 0 for _, v in rows), default=0) or 1
    scale = (width - left - right) / top_value
    body: list[str] = []
    for i, (label, values) in enumerate(rows):
        y = top + i * row + row / 2
        body.append(f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{escape(label)}</text>')
        if not values:
            body.append(f'<text x="{left}" y="{y + 4}" font-size="11" fill="#718096">no data</text>')
            continue
        p5, p25, p50, p75, p95 = (quantile(values, q) or 0 for q in (0.05, 0.25, 0.5, 0.75, 0.95))
        x = lambda v: left + min(v, top_value) * scale  # noqa: E731
        body.append(f'<g data-stage="{escape(label)}" data-p50="{p50:g}" data-n="{len(values)}">'
                    f'<line x1="{x(p5):.1f}" y1="{y}" x2="{x(p95):.1f}" y2="{y}" stroke="#4a5568"/>'
                    f'<rect x="{x(p25):.1f}" y="{y - 8}" width="{max(1.0, x(p75) - x(p25)):.1f}" height="16" fill="#bee3f8" stroke="#2b6cb0"/>'
                    f'<line x1="{x(p50):.1f}" y1="{y - 8}" x2="{x(p50):.1f}" y2="{y + 8}" stroke="#c05621" stroke-width="2"/>'
                    f'<text x="{x(p95) + 6:.1f}" y="{y + 4}" font-size="10">p50 {p50:.0f}{unit} · n={len(values)}</text></g>')  # fmt: skip
    axis_y = top + row * max(1, len(rows)) + 4
    for k in range(5):
        v = top_value * k / 4
        body.append(f'<text x="{left + v * scale:.1f}" y="{axis_y + 12}" font-size="10" text-anchor="middle">{v:.0f}</text>')
    return _svg(width, height, title, body, chart_id)


def timeline(chart_id: str, duration_ms: float, caller: list[tuple[float, float, str]], bot: list[tuple[float, float, str]],
             marks: list[tuple[float, str, str]], width: int = 960) -> str:  # fmt: skip
    """A call on one time axis: caller speech, bot speech, and event marks; each element seeks the player."""
    left, right, top = 60, 20, 28
    height = top + 3 * 26 + 30
    span = max(duration_ms, 1.0)
    x = lambda ms: left + (width - left - right) * max(0.0, ms) / span  # noqa: E731
    body = [f'<text x="4" y="{top + 17}" font-size="11">caller</text>', f'<text x="4" y="{top + 43}" font-size="11">bot</text>',
            f'<text x="4" y="{top + 69}" font-size="11">events</text>']  # fmt: skip
    for lane, items, color in ((0, caller, "#2f855a"), (1, bot, "#2b6cb0")):
        for start, end, label in items:
            body.append(f'<rect class="seg seek" data-ms="{start:.0f}" x="{x(start):.1f}" y="{top + lane * 26 + 4}" '
                        f'width="{max(1.5, x(end) - x(start)):.1f}" height="18" fill="{color}" opacity="0.8">'
                        f"<title>{escape(label)} ({start / 1000:.2f}s)</title></rect>")  # fmt: skip
    for ms, kind, label in marks:
        color = {"interruption": "#c53030", "action": "#6b46c1", "error": "#c53030", "dtmf": "#975a16"}.get(kind, "#718096")
        body.append(f'<line class="mark seek" data-ms="{ms:.0f}" data-kind="{escape(kind)}" x1="{x(ms):.1f}" y1="{top + 56}" x2="{x(ms):.1f}" '
                    f'y2="{top + 76}" stroke="{color}" stroke-width="3"><title>{escape(kind)} {escape(label)} ({ms / 1000:.2f}s)</title></line>')  # fmt: skip
    axis = top + 3 * 26 + 8
    step = max(1000, int(span / 10 / 1000 + 1) * 1000)
    for ms in range(0, int(span) + 1, step):
        body.append(f'<text x="{x(ms):.1f}" y="{axis + 10}" font-size="10" text-anchor="middle">{ms // 1000}s</text>')
    body.append(f'<line id="playhead" x1="{left}" y1="{top}" x2="{left}" y2="{top + 78}" stroke="#e53e3e" stroke-width="1.5"/>')
    return _svg(width, height, "Call timeline", body, chart_id)
