"""The README's scripting example runs exactly as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_api_example_runs_as_written(capsys) -> None:
    blocks = python_blocks()
    assert blocks, "the README has no python example"
    exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert "['dense1.W', 'dense1.b', 'output.W', 'output.b']" in out
    assert "(2, 8)" in out
    accuracy = float(re.search(r"val accuracy ([0-9.]+)", out).group(1))
    assert accuracy > 0.8
