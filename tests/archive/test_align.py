import numpy as np
import pytest
from astropy.io import fits
from exposures import DEC0, FLUX, RA0, SKY, cal_exposure

from asteris import archive, read_stack
from asteris.archive.corrections import CorrectionConfig
from asteris.errors import StackMismatchError


@pytest.fixture
def exposures(tmp_path):
    shifts = [(0.0, 0.0), (3.3, -1.7), (-2.5, 4.2), (0.5, 0.5)]
    paths = [
        cal_exposure(
            tmp_path / f"e{i}_cal.fits",
            shift=s,
            rotation_deg=7.0 if i == 3 else 0.0,
            bad_column=10 if i == 1 else None,
        )
        for i, s in enumerate(shifts)
    ]
    return paths


def _centroid(image, x, y, r=8):
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    win = (np.abs(xx - x) <= r) & (np.abs(yy - y) <= r)
    w = (image - SKY) * win
    return (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum(), w.sum()


def test_point_source_lands_on_one_pixel_and_flux_is_conserved(tmp_path, exposures):
    # noiseless exposures with a sky: the drizzle alone (the corrections would take the sky out)
    stack, weights = archive.align(exposures, output=tmp_path / "stack.fits",
                                   corrections=CorrectionConfig.none())  # fmt: skip
    x, y = stack.wcs.world_to_pixel_values(RA0 + 0.3 / 3600, DEC0 - 0.2 / 3600)
    for frame in stack.data:
        cx, cy, flux = _centroid(frame, x, y)
        assert abs(cx - x) < 0.05 and abs(cy - y) < 0.05
        assert flux == pytest.approx(FLUX, rel=0.005)
    assert np.nanmax(stack.data) < 1e5  # the DO_NOT_USE column did not leak
    assert (weights[1][stack.data[1] == 0] == 0).all()
    written = read_stack(tmp_path / "stack.fits")
    assert written.data.shape == stack.data.shape and written.wcs is not None
    assert fits.getdata(tmp_path / "stack.fits", "WEIGHT").shape == stack.data.shape
    assert abs(np.sqrt(abs(np.linalg.det(written.wcs.pixel_scale_matrix))) * 3600 - 0.04) < 1e-9


def test_align_refuses_mixed_filters_and_non_cal_files(tmp_path, exposures):
    other = cal_exposure(tmp_path / "f200w_cal.fits", filt="F200W")
    with pytest.raises(StackMismatchError, match="several filters"):
        archive.align([*exposures, other])
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(tmp_path / "plain.fits")
    with pytest.raises(Exception, match="SCI extension"):
        archive.align([tmp_path / "plain.fits"])
