"""The report as one self-contained HTML file: plotly.js inline, no CDN, no request when opened.

Org text (tag titles, names, template titles) is never markup. Two places render it:
- our own HTML (tables): `html.escape`;
- plotly: its SVG text renderer reads a subset of HTML (<b>, <br>, <a href>) and decodes
  entities, so labels and hover text go through `html.escape` too and show as typed;
  the figure JSON itself is written by plotly with <, > and / escaped inside the <script>.
Nothing leaves the page: plotly.js inline, and its "Share chart" (upload to Plotly Cloud) removed.
"""

import html
from datetime import datetime
from typing import Any, List, Optional, Sequence

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from .report_data import Bar, ReportData
from .report_tags import TagTrend

COLORS = {"active": "#2a7ab0", "archived": "#9bb7cc", "overdue": "#d1495b", "ok": "#8fbf9f",
          "completed": "#66a182", "late": "#edae49"}
#: no "Share chart" button: it would upload the org's data to Plotly Cloud
CONFIG = {"displaylogo": False, "responsive": True,
          "modeBarButtonsToRemove": ["sendChartToCloud", "sendDataToCloud", "lasso2d", "select2d"]}


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def plot_text(text: Any) -> str:
    """Org text for plotly's SVG renderer: escaped so its pseudo-HTML shows literally."""
    return html.escape("" if text is None else str(text), quote=False)


def _hbar(bars: List[Bar], series: Sequence[tuple], title: str, hover_label: str) -> go.Figure:
    """Horizontal stacked bars, the biggest on top; series: (value key, name, colour)."""
    bars = list(reversed(bars))
    labels = [plot_text(b.label) for b in bars]
    hover = [plot_text(b.hover or b.label) for b in bars]
    fig = go.Figure()
    for key, name, color in series:
        fig.add_bar(y=labels, x=[b.values[key] for b in bars], name=name, orientation="h", marker_color=color,
                    customdata=hover,
                    hovertemplate=f"%{{customdata}}<br>{name}: %{{x}}<extra></extra>")
    fig.update_layout(barmode="stack", title=title, height=max(260, 120 + 24 * len(bars)),
                      margin=dict(l=10, r=10, t=50, b=40), legend=dict(orientation="h", y=-0.12, traceorder="normal"),
                      xaxis_title=hover_label, yaxis=dict(automargin=True, type="category"))
    return fig


def tags_figure(bars: List[Bar]) -> go.Figure:
    return _hbar(bars, [("active_processes", "active processes", COLORS["active"]),
                        ("active_templates", "active templates", "#5fa8d3"),
                        ("archived_processes", "archived processes", COLORS["archived"]),
                        ("archived_templates", "archived templates", "#cfdde8")],
                 "Tags by use (top 20, today's counts)", "templates and processes tagged")


def overdue_figure(bars: List[Bar]) -> go.Figure:
    return _hbar(bars, [("overdue_tasks", "overdue", COLORS["overdue"]),
                        ("on_time_open", "open, not overdue", COLORS["ok"])],
                 "Overdue work by member (top 20)", "open tasks assigned directly")


def templates_figure(bars: List[Bar]) -> go.Figure:
    return _hbar(bars, [("active_processes", "running", COLORS["active"]),
                        ("completed_processes", "completed", COLORS["completed"]),
                        ("archived_processes", "archived", COLORS["archived"])],
                 "Template launches (top 20)", "processes launched")


def late_steps_figure(bars: List[Bar]) -> go.Figure:
    return _hbar(bars, [("overdue", "overdue now", COLORS["overdue"]),
                        ("completed_late", "completed late", COLORS["late"])],
                 "Late steps (top 15)", "late tasks")


def trend_figure(data: ReportData) -> go.Figure:
    points = data.trend or []
    fig = go.Figure()
    fig.add_scatter(x=[p.start.isoformat() for p in points], y=[p.share for p in points], mode="lines+markers",
                    name="completed on time", line=dict(color=COLORS["active"]),
                    customdata=[[p.on_time, p.with_deadline] for p in points],
                    hovertemplate=(f"{data.trend_period} of %{{x}}<br>%{{y:.0%}} on time"
                                   "<br>%{customdata[0]} of %{customdata[1]} tasks<extra></extra>"))
    fig.update_layout(title=f"Tasks completed by their deadline, per {data.trend_period}", height=340,
                      margin=dict(l=10, r=10, t=50, b=40), yaxis=dict(tickformat=".0%", range=[0, 1.05]),
                      xaxis=dict(type="date"), showlegend=False)
    return fig


LINE_COLORS = ["#2a7ab0", "#d1495b", "#66a182", "#edae49", "#8e6c8a", "#00798c", "#9bb7cc", "#30362f"]


def tag_trend_figure(trend: TagTrend) -> go.Figure:
    """One line per tag: usage per load day (history), else launches per month."""
    history = trend.source == "history"
    measure = "templates and processes tagged" if history else "processes launched"
    fig = go.Figure()
    for i, line in enumerate(trend.lines):
        name = plot_text(line.label)
        points = dict(x=[d.isoformat() for d, _ in line.points], y=[v for _, v in line.points], name=name,
                      customdata=[name] * len(line.points),
                      hovertemplate=f"%{{customdata}}<br>%{{x}}: %{{y}} {measure}<extra></extra>")
        color = LINE_COLORS[i % len(LINE_COLORS)]
        if history:  # a level per day: lines
            fig.add_scatter(mode="lines+markers", line=dict(color=color), **points)
        else:  # a few launches a month: stacked bars read better than crossing lines
            fig.add_bar(marker_color=color, **points)
    title = ("Tag usage per load day (top 8 tags)" if history
             else "Processes launched per month, by tag (top 8 tags, today's tags)")
    fig.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=50, b=40), xaxis=dict(type="date"),
                      yaxis=dict(title=measure, rangemode="tozero"), legend=dict(orientation="h", y=-0.15, traceorder="normal"),
                      barmode="stack")
    return fig


