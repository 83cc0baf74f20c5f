"""report.md: a terminal- and PR-comment-friendly summary of one run."""
from __future__ import annotations

from typing import Any

import pandas as pd

from basisbt.engine.results import Results
from basisbt.reports import attribution, quality
from basisbt.reports.fmt import CONVENTIONS_TEXT, annualized_mark, headline_rows, money, num, pct, when, window_note


def _table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table; `align` is one char per column ('l' or 'r')."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(results: Results, metrics: dict[str, Any]) -> str:
    """The Markdown report: headline metrics, attribution by venue, liquidations, ledger summary."""
    m = metrics
    out = [f"# {results.strategy} on {results.dataset}", ""]
    out += [f"**{pct(m['total_return'])}** total return over {num(m.get('days'), 1)} days, "
            f"**{pct(m['apy'])}** APY{annualized_mark(m)}, "
            f"max drawdown **{pct(m['max_drawdown'])}**, **{m['liquidations']}** liquidation(s).", ""]
    if window_note(m):
        out += [f"> {window_note(m)}", ""]
    out += ["## Metrics", "", _table(["metric", "value"], [[a, b] for a, b in headline_rows(m)],
                                     "lr"), ""]
    attr = attribution.by_venue(results)
    out += ["## PnL attribution (quote)", ""]
    out.append(_table(["venue", *attr.columns],
                      [[str(v), *[money(x) for x in row]] for v, row in attr.iterrows()]))
    out += ["", f"Residual (equity change − sum of parts): {m.get('attribution_residual', 0.0):.3g}",
            ""]
    liq = results.liquidations
    out += ["## Liquidations", ""]
    if liq is None or len(liq) == 0:
        out += ["None.", ""]
    else:
        rows = [[str(pd.Timestamp(r["ts"])), str(r["venue"]), f"{r['qty']:,.4f}",
                 f"{r['price']:,.2f}", money(r.get("fee"), 2), money(r.get("insurance_loss"), 2)]
                for _, r in liq.iterrows()]
        out += [_table(["time (UTC)", "venue", "qty (base)", "price", "fee", "insurance loss"], rows,
                       "llrrrr"), ""]
    dist = m.get("min_dist_liq") or {}
    if dist:
        out += ["Closest approach to liquidation: " + "; ".join(
            f"{v} {pct(d.get('min'), 1)} at {when(d.get('ts'))} UTC" for v, d in dist.items() if d.get("min") is not None), ""]
    if results.data_quality:
        out += ["## Data quality", "", quality.quality_summary(results.data_quality), "",
                _table(quality.COLUMNS, quality.quality_rows(results.data_quality), "llrrrrl"), ""]
    b = metrics.get("benchmark")
    if b:
        corr = "n/a" if b["correlation"] is None else f"{b['correlation']:.3f}"
        diff = "n/a" if b["mean_difference"] is None else f"{b['mean_difference']:.6g}"
        out += ["## Benchmark", "", f"`{b['series']}` against `{b['column']}` of {b['file']} (daily means, "
                f"{b['days']} days): correlation {corr}, mean difference (run - benchmark) {diff}.", ""]
    if results.venue_blocks:
        out += ["## Venue specs in force", "",
                _table(("venue", "spec block", "from (UTC)", "to (UTC)"), quality.venue_block_rows(results.venue_blocks),
                       "llll"), ""]
    led = attribution.ledger_by_kind(results)
    out += ["## Ledger by kind (quote, + = inflow)", ""]
    if len(led) == 0:
        out += ["Empty ledger.", ""]
    else:
        out += [_table(["kind", "rows", "inflow", "outflow", "net"],
                       [[str(k), str(int(r["count"])), money(r["inflow"]), money(r["outflow"]),
                         money(r["net"])] for k, r in led.iterrows()]), ""]
    out += ["## Conventions", "", CONVENTIONS_TEXT, ""]
    out += [f"config_id `{results.config_id}`  ", f"data_fingerprint `{results.data_fingerprint}`", ""]
    return "\n".join(out)
