"""report.html: one self-contained page (minimal placeholder until plots land)."""
from __future__ import annotations

import html as _html
from typing import Any

from engine.results import Results
from reports.fmt import headline_rows


def render_html(results: Results, metrics: dict[str, Any], *, dpi: int = 110) -> str:
    """A self-contained HTML page with the metrics table."""
    rows = "".join(f"<tr><th>{_html.escape(a)}</th><td>{_html.escape(b)}</td></tr>"
                   for a, b in headline_rows(metrics))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{_html.escape(results.strategy)}"
            f"</title></head><body><table>{rows}</table></body></html>\n")
