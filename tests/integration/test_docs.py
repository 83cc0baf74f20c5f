"""The docs run as written (issue 28 item 7): a page that lies is worse than none.

- Every ```python block of README.md and docs/*.md runs, page by page in order, in a scratch directory (a block
  that starts indented continues the class of the block before it, as a walk-through shows a class in parts).
- Every `basisbt ...` line of a command block (``` or ```sh) is parsed by the real command line: a flag that does
  not exist, a value of the wrong type or a missing argument fails here. The ones that need nothing outside the
  package (an embedded scenario, a built-in strategy or one the repository ships) also run, into a scratch
  directory, and must exit 0. Synopses (```text) are not commands.
- Every ```toml block that is a run config (strategy, data, [params], run keys) is built into a run spec.
- The strategies.md walk-through is strategies/examples/funding_flip.py, block by block, so the page and the file
  cannot drift; numbers that runs print are generated (docs/generate.py; test_generated_numbers_are_current).
"""
from __future__ import annotations

import itertools
import re
import shlex
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from basisbt.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(page: Path, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(page.read_text()) if kind == lang]


def python_script(page: Path) -> str:
    """The page's python blocks as one script; an indented block continues the previous one."""
    out: list[str] = []
    for body in blocks(page, "python"):
        if body[:1].isspace() and out:
            out[-1] += "\n" + body
        else:
            out.append(body)
    return "\n\n".join(out)


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "python")], ids=lambda p: p.name)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "strategies").symlink_to(ROOT / "strategies")         # paths as the docs give them
    code = compile(python_script(page), str(page.relative_to(ROOT)), "exec")
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")        # a module, as a user's file is one
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(code, module.__dict__)


def commands(page: Path) -> list[list[str]]:
    """The `basisbt ...` command lines of a page's command blocks, continuations joined, comments dropped."""
    out = []
    for lang in ("", "sh"):
        for body in blocks(page, lang):
            text = body.replace("\\\n", " ")
            for line in text.splitlines():
                line = line.strip().removeprefix("$ ")
                if not line.startswith("basisbt ") and line != "basisbt":
                    continue
                words = shlex.split(line.split(" #", 1)[0])
                out.append(words[1:])
    return out


ALL_COMMANDS = [(p, c) for p in PAGES for c in commands(p)]


class Unparsed(Exception):
    """A command line the command does not take."""


def parse(args: list[str]) -> Any:
    """The context the command line would run with these args (options checked, nothing run). typer carries its
    own copy of click, so its classes are told by what they do, not by click's types."""
    group = typer.main.get_command(app)
    try:
        ctx = group.make_context("basisbt", list(args), resilient_parsing=False)
        while hasattr(ctx.command, "resolve_command"):          # a group: find the subcommand
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            if not rest:
                return ctx
            name, cmd, rest = ctx.command.resolve_command(ctx, rest)
            ctx = cmd.make_context(name, rest, parent=ctx, resilient_parsing=False)
    except Exception as e:                                      # click's UsageError / BadParameter, or Exit
        if type(e).__name__ == "Exit":
            return None
        raise Unparsed(e.format_message() if hasattr(e, "format_message") else str(e)) from None
    if ctx.args:
        raise Unparsed(f"unexpected extra arguments {ctx.args}")
    return ctx


@pytest.mark.parametrize("page, args", ALL_COMMANDS, ids=lambda x: x.name if isinstance(x, Path) else " ".join(x))
def test_commands_parse(page: Path, args: list[str]) -> None:
    if args == ["--help"]:
        return
    try:
        parse(args)
    except Unparsed as e:
        pytest.fail(f"{page.name}: `basisbt {' '.join(args)}`: {e}")


def self_contained(args: list[str]) -> bool:
    """A command that needs nothing but the package and this repository (no cache, no files of the user's)."""
    if args == ["--help"] or args[:1] in (["scenarios"], ["strategies"]):
        return True
    if args[:1] != ["run"] or any(a in ("--config", "-c", "--benchmark", "--venues-dir", "--cache") for a in args):
        return False
    given = dict(itertools.pairwise(args[1:]))
    data = given.get("--data", given.get("-d", "scenario:"))
    strategy = given.get("--strategy", given.get("-s", ""))
    return data.startswith(("scenario:", "stress:")) and (":" not in strategy or strategy.startswith("strategies/"))


@pytest.mark.slow
@pytest.mark.parametrize("page, args", [(p, a) for p, a in ALL_COMMANDS if self_contained(a)],
                         ids=lambda x: x.name if isinstance(x, Path) else " ".join(x))
def test_self_contained_commands_run(page: Path, args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "strategies").symlink_to(ROOT / "strategies")
    if args[0] == "run" and "--out" not in args and "-o" not in args:
        args = [*args, "--out", str(tmp_path / "out")]
    r = CliRunner().invoke(app, args, terminal_width=200)
    assert r.exit_code == 0, f"{page.name}: `basisbt {' '.join(args)}`\n{r.output[-2000:]}"


def console_examples() -> list[tuple[Path, list[str], str]]:
    """(page, args, the first line the page says it prints) of each `$ basisbt ...` in a ```console block."""
    out = []
    for page in PAGES:
        for body in blocks(page, "console"):
            lines = body.splitlines()
            for k, line in enumerate(lines):
                if line.startswith("$ basisbt "):
                    out.append((page, shlex.split(line[2:])[1:], lines[k + 1] if k + 1 < len(lines) else ""))
    return out


@pytest.mark.parametrize("page, args, shown", console_examples(), ids=lambda x: x.name if isinstance(x, Path)
                         else " ".join(x) if isinstance(x, list) else "")
def test_console_examples_print_what_the_page_shows(page: Path, args: list[str], shown: str, tmp_path: Path,
                                                    monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, args, terminal_width=400)
    first = (r.output.strip().splitlines() or [""])[0]
    expected = shown.removesuffix("...").rstrip(" ,")         # "..." ends what the page leaves out
    assert first.startswith(expected), f"{page.name}: `basisbt {' '.join(args)}` printed\n{first}"


def test_every_page_with_commands_has_some_that_parse() -> None:
    assert len(ALL_COMMANDS) >= 40


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "toml")], ids=lambda p: p.name)
def test_run_config_blocks_build_a_spec(page: Path, tmp_path: Path) -> None:
    from basisbt.batch.spec import build_spec
    for k, body in enumerate(blocks(page, "toml")):
        if "[[spec]]" in body or "[[case]]" in body or re.search(r"^\[venues\.", body, re.M) or \
                not re.search(r"^((strategy|data|initial_capital|fill)\s*=|\[params\])", body, re.M):
            continue
        f = tmp_path / f"run{k}.toml"
        f.write_text(textwrap.dedent(body))
        build_spec(config=f)


def test_the_walk_through_is_the_example_file() -> None:
    """Each python block of strategies.md's "Writing a strategy" section is a piece of the example file."""
    text = (ROOT / "docs" / "strategies.md").read_text()
    section = text[text.index("## Writing a strategy"):]
    example = (ROOT / "strategies" / "examples" / "funding_flip.py").read_text()
    pieces = [b for kind, b in FENCE.findall(section) if kind == "python" and "bb.run" not in b]
    assert len(pieces) >= 3
    for piece in pieces:
        assert piece.rstrip("\n") in example, f"not in strategies/examples/funding_flip.py:\n{piece}"


def test_generated_numbers_are_current() -> None:
    """docs/generate.py writes the numbers runs print into the pages; the pages hold what it writes now."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(gen)
    stale = gen.stale()
    assert not stale, f"run `python docs/generate.py` to update: {stale}"
