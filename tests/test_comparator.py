import base64
import json

import numpy as np
import pytest
from astropy.wcs import WCS

from asteris.comparator import MAX_PIXELS, compare_images, stretch_limits
from asteris.errors import ConfigError


def tan_wcs(shape=(64, 80)):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype, wcs.wcs.crval = ["RA---TAN", "DEC--TAN"], [53.16, -27.78]
    wcs.wcs.crpix, wcs.wcs.cdelt = [shape[1] / 2, shape[0] / 2], [-0.04 / 3600, 0.04 / 3600]
    return wcs


def images(shape=(64, 80)):
    rng = np.random.default_rng(1)
    coadd = rng.normal(0, 1, shape).astype(np.float32)
    return {"coadd": coadd, "ASTERIS": coadd / 2, "truth": np.zeros(shape, np.float32)}


def decoded(view, index):
    s = view.spec
    return np.frombuffer(base64.b64decode(s["data"][index]), "<f4").reshape(s["height"], s["width"])


def test_a_region_carries_the_images_own_values_and_the_markers_inside_it():
    data = images()
    view = compare_images(data, center=(30, 20), size=(16, 24), markers=[(25, 15), (70, 60), (18.4, 12.0)])
    s = view.spec
    assert (s["x0"], s["y0"], s["width"], s["height"]) == (18, 12, 24, 16)
    np.testing.assert_array_equal(decoded(view, 1), data["ASTERIS"][12:28, 18:42])
    assert s["markers"] == [[25.0, 15.0], [18.4, 12.0]]  # full-image positions; (70, 60) lies outside
    corner = compare_images(data, center=(0, 0), size=20).spec
    assert (corner["x0"], corner["y0"], corner["width"], corner["height"]) == (0, 0, 10, 10)  # clipped


def test_one_stretch_is_set_on_the_first_image_for_all():
    data = images()
    limits = compare_images(data).spec["limits"]
    assert limits == stretch_limits(data["coadd"])
    lo, hi = limits["linear"]
    assert lo == pytest.approx(np.percentile(data["coadd"], 0.5)) and hi > lo
    assert stretch_limits(np.full((4, 4), np.nan)) == {k: [0.0, 1.0] for k in ("linear", "asinh", "zscale")}
    assert stretch_limits(np.ones((4, 4)))["zscale"] == [0.5, 1.5]  # a flat image still has a range


def test_a_tan_wcs_gives_the_readout_its_projection_and_others_none():
    wcs = tan_wcs()
    tan = compare_images(images(), wcs=wcs).spec["wcs"]
    assert tan["crval"] == [53.16, -27.78] and tan["cd"][0][0] == pytest.approx(-0.04 / 3600)
    sin = tan_wcs()
    sin.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    assert compare_images(images(), wcs=sin).spec["wcs"] is None
    assert compare_images(images()).spec["wcs"] is None


def test_the_page_is_self_contained_and_the_same_images_give_the_same_page(tmp_path):
    view = compare_images(images(), wcs=tan_wcs(), title="F200W <mock>", unit="MJy/sr")
    page = view.to_html()
    assert "asterisComparator" in page and "<script src" not in page and "://" not in page
    assert "F200W &lt;mock&gt;" in page and "<mock>" not in page.split("astc-spec")[0]
    spec = json.loads(page.split('class="astc-spec">')[1].split("</script>")[0])
    assert spec == json.loads(json.dumps(view.spec))
    assert (
        compare_images(images(), wcs=tan_wcs(), title="F200W <mock>", unit="MJy/sr").element_id
        == view.element_id
    )
    path = view.write(tmp_path / "compare.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(Exception, match="exists"):
        view.write(path)
    size = len(page.encode())
    assert size < 3 * 64 * 80 * 5.5 + 20_000  # about 5.4 bytes a pixel an image, plus the script


@pytest.mark.parametrize(
    "kwargs, said",
    [
        ({"images": {"coadd": np.zeros((4, 4))}}, "needs two or more images, got 1"),
        ({"images": {"a": np.zeros((4, 4)), "b": np.zeros((4, 5))}}, "of one shape"),
        ({"images": {"a": np.zeros(4), "b": np.zeros(4)}}, "must be 2D"),
        ({"stretch": "log"}, "unknown stretch 'log'; choose one of linear, asinh, zscale"),
        ({"center": (500, 500), "size": 10}, "lies outside"),
    ],
)
def test_wrong_input_is_one_sentence(kwargs, said):
    with pytest.raises(ConfigError, match=said):
        compare_images(**{"images": images(), **kwargs})


def test_a_region_too_large_is_refused_with_the_way_out():
    side = int(np.sqrt(MAX_PIXELS)) + 1
    big = np.zeros((side, side), np.float32)
    with pytest.raises(ConfigError, match="give a center and a smaller size"):
        compare_images({"a": big, "b": big})
    assert compare_images({"a": big, "b": big}, size=64).spec["width"] == 64
