"""The report model: what a report page says, as plain frozen data, before it is Markdown or HTML.

A builder (reports/build.py for a run, reports/compare.py, reports/sweep.py, reports/stress.py) reads a run's
`RunResult` and metrics once and returns a `Report`: sections of tables, text and charts. The writers
(reports/markdown.py, reports/html.py) only walk it; neither computes a number. A table cell keeps the value
behind it and a format hint, and its text comes from one formatting layer (reports/fmt.py), so the two
renderings of a run show the same text for every cell.

Text may mark `code` with backticks (Markdown keeps them, HTML makes <code>); nothing else is markup.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from basisbt.reports import fmt

Kind = Literal["text", "money", "pct", "num", "int", "time", "day", "move"]
NUMERIC_KINDS = frozenset({"money", "pct", "num", "int", "move"})
ALLOCATION_PNG = "allocation.png"   # the several-asset allocation chart beside report.md in a run directory


@dataclass(frozen=True)
class Cell:
    """One table cell: the value behind it, how to show it (kind, digits) and a suffix (e.g. ' (annualized
    from 30.0 days)'); `tone` 'pos'/'neg' lets HTML colour it. None or NaN shows as '–' (text: '')."""
    value: Any = None
    kind: Kind = "text"
    digits: int | None = None
    suffix: str = ""
    tone: str = ""

    @property
    def text(self) -> str:
        """The cell as both renderings show it."""
        text: str = fmt.format_value(self.value, self.kind, self.digits)
        return text if text in ("", fmt.MISSING) else text + self.suffix

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


def text(value: Any) -> Cell:
    """A text cell (str(value); '' for None)."""
    return Cell(value, "text")


def money(x: float | None, digits: int = 0, *, signed: bool = False) -> Cell:
    """A quote amount; `signed` colours it by its sign as rounded to `digits` (HTML)."""
    return Cell(x, "money", digits, tone=tone(x, digits) if signed else "")


def pct(x: float | None, digits: int = 2, suffix: str = "", *, signed: bool = False) -> Cell:
    """A fraction shown as percent."""
    return Cell(x, "pct", digits, suffix, tone=tone(x, digits + 2) if signed else "")


def num(x: float | None, digits: int = 2, suffix: str = "") -> Cell:
    """A plain number."""
    return Cell(x, "num", digits, suffix)


def count(n: int | None) -> Cell:
    """A count (integer)."""
    return Cell(n, "int")


def time(t: Any) -> Cell:
    """A UTC time shown to the minute ('2025-06-13 09:00'); an ISO string or a Timestamp."""
    return Cell(t, "time")


def day(t: Any) -> Cell:
    """A UTC day ('2025-06-13')."""
    return Cell(t, "day")


def move(a: float | None, b: float | None, digits: int = 1) -> Cell:
    """A share moving from a to b (fractions; None or NaN: none), shown '48.9 % → 100.0 %'."""
    return Cell((a, b), "move", digits)


def tone(x: float | None, digits: int = 0) -> str:
    """'neg' / 'pos' for a value that rounds to a non-zero number at `digits`, '' otherwise."""
    if x is None or not isinstance(x, (int, float)) or math.isnan(x):
        return ""
    half = 0.5 * 10.0 ** -digits
    return "neg" if x < -half else ("pos" if x > half else "")


@dataclass(frozen=True)
class Table:
    """Rows of cells under column names. `align` has one 'l' or 'r' per column ('' = the first column left,
    each other right when its cells are numbers). `strong` are row indices shown bold (totals). `kind` 'kv'
    is label/value rows (HTML: no header, `split` into two halves side by side). `scroll`: HTML keeps it in a
    scrolling box. `shown_of`: when the rows are the first ones of a longer table, how many there are."""
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    align: str = ""
    strong: frozenset[int] = frozenset()
    kind: Literal["grid", "kv"] = "grid"
    split: bool = False
    scroll: bool = False
    shown_of: int | None = None
    empty: str = "None."

    def __post_init__(self) -> None:
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ValueError(f"table row of {len(r)} cells under {len(self.columns)} columns: {self.columns}")
        if self.align and len(self.align) != len(self.columns):
            raise ValueError(f"align {self.align!r} for {len(self.columns)} columns")

    @property
    def alignment(self) -> str:
        """One 'l' or 'r' per column."""
        if self.align:
            return self.align
        return "l" + "".join("r" if self.rows and all(r[i].numeric for r in self.rows) else "l"
                             for i in range(1, len(self.columns)))

    @property
    def texts(self) -> list[list[str]]:
        """Every cell's text, row by row."""
        return [[c.text for c in r] for r in self.rows]

    def column(self, name: str) -> list[Cell]:
        """The cells of one column."""
        i = self.columns.index(name)
        return [r[i] for r in self.rows]

    def row(self, label: str) -> tuple[Cell, ...]:
        """The row whose first cell's text is `label` (KeyError when none is)."""
        for r in self.rows:
            if r[0].text == label:
                return r
        raise KeyError(label)


