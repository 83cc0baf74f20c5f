"""What is public is written down (docs/api.md "What is public"): the names `basisbt` re-exports. Adding or
removing one is a decision made here, in the docs and in `basisbt/__init__.py` together."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import basisbt as bb

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {
    # running and loading
    "run", "load", "scenarios", "strategies", "venue", "venues",
    # what they return and take
    "Results", "RunConfig", "Dataset", "ScenarioInfo", "Venue", "VenueSet",
    # writing a strategy
    "Strategy", "param", "require_venue", "Context", "MarginInfo", "OpenOrder", "VenueCosts",
    "StartEvent", "BarEvent", "FundingEvent", "LendingRateEvent", "FillEvent", "RejectEvent", "LiquidationEvent",
    "AdlEvent", "VenueHaltEvent", "VenueDefaultEvent", "EndEvent",
    "tradable", "hedge_value", "open_hedge", "close_hedge", "rehedge", "restore_after_adl", "steer",
    # what goes wrong
    "ConfigError", "DataError", "StrategyError", "FramesNotKept", "RunDirError",
}


def test_the_public_names_are_exactly_these():
    assert set(bb.__all__) == PUBLIC
    assert set(bb._WHERE) | {"strategies"} == PUBLIC            # each one is imported from where it lives


def test_every_public_name_imports_and_has_a_docstring():
    for name in sorted(PUBLIC):
        obj = getattr(bb, name)
        assert inspect.getdoc(obj), f"bb.{name} has no docstring"


def test_from_basisbt_import_star_gives_the_public_names():
    ns: dict = {}
    exec("from basisbt import *", ns)
    assert PUBLIC <= set(ns)


def test_the_docs_list_every_public_name():
    text = (ROOT / "docs" / "api.md").read_text()
    section = text[text.index("## What is public"):]
    section = section[:section.index("\n## ", 1)]
    listed = set(re.findall(r"`(?:bb\.)?([A-Za-z_]+)`", section))
    assert PUBLIC <= listed, sorted(PUBLIC - listed)


def test_the_docs_teach_only_public_names():
    """No page shows `from basisbt.<subpackage> import ...` or `import basisbt.<subpackage>` in its code: the
    subpackages are internal."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    bad = []
    for page in pages:
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
            bad += [f"{page.name}: {line.strip()}" for line in block.splitlines()
                    if re.match(r"\s*(from|import)\s+basisbt\.", line)]
    assert not bad, "\n".join(bad)
