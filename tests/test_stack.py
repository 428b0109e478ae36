"""Stacks: reading arrays, cubes and aligned images, and refusing what is not a stack."""

import numpy as np
import pytest
from astropy.io import fits

from asteris.errors import EmptyStackError, NotFITSError, StackMismatchError, TooFewExposuresError
from asteris.mock.synthetic import synthetic_wcs
from asteris.stack import Stack, read_stack, require_exposures, stack_info, write_stack


def test_a_cube_written_reads_back_with_its_wcs(tmp_path):
    wcs = synthetic_wcs((24, 32))
    data = np.random.default_rng(0).normal(1, 0.1, (5, 24, 32)).astype(np.float32)
    path = write_stack(Stack(data, fits.Header({"FILTER": "F200W"}), wcs), tmp_path / "cube.fits")
    stack = read_stack(path)
    np.testing.assert_array_equal(stack.data, data)
    assert stack.header["FILTER"] == "F200W" and stack.wcs.wcs.crpix.tolist() == wcs.wcs.crpix.tolist()
    info = stack_info(stack)
    assert info["exposures"] == 5 and info["shape"] == (24, 32) and info["valid_fraction"] == 1.0
    assert info["pixel_scale_arcsec"] == pytest.approx(0.04, rel=1e-6)
    with pytest.raises(Exception, match="exists"):
        write_stack(stack, path)


def test_aligned_images_make_one_stack_and_misaligned_ones_are_refused(tmp_path):
    wcs = synthetic_wcs((16, 16))
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"e{i}.fits")
        fits.PrimaryHDU(np.full((16, 16), i + 1.0, np.float32), wcs.to_header()).writeto(paths[-1])
    stack = read_stack(paths)
    assert stack.exposures == 3 and stack.data[:, 0, 0].tolist() == [1.0, 2.0, 3.0]
    shifted = wcs.deepcopy()
    shifted.wcs.crpix = shifted.wcs.crpix + [3.0, 0.0]
    fits.PrimaryHDU(np.ones((16, 16), np.float32), shifted.to_header()).writeto(tmp_path / "off.fits")
    with pytest.raises(StackMismatchError):
        read_stack([*paths, tmp_path / "off.fits"])


def test_what_is_not_a_stack_is_named():
    with pytest.raises(StackMismatchError, match=r"\(T, H, W\)"):
        Stack(np.ones((16, 16)))
    with pytest.raises(EmptyStackError):
        read_stack(np.full((4, 8, 8), np.nan))
    with pytest.raises(FileNotFoundError):
        read_stack("no_such_cube.fits")
    with pytest.raises(TooFewExposuresError, match="at least 8 exposures"):
        require_exposures(6, 8, "denoise")
    require_exposures(4, 4, "denoise")


def test_a_folder_is_not_a_fits_file(tmp_path):
    with pytest.raises(NotFITSError, match="is a folder"):
        read_stack(tmp_path)
