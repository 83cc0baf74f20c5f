"""How the command line spells the run inputs `bb.run` names by keyword.

`basisbt run` passes each of its options to `bb.run` under the keyword in RUN_OPTIONS (so there is one way to
assemble a run), and an error that names an input by keyword (data/errors.py) is printed with the flag
(`FLAGS`). tests/unit/test_cli_options.py walks the run command's options against this table and `bb.run`'s
signature: an option without a Python equivalent is a failure.
"""
from __future__ import annotations

from typing import Any

# the run command's flag -> bb.run keyword (or RunConfig field, passed through bb.run's **run_keys)
RUN_OPTIONS = {
    "--strategy": "strategy", "--data": "data", "--config": "config", "--set": "params",
    "--start": "start", "--end": "end", "--timeframe": "timeframe", "--fill": "fill", "--strict": "strict",
    "--timeout": "timeout", "--cache": "cache_dir", "--venues": "only_venues", "--venues-dir": "venues",
    "--spot-from": "spot_from", "--benchmark": "benchmark", "--benchmark-unit": "benchmark_unit",
    "--benchmark-time": "benchmark_time", "--out": "out", "--csv": "csv",
}
# bb.run keyword -> flag, for error messages; the batch commands' own inputs too
FLAGS = {**{key: flag for flag, key in RUN_OPTIONS.items()}, "scheduler": "--scheduler"}


def message(e: BaseException) -> str:
    """An error's message with the inputs it names spelled as this command line's flags."""
    spelled = getattr(e, "spelled", None)
    return spelled(FLAGS) if callable(spelled) else str(e)


def run_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """The bb.run keywords of the run command's given options (flag -> value; None and empty lists left out)."""
    out = {}
    for flag, value in values.items():
        if value is None or value == [] or value is False:
            continue
        out[RUN_OPTIONS[flag]] = value
    return out
