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


def test_readme_experiment_example_is_a_valid_file() -> None:
    from workbench.experiment import loads_experiment

    text = re.search(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S).group(1)
    spec = loads_experiment(text.replace("What to look at …", "A description."))
    assert [v.name for v in spec.variants] == ["lr 0.1", "relu"]
    assert spec.variant("lr 0.1").optimizer.lr == 0.1


def test_readme_lists_every_shortcut_the_app_has() -> None:
    from workbench.app.main_window import SHORTCUTS

    text = README.read_text(encoding="utf-8")
    for keys, _ in SHORTCUTS:
        for key in keys.split(" / "):
            assert key in text, f"README does not document {key}"
