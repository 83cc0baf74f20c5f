"""The sweep page and table read like the run report: fractions as percent, short windows marked and
explained, the data named in full, the heatmap drawn at the page's size."""
from __future__ import annotations

import base64
import io
import math
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from basisbt.reports.sweep import cell_text, heatmap_png, short_window_note, write_report


@pytest.mark.parametrize("column, value, days, text", [
    ("apy", 2.88201, 7.0, "288.20 % *"),           # the one-week 288 %: percent, marked as annualized
    ("apy", 0.0512, 365.0, "5.12 %"),              # a year: nothing to mark
    ("total_return", 0.0207, 7.0, "2.07 %"),       # the period figure is never marked
    ("max_drawdown", -0.07336, 7.0, "-7.34 %"),
    ("sharpe", 1.92750, 20.9, "1.93 *"),
    ("funding_capture_ratio", 0.537714, 20.9, "53.8 %"),
    ("liquidations", 2.0, 20.9, "2"),
    ("n_fills", 1234.0, 20.9, "1,234"),
    ("pnl_total", 1048.230884, 20.9, "1,048"),
    ("days", 20.958333, 20.9, "21.0"),             # days with one decimal, as report.md
    ("apy", math.nan, 7.0, "–"),
    ("hedge_ratio", 0.75, 7.0, "0.75"),
    ("data", "scenario:feb-2025-crash", 7.0, "scenario:feb-2025-crash"),
])
def test_cells_are_formatted_as_the_run_report(column, value, days, text) -> None:
    assert cell_text(column, value, days) == text


def _table(days: float) -> pd.DataFrame:
    return pd.DataFrame({"cell": ["a", "b"], "data": ["scenario:feb-2025-crash", "scenario:bull-carry"],
                         "leverage": [2.0, 3.0], "apy": [2.88201, -0.4438], "total_return": [0.0207, -0.01],
                         "sharpe": [1.9, -2.9], "max_drawdown": [-0.01, -0.07], "liquidations": [0.0, 1.0],
                         "funding_capture_ratio": [0.5, 0.4], "n_fills": [2.0, 4.0], "days": [days, days],
                         "error": ["", ""]})


def test_short_window_note_names_the_window_and_the_marked_columns() -> None:
    note = short_window_note(_table(7.0), ["data", "apy", "total_return", "sharpe"])
    assert note.startswith("* annualized from a short window (7 days, under 90)")
    assert "apy, sharpe extrapolate" in note and "total_return" in note
    assert short_window_note(_table(365.0), ["apy", "sharpe"]) == ""


def test_page_has_formatted_values_the_note_and_a_page_sized_heatmap(tmp_path) -> None:
    t = pd.DataFrame({"cell": [f"c{i}" for i in range(9)], "data": "scenario:feb-2025-crash",
                      "hedge_ratio": np.repeat([0.5, 0.75, 1.0], 3), "leverage": np.tile([2.0, 3.0, 5.0], 3),
                      "apy": np.linspace(-0.7, 2.88201, 9), "days": 7.0, "error": ""})
    png = heatmap_png(t, "hedge_ratio", "leverage", "apy", tmp_path / "heatmap.png")
    width = Image.open(io.BytesIO(png)).size[0]
    assert 300 < width <= 1064                      # about the run charts' scale, never wider than the page
    page = write_report(t.sort_values("apy", ascending=False), tmp_path, strategy="perp_short",
                        datas=["scenario:feb-2025-crash"], mode="grid", sort="apy", axes=["hedge_ratio", "leverage"],
                        fixed={}, heatmap=png, heat_axes=("hedge_ratio", "leverage")).read_text()
    assert "288.20 % *" in page and "2.88201" not in page
    assert "annualized from a short window (7 days, under 90)" in page
    img = re.search(r'<img class="natural"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert img and base64.b64decode(img.group(1)) == png
    assert "figure img.natural { width:auto; max-width:100%; }" in page      # shown at its own size


def test_terminal_table_names_the_data_in_full(tmp_path) -> None:
    from typer.testing import CliRunner

    from basisbt.cli.app import app
    r = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["sweep", "--grid", "leverage=2,5", "--end", "2025-02-01",
                                                      "--jobs", "1", "--out", str(tmp_path / "sw")])
    assert r.exit_code == 0, r.output
    assert "cells by apy, data scenario:feb-2025-crash" in r.output
    assert "scenario…" not in r.output and re.search(r"-?\d+\.\d\d % \*", r.output)
    assert "* annualized from a short window" in r.output
