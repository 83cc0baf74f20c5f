"""What every basisbt command shares: one clean error line and exit code, and key=value options.

Exit codes (docs/architecture.md §9): 0 ok; 1 a run that failed its own checks; 2 bad input or usage; 3 the
environment failed (permissions, read-only or full disk, network). `SafeGroup` is the one place
where exceptions that escaped a command become that one line; `--debug` keeps the traceback.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

err = Console(stderr=True)
STATE = {"debug": False}
MAX_MESSAGE = 400          # an error line quotes at most this many characters of anything

FAILED = 1                 # a run that failed its own checks (every cell or path of a batch failed, ...)
BAD_INPUT = 2
ENVIRONMENT = 3
MAX_JOBS_PER_CORE = 4      # --jobs ceiling: more local workers than this only add memory (each loads the data)
INTERRUPTED = 130          # Ctrl-C, as shells report a process ended by SIGINT
# a path the user named that is missing or of the wrong kind is bad input; the rest is the environment
_INPUT_ERRNOS = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP,
                 errno.ENOTEMPTY}
_ERRNO_TEXT = {errno.ENOSPC: "no space left on device (disk full)", errno.EROFS: "read-only file system",
               errno.EFBIG: "file too large (the file system's or `ulimit -f` limit)",
               errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
               errno.EDQUOT: "disk quota exceeded"}


def one_line(msg: str, limit: int = MAX_MESSAGE) -> str:
    """A message squeezed to one line of at most `limit` characters."""
    s = " ".join(str(msg).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def fail(msg: str, code: int = BAD_INPUT) -> NoReturn:
    """Print one clean error line and exit (2 = bad input or usage, 3 = environment)."""
    err.print(f"error: {one_line(msg)}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def describe_os_error(e: OSError) -> tuple[str, int]:
    """(one-line message naming the path, exit code) for an OSError."""
    text = _ERRNO_TEXT.get(e.errno or -1) or e.strerror or type(e).__name__
    where = e.filename if e.filename is not None else None
    if where is None:
        msg = f"{text}" if e.strerror else f"{type(e).__name__}: {e}"
    else:
        msg = f"{where}: {text}"
        if getattr(e, "filename2", None):
            msg += f" (-> {e.filename2})"
    code = BAD_INPUT if e.errno in _INPUT_ERRNOS else ENVIRONMENT
    return msg, code


def classify(e: BaseException) -> tuple[str, int] | None:
    """(message, exit code) for an exception a command let escape; None to let it propagate."""
    from basisbt.cli.options import message
    from basisbt.data.errors import ConfigError, DataError
    if isinstance(e, (DataError, ConfigError)):
        return message(e), BAD_INPUT
    if isinstance(e, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({e.reason} at byte {e.start})", BAD_INPUT
    if isinstance(e, OSError):
        return describe_os_error(e)
    if isinstance(e, MemoryError):
        return "out of memory", ENVIRONMENT
    from concurrent.futures.process import BrokenProcessPool
    if isinstance(e, BrokenProcessPool):
        return ("a worker process died (killed, or out of memory); the cells and outputs stored before stay; "
                "rerun with fewer --jobs", ENVIRONMENT)
    if isinstance(e, RecursionError):
        return f"recursion too deep: {e}", BAD_INPUT
    if isinstance(e, Exception):
        return (f"unexpected {type(e).__name__}: {e} (an input basisbt does not check yet, or a bug; "
                f"rerun with --debug for the traceback)", BAD_INPUT)
    return None


class SafeGroup(TyperGroup):
    """The root command group: exceptions that escape a command become one line and exit 2 or 3."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Click's usage errors (unknown option, bad value, missing command) as one `error:` line and exit 2,
        like every other refusal, instead of click's boxed usage block."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=standalone_mode, **extra)
        import sys

        from typer._click import exceptions as click  # typer vendors click (pinned in constraints.txt)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.NoArgsIsHelpError as e:   # bare `basisbt`: the help, as click prints it
            typer.echo(e.ctx.get_help() if e.ctx else e.format_message())
            sys.exit(e.exit_code)
        except click.UsageError as e:
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
            text = one_line(e.format_message()).rstrip(".").replace("Got unexpected extra argument",
                                                                    "This command takes no extra argument")
            err.print(f"error: {text}{where}", markup=False, highlight=False,
                      soft_wrap=True)
            sys.exit(BAD_INPUT)
        except click.ClickException as e:
            err.print(f"error: {one_line(e.format_message())}", markup=False, highlight=False, soft_wrap=True)
            sys.exit(e.exit_code)
        except typer.Abort:                    # Ctrl-C or EOF while click itself was reading (a prompt)
            err.print("error: interrupted", markup=False, highlight=False)
            sys.exit(INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:              # Ctrl-C: one line, exit 130 (128 + SIGINT), what was written stays
            if STATE["debug"]:
                raise
            fail("interrupted (Ctrl-C); outputs written before stay as they were", INTERRUPTED)
        except Exception as e:
            if STATE["debug"] or type(e).__module__.startswith(("typer", "click")):
                raise
            found = classify(e)
            if found is None:
                raise
            fail(*found)
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as e:             # a BaseException of a user's strategy code, outside a hook
            if STATE["debug"]:
                raise
            fail(f"user code raised {type(e).__name__}: {e} (a BaseException, not an Exception)")


TimeoutOpt = typer.Option(None, "--timeout", metavar="SECONDS", show_default="60",
                         help="longest one strategy call (a decision) may run before it is stopped and reported "
                              "as a strategy error (a sweep cell or stress path fails; the others go on)")


def key_values(items: list[str], option: str, example: str, form: str = "key=value") -> dict[str, str]:
    """`key=value` strings of a repeatable option as a dict; a malformed one fails naming the option."""
    kv = {}
    for s in items:
        if "=" not in s:
            fail(f"{option} {s!r}: expected {form}, e.g. {option} {example}")
        k, v = s.split("=", 1)
        if k.strip() in kv and kv[k.strip()] != v.strip():     # --set leverage=2 --set leverage=5: which one?
            fail(f"{option} {k.strip()}: given twice ({kv[k.strip()]!r} and {v.strip()!r}); give it once")
        kv[k.strip()] = v.strip()
    return kv


VENUES_DIR_HELP = ("directory of venue TOML files (docs/venues.md), searched before $BASISBT_VENUES and the "
                   "built-in venues; a venue there shadows a built-in one of the same name (repeatable)")


def venue_source(dirs: list[Path]) -> Any:
    """The VenueSet of `--venues-dir` options (then $BASISBT_VENUES, then the built-ins); exit 2 naming a bad one."""
    from basisbt.data.venues import VenueSet, VenueSpecError
    try:
        return VenueSet(list(dirs)).check()
    except VenueSpecError as e:
        fail(str(e))


def batch_target(out: Path, kind: str, jobs: int | None, scheduler: str | None) -> str:
    """Refuse an --out that the batch must not replace (reports/writers.check_out: the one --out rule); return
    where the work runs, for the start line."""
    from basisbt.reports.writers import RunTargetError, check_out
    cores = os.cpu_count() or 1
    if jobs is not None and jobs < 1:
        fail(f"--jobs {jobs}: need at least 1")
    if jobs is not None and scheduler in (None, "local") and jobs > MAX_JOBS_PER_CORE * cores:
        fail(f"--jobs {jobs}: at most {MAX_JOBS_PER_CORE * cores} local worker processes ({MAX_JOBS_PER_CORE} per "
             f"core on this machine's {cores}); each holds its own copy of the data")
    try:
        check_out(out, kind)
    except RunTargetError as e:
        fail(str(e))
    return f"Dask {scheduler}" if scheduler else f"{jobs or os.cpu_count()} local processes"


@contextmanager
def count_progress(unit: str, total: int) -> Iterator[Callable[[int], None]]:
    """A transient 'N of total' progress bar on stderr (off when stderr is not a terminal); yields advance(n)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    with Progress(TextColumn(f"[bold]{unit}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal) as prog:
        task = prog.add_task(unit, total=total)
        yield lambda n=1: prog.advance(task, n)
