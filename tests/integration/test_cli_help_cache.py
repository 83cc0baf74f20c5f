"""Issue #12 item 9: `run --cache DIR` works as docs/data.md says, help text keeps its square brackets,
and a report of a run that never holds a perp raises no matplotlib warning."""
import json
import warnings

import typer
from rich.text import Text
from typer.testing import CliRunner

from basisbt.cli.app import app

runner = CliRunner()


def _helps(cmd, path: str = "basisbt"):
    """(where, help text) for a command, its options and its sub-commands."""
    if cmd.help:
        yield path, cmd.help
    for p in cmd.params:
        if getattr(p, "help", None):
            yield f"{path} {p.opts[0]}", p.help
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _helps(sub, f"{path} {name}")


def test_every_help_string_prints_its_brackets():
    """rich markup would swallow '[params]' as a style tag: what a user reads must equal the text we wrote."""
    seen = 0
    for where, text in _helps(typer.main.get_command(app)):
        if "[" in text:
            seen += 1
            assert "[" in Text.from_markup(text).plain, where
            assert Text.from_markup(text).plain.count("[") == text.replace("\\[", "[").count("["), where
    assert seen >= 1
    r = runner.invoke(app, ["run", "--help"], terminal_width=250)
    assert "under [params]" in r.output
    r = runner.invoke(app, ["strategies"], terminal_width=250)
    assert "a [params] table" in r.output


def _cache_from_scenario(root):
    from basisbt.data import cache
    from basisbt.data.scenarios import load_scenario
    ds = load_scenario("feb-2025-crash", timeframe="1h")
    items = []
    for stream in ("spot", "perp", "mark", "funding"):
        for venue, frame in getattr(ds, stream).items():
            sym = "ETH/USDT" if stream == "spot" else "ETH/USDT:USDT"
            items.append((cache.key_for(stream, venue, sym, "1h"), frame, f"scenario:{stream}/{venue}"))
    cache.write_many(root, items)


def test_run_reads_the_cache_named_by_cache_option(tmp_path, monkeypatch):
    monkeypatch.setenv("BASISBT_CACHE", str(tmp_path / "elsewhere"))       # must not be used
    root = tmp_path / "c"
    _cache_from_scenario(root)
    out = tmp_path / "run"
    r = runner.invoke(app, ["run", "--data", "cache:ETH/USDT", "--cache", str(root), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "metrics.json").read_text())["n_fills"] > 0
    r = runner.invoke(app, ["run", "--data", "cache:ETH/USDT", "--out", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "no ETH/USDT bars in cache" in r.output


def test_report_without_perp_position_has_no_matplotlib_warning(tmp_path):
    from basisbt.data.scenarios import load_scenario
    from basisbt.engine.config import RunConfig
    from basisbt.reports.writers import write_run
    from basisbt.strategies.base import Strategy
    from tests.runs import run_backtest

    class Idle(Strategy):
        """Holds nothing: every per-venue plot is empty."""
        name = "idle"

    res = run_backtest(Idle(), load_scenario("feb-2025-crash", timeframe="1h"), RunConfig())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_run(res, tmp_path / "idle")
    assert (tmp_path / "idle" / "report.html").exists()
