"""The image result: its FITS file and the header it carries."""

import numpy as np
import pytest
from astropy.io import fits

from asteris.errors import OutputExistsError
from asteris.mock.synthetic import synthetic_wcs
from asteris.result import DenoiseResult, image_header


def test_the_header_keeps_keywords_replaces_the_wcs_and_adds_provenance():
    old = synthetic_wcs((10, 10))
    header = fits.Header({"NAXIS": 3, "FILTER": "F200W", "CRPIX1": 99.0, "BITPIX": -32})
    header["HISTORY"] = "made somewhere"
    new = image_header(header, old, {"ASTVERS": ("1.0", "asteris version")})
    assert new["FILTER"] == "F200W" and new["ASTVERS"] == "1.0"
    assert new["CRPIX1"] == old.wcs.crpix[0] and "NAXIS" not in new and "HISTORY" not in new


def test_a_result_is_written_atomically_with_its_mask(tmp_path):
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    mask = image > 3
    result = DenoiseResult(np.where(mask, image, np.nan), mask, image, fits.Header({"FILTER": "F200W"}))
    path = result.write(tmp_path / "out.fits")
    with fits.open(path) as hdul:
        assert hdul[0].header["FILTER"] == "F200W"
        np.testing.assert_array_equal(hdul["MASK"].data.astype(bool), mask)
    with pytest.raises(OutputExistsError):
        result.write(path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.fits"]
