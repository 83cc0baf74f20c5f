"""engine/kernels/codes.py: each code table is one source (name, number, label and description in one row), numba
reads it as compile-time ints, and the short names the kernels use are the table's own.

A reason code named R_CASH once silently rebound the record column R_CASH (both in codes.py): the kernel then
wrote the spot position into the cash column. Tables unpack into their short names now, and no name may be
bound twice.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import basisbt.engine.kernels.codes as codes

SRC = Path(codes.__file__)
# table -> the prefix of its short names (SPOT and PERP have none)
TABLES = {"INSTRUMENT": "", "ACCT": "A_", "PNL": "P_", "REC": "R_", "LEDGER": "K_", "LEDGER_COL": "L_",
          "TRANSIT": "T_", "ORDER": "O_", "REJECT": "WHY_", "STOP": "STOP_", "LIQ": "Q_"}


def bound_names() -> list[tuple[str, int]]:
    out = []
    for node in ast.parse(SRC.read_text()).body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                names = t.elts if isinstance(t, ast.Tuple) else [t]
                out += [(n.id, node.lineno) for n in names if isinstance(n, ast.Name)]
    return out


def test_no_name_is_bound_twice():
    seen: dict[str, int] = {}
    for name, line in bound_names():
        assert name not in seen, f"{name} bound on lines {seen[name]} and {line}"
        seen[name] = line


@pytest.mark.parametrize("table", sorted(TABLES))
def test_a_table_is_its_codes_with_a_label_and_a_description_each(table):
    t = getattr(codes, table)
    assert list(t) == list(range(len(t)))
    assert len(type(t).labels) == len(type(t).docs) == len(t)
    assert all(d.strip() for d in t.docs), f"{table}: a code without a description"
    labels = [x for x in t.labels if x]
    assert len(set(labels)) == len(labels), f"{table}: a label twice"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_the_short_names_are_the_table_s_fields(table):
    t = getattr(codes, table)
    for field in t._fields:
        short = TABLES[table] + field
        assert getattr(codes, short) == getattr(t, field), short
        assert type(getattr(codes, short)) is int


def test_widths_and_labels_come_from_the_tables():
    assert (codes.N_ACCT, codes.N_PNL, codes.N_REC, codes.N_LEDGER_I, codes.N_TRANSIT, codes.N_LIQ) == tuple(
        len(getattr(codes, t)) for t in ("ACCT", "PNL", "REC", "LEDGER_COL", "TRANSIT", "LIQ"))
    assert codes.LEDGER_KINDS[codes.K_FUNDING] == "funding" and codes.LEDGER_KINDS is codes.LEDGER.labels
    assert codes.REJECT_REASONS[codes.WHY_CASH] == "not enough cash"
    assert codes.ORDER_STATUS[codes.O_REFUSED] == "refused" and codes.INSTRUMENTS[codes.PERP] == "perp"


def test_pnl_parts_are_the_pnl_table():
    from basisbt.engine.results import PNL_PARTS
    assert PNL_PARTS == codes.PNL.labels == ("funding", "basis", "price", "fees", "slippage", "lending",
                                             "liquidation")
    assert [getattr(codes, f"P_{p.upper()}") for p in PNL_PARTS] == list(range(len(PNL_PARTS)))


def test_numba_reads_a_table_field_as_a_constant():
    """A kernel may name a code through its table (`LEDGER.FUNDING`) as through its short name."""
    from numba import njit

    @njit(cache=False)
    def funding_total(kinds, amounts):
        s = 0.0
        for k in range(kinds.shape[0]):
            if kinds[k] == codes.LEDGER.FUNDING:
                s += amounts[k]
        return s

    kinds = np.array([codes.K_FEE, codes.K_FUNDING, codes.K_FUNDING])
    assert funding_total(kinds, np.array([-1.0, 2.0, 3.5])) == 5.5
