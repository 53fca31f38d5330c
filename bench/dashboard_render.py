"""Draw the Grafana dashboard's panels from query results: an HTML page laid out on the
dashboard's own grid (24 columns, its gridPos), a time-series panel as an SVG chart, a stat
panel as its last value coloured by its thresholds; then a screenshot of it by Debian's
Chromium through playwright.

Charts are drawn here by hand: the lock has no plotting library, and a dark page of lines is
all a picture of the dashboard needs (Grafana itself is on no registry this project uses).
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
PAGE_WIDTH = 1600
ROW_PX = 30  # Grafana's height of one grid unit
COLOURS = (
    "#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#FADE2A",
    "#37872D", "#C4162A", "#1F60C4", "#8F3BB8",
)  # fmt: skip
THRESHOLD_COLOURS = {"green": "#37872D", "orange": "#FF780A", "red": "#C4162A"}


@dataclass
class Series:
    """One series of a query's answer: its legend and its (unix time, value) points."""

    legend: str
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class PanelData:
    """A panel as drawn: its JSON and the series its queries answered."""

    panel: dict[str, Any]
    series: list[Series] = field(default_factory=list)


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legend format: {{label}} replaced by the series' label value."""
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip() or "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def fmt(value: float, unit: str) -> str:
    """A value in the panel's unit, as Grafana would roughly print it."""
    if math.isnan(value):
        return "NaN"
    if unit == "percentunit":
        return f"{value * 100:.0f}%" if abs(value) >= 0.1 else f"{value * 100:.1f}%"
    if unit == "s":
        if value == 0:
            return "0 s"
        if abs(value) < 1:
            return f"{value * 1000:.0f} ms" if abs(value) >= 0.01 else f"{value * 1000:.1f} ms"
        if abs(value) < 120:
            return f"{value:.1f} s"
        if abs(value) < 7200:
            return f"{value / 60:.1f} min"
        return f"{value / 3600:.1f} h"
    suffix = " /s" if unit == "reqps" else ""
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k{suffix}"
    if value == int(value):
        return f"{value:.0f}{suffix}"
    return f"{value:.2f}{suffix}"


