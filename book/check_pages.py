"""Look at the built book as a reader would: every page rendered in headless Chromium.

A page fails when it shows an error output (a traceback or stderr from a
cell), when one of the book's own images does not load, or when a link inside
the book points to a missing page or anchor (remote images and links are not
checked: the check runs offline). Optionally saves a screenshot of each page.

Usage: ``python book/check_pages.py [_build/html] [--screenshots DIR]``
(needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium``
package: ``make book`` installs them and runs this check after the build).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Cell outputs that a reader must never see in the book (MyST-NB output classes).
ERROR_OUTPUTS = ".output.traceback, .output.error, .output.stderr"

# Images of the book itself; remote ones (the Colab badge) cannot load offline and are not the book's.
_LOADED = """
return [...document.images].filter(i => i.src.startsWith('file:'))
    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
"""
_LINKS = "return [...document.querySelectorAll('a[href]')].map(a => a.href);"
_ERRORS = f"""
return [...document.querySelectorAll('{ERROR_OUTPUTS}')].map(e => e.innerText.slice(0, 200));
"""


@dataclass
class PageReport:
    page: str
    errors: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.errors or self.missing_images or self.broken_links)


def browser():
    """A headless Chromium driven by selenium, with no network chatter."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600", "--allow-file-access-from-files"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _anchor_exists(path: Path, fragment: str) -> bool:
    text = path.read_text(errors="replace")
    return re.search(rf"""\b(id|name)=["']{re.escape(fragment)}["']""", text) is not None


def _broken_links(hrefs: list[str]) -> list[str]:
    broken = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme != "file":
            continue  # the outside world is not the book's to check offline
        target = Path(unquote(parts.path))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists() or (parts.fragment and not _anchor_exists(target, unquote(parts.fragment))):
            broken.append(href)
    return broken


def check_pages(html_dir: str | Path, *, screenshots: str | Path | None = None) -> list[PageReport]:
    """Render every HTML page under ``html_dir`` and report what a reader would see broken."""
    root = Path(html_dir)
    pages = sorted(p for p in root.rglob("*.html") if not p.relative_to(root).parts[0].startswith("_"))
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {root}: build the book first (make book)")
    if screenshots:
        Path(screenshots).mkdir(parents=True, exist_ok=True)
    reports = []
    driver = browser()
    try:
        for page in pages:
            driver.get(page.resolve().as_uri())
            report = PageReport(str(page.relative_to(root)))
            report.errors = driver.execute_script(_ERRORS)
            report.missing_images = driver.execute_script(_LOADED)
            report.broken_links = _broken_links(driver.execute_script(_LINKS))
            if screenshots:
                name = report.page.replace("/", "_").removesuffix(".html") + ".png"
                driver.save_screenshot(str(Path(screenshots) / name))
            reports.append(report)
    finally:
        driver.quit()
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default="_build/html")
    parser.add_argument("--screenshots", help="save a PNG of each page here")
    args = parser.parse_args()
    reports = check_pages(args.html, screenshots=args.screenshots)
    for r in reports:
        status = "ok" if r.ok else "FAILED"
        print(f"{status:6s} {r.page}")
        for kind in ("errors", "missing_images", "broken_links"):
            for item in getattr(r, kind):
                print(f"       {kind}: {item}")
    failed = sum(not r.ok for r in reports)
    print(f"{len(reports)} pages, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
