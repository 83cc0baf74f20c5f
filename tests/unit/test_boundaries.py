"""Each heavy dependency lives in one place (STYLE): kernels never import pandas, ccxt only in data/ingest."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("basisbt", "engine", "strategies", "data", "reports")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def files():
    for pkg in PACKAGES:
        yield from (ROOT / pkg).rglob("*.py")


def test_kernels_are_numpy_only():
    for f in (ROOT / "engine" / "kernels").rglob("*.py"):
        bad = imports_of(f) & {"pandas", "ccxt", "matplotlib", "typer", "rich", "backtrader"}
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"


def test_heavy_dependencies_stay_home():
    homes = {"ccxt": ("data/ingest",), "numba": ("engine/kernels",), "matplotlib": ("reports",),
             "jinja2": ("reports",), "typer": ("basisbt/cli",), "rich": ("basisbt/cli",),
             "backtrader": ("tests/oracles",)}      # a test oracle: the library never imports it
    for f in files():
        rel = f.relative_to(ROOT).as_posix()
        for mod in imports_of(f) & set(homes):
            assert rel.startswith(homes[mod]), f"{rel} imports {mod}; it belongs in {homes[mod]}"
