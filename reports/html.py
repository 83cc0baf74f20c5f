"""report.html: a report model (reports/model.py) as one self-contained page (inline CSS, base64 PNG charts,
no scripts), rendered with jinja2. Every page basisbt writes (a run, a comparison, a sweep, a stress run) is
this one template over its model; it only renders."""
from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup, escape

from basisbt.engine.results import Results
from basisbt.reports.model import Cell, Report

if TYPE_CHECKING:
    from basisbt.reports.chartproc import ChartJob

TEMPLATES = Path(__file__).parent / "templates"
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> Markup:
    """Model text as HTML: escaped, `code` spans as <code>."""
    return Markup(_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def halves(rows: tuple[tuple[Cell, ...], ...]) -> list[tuple[tuple[Cell, ...], ...]]:
    """A long label/value table cut in two (the first half the longer) to sit side by side."""
    half = (len(rows) + 1) // 2
    return [rows[:half], rows[half:]]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The jinja2 environment over reports/templates, HTML autoescaping on."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(inline=inline, kind=lambda b: type(b).__name__,
                       b64=lambda data: base64.b64encode(data).decode("ascii"))
    env.globals["halves"] = halves
    return env


def nav(report: Report) -> list[tuple[str, str]]:
    """(anchor, label) links of the page: sections with a nav label and each chart of the chart section."""
    out: list[tuple[str, str]] = []
    for s in report.for_("html"):
        if s.nav:
            out.append((s.id, s.nav))
        if s.id == "charts":
            out += [(f"fig-{c.id}", c.title) for c in s.charts() if c.png]
    return out


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    return environment().get_template("page.html.j2").render(r=report, sections=report.for_("html"), nav=nav(report))


def render_html(results: Results, metrics: dict[str, Any], *, dpi: int = 110,
                allocation_png: bytes | None = None, charts: ChartJob | None = None) -> str:
    """The self-contained report.html text for one run; `allocation_png` reuses the several-asset
    allocation chart already drawn for allocation.png (drawn here when not given); `charts` the charts
    already being drawn (reports/chartproc.py), else they are drawn here."""
    from basisbt.reports.build import run_report
    from basisbt.reports.chartproc import start_charts
    from basisbt.reports.writers import allocation_png as draw_allocation
    from basisbt.reports.writers import run_toml
    if allocation_png is None:
        allocation_png = draw_allocation(results, dpi)
    job = charts or start_charts(results, dpi)
    try:
        drawn = job.finish()
    finally:
        job.close()
    return to_html(run_report(results, metrics, charts=drawn, allocation_png=allocation_png,
                              run_toml=run_toml(results)))
