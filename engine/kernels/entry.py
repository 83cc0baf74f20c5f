"""Call a compiled kernel without numba's per-call type dispatch.

A dispatcher call types every argument first; for NamedTuples of arrays that walk costs more
than the kernel does over a few bars (5.6 us of a 7 us call when deciding every bar). The
engine calls `advance` once per decision with arguments of fixed types, so it resolves the
compiled overload once and calls it directly. Under NUMBA_DISABLE_JIT the function itself
is returned.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import typeof


def compiled(kernel: Any, *example_args: Any) -> Callable[..., Any]:
    """The compiled entry point of `kernel` for the types of `example_args` (compiled or loaded
    from the cache if needed). Call it only with arguments of those same types."""
    if not hasattr(kernel, "compile"):          # NUMBA_DISABLE_JIT: a plain Python function
        return kernel
    sig = tuple(typeof(a) for a in example_args)
    kernel.compile(sig)
    return kernel.overloads[sig].entry_point
