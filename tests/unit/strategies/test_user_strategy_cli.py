"""A user's strategy file through the CLI: a typo in a parameter name is exit code 2 with a "did you mean"."""
from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from basisbt.cli.app import app

USER_FILE = '''
from dataclasses import dataclass
from basisbt.strategies.base import Strategy, param


class MyHedge(Strategy):
    """A user's strategy: only its parameters matter here."""
    name = "my_hedge"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        leverage: float = param(2.0, "perp notional / margin")
'''


def test_typo_in_parameter_is_exit_2_with_did_you_mean(tmp_path: Path) -> None:
    f = tmp_path / "tmpfile.py"
    f.write_text(USER_FILE)
    res = CliRunner().invoke(app, ["run", "--strategy", f"{f}:MyHedge", "--set", "levrage=3",
                                   "--out", str(tmp_path / "run")])
    out = res.output + (str(res.stderr) if getattr(res, "stderr_bytes", None) else "")
    assert res.exit_code == 2, out
    assert "did you mean" in out and "leverage" in out, out
    assert "Traceback" not in out
    assert not (tmp_path / "run").exists()


def test_example_strategy_file_runs_through_the_cli(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[3] / "strategies" / "examples" / "funding_flip.py"
    res = CliRunner().invoke(app, ["run", "--strategy", f"{example}:FundingFlip", "--set", "lookback_days=2",
                                   "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "metrics.json").exists()
