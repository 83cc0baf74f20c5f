"""Every option of `basisbt run` has a `bb.run` equivalent (the command calls bb.run with it), and an error about
an input is named the Python way from Python and the command line's way from the command line."""
from __future__ import annotations

import dataclasses
import inspect

import pytest
import typer.main
from typer.testing import CliRunner

import basisbt as bb
from basisbt.cli.app import app
from basisbt.cli.options import FLAGS, RUN_OPTIONS
from basisbt.engine.config import RunConfig


def run_options() -> dict[str, list[str]]:
    """The run command's options: first long flag -> all its spellings."""
    cmd = typer.main.get_command(app).commands["run"]
    out = {}
    for p in cmd.params:
        flags = [f for f in p.opts if f.startswith("--")]
        if flags:
            out[flags[0]] = p.opts
    return out


def python_names() -> set[str]:
    """What bb.run accepts: its keywords and, through **run_keys, the RunConfig fields."""
    sig = set(inspect.signature(bb.run).parameters) - {"run_keys"}
    return sig | {f.name for f in dataclasses.fields(RunConfig)}


def test_every_run_option_has_a_bb_run_keyword():
    options = run_options()
    missing = sorted(set(options) - set(RUN_OPTIONS))
    assert not missing, f"run options with no bb.run equivalent in basisbt/cli/options.py: {missing}"
    stale = sorted(set(RUN_OPTIONS) - set(options))
    assert not stale, f"basisbt/cli/options.py names options `basisbt run` does not have: {stale}"
    unknown = sorted(k for k in RUN_OPTIONS.values() if k not in python_names())
    assert not unknown, f"keywords bb.run does not take: {unknown}"


def test_the_flags_table_is_the_inverse():
    for flag, key in RUN_OPTIONS.items():
        assert FLAGS[key] == flag


@pytest.mark.parametrize("kwargs, python, flag", [
    ({"data": "scenario:squeeze", "only_venues": ["kraken"]}, "only_venues: kraken not in the data",
     "--venues: kraken not in the data"),
    ({"data": "scenario:squeeze", "spot_from": "kraken"}, "spot_from: no spot bars for 'kraken'",
     "--spot-from: no spot bars for 'kraken'"),
    ({"start": "notadate"}, "start 'notadate' is not a date", "--start 'notadate' is not a date"),
    ({"benchmark_unit": "percent"}, "benchmark_time and benchmark_unit go with benchmark FILE.csv:COLUMN",
     "--benchmark-time and --benchmark-unit go with --benchmark FILE.csv:COLUMN"),
])
def test_an_error_names_the_input_as_each_front_door_spells_it(kwargs, python, flag, tmp_path):
    with pytest.raises(ValueError) as e:
        bb.run(**kwargs, end="2025-05-03")
    assert str(e.value).startswith(python), str(e.value)
    args = ["run", "--end", "2025-05-03", "--out", str(tmp_path / "r")]
    for key, value in kwargs.items():
        args += [FLAGS[key], ",".join(value) if isinstance(value, list) else value]
    r = CliRunner().invoke(app, args, terminal_width=400)
    assert r.exit_code == 2 and f"error: {flag}" in r.output, r.output


def test_a_timeframe_on_a_dataset_toml_is_named_both_ways(tmp_path):
    toml = tmp_path / "ds.toml"
    bars = tmp_path / "bars.csv"
    bars.write_text("ts,open,high,low,close,volume\n2025-01-01T00:00Z,1,2,0.5,1.5,10\n2025-01-01T01:00Z,1,2,0.5,1.5,10\n")
    toml.write_text('symbol = "ETH/USDT"\n[venues.binance]\nspot = "bars.csv"\nperp = "bars.csv"\n')
    with pytest.raises(ValueError, match=r"^timeframe 1m does not apply to a dataset TOML .*leave timeframe out"):
        bb.run(data=str(toml), timeframe="1m")
    r = CliRunner().invoke(app, ["run", "--data", str(toml), "--timeframe", "1m", "--out", str(tmp_path / "r")],
                           terminal_width=400)
    assert r.exit_code == 2 and "--timeframe 1m does not apply" in r.output and "leave --timeframe out" in r.output


def test_a_misspelt_keyword_names_the_close_one_among_bb_run_s_and_runconfig_s():
    with pytest.raises(ValueError, match=r"unknown keyword 'only_venue' \(did you mean 'only_venues'\?\); it takes "
                                         r"strategy, data, .* and the RunConfig fields initial_capital"):
        bb.run("perp_short", only_venue=["binance"])


def test_an_unknown_venue_says_where_a_venue_of_ones_own_goes():
    with pytest.raises(ValueError, match=r"unknown venue 'kraken'.*a directory given as venues, or listed in "
                                         r"\$BASISBT_VENUES") as e:
        bb.venue("kraken")
    assert "a directory given as --venues-dir, or listed in $BASISBT_VENUES" in e.value.spelled(FLAGS)
