"""The book's page checker catches what a reader would see broken (needs headless Chromium)."""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    if not Path("/usr/bin/chromium").exists() or not Path("/usr/bin/chromedriver").exists():
        pytest.skip("Debian's chromium and chromium-driver are not installed (make book installs them)")
    pytest.importorskip("selenium", reason="selenium (the book extra) is not installed")
    spec = importlib.util.spec_from_file_location("check_pages", ROOT / "book" / "check_pages.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_pages"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


PNG = ROOT / "benchmarks" / "results" / "depth" / "all_noise_completeness_purity.png"


def test_page_checker_finds_planted_problems(tmp_path):
    checker = _checker()
    shutil.copy(PNG, tmp_path / "figure.png")
    (tmp_path / "good.html").write_text(
        '<html><body><h1 id="top">Fine</h1><img src="figure.png">'
        '<a href="bad.html#top">other page</a><a href="good.html#top">self</a>'
        '<a href="https://example.org">outside</a><img src="https://example.org/badge.svg"></body></html>'
    )
    (tmp_path / "bad.html").write_text(
        '<html><body><h1 id="top">Broken</h1><img src="missing.png">'
        '<a href="nowhere.html">lost</a><a href="good.html#no-such-anchor">bad anchor</a>'
        '<div class="cell_output docutils container"><div class="output traceback highlight-ipythontb">'
        "<pre>Traceback (most recent call last): ValueError</pre></div></div></body></html>"
    )
    reports = {r.page: r for r in checker.check_pages(tmp_path, screenshots=tmp_path / "shots")}
    assert reports["good.html"].ok, reports["good.html"]
    bad = reports["bad.html"]
    assert bad.missing_images == ["missing.png"]
    assert len(bad.broken_links) == 2 and any("no-such-anchor" in link for link in bad.broken_links)
    assert len(bad.errors) == 1 and "Traceback" in bad.errors[0]
    assert (tmp_path / "shots" / "good.png").stat().st_size > 1000


def test_page_checker_needs_a_built_book(tmp_path):
    checker = _checker()
    with pytest.raises(FileNotFoundError, match="make book"):
        checker.check_pages(tmp_path)
