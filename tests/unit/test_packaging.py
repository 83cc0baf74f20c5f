"""One import name (docs/architecture.md §1): `basisbt` and its subpackages, nothing generic at top level."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {"basisbt": "basisbt", "basisbt.engine": "engine", "basisbt.data": "data", "basisbt.reports": "reports",
          "basisbt.strategies": "strategies"}


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert cfg["package-dir"] == MAPPED
    found = set()
    for name, folder in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found == set(cfg["packages"]), "a package folder is missing from (or extra in) pyproject's list"


def test_installed_package_is_basisbt_only():
    """Outside the repo, `basisbt.*` imports and the generic names do not exist."""
    code = ("import importlib.util as u, basisbt, basisbt.engine.runner, basisbt.data.scenarios;"
            "print([n for n in ('engine', 'data', 'reports', 'strategies') if u.find_spec(n)])")
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_names():
    import basisbt as bb
    for name in ("run", "load", "scenarios", "strategies", "Strategy", "param", "RunConfig", "Results", "Dataset"):
        assert hasattr(bb, name), name
    assert "perp_short" in bb.strategies()
    assert any(s.name == "feb-2025-crash" for s in bb.scenarios())
