"""Build hook: a wheel carries the repository files the package reads (`asteris.resources.SHIPPED`).

They stay where the repository keeps them; at build time each is copied to
``asteris/_shipped/<repository path>`` inside the build. Editable installs read
them in place and need no copy.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _resources():
    spec = importlib.util.spec_from_file_location("_asteris_resources", HERE / "asteris" / "resources.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        resources = _resources()
        files = resources.shipped_files(HERE)
        if not any(f.startswith("benchmarks/reference/") for f in files):
            raise SystemExit("the reference model is missing from benchmarks/reference: build from a full checkout")
        for relative in files:
            target = Path(self.build_lib) / "asteris" / "_shipped" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(HERE / relative, target)


setup(cmdclass={"build_py": BuildWithShippedFiles})