def tag_trend_section(trend: Optional[TagTrend]) -> str:
    if trend is None:
        return section("Tag usage over time", "", None, "not loaded: tags")
    if trend.source == "history":
        note = (f"Templates and processes carrying each tag (active and archived), as Tallyfy counted them on "
                f"each of the {trend.days} days with a load (table tag_statistics_history).")
    else:
        days = "no day" if not trend.days else "one day" if trend.days == 1 else f"{trend.days} days"
        note = ("Processes launched each month that carry each tag today (view tag_activity): the tags are "
                f"today's links. The loads' own history has {days} so far; from the second day on, "
                "this chart shows Tallyfy's counts per load day instead.")
    body = (figure_html(tag_trend_figure(trend), "chart-tag-trend") if trend.lines
            else "<p class=missing>No tag is on a launched process yet.</p>")
    return section("Tag usage over time", note, body, "")


def figure_html(fig: go.Figure, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config=CONFIG, div_id=div_id)


def table_html(bars: List[Bar], columns: Sequence[tuple]) -> str:
    """A plain table (escaped text), for reading exact numbers."""
    head = "".join(f"<th>{esc(name)}</th>" for _, name in columns)
    body = "".join(
        "<tr><td>" + esc(b.hover or b.label) + "</td>"
        + "".join(f"<td class=num>{int(b.values[key]):,}</td>" for key, _ in columns) + "</tr>"
        for b in bars)
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, note: str, body: Optional[str], missing: str) -> str:
    inner = body if body is not None else f"<p class=missing>{esc(missing)}</p>"
    return f"<section><h2>{esc(title)}</h2><p class=note>{esc(note)}</p>{inner}</section>"


def _chart_or_empty(bars: Optional[List[Bar]], make, div_id: str, empty: str) -> Optional[str]:
    if bars is None:
        return None
    return figure_html(make(bars), div_id) if bars else f"<p class=missing>{esc(empty)}</p>"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2630}
header{background:#1d3b53;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.8;font-size:13px}main{max-width:1100px;margin:0 auto;padding:16px 20px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 20px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:120px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}.card span{font-size:12px;color:#5a6b7b}
section{background:#fff;border-radius:8px;padding:12px 18px;margin:0 0 18px;box-shadow:0 1px 2px #0002}
section h2{font-size:17px;margin:4px 0}.note{font-size:12px;color:#5a6b7b;margin:0 0 6px}
.missing{color:#8a5a00}table{border-collapse:collapse;font-size:13px;margin-top:8px}
td,th{padding:3px 10px;border-bottom:1px solid #e3e7eb;text-align:left}.num{text-align:right}
footer{font-size:12px;color:#5a6b7b;padding:0 28px 20px;text-align:center}
"""

WORKFLOW_MISSING = "not loaded: load templates, processes and tasks (tallyfy-load loads them by default)"


def render(data: ReportData, source: str, generated: datetime) -> str:
    cards = "".join(f"<div class=card><b>{esc(v)}</b><span>{esc(k)}</span></div>" for k, v in data.headline)
    late_table = (table_html(data.late_steps, [("overdue", "overdue now"), ("completed_late", "completed late"),
                                                ("tasks", "tasks")]) if data.late_steps else "")
    late_chart = _chart_or_empty(data.late_steps, late_steps_figure, "chart-late-steps", "No late steps.")
    trend = (None if data.trend is None else figure_html(trend_figure(data), "chart-on-time") if data.trend
             else "<p class=missing>No completed task with a deadline yet.</p>")
    sections = [
        section("Tag usage now", "Templates and processes carrying each tag, as Tallyfy counts them at the last "
                "load (view tag_usage). Active means not archived.",
                _chart_or_empty(data.tags, tags_figure, "chart-tags", "No tag is used yet."), "not loaded: tags"),
        tag_trend_section(data.tag_trend),
        section("On-time trend", "Share of tasks with a deadline that were completed by it, by when they were "
                "completed (view task_performance).", trend, WORKFLOW_MISSING),
        section("Overdue work by member", "Open tasks assigned directly to each member, overdue ones first "
                "(view member_workload; group and guest assignments count for no member).",
                _chart_or_empty(data.overdue, overdue_figure, "chart-overdue", "Nobody has overdue work."),
                WORKFLOW_MISSING),
        section("Template launches", "Processes launched from each template, by state (view template_usage).",
                _chart_or_empty(data.templates, templates_figure, "chart-templates", "No template launched yet."),
                WORKFLOW_MISSING),
        section("Late steps", "Template steps whose tasks are overdue now or were completed after their "
                "deadline (view task_performance).", None if late_chart is None else late_chart + late_table,
                WORKFLOW_MISSING),
    ]
    orgs = ", ".join(data.orgs) if data.orgs else "no org"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tallyfy report</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body>
<header><h1>Tallyfy report</h1><p>{esc(source)} · org {esc(orgs)} · written {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))}</p></header>
<main><div class=cards>{cards}</div>
{''.join(sections)}
</main>
<footer>Written by tallyfy-report from the reporting views; "now" (overdue, last 30 days) is when it was written.</footer>
</body></html>
"""
