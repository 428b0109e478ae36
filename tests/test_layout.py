"""The package's layers: the core imports none of the optional parts, each part names its extra
when missing, and the imports run one way: core <- archive, sky <- mock, science <- book; the science
never stands on the simulator."""

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
    "sky": {"core"},
    "mock": {"core", "archive", "sky"},
    "science": {"core", "archive", "sky"},
    "book": {"core", "archive", "sky", "mock", "science"},
    # the command line is the front door: each command imports its part inside the command's function,
    # so that `asteris info/train/denoise` run on the core alone (test_the_core_runs_... shows it)
    "cli": {"core", "archive", "sky", "mock", "science"},
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


def test_the_science_never_imports_the_simulator():
    science = PACKAGE / "science"
    found = {}
    for path in science.rglob("*.py"):
        imported = package_imports(path, PACKAGE)
        found[str(path.relative_to(PACKAGE))] = [t for t in imported if layer_of(t) == "mock"]
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def private_imports(package: Path) -> list[str]:
    """``from .x import _name`` lines of the package: a private name used outside its module."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("asteris")):
                found += [f"{path.relative_to(package.parent)}:{node.lineno} imports {a.name}"
                          for a in node.names if a.name.startswith("_")]  # fmt: skip
    return found


def test_no_private_name_crosses_a_module(tmp_path):
    assert not private_imports(PACKAGE), "\n".join(private_imports(PACKAGE))
    (tmp_path / "asteris").mkdir()
    (tmp_path / "asteris" / "a.py").write_text("def f():\n    from .b import _g, h\n")
    assert private_imports(tmp_path / "asteris") == ["asteris/a.py:2 imports _g"]


TESTS = PACKAGE.parent / "tests"
#: Modules whose behaviour is tested in another module's file (that file), or that hold none of their own.
TESTED_IN = {
    "version.py": None,  # a constant
    "errors.py": None,  # exception classes; each is raised and matched in the tests of what raises it
    "extras.py": "test_layout.py",
    "resources.py": "book/test_chapters.py",
    "remote.py": "test_weights.py",
    "archive/manifests.py": "archive/test_download.py",
    "mock/calibration.py": "mock/test_detector.py",
    "mock/datasets.py": "mock/test_simulate.py",
    "mock/synthetic.py": "test_stack.py",
    "mock/plotting.py": "mock/test_simulate.py",
    "science/plotting.py": "science/test_recovery.py",
    "science/survey/folder.py": "science/survey/test_run.py",
    "science/survey/estimate.py": "science/survey/test_run.py",
    **{f"book/report/{m}.py": "book/test_report.py" for m in ("cells", "depth", "highz", "mock", "prose",
                                                                 "speed", "survey")},  # fmt: skip
}


def untested_modules(package: Path, tests: Path) -> list[str]:
    """Modules with neither ``tests/<subpackage>/test_<module>.py`` nor an entry of `TESTED_IN`."""
    missing = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(package)
        mirrored = tests / rel.parent / f"test_{path.stem}.py"
        elsewhere = TESTED_IN.get(rel.as_posix(), "")
        if not (mirrored.exists() or elsewhere is None or (elsewhere and (tests / elsewhere).exists())):
            missing.append(rel.as_posix())
    return missing


def test_the_tests_mirror_the_package():
    assert not untested_modules(PACKAGE, TESTS), untested_modules(PACKAGE, TESTS)


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
    assert report["subpackages"] == {"archive": "imported", "sky": "imported", "mock": "imported",
                                     "science": "imported"}


@pytest.mark.parametrize("extra", ["archive", "sky", "mock", "science"])
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
