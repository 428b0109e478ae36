"""Stacks: reading arrays, cubes and aligned images, and refusing what is not a stack."""

import numpy as np
import pytest
from astropy.io import fits

from asteris.errors import EmptyStackError, NotFITSError, StackMismatchError, TooFewExposuresError
from asteris.mock.synthetic import synthetic_wcs
from asteris.stack import (
    Stack,
    crop_to_shared_coverage,
    read_stack,
    require_exposures,
    shared_coverage,
    stack_info,
    write_stack,
)


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


def test_bands_are_cut_to_the_box_every_band_covers_with_their_wcs():
    """A long-wave band over the whole grid and a short-wave one over a part of it (one exposure each
    covering a different corner): the box is the short-wave band's, its pixels keep their sky."""
    wcs = synthetic_wcs((40, 50))
    rng = np.random.default_rng(1)
    wide = rng.normal(1, 0.1, (2, 40, 50)).astype(np.float32)
    narrow = np.zeros((2, 40, 50), np.float32)
    narrow[0, 5:20, 10:30] = 1.0  # exposures dithered: the band covers their union
    narrow[1, 12:31, 22:41] = np.nan
    narrow[1, 12:30, 22:40] = 2.0
    stacks = {"F444W": Stack(wide, fits.Header({"FILTER": "F444W"}), wcs), "F090W": Stack(narrow, wcs=wcs)}
    assert shared_coverage(stacks).sum() == 15 * 20 + 18 * 18 - 8 * 8
    cut = crop_to_shared_coverage(stacks)
    assert [s.data.shape for s in cut.values()] == [(2, 25, 30), (2, 25, 30)]
    np.testing.assert_array_equal(cut["F444W"].data, wide[:, 5:30, 10:40])
    assert not np.shares_memory(cut["F444W"].data, wide)  # a copy: the uncut stacks can go
    sky = wcs.pixel_to_world_values(10 + 7, 5 + 3)
    np.testing.assert_allclose(cut["F090W"].wcs.pixel_to_world_values(7, 3), sky)
    assert "rows 5:30, columns 10:40 of a 40 x 50 grid" in str(cut["F444W"].header["HISTORY"])
    assert cut["F444W"].header["FILTER"] == "F444W" and "HISTORY" not in stacks["F444W"].header


def test_bands_that_do_not_overlap_or_share_no_grid_are_refused():
    left, right = np.zeros((2, 10, 10), np.float32), np.zeros((2, 10, 10), np.float32)
    left[:, :, :4], right[:, :, 6:] = 1.0, 1.0
    with pytest.raises(EmptyStackError, match="do not overlap"):
        crop_to_shared_coverage({"a": Stack(left), "b": Stack(right)})
    with pytest.raises(StackMismatchError, match="not on one grid"):
        shared_coverage({"a": Stack(left), "b": Stack(np.ones((2, 10, 12)))})
