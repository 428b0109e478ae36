"""The book as a Colab reader meets it: a lone notebook whose first cell installs asteris.

- The built wheel carries every repository file the package and the chapters
  read (`asteris.resources.SHIPPED`).
- The chapters' install cell, run as on Colab (a stub ``google.colab`` module,
  ``$ASTERIS_REPOSITORY`` offering this repository as a local git URL), in a
  fresh environment holding torch and a Jupyter kernel only, installs
  ``asteris[all]``; then everything the chapters import imports, and the
  installed package finds its reference model, results and manifests.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from asteris.resources import SHIPPED, shipped_files

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0*.py"))
#: calls that read a repository file, with a literal name: (pattern, repository path it names)
READS = [
    (r'shipped_file\(\s*"([^"]+)"', "{}"),
    (r'committed_result\(\s*"([^"]+)"', "benchmarks/results/{}.json"),
    (r'shipped_folder\(\s*"([^"]+)"', "{}/"),
]


def files_read() -> set[str]:
    """Repository paths that the package and the chapters name in a read."""
    sources = [*(ROOT / "asteris").rglob("*.py"), *CHAPTERS]
    return {
        template.format(m)
        for path in sources
        for pattern, template in READS
        for m in re.findall(pattern, path.read_text())
    }


def colab_cell(chapter: Path) -> str:
    cells = chapter.read_text().split("\n# %%")
    return next(c.split("\n", 1)[1] for c in cells if "google.colab" in c and not c.startswith(" [markdown]"))


def chapter_imports() -> list[str]:
    """Every import statement of the chapters' code, once."""
    found = []
    for chapter in CHAPTERS:
        for node in ast.walk(ast.parse(chapter.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom) and ast.unparse(node) not in found:
                found.append(ast.unparse(node))
    return found


def test_every_chapter_has_the_same_install_cell():
    cells = {colab_cell(chapter) for chapter in CHAPTERS}
    assert len(cells) == 1 and "ASTERIS_REPOSITORY" in cells.pop()


@pytest.mark.slow
def test_the_wheel_holds_every_file_the_package_reads(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("asteris-*.whl")
    prefix = "asteris/_shipped/"
    carried = {n[len(prefix) :] for n in zipfile.ZipFile(wheel).namelist() if n.startswith(prefix)}
    assert carried == set(shipped_files(ROOT)), "the wheel's files differ from asteris.resources.SHIPPED"
    reads = files_read()
    assert "benchmarks/results/mock_calibration.json" in reads and "data_manifests/" in reads
    for path in reads:
        assert path in carried or any(c.startswith(path) for c in carried), f"{path} is read but not shipped"
    assert {g.split("/")[0] for g in SHIPPED} == {"benchmarks", "data_manifests"}


@pytest.mark.slow
def test_the_colab_cell_installs_asteris_and_the_chapters_import(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to offer as the repository")
    import torch

    venv = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    torch_version = torch.__version__.split("+")[0]
    # Colab's own environment: a current pip, torch and a Jupyter kernel
    subprocess.run(
        # what Colab has before the cell runs; --no-compile: modules compile when imported
        [str(python), "-m", "pip", "install", "-q", "--no-compile", "-U", "pip", f"torch=={torch_version}",
         "ipykernel"],  # fmt: skip
        check=True,
        capture_output=True,
    )
    stub = tmp_path / "stub" / "google" / "colab"
    stub.mkdir(parents=True)
    (stub.parent / "__init__.py").write_text("")
    (stub / "__init__.py").write_text(
        '"""A stand-in for Colab\'s module: the chapters look for its name."""\n'
    )
    checks = [
        f"assert asteris.__file__.startswith({str(venv)!r}), asteris.__file__",
        "from asteris.resources import PACKAGED_ROOT, shipped_files",
        f"assert shipped_files(PACKAGED_ROOT) == {shipped_files(ROOT)!r}",
        "from asteris.book import committed_result, reference_weights, CI_REFERENCE",
        "reference_weights(*CI_REFERENCE); committed_result('depth_sweep')",
        "from asteris.archive import load_manifest, shipped_manifests",
        "assert 'jades_1210_nircam' in shipped_manifests(); load_manifest('jades_1210_nircam')",
        "print('imports and files: ok')",
    ]
    script = "\n".join(
        ["import google.colab", colab_cell(CHAPTERS[0]), *chapter_imports(), "import asteris", *checks]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env.update(
        {
            "PATH": f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(stub.parents[1]),
            "ASTERIS_REPOSITORY": f"git+file://{ROOT}",
            "MPLBACKEND": "Agg",
            "PIP_NO_COMPILE": "1",  # the cell's pip leaves modules to compile when imported: the same install
        }
    )
    run = subprocess.run(
        [str(python), "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "This Colab runtime has no GPU" in run.stdout  # the cell's advice on a CPU runtime
    assert run.stdout.strip().endswith("imports and files: ok")
