"""Find a strategy class by built-in name or by `path/to/file.py:ClassName`."""
from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from basisbt.engine.config import ConfigError, did_you_mean
from basisbt.engine.guard import DEFAULT_TIMEOUT_S, HookTimeout, Watch, user_interrupt
from basisbt.strategies.base import Strategy

_T = TypeVar("_T")


def builtin_strategies() -> dict[str, type[Strategy]]:
    """Built-in strategies by name (imported lazily so one broken module names itself)."""
    from basisbt.strategies.perp_short import PerpShort
    found: dict[str, type[Strategy]] = {PerpShort.name: PerpShort}
    for mod, cls in (("basisbt.strategies.funding_allocator", "FundingAllocator"),
                     ("basisbt.strategies.lending_rebalance", "LendingRebalance"),
                     ("basisbt.strategies.synthetic_dollar", "SyntheticDollar")):
        if importlib.util.find_spec(mod) is not None:
            c = getattr(importlib.import_module(mod), cls)
            found[c.name] = c
    return found


def load_strategy_class(spec: str, base_dir: Path | None = None, timeout: float | None = None) -> type[Strategy]:
    """`perp_short` or `my_strats.py:MyHedge` -> the Strategy subclass; a relative file path is taken
    relative to `base_dir` when given (a cases file names files relative to itself). Importing a file is user
    code: it runs under the same time limit as a decision (`timeout`, default 60 s), so a file that sleeps or
    spins at import is refused instead of hanging the command."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        path_s, cls_name = spec.rsplit(":", 1)
        path = Path(path_s)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        if not path.exists():
            raise ConfigError(f"strategy file {path} does not exist")
        mod_name = f"basisbt_user_{path.stem}"
        spec_ = importlib.util.spec_from_file_location(mod_name, path)
        if spec_ is None or spec_.loader is None:
            raise ConfigError(f"{path}: not a Python file basisbt can import")
        module = importlib.util.module_from_spec(spec_)
        sys.modules[mod_name] = module
        limit = DEFAULT_TIMEOUT_S if timeout is None else timeout
        try:
            with Watch(limit) as watch:
                watch.since = time.monotonic()
                spec_.loader.exec_module(module)
                watch.since = None
        except ConfigError:
            raise
        except HookTimeout:
            raise ConfigError(f"{path}: importing it took longer than {limit:g} s (the --timeout of a strategy "
                              "call); a strategy file must not do slow work at import") from None
        except SystemExit as e:          # sys.exit() in a strategy file must not end basisbt with its code
            raise ConfigError(f"{path}: called sys.exit({e.code!r}) while being imported") from None
        except BaseException as e:       # any BaseException of the user's, but Ctrl-C stays an interrupt
            if user_interrupt(e):
                raise
            raise ConfigError(f"{path}: could not import: {type(e).__name__}: {e}") from None
        cls = getattr(module, cls_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            names = [k for k, v in vars(module).items()
                     if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy]
            raise ConfigError(f"{path}: no Strategy subclass {cls_name!r}{did_you_mean(cls_name, names)}; "
                              f"found: {', '.join(names) or 'none'}")
        return cls
    table = builtin_strategies()
    if spec not in table:
        raise ConfigError(f"unknown strategy {spec!r}{did_you_mean(spec, list(table))}; "
                          f"valid: {', '.join(sorted(table))} or path/to/file.py:ClassName")
    return table[spec]


def instantiate(cls: type[_T], params: Mapping[str, Any]) -> _T:
    """`cls(**params)`, with a strategy's own `__init__` failing as a strategy error naming the class (exit 2),
    not as an unexpected exception; ConfigError (a bad parameter) and a real Ctrl-C pass through."""
    try:
        return cls(**params)
    except ConfigError:
        raise
    except BaseException as e:
        if user_interrupt(e):
            raise
        name = getattr(cls, "name", None) or cls.__name__
        raise ConfigError(f"strategy {name!r} raised in __init__: {type(e).__name__}: {e}") from None
