"""Generated venue files are rebuilt from their source and must come out byte for byte as committed.

data/venues/binance.toml is written by data/venues/build_binance.py from the recorded leverage-bracket snapshots
in data/venues/recorded/. A hand edit of the generated file (a wrong tier floor, a field the generator does not
write) passes every plausibility check of the file alone; rebuilding it from the snapshots does not.
"""
from __future__ import annotations

import importlib.util
import itertools
import tomllib
from pathlib import Path

import pytest

from basisbt.data.venues import BUILTIN_DIR

SHARED_COPY = Path(__file__).resolve().parents[4] / "shared" / "reference" / "venues" / "binance_leverage_brackets.toml"


def _builder():
    spec = importlib.util.spec_from_file_location("build_binance", BUILTIN_DIR / "build_binance.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_binance_toml_is_what_its_generator_writes_from_the_recorded_brackets() -> None:
    build = _builder()
    assert build.SOURCE.is_file(), f"{build.SOURCE}: the generator's input must ship with the repository"
    rebuilt = build.render(build.snapshots(build.SOURCE.read_text()))
    committed = (BUILTIN_DIR / "binance.toml").read_text()
    if rebuilt != committed:
        diff = [f"line {k + 1}: generated {a!r} / committed {b!r}"
                for k, (a, b) in enumerate(zip(rebuilt.splitlines(), committed.splitlines(), strict=False)) if a != b]
        pytest.fail("data/venues/binance.toml differs from `python data/venues/build_binance.py` (edit the "
                    "generator, then rerun it): " + "; ".join(diff[:3] or ["different length"]))


def test_each_block_carries_the_snapshot_in_force_on_its_date() -> None:
    """Read the recorded snapshots directly (not through the generator) and check the blocks against them."""
    snaps: dict[str, list[tuple[str, list[dict]]]] = {"ETH": [], "BTC": []}
    chunks: list[tuple[str, str, list[str]]] = []
    for line in (BUILTIN_DIR / "recorded" / "binance_leverage_brackets.toml").read_text().splitlines():
        words = line.split()
        if line.startswith("# ") and len(words) >= 4 and words[2] == "snapshot":      # "# ETHUSDT snapshot DATE"
            chunks.append((words[1].removesuffix("USDT"), words[3], []))
        elif chunks:
            chunks[-1][2].append(line)
    for sym, date, lines in chunks:
        snaps[sym].append((date, tomllib.loads("\n".join(lines))["spec"]["tiers"][sym]))
    assert len(snaps["ETH"]) >= 10 and len(snaps["BTC"]) >= 10
    blocks = tomllib.loads((BUILTIN_DIR / "binance.toml").read_text())["spec"]
    dates = sorted({d for v in snaps.values() for d, _ in v})
    assert [b["effective_from"] for b in blocks] == ["2021-01-01", *dates[1:]]
    for block, date in zip(blocks, dates, strict=True):
        for sym in ("ETH", "BTC"):
            in_force = [t for d, t in sorted(snaps[sym], key=lambda s: s[0]) if d <= date][-1]
            assert block["tiers"][sym] == in_force, (date, sym)
            # Binance's cum: the running sum of rate steps x tier floor (docs/architecture.md §10)
            cum = 0.0
            for prev, tier in itertools.pairwise(in_force):
                cum += (tier["rate"] - prev["rate"]) * tier["floor"]
                assert tier["amount"] == pytest.approx(cum, abs=1e-6), (date, sym, tier)


@pytest.mark.skipif(not SHARED_COPY.is_file(), reason="../shared/reference absent (fresh clone)")
def test_the_shipped_snapshots_are_the_recorded_ones() -> None:
    shipped = (BUILTIN_DIR / "recorded" / "binance_leverage_brackets.toml").read_text()
    recorded = SHARED_COPY.read_text()
    body = [ln for ln in shipped.splitlines() if not ln.startswith("# The input of") and "repository so the" not in ln]
    assert body == recorded.splitlines()