@dataclass(frozen=True)
class Text:
    """A paragraph: 'p' plain, 'note' small print under a table, 'warning' (short window) stands out."""
    text: str
    style: Literal["p", "note", "warning"] = "p"


@dataclass(frozen=True)
class Chart:
    """A drawn chart: PNG bytes (None: not drawn here), its title (alt text) and caption. `file` names the PNG
    beside report.md that Markdown links to (a chart without one is HTML only); `natural` is shown at its own
    size, never stretched."""
    id: str
    title: str
    png: bytes | None = None
    caption: str = ""
    file: str = ""
    natural: bool = False


@dataclass(frozen=True)
class Code:
    """Preformatted text (a run.toml, a log)."""
    text: str


@dataclass(frozen=True)
class Columns:
    """Blocks side by side in HTML (one after the other in Markdown)."""
    blocks: tuple[Block, ...]


Block = Table | Text | Chart | Code | Columns


@dataclass(frozen=True)
class Section:
    """A titled part of a report. `only` 'html' or 'md' when one rendering leaves it out (the page's charts,
    fills, run.toml and log are HTML only: report.md is the summary for a terminal or a PR comment). `nav`
    labels it in the HTML page's link bar ('' = not listed)."""
    id: str
    title: str
    blocks: tuple[Block, ...]
    level: int = 2
    nav: str = ""
    only: Literal["", "html", "md"] = ""

    def flat(self) -> list[Block]:
        """The section's blocks with those side by side taken out of their Columns, in order."""
        return [x for b in self.blocks for x in (b.blocks if isinstance(b, Columns) else (b,))]

    def tables(self) -> list[Table]:
        """The section's tables, including those side by side."""
        return [b for b in self.flat() if isinstance(b, Table)]

    def charts(self) -> list[Chart]:
        """The section's charts, including those side by side."""
        return [b for b in self.flat() if isinstance(b, Chart)]


@dataclass(frozen=True)
class Card:
    """A headline figure: a label over a cell (HTML shows them as cards)."""
    key: str
    label: str
    cell: Cell


@dataclass(frozen=True)
class Report:
    """One report page. `subtitle` are the lines under the title (HTML); `summary` is the one-line headline
    Markdown opens with (its figures **bold**), `cards` the same figures as HTML shows them; `warning` a short window's caveat;
    `footer` the closing lines (Markdown: the full ids; HTML: where the page came from)."""
    title: str
    sections: tuple[Section, ...]
    subtitle: tuple[str, ...] = ()
    summary: str = ""
    cards: tuple[Card, ...] = ()
    warning: str = ""
    footer_md: tuple[str, ...] = ()
    footer_html: str = "Generated by basisbt. Self-contained: every chart is embedded; this file opens offline."

    def section(self, id: str) -> Section:
        """The section with this id (KeyError when the report has none)."""
        for s in self.sections:
            if s.id == id:
                return s
        raise KeyError(id)

    def has(self, id: str) -> bool:
        return any(s.id == id for s in self.sections)

    def for_(self, rendering: Literal["md", "html"]) -> list[Section]:
        """The sections one rendering shows, in page order."""
        return [s for s in self.sections if s.only in ("", rendering)]

    def card(self, key: str) -> Card:
        for c in self.cards:
            if c.key == key:
                return c
        raise KeyError(key)
