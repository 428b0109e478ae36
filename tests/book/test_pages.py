"""The book's page checker catches what a reader would see broken (needs headless Chromium)."""

import shutil
from pathlib import Path

import pytest
from page_checker import load_page_checker, missing_browser

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    if (reason := missing_browser()) is not None:
        pytest.skip(reason)
    return load_page_checker()


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


def test_a_comparator_blinks_zooms_and_reads_the_fits_values_in_chromium(tmp_path):
    """As a reader uses it: each action changes the frame and nothing outside the comparator; the readout
    gives the FITS file's value and the WCS's RA/Dec at the pixel under the cursor."""
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS
    from selenium.webdriver.common.action_chains import ActionChains

    from asteris.comparator import compare_images

    checker = _checker()
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---TAN", "DEC--TAN"], [53.16, -27.78]
    wcs.wcs.crpix, wcs.wcs.cdelt = [40.5, 30.5], [-0.04 / 3600, 0.04 / 3600]
    rng = np.random.default_rng(3)
    for name, scale in (("coadd", 1.0), ("asteris", 0.4)):
        fits.PrimaryHDU(rng.normal(0, scale, (60, 80)).astype(np.float32), wcs.to_header()).writeto(
            tmp_path / f"{name}.fits"
        )
    data = {name: fits.getdata(tmp_path / f"{name}.fits") for name in ("coadd", "asteris")}
    view = compare_images(data, wcs=WCS(fits.getheader(tmp_path / "coadd.fits")), center=(50, 25), size=32)
    page = view.write(tmp_path / "compare.html")
    (tmp_path / "index.html").write_text(
        f'<html><body><a href="compare.html">c</a>{view.to_html()}</body></html>'
    )
    reports = {r.page: r for r in checker.check_pages(tmp_path, screenshots=tmp_path / "shots")}
    for name in ("compare.html", "index.html"):
        report = reports[name]
        assert report.ok, (report.problems, report.errors)
        (comparator,) = report.comparators
        assert comparator.ready_ms < checker.MAX_READY_MS
        assert [s.split("_")[-1] for s in comparator.screenshots] == ["blink.png", "zoom.png", "cursor.png"]
    driver = checker.browser()
    try:
        driver.get(page.resolve().as_uri())
        element = driver.find_element("css selector", ".asteris-comparator")
        canvas = element.find_element("css selector", "canvas")
        scale = 480 / 32  # the 32 x 32 px region fits the 480 px frame
        for sx, sy in ((8, 8), (250, 100), (470, 307)):
            dx, dy = sx - 240, sy - 240  # offsets from the canvas centre
            ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).perform()
            x, y, said = checker.parse_readout(element.find_element("css selector", ".astc-readout").text)
            assert (x, y) == (34 + int(sx // scale), 9 + 31 - int(sy // scale))
            for name in ("coadd", "asteris"):
                assert said[name] == pytest.approx(
                    float(fits.getdata(tmp_path / f"{name}.fits")[y, x]), rel=1e-6
                )
            text = element.find_element("css selector", ".astc-readout").text
            ra, dec = (float(v) for v in text.split("RA ")[1].split(" |")[0].split(" Dec "))
            sky = wcs.pixel_to_world_values(x, y)
            assert ra == pytest.approx(sky[0], abs=2e-6) and dec == pytest.approx(sky[1], abs=2e-6)
    finally:
        driver.quit()
