"""The five front doors run one spec to the same metrics: `bb.run`, `basisbt run`, a `basisbt regress` case, a
`basisbt sweep` cell and a `basisbt stress` path are each "build a spec, execute it" (basisbt/batch).

The spec: perp_short with USDT margin at 3x on generated stress path 3 of seed 7, three days of hourly bars
(`stress:7:3:days=3`, the data source the stress command gives that path), default run config. Each door is
driven as a user drives it and its own output is read back: the Results, metrics.json, the golden file, the
sweep's results.parquet, the stress run's paths.parquet. A golden file keeps every scalar metric but the
conventions and per-stream details, a stress row a few outcomes (APY, drawdown, liquidations, the sign of the
return): their pairs compare what they keep.
"""
from __future__ import annotations

import itertools
import json
import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import basisbt as bb
from basisbt.cli.app import app

STRATEGY, DATA, PARAMS = "perp_short", "stress:7:3:days=3", {"collateral": "usdt", "leverage": 3.0}
STRESS_KEYS = ("apy", "max_drawdown", "liquidations", "negative_yield")
runner = CliRunner()


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        elif isinstance(v, list):
            out.update(flat(dict(enumerate(v)), key + "."))     # type: ignore[arg-type]
        else:
            out[key] = v
    return out


def comparable(m: dict[str, Any]) -> dict[str, Any]:
    """The metrics as flat keys, NaN and JSON's null both None; with the stress row's outcomes derived."""
    out = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in flat(m).items()}
    out["negative_yield"] = m["total_return"] < 0.0
    return out


def invoke(args: list[str]) -> None:
    r = runner.invoke(app, args, terminal_width=400)
    assert r.exit_code == 0, r.output


@cache
def tmp() -> Path:
    import tempfile
    return Path(tempfile.mkdtemp(prefix="basisbt-doors-"))


def door_api() -> dict[str, Any]:
    return comparable(bb.run(STRATEGY, DATA, params=PARAMS).metrics())


def door_cli() -> dict[str, Any]:
    out = tmp() / "run"
    invoke(["run", "--strategy", STRATEGY, "--data", DATA, *sum((["--set", f"{k}={v}"] for k, v in PARAMS.items()),
                                                                  []), "--out", str(out)])
    m = json.loads((out / "metrics.json").read_text())
    m.pop("run_fingerprint", None)                                # the run directory's own seal
    return comparable(m)


def door_regress() -> dict[str, Any]:
    cases = tmp() / "cases.toml"
    cases.write_text(f'golden_dir = "golden"\n[[case]]\nname = "door"\nstrategy = "{STRATEGY}"\ndata = "{DATA}"\n'
                     f'params = {{ collateral = "usdt", leverage = 3.0 }}\n')
    invoke(["regress", "--cases", str(cases), "--update"])
    golden = tomllib.loads((tmp() / "golden" / "door.toml").read_text())
    m = golden["metrics"]
    m["config_id"], m["data_fingerprint"] = golden["config_id"], golden["data_fingerprint"]
    return {k: (None if v == "null" else v) for k, v in comparable(m).items()}


def door_sweep() -> dict[str, Any]:
    out = tmp() / "sweep"
    invoke(["sweep", "--strategy", STRATEGY, "--data", DATA, "--set", "collateral=usdt", "--grid", "leverage=3",
            "--jobs", "1", "--out", str(out)])
    row = pd.read_parquet(out / "results.parquet").iloc[0]
    return comparable(json.loads(row["metrics"]))


def door_stress() -> dict[str, Any]:
    out = tmp() / "stress"
    invoke(["stress", "--strategy", STRATEGY, "--seed", "7", "--paths", "4", "--days", "3", "--set",
            "collateral=usdt", "--set", "leverage=3", "--jobs", "1", "--out", str(out)])
    row = pd.read_parquet(out / "paths.parquet").set_index("path").loc[3]
    assert row["error"] == "" and row["data"] == DATA          # the row names the source the other doors ran
    return {k: (None if isinstance(row[k], float) and math.isnan(row[k]) else row[k].item()
                if hasattr(row[k], "item") else row[k]) for k in STRESS_KEYS}


DOORS = {"bb.run": door_api, "basisbt run": door_cli, "regress case": door_regress, "sweep cell": door_sweep,
         "stress path": door_stress}


@cache
def metrics_of(door: str) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(DOORS[door]().items()))


@pytest.mark.parametrize("a, b", list(itertools.combinations(DOORS, 2)), ids=lambda d: d.replace(" ", "-"))
def test_two_front_doors_give_identical_metrics(a: str, b: str) -> None:
    ma, mb = dict(metrics_of(a)), dict(metrics_of(b))
    keys = set(ma) & set(mb)
    assert keys >= set(STRESS_KEYS)
    if "stress path" not in (a, b):                 # whole metrics dictionaries, identity included
        if "regress case" in (a, b):                # a golden keeps every scalar but the conventions and details
            golden, other = (ma, mb) if a == "regress case" else (mb, ma)
            assert set(golden) <= set(other), sorted(set(golden) - set(other))
        else:
            assert set(ma) == set(mb), sorted(set(ma) ^ set(mb))
        assert {"config_id", "pnl.total", "n_fills", "sharpe", "funding_received"} <= keys
    differ = {k: (ma[k], mb[k]) for k in sorted(keys) if ma[k] != mb[k]}
    assert not differ, differ


def test_the_spec_trades_and_the_path_is_the_stress_door_s_own() -> None:
    m = dict(metrics_of("bb.run"))
    assert m["n_fills"] > 0 and m["dataset"] == DATA
