"""engine/kernels/codes.py: every code table is one source, no name defined twice, no value shared in a table.

A reason code named R_CASH once silently rebound the record column R_CASH (both in codes.py): the kernel then
wrote the spot position into the cash column. This test makes such a clash fail at once.
"""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import basisbt.engine.kernels.codes as codes

SRC = Path(codes.__file__)


def test_no_name_is_assigned_twice():
    seen: dict[str, int] = {}
    for node in ast.parse(SRC.read_text()).body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    assert t.id not in seen, f"{t.id} assigned on lines {seen[t.id]} and {node.lineno}"
                    seen[t.id] = node.lineno


def test_each_prefix_table_has_distinct_values():
    tables: dict[str, dict[int, str]] = defaultdict(dict)
    for name, value in vars(codes).items():
        m = re.fullmatch(r"([A-Z]+)_[A-Z0-9_]+", name)
        if not m or not isinstance(value, int) or name.startswith("N_") or isinstance(value, bool):
            continue
        prefix = m.group(1)
        if prefix in ("N", "LIQ", "NO"):
            continue
        assert value not in tables[prefix], f"{name} = {value} repeats {tables[prefix][value]}"
        tables[prefix][value] = name


def test_pnl_codes_follow_pnl_parts():
    """The kernels' P_* columns and the Results' PNL_PARTS are one table, in one order."""
    from basisbt.engine.results import PNL_PARTS
    assert [getattr(codes, f"P_{p.upper()}") for p in PNL_PARTS] == list(range(len(PNL_PARTS)))
    assert codes.N_PNL == len(PNL_PARTS)
