"""The comparison page's report model (reports/model.py): several runs' metrics side by side and their
cumulative returns on one chart (`basisbt report A B --out C`)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from basisbt.reports import model as M
from basisbt.reports.fmt import CONVENTIONS_TEXT, annualized_mark
from basisbt.reports.metrics import ANNUALIZED_KEYS
from basisbt.reports.model import Cell, Chart, Report, Section, Table, Text

SIGNED = ("pnl", "total_return", "apy")      # coloured by sign


def _short(x: Any) -> Cell:
    return M.text(str(x)[:12])


# (label, metrics key path, cell of the value) rows of the comparison table
ROWS: list[tuple[str, tuple[str, ...], Callable[[Any], Cell]]] = [
    ("strategy", ("strategy",), M.text),
    ("data", ("dataset",), M.text),
    ("days", ("days",), lambda x: M.num(x, 1)),
    ("equity start (quote)", ("equity_start",), M.money),
    ("equity end (quote)", ("equity_end",), M.money),
    ("PnL (quote)", ("pnl", "total"), M.money),
    ("total return (period)", ("total_return",), M.pct),
    ("APY", ("apy",), M.pct),
    ("volatility", ("volatility",), M.pct),
    ("Sharpe", ("sharpe",), M.num),
    ("Sortino", ("sortino",), M.num),
    ("Calmar", ("calmar",), M.num),
    ("max drawdown", ("max_drawdown",), M.pct),
    ("max drawdown length (days)", ("max_drawdown_days",), lambda x: M.num(x, 1)),
    ("funding PnL (quote)", ("pnl", "funding"), M.money),
    ("basis PnL (quote)", ("pnl", "basis"), M.money),
    ("price PnL (quote)", ("pnl", "price"), M.money),
    ("fees (quote)", ("pnl", "fees"), M.money),
    ("slippage (quote)", ("pnl", "slippage"), M.money),
    ("lending (quote)", ("pnl", "lending"), M.money),
    ("liquidation (quote)", ("pnl", "liquidation"), M.money),
    ("funding received (quote)", ("funding_received",), M.money),
    ("funding paid (quote)", ("funding_paid",), M.money),
    ("funding capture ratio (−100 … +100 %)", ("funding_capture_ratio",), lambda x: M.pct(x, 1)),
    ("passive funding benchmark (quote)", ("funding_passive",), M.money),
    ("time hedged", ("time_hedged",), lambda x: M.pct(x, 1)),
    ("liquidations", ("liquidations",), M.count),
    ("fills", ("n_fills",), M.count),
    ("turnover (x equity / year)", ("turnover",), lambda x: M.num(x, 1)),
    ("config_id", ("config_id",), _short),
]


def _get(m: dict[str, Any], path: tuple[str, ...]) -> Any:
    """A nested metrics value, None when absent."""
    for k in path:
        if not isinstance(m, dict) or k not in m:
            return None
        m = m[k]
    return m


def _cell(m: dict[str, Any], path: tuple[str, ...], make: Callable[[Any], Cell]) -> Cell:
    """One run's cell: coloured by sign for PnL and returns; a short window's annualized figure marked."""
    v = _get(m, path)
    if v is None:
        return Cell(None, "num")
    c = make(v)
    if path[0] in ANNUALIZED_KEYS:
        c = Cell(c.value, c.kind, c.digits, annualized_mark(m))
    if path[0] in SIGNED and isinstance(v, float):
        c = Cell(c.value, c.kind, c.digits, c.suffix, "neg" if v < 0 else ("pos" if v > 0 else ""))
    return c


def metrics_table(labels: Sequence[str], metrics: Sequence[dict[str, Any]]) -> Table:
    """Metric rows, one column per run."""
    rows = tuple((M.text(label), *(_cell(m, path, make) for m in metrics)) for label, path, make in ROWS)
    return Table(("metric", *labels), rows, align="l" + "r" * len(labels))


def comparison_report(labels: Sequence[str], dirs: Sequence[Path], metrics: Sequence[dict[str, Any]],
                      equity_png: bytes) -> Report:
    """The comparison page of the runs in `dirs` (shown by `labels`), their metrics and equity chart."""
    runs = ", ".join(f"`{lab}` = {d}" for lab, d in zip(labels, dirs, strict=True))
    return Report(
        title=f"Comparison of {len(labels)} runs", subtitle=(f"{len(labels)} runs · {runs}",),
        sections=(Section("metrics", "Metrics side by side", (metrics_table(labels, metrics),)),
                  Section("equity", "Equity", (Chart("equity", "cumulative return by run", equity_png,
                                                     "Cumulative return of each run since its own start (%)."),)),
                  Section("conventions", "Conventions", (Text(CONVENTIONS_TEXT),))))
