"""docs/venues.md "Adding a venue", followed as written: its kraken.toml goes into a directory of the user's,
the venue's bars into a cache, and its `basisbt run` line runs (the package is not touched)."""
from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from basisbt.cli.app import app
from basisbt.data import cache
from basisbt.data.venues import BUILTIN_DIR, VenueSet
from tests.helpers import bars

PAGE = Path(__file__).resolve().parents[3] / "docs" / "venues.md"


def example() -> tuple[str, list[str]]:
    """(the kraken.toml of the page, the arguments of its `basisbt run` line)."""
    text = PAGE.read_text(encoding="utf-8")
    toml = next(b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.S) if 'name = "kraken"' in b)
    run = next(line for line in text.splitlines() if line.startswith("basisbt run --venues-dir"))
    return toml, shlex.split(run)[1:]      # "run", "--venues-dir", ...


def test_the_documented_venue_runs_from_a_user_directory(tmp_path, monkeypatch):
    toml, args = example()
    assert not (BUILTIN_DIR / "kraken.toml").exists()
    venues = tmp_path / args[args.index("--venues-dir") + 1]
    venues.mkdir()
    (venues / "kraken.toml").write_text(toml)
    spec = VenueSet([venues], env=False).get("kraken").at()
    assert (spec.taker_fee, spec.quote, spec.collateral) == (0.0005, "USDT", {"ETH": 0.9, "BTC": 0.9})
    assert tomllib.loads(toml)["spec"][0]["tiers"]["ETH"][1]["amount"] == (0.01 - 0.005) * 100_000
    # the venue's data, as `basisbt import csv ... --venue kraken` would store it: two days of hourly bars
    root = tmp_path / "cache"
    px = bars(2000.0 + np.arange(48.0))
    for stream in ("spot", "perp"):
        cache.write(root, cache.key_for(stream, "kraken", "ETH/USDT" if stream == "spot" else "ETH/USDT:USDT", "1h"),
                    px)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, [*args, "--cache", str(root), "--out", str(tmp_path / "run")],
                           terminal_width=200)
    assert r.exit_code == 0, r.output
    run = tomllib.loads((tmp_path / "run" / "run.toml").read_text())
    assert run["venues"] == ["kraken"] and set(run["venue_fingerprint"]) == {"kraken"}
    assert run["venue_fingerprint"]["kraken"] == VenueSet([venues], env=False).get("kraken").fingerprint(
        *[int(t) for t in (px["ts"].iloc[0].value, px["ts"].iloc[-1].value)])
