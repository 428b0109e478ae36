"""Look at the built book as a reader would: every page rendered in headless Chromium.

A page fails when it shows an error output (a traceback or stderr from a
cell), when one of the book's own images does not load, or when a link inside
the book points to a missing page or anchor (remote images and links are not
checked: the check runs offline), when the page with its images weighs more
than 10 MB, or when an image comparator (`asteris.comparator`) fails a
reader's use: it must be ready within a second, blinking (space) and zooming
(its + button) must change its frame and nothing outside it, and its readout
must give the images' values at the pixel under the cursor. Optionally saves
a screenshot of each page and of each comparator after each action.

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


#: A chapter page, with its images, weighs at most this (bytes); a comparator is ready within this (ms).
MAX_PAGE_BYTES = 10_000_000
MAX_READY_MS = 1000
#: A pixel whose R+G+B moves by at most this between two screenshots has not changed: Chromium
#: re-rasterizes text beside a redrawn canvas with differences of up to about 20.
RASTER_NOISE = 30


@dataclass
class ComparatorReport:
    """One image comparator used as a reader uses it: blinked, zoomed and read under the cursor."""

    index: int
    ready_ms: float = float("nan")
    readout: str = ""
    problems: list[str] = field(default_factory=list)
    screenshots: list[str] = field(default_factory=list)


@dataclass
class PageReport:
    page: str
    errors: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    weight: int = 0  #: bytes of the page and the book's images it shows
    comparators: list[ComparatorReport] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        heavy = [f"the page weighs {self.weight / 1e6:.1f} MB"] if self.weight > MAX_PAGE_BYTES else []
        return heavy + [f"comparator {c.index}: {p}" for c in self.comparators for p in c.problems]

    @property
    def ok(self) -> bool:
        return not (self.errors or self.missing_images or self.broken_links or self.problems)


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


_IMAGE_SOURCES = "return [...document.images].map(i => i.src).filter(s => s.startsWith('file:'));"


def page_weight(driver, page: Path) -> int:
    """Bytes of the page's HTML and of the local images it shows (each counted once)."""
    images = {Path(unquote(urlsplit(src).path)) for src in driver.execute_script(_IMAGE_SOURCES)}
    return page.stat().st_size + sum(p.stat().st_size for p in images if p.is_file())


def _screen(driver):
    """The viewport as an (H, W, 3) array."""
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")).astype(int)


def _settled_screen(driver, tries: int = 10):
    """The viewport once it stops changing by itself (a page reacts to a scroll asynchronously)."""
    import time

    import numpy as np

    last = _screen(driver)
    for _ in range(tries):
        time.sleep(0.1)
        now = _screen(driver)
        if np.array_equal(now, last):
            break
        last = now
    return last


def _box(driver, element) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of ``element`` in the viewport's pixels."""
    r = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(), d = window.devicePixelRatio;"
        "return [r.top * d, r.bottom * d, r.left * d, r.right * d];", element)  # fmt: skip
    return tuple(int(round(v)) for v in r)


def _changed_only_inside(before, after, frame, element) -> str | None:
    """None if the screens differ inside the box ``frame`` and nowhere outside the box ``element``,
    else what is wrong."""
    import numpy as np

    changed = np.abs(after - before).sum(axis=2) > RASTER_NOISE
    top, bottom, left, right = frame
    if not changed[max(top, 0) : bottom, max(left, 0) : right].any():
        return "nothing changed where it shows"
    outside = changed.copy()
    top, bottom, left, right = element
    outside[max(top, 0) : bottom + 1, max(left, 0) : right + 1] = False
    return f"{int(outside.sum())} pixels changed outside the comparator" if outside.any() else None


def comparator_values(driver, element, x: int, y: int) -> dict[str, float]:
    """Each image's value at full-image pixel (x, y), decoded from the data the comparator carries."""
    import base64
    import json

    import numpy as np

    spec = json.loads(element.find_element("css selector", "script.astc-spec").get_attribute("textContent"))
    w, h = spec["width"], spec["height"]
    out = {}
    for name, text in zip(spec["names"], spec["data"]):
        image = np.frombuffer(base64.b64decode(text), "<f4").reshape(h, w)
        out[name] = float(image[y - spec["y0"], x - spec["x0"]])
    return out


