"""Imports cost only what a command uses: `import basisbt` and the listing commands load no numba, matplotlib,
dask or ccxt (and `import basisbt` / `--help` no pandas); the first `bb.run` loads what it needs.

Behaviour, not timing: each case runs in a fresh interpreter and reports which modules it loaded.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("numba", "matplotlib", "pandas", "pyarrow", "dask", "distributed", "ccxt", "scipy", "jinja2")

PROBE = """
import io, json, sys, contextlib
argv = json.loads(sys.argv[1])
if argv == ["import"]:
    import basisbt
elif argv == ["run"]:
    import basisbt as bb
    bb.run("perp_short", "scenario:feb-2025-crash")
else:
    from basisbt.cli.app import app
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            app(argv)
        except SystemExit as e:
            assert not e.code, e.code
print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))
"""


def _loaded(argv: list[str]) -> set[str]:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    out = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv, allowed", [
    (["import"], set()),
    (["--help"], set()),
    (["scenarios"], {"pandas", "pyarrow"}),      # the scenario modules build their metadata with pandas
    (["strategies"], {"pandas", "pyarrow"}),     # strategies import the engine's context (pandas, no numba)
])
def test_listing_commands_load_nothing_heavy(argv: list[str], allowed: set[str]) -> None:
    assert _loaded(argv) <= allowed


def test_a_run_loads_the_engine_but_no_charts() -> None:
    got = _loaded(["run"])
    assert {"numba", "pandas"} <= got
    assert not got & {"matplotlib", "jinja2", "dask", "distributed", "ccxt"}


def test_bb_strategies_stays_the_function_after_the_subpackage_loads() -> None:
    code = ("import basisbt as bb\nimport basisbt.strategies.perp_short\nimport basisbt.api\n"
            "print(callable(bb.strategies) and 'perp_short' in bb.strategies())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
