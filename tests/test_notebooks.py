"""The paired notebooks: every ``.py`` (jupytext percent) and its ``.ipynb`` hold the same cells."""

from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="jupytext is in the test extras: pip install -e '.[test]'")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.py"))


def cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_chapters():
    assert PAIRS, "no paired notebooks found in notebooks/"


@pytest.mark.parametrize("script", PAIRS, ids=[p.stem for p in PAIRS])
def test_script_and_notebook_have_not_drifted_apart(script):
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{script.name} has no {paired.name}: run `jupytext --sync {script}`"
    text, notebook = jupytext.read(script), jupytext.read(paired)
    assert cells(text) == cells(notebook), (
        f"{script.name} and {paired.name} differ: edit one, then `jupytext --sync {script}` and re-execute"
    )