def parse_readout(text: str) -> tuple[int, int, dict[str, float]]:
    """The pixel and the values a comparator's readout states."""
    match = re.match(r"x (-?\d+) y (-?\d+)", text)
    if match is None:
        raise ValueError(f"no position in the readout {text!r}")
    values = {}
    for entry in re.split(r"\s{2,}", text.split("|", 1)[1].strip()):  # names may hold single spaces
        name, _, value = entry.partition(" = ")
        values[name] = float(value.split()[0])
    return int(match[1]), int(match[2]), values


def check_comparator(
    driver, element, index: int, *, shots: Path | None = None, stem: str = ""
) -> ComparatorReport:
    """Blink (space), zoom (the + button) and read one comparator; each action must change the frame
    and nothing outside the comparator, and the readout must give the image values at its pixel."""
    import math

    from selenium.webdriver.common.action_chains import ActionChains

    report = ComparatorReport(index)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    report.ready_ms = float(element.get_attribute("data-ready-ms") or "nan")
    if not report.ready_ms < MAX_READY_MS:
        report.problems.append(f"ready after {report.ready_ms} ms (at most {MAX_READY_MS})")
    canvas = element.find_element("css selector", "canvas.astc-frame")
    readout = element.find_element("css selector", ".astc-readout")
    ActionChains(driver).move_to_element(readout).pause(0.3).perform()  # hover settled where nothing reacts
    frame, text, whole = _box(driver, canvas), _box(driver, readout), _box(driver, element)
    driver.execute_script("arguments[0].focus();", element)
    actions = {  # what a reader does, and where it must show
        "blink": (lambda: element.send_keys(" "), frame),
        "zoom": (lambda: element.find_element("css selector", "button.astc-in").click(), frame),
        "cursor": (lambda: ActionChains(driver).move_to_element_with_offset(canvas, 7, 5).perform(), text),
    }
    for name, (act, where) in actions.items():
        before = _settled_screen(driver)
        act()
        after = _screen(driver)
        if (problem := _changed_only_inside(before, after, where, whole)) is not None:
            report.problems.append(f"{name}: {problem}")
        if shots is not None:
            path = shots / f"{stem}_comparator{index}_{name}.png"
            driver.save_screenshot(str(path))
            report.screenshots.append(path.name)
    report.readout = element.find_element("css selector", ".astc-readout").text
    try:
        x, y, said = parse_readout(report.readout)
    except ValueError as exc:
        report.problems.append(str(exc))
        return report
    for name, value in comparator_values(driver, element, x, y).items():
        if name not in said or not math.isclose(said[name], value, rel_tol=1e-6, abs_tol=1e-30):
            if not (math.isnan(value) and math.isnan(said.get(name, 0.0))):
                report.problems.append(f"the readout gives {name} = {said.get(name)} at ({x}, {y}), "
                                       f"the image {value}")  # fmt: skip
    return report


def check_pages(
    html_dir: str | Path, *, screenshots: str | Path | None = None, pattern: str = "*.html"
) -> list[PageReport]:
    """Render every HTML page under ``html_dir`` (those matching ``pattern``) and report what a reader
    would see broken."""
    root = Path(html_dir)
    pages = sorted(p for p in root.rglob(pattern) if not p.relative_to(root).parts[0].startswith("_"))
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
            report.weight = page_weight(driver, page)
            stem = report.page.replace("/", "_").removesuffix(".html")
            if screenshots:
                driver.save_screenshot(str(Path(screenshots) / f"{stem}.png"))
            shots = Path(screenshots) if screenshots else None
            for index, element in enumerate(driver.find_elements("css selector", ".asteris-comparator")):
                report.comparators.append(check_comparator(driver, element, index, shots=shots, stem=stem))
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
        comparators = "".join(f"; comparator {c.index} ready at {c.ready_ms:.0f} ms" for c in r.comparators)
        print(f"{status:6s} {r.page} ({r.weight / 1e6:.2f} MB{comparators})")
        for kind in ("errors", "missing_images", "broken_links", "problems"):
            for item in getattr(r, kind):
                print(f"       {kind}: {item}")
    failed = sum(not r.ok for r in reports)
    print(f"{len(reports)} pages, {failed} with problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
