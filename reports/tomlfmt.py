"""A tiny TOML writer for run.toml (read back with the standard library's tomllib)."""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps(doc: Mapping[str, Any], header: str = "") -> str:
    """Serialize a nested mapping to TOML: scalars first, then [tables]; None values become comments."""
    lines: list[str] = [f"# {ln}" if ln else "#" for ln in header.splitlines()]
    _table(doc, (), lines)
    return "\n".join(lines).strip("\n") + "\n"


def _table(doc: Mapping[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    """Emit one table: its scalar keys, then each sub-table under its dotted header."""
    scalars = [(k, v) for k, v in doc.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in doc.items() if isinstance(v, Mapping)]
    if path and (scalars or not tables):
        lines.append("")
        lines.append("[" + ".".join(_key(p) for p in path) + "]")
    for k, v in scalars:
        if v is None:
            lines.append(f"# {_key(str(k))} = null (TOML has no null)")
        else:
            lines.append(f"{_key(str(k))} = {toml_value(v)}")
    for k, v in tables:
        _table(v, (*path, str(k)), lines)


def _key(k: str) -> str:
    """A bare key when possible, else a quoted one."""
    return k if _BARE.match(k) else json.dumps(k, ensure_ascii=False)


def toml_value(v: Any) -> str:
    """One TOML value: bool, int, float (repr precision, nan/inf), string, datetime, array, inline table."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {toml_value(x)}" for k, x in v.items()
                                if x is not None) + " }"
    return json.dumps(str(v), ensure_ascii=False)
