"""What every basisbt command shares: one clean error line and exit code, and key=value options."""
from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err = Console(stderr=True)


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print one clean error line and exit (2 = bad input or usage)."""
    err.print(f"error: {msg}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def key_values(items: list[str], option: str, example: str, form: str = "key=value") -> dict[str, str]:
    """`key=value` strings of a repeatable option as a dict; a malformed one fails naming the option."""
    kv = {}
    for s in items:
        if "=" not in s:
            fail(f"{option} {s!r}: expected {form}, e.g. {option} {example}")
        k, v = s.split("=", 1)
        kv[k.strip()] = v.strip()
    return kv
