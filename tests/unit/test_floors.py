"""The floors (docs/architecture.md §1): data -> engine -> strategies, reports -> batch -> api -> cli, regress.

Every import between basisbt modules is read from the source (module level, inside functions and under
TYPE_CHECKING alike: a lazy import is still a dependency): no module imports a floor above its own, strategies
and reports (one floor) do not import each other, and no modules import each other in a circle.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"basisbt": "basisbt", "engine": "basisbt.engine", "data": "basisbt.data", "reports": "basisbt.reports",
           "strategies": "basisbt.strategies"}
# the floor of each package (the longest matching prefix wins); the api floor is the `basisbt` package itself
FLOORS = {"basisbt.data": 0, "basisbt.engine": 1, "basisbt.strategies": 2, "basisbt.reports": 2,
          "basisbt.batch": 3, "basisbt": 4, "basisbt.cli": 5, "basisbt.regress": 5}
SIDE_BY_SIDE = ({"basisbt.strategies", "basisbt.reports"},)       # one floor, neither imports the other


def modules() -> dict[str, Path]:
    """The installed modules (files in package folders; a script or example beside them, in a folder without an
    __init__.py such as strategies/examples, is written as a user writes it and is no floor's code)."""
    found = {}
    for folder, name in FOLDERS.items():
        for f in (ROOT / folder).rglob("*.py"):
            if any(not (d / "__init__.py").exists() for d in [f.parent, *f.parent.parents]
                   if d.is_relative_to(ROOT / folder)):
                continue
            parts = list(f.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([name, *parts])] = f
    return found


def imports() -> dict[str, set[str]]:
    """module -> the basisbt modules it imports (a name imported from a package resolves to its module)."""
    mods = modules()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for n in names:
                if n.startswith("basisbt"):
                    target = resolve(n)
                    if target and target != mod:
                        graph[mod].add(target)
    return graph


def floor_of(mod: str) -> tuple[str, int]:
    pkg = max((p for p in FLOORS if mod == p or mod.startswith(p + ".")), key=len)
    return pkg, FLOORS[pkg]


def test_no_module_imports_a_floor_above_its_own():
    bad = []
    for mod, targets in imports().items():
        pkg, floor = floor_of(mod)
        for t in targets:
            tpkg, tfloor = floor_of(t)
            if tfloor > floor or (tfloor == floor and tpkg != pkg and {pkg, tpkg} in SIDE_BY_SIDE):
                bad.append(f"{mod} (floor {floor}) imports {t} (floor {tfloor})")
    assert not bad, "\n".join(sorted(bad))


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_modules_import_each_other_in_a_circle():
    found = circles(imports())
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_every_module_has_a_floor():
    for mod in modules():
        assert floor_of(mod)[1] >= 0
