"""The book's page checker (``book/check_pages.py``), loaded by path for the tests that drive Chromium."""

import importlib.util
import sys
from pathlib import Path

CHECK_PAGES = Path(__file__).resolve().parents[1] / "book" / "check_pages.py"


def missing_browser() -> str | None:
    """Why headless Chromium cannot be driven here, or None where it can."""
    if not Path("/usr/bin/chromium").exists() or not Path("/usr/bin/chromedriver").exists():
        return "Debian's chromium and chromium-driver are not installed (make book installs them)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium (the book extra) is not installed"
    return None


def load_page_checker():
    """``book/check_pages.py`` as a module."""
    spec = importlib.util.spec_from_file_location("check_pages", CHECK_PAGES)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_pages"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
