"""report.md: a run's report model (reports/model.py) as Markdown, for a terminal or a PR comment.

Only renders: every number and sentence comes from the model (reports/build.py). Sections marked HTML-only
(the charts, worst days, fills, run.toml, log) are left out; a chart is a link to its PNG file beside report.md.
"""
from __future__ import annotations

from typing import Any

from basisbt.engine.results import Results
from basisbt.reports.model import ALLOCATION_PNG, Block, Chart, Code, Columns, Report, Table, Text

__all__ = ["ALLOCATION_PNG", "render_markdown", "to_markdown", "table"]


def table(t: Table) -> str:
    """A GitHub-flavoured Markdown table; '|' in a cell is escaped."""
    sep = ["---:" if a == "r" else ":---" for a in t.alignment]
    lines = ["| " + " | ".join(t.columns) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in t.texts]
    return "\n".join(lines)


def _block(b: Block) -> list[str]:
    if isinstance(b, Table):
        return [table(b) if b.rows else b.empty, ""]
    if isinstance(b, Text):
        return [f"> {b.text}" if b.style == "warning" else b.text, ""]
    if isinstance(b, Chart):
        return [f"![{b.title}]({b.file})", ""] if b.file else []
    if isinstance(b, Code):
        return ["```", b.text, "```", ""]
    if isinstance(b, Columns):
        return [line for x in b.blocks for line in _block(x)]
    raise TypeError(f"not a report block: {b!r}")


def to_markdown(report: Report) -> str:
    """The report as Markdown: title, one-line summary, a short window's warning, the sections, the footer."""
    out = [f"# {report.title}", ""]
    if report.summary:
        out += [report.summary, ""]
    if report.warning:
        out += [f"> {report.warning}", ""]
    for s in report.for_("md"):
        out += ["#" * s.level + " " + s.title, ""]
        for b in s.blocks:
            out += _block(b)
    if report.footer_md:
        out += [*report.footer_md, ""]
    return "\n".join(out)


def render_markdown(results: Results, metrics: dict[str, Any]) -> str:
    """The Markdown report of one run: headline metrics, attribution, liquidations, data quality, ledger."""
    from basisbt.reports.build import run_report
    return to_markdown(run_report(results, metrics))