def nice_max(value: float) -> float:
    """A round top for an axis at or above value."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def timeseries_svg(data: PanelData, width: int, height: int, start: float, end: float) -> str:
    """A time-series panel's chart with its axes and legend."""
    defaults = data.panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit", "short")
    values = [v for s in data.series for _, v in s.points if not math.isnan(v)]
    if not values:
        return f'<div class="nodata" style="height:{height}px">No data</div>'
    left, right, top = 64, 28, 8
    plot_w = width - left - right
    columns = max(1, int(plot_w // 170))
    legend_rows = min(3, math.ceil(len(data.series) / columns))
    plot_h = height - top - 22 - 18 * legend_rows
    # Four grid steps of a round size, as Grafana's axis picks them.
    top_value = defaults.get("max") or 4 * nice_max(max(values) / 4)
    low = min(0.0, min(values)) if defaults.get("min") is None else defaults["min"]
    low = min(low, min(values))
    span = (top_value - low) or 1.0

    def xy(t: float, v: float) -> tuple[float, float]:
        x = left + (t - start) / (end - start) * plot_w
        return x, top + plot_h - (v - low) / span * plot_h

    parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        value, y = low + span * i / 4, top + plot_h - plot_h * i / 4
        rule = {"x1": left, "x2": left + plot_w, "y1": y, "y2": y, "class": "grid"}
        parts.append(tag("line", rule))
        tick = {"x": left - 6, "y": y + 4, "class": "tick", "text-anchor": "end"}
        parts.append(tag("text", tick, fmt(value, unit)))
    for i in range(6):
        t, x = start + (end - start) * i / 5, left + plot_w * i / 5
        tick = {"x": x, "y": top + plot_h + 14, "class": "tick", "text-anchor": "middle"}
        parts.append(tag("text", tick, datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S")))
    base = top + plot_h - (0 - low) / span * plot_h
    for n, series in enumerate(data.series):
        colour = COLOURS[n % len(COLOURS)]
        runs: list[list[tuple[float, float]]] = [[]]
        previous = None
        for t, v in series.points:
            # A gap (NaN, or a missing step) breaks the line, as Grafana's spanNulls: false.
            if math.isnan(v) or (previous is not None and t - previous > 2.5 * data_step(series)):
                runs.append([])
            if not math.isnan(v):
                runs[-1].append(xy(t, v))
            previous = t
        for run in filter(None, runs):
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            area = f"{run[0][0]:.1f},{base:.1f} {line} {run[-1][0]:.1f},{base:.1f}"
            parts.append(tag("polygon", {"points": area, "fill": colour, "fill-opacity": "0.10"}))
            if len(run) == 1:
                dot = {"cx": run[0][0], "cy": run[0][1], "r": 2, "fill": colour}
                parts.append(tag("circle", dot))
            else:
                stroke = {"fill": "none", "stroke": colour, "stroke-width": "1.5"}
                parts.append(tag("polyline", {"points": line, **stroke}))
    shown = data.series[: columns * legend_rows]
    for n, series in enumerate(shown):
        x = left + (n % columns) * (plot_w / columns)
        y = top + plot_h + 32 + 18 * (n // columns)
        colour = COLOURS[n % len(COLOURS)]
        text = series.legend[: int(plot_w / columns / 6.5) - 3]
        parts.append(tag("rect", {"x": x, "y": y - 9, "width": 12, "height": 3, "fill": colour}))
        parts.append(tag("text", {"x": x + 16, "y": y - 4, "class": "legend"}, text))
    if len(data.series) > len(shown):
        more = {"x": left + plot_w, "y": height - 2, "class": "tick", "text-anchor": "end"}
        parts.append(tag("text", more, f"+{len(data.series) - len(shown)} more"))
    parts.append("</svg>")
    return "".join(parts)


def tag(name: str, attributes: dict[str, object], text: str | None = None) -> str:
    """One SVG element: its attributes (floats to one decimal) and its escaped text."""
    pairs = (
        f'{key}="{value:.1f}"' if isinstance(value, float) else f'{key}="{value}"'
        for key, value in attributes.items()
    )
    opening = f"<{name} {' '.join(pairs)}"
    return f"{opening}/>" if text is None else f"{opening}>{html.escape(text)}</{name}>"


def data_step(series: Series) -> float:
    """The smallest spacing of a series' points (its query's step)."""
    gaps = [b[0] - a[0] for a, b in zip(series.points, series.points[1:], strict=False)]
    return min(gaps) if gaps else 1.0


def stat_html(data: PanelData, height: int) -> str:
    """A stat panel: the last value of its series, coloured by its thresholds."""
    defaults = data.panel["fieldConfig"]["defaults"]
    points = [v for s in data.series for _, v in s.points if not math.isnan(v)]
    if not points:
        return f'<div class="stat" style="height:{height}px;background:#22252b">No data</div>'
    value = points[-1]
    colour = "#22252b"
    for step in defaults["thresholds"]["steps"]:
        if step["value"] is None or value >= step["value"]:
            colour = THRESHOLD_COLOURS.get(step["color"], step["color"])
    text = fmt(value, defaults.get("unit", "short"))
    for mapping in defaults.get("mappings", []):
        hit = mapping["options"].get(f"{value:g}")
        if hit:
            text = hit["text"]
    size = 28 if len(text) <= 7 else 18  # a mapped word fits a narrow stat
    style = f"height:{height}px;background:{colour};font-size:{size}px"
    return f'<div class="stat" style="{style}">{html.escape(text)}</div>'


STYLE = """
body { margin: 0; background: #111217; color: #ccccdc;
       font-family: Inter, "DejaVu Sans", Arial, sans-serif; }
header { padding: 10px 16px; font-size: 18px; color: #fff; }
header small { color: #8e8e9a; font-size: 13px; margin-left: 12px; }
.grid-page { position: relative; margin: 0 8px; }
.panel { position: absolute; box-sizing: border-box; background: #181b1f;
         border: 1px solid #2c3235; border-radius: 2px; overflow: hidden; }
.panel h3 { margin: 0; padding: 6px 8px 2px; font-size: 13px; font-weight: 500;
            white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.row { position: absolute; font-size: 15px; color: #fff; padding-top: 6px; }
.grid { stroke: #2c3235; stroke-width: 1; }
.tick { fill: #8e8e9a; font-size: 10px; }
.legend { fill: #ccccdc; font-size: 11px; }
.nodata { display: flex; align-items: center; justify-content: center; color: #8e8e9a; }
.stat { display: flex; align-items: center; justify-content: center; color: #fff;
        font-size: 28px; font-weight: 500; margin: 0 4px 4px; border-radius: 2px; }
"""


def page(title: str, subtitle: str, panels: list[PanelData], start: float, end: float) -> str:
    """The whole dashboard as one HTML page."""
    unit_w = (PAGE_WIDTH - 16) / 24
    body = []
    bottom = 0
    for data in panels:
        grid = data.panel["gridPos"]
        x, y, w, h = grid["x"] * unit_w, grid["y"] * ROW_PX, grid["w"] * unit_w, grid["h"] * ROW_PX
        bottom = max(bottom, y + h)
        name = html.escape(data.panel["title"])
        if data.panel["type"] == "row":
            place = f"left:{x:.0f}px;top:{y}px;width:{w:.0f}px"
            body.append(f'<div class="row" style="{place}">{name}</div>')
            continue
        inner_w, inner_h = int(w) - 4, h - 30
        if data.panel["type"] == "stat":
            content = stat_html(data, inner_h)
        else:
            content = timeseries_svg(data, inner_w, inner_h, start, end)
        body.append(
            f'<div class="panel" style="left:{x + 2:.0f}px;top:{y + 2}px;width:{w - 4:.0f}px;'
            f'height:{h - 4}px"><h3>{name}</h3>{content}</div>'
        )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>"
        f"<header>{html.escape(title)}<small>{html.escape(subtitle)}</small></header>"
        f'<div class="grid-page" style="height:{bottom + 8}px">{"".join(body)}</div></body></html>'
    )


def screenshot(document: str, out: Path) -> None:
    """The page as a PNG, by Debian's Chromium (never a downloaded browser)."""
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        tab = browser.new_page(viewport={"width": PAGE_WIDTH, "height": 900})
        tab.set_content(document)
        tab.screenshot(path=str(out), full_page=True)
        browser.close()
