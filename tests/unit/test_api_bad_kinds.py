"""bb.run / bb.load refuse a keyword of the wrong kind naming the Python keyword (issue 26: `venues=5` was a
TypeError "'int' object is not iterable", `out=5` one about os.PathLike, `frames='no'` ran as frames=True), and
a strategy's ctx.log message is cut so one call cannot write hundreds of megabytes."""
from __future__ import annotations

import subprocess
import sys

import pytest

import basisbt as bb

SQUEEZE = {"start": "2025-04-25", "end": "2025-04-27"}


@pytest.mark.parametrize("kw, needle", [
    ({"params": [1, 2]}, "params: expected a dict"),
    ({"venues": 5}, "venues: expected a Venue"),
    ({"benchmark": 5}, "benchmark: expected 'FILE.csv:COLUMN"),
    ({"out": 5}, "out: expected a directory path"),
    ({"progress": 5}, "progress: expected a function"),
    ({"config": 5}, "config: expected a RunConfig"),
    ({"cache_dir": 5}, "cache_dir: expected a directory path"),
    ({"frames": "no"}, "frames: expected True or False, got 'no'"),
    ({"csv": "x"}, "csv: expected True or False"),
    ({"honor_sleep": 1}, "honor_sleep: expected True or False"),
])
def test_run_refuses_a_keyword_of_the_wrong_kind(kw, needle):
    with pytest.raises(bb.ConfigError, match="^" + needle.replace("(", r"\(").replace(".", r"\.")) as e:
        bb.run("perp_short", "scenario:squeeze", **kw)
    assert "--" not in str(e.value)          # Python names, not the command line's flags


def test_run_refuses_data_of_the_wrong_kind():
    with pytest.raises(bb.ConfigError, match="^data: expected a source string"):
        bb.run("perp_short", 5)


def test_load_refuses_a_source_that_is_not_a_string():
    with pytest.raises(bb.ConfigError, match="^source: expected a string"):
        bb.load(5)


class Chatty(bb.Strategy):
    """Logs a 50,000-character message at every decision."""

    def on_bar(self, ctx, ev):
        ctx.log("x" * 50_000)


def test_a_huge_log_message_is_cut():
    res = bb.run(Chatty, "scenario:squeeze", frames=False, **SQUEEZE)
    lines = [ln for ln in res.log if "xxxx" in ln]
    assert lines
    assert all(len(ln) < 2_100 for ln in lines)
    assert lines[0].endswith("(48000 more characters cut)")


def test_debug_shows_the_error_traceback_only():
    """--debug re-raises; the CLI used to add "AttributeError: module 'typer._click.exceptions' has no attribute
    'Abort'" on top of every such traceback."""
    r = subprocess.run([sys.executable, "-m", "basisbt.cli", "--debug", "run", "--start", "notadate"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "start 'notadate' is not a date" in r.stderr
    assert "Abort" not in r.stderr
