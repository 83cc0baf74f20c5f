"""The README's Python example runs as written (a README that lies is worse than none)."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_api_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README.md", "exec"), ns)
    out = capsys.readouterr().out
    assert out.startswith("APY ") and "liquidations" in out
    assert ns["frame"]["equity"].notna().all() and ns["m"]["strategy"] == "perp_short"
