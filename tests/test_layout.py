"""The package's layers: the core imports none of the optional parts, each part names its extra
when missing, and the imports run one way (core <- archive <- mock <- science <- book)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "asteris"
RUN_CORE = Path(__file__).resolve().parent / "core_only" / "run_core.py"

#: what each layer may import from the package (besides itself)
ALLOWED = {
    "core": {"core"},
    "archive": {"core"},
    "mock": {"core", "archive"},
    "science": {"core", "archive", "mock"},
    "book": {"core", "archive", "mock", "science"},
    # the command line is the front door: each command imports its part inside the command's function,
    # so that `asteris info/train/denoise` run on the core alone (test_the_core_runs_... shows it)
    "cli": {"core", "archive", "mock", "science"},
}


def layer_of(module: str) -> str:
    """``asteris.science.detect`` -> ``science``; ``asteris.denoise`` -> ``core``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "core"


def layer_of_file(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return layer_of(".".join(parts))


def package_imports(path: Path, package: Path) -> set[str]:
    """Every module of the package that ``path`` imports, at the top or inside a function."""
    here = list(path.relative_to(package.parent).parent.parts)  # the package the file sits in
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            found |= {base} if node.module else {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("asteris"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("asteris")}
    return found


def crossings(package: Path) -> list[str]:
    """Imports that run against the layers, as ``file (layer) imports module`` lines."""
    found = []
    for path in sorted(package.rglob("*.py")):
        layer = layer_of_file(path, package)
        for target in sorted(package_imports(path, package)):
            if layer_of(target) not in ALLOWED[layer] | {layer}:
                found.append(f"{path.relative_to(package.parent)} ({layer}) imports {target}")
    return found


def test_imports_run_one_way():
    assert not crossings(PACKAGE), "\n".join(crossings(PACKAGE))


def test_the_layer_check_sees_crossings(tmp_path):
    package = tmp_path / "asteris"
    (package / "mock").mkdir(parents=True)
    (package / "denoise.py").write_text("def f():\n    from .science.detect import detect\n")
    (package / "mock" / "simulate.py").write_text("from ..science import detect\nfrom .. import fileio\n")
    assert crossings(package) == [
        "asteris/denoise.py (core) imports asteris.science.detect",
        "asteris/mock/simulate.py (mock) imports asteris.science",
    ]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


def test_the_core_runs_without_any_optional_package(tmp_path):
    done = subprocess.run([sys.executable, str(RUN_CORE), str(tmp_path)], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == {"info": 0, "train": 0, "denoise": 0}, report["stderr"]
    assert report["output_finite"]
    assert report["optional_imported"] == []  # info, train and denoise touched no extra
    assert report["subpackages"] == {"archive": "imported", "mock": "imported", "science": "imported"}


@pytest.mark.parametrize("extra", ["archive", "mock", "science"])
def test_a_missing_extra_is_named_on_import(extra):
    code = (
        "import asteris.extras as e\n"
        f"e.EXTRA_MODULES[{extra!r}] = ('no_such_module_xyz',)\n"
        f"import asteris.{extra}\n"
    )
    done = run_python(code)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("asteris.errors.MissingExtraError")
    assert f"asteris.{extra} needs no_such_module_xyz" in last and f"pip install 'asteris[{extra}]'" in last


@pytest.mark.parametrize(
    "argv, extra",
    [
        (["mock", "--out", "{tmp}/m"], "mock"),
        (["fetch", "smacs0723_nircam"], "archive"),
        (["denoise", "{tmp}/s.fits", "--model", "m", "--out", "{tmp}/o", "--png", "{tmp}/p.png"], "plot"),
    ],
)
def test_the_command_line_names_a_missing_extra_in_one_sentence(tmp_path, argv, extra):
    code = (
        "import sys, asteris.extras as e\n"
        f"e.EXTRA_MODULES[{extra!r}] = ('no_such_module_xyz',)\n"
        "from asteris.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = run_python(code, *[a.format(tmp=tmp_path) for a in argv])
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"pip install 'asteris[{extra}]'" in done.stderr
    assert not list(tmp_path.iterdir())  # refused before anything was written
