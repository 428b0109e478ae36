"""Methods: a stack in, one image on the stack's grid out."""

import numpy as np
from astropy.io import fits

from asteris.coadd import coadd
from asteris.result import DenoiseResult
from asteris.science.methods import coadd_method, on_input_grid


def test_a_coadd_method_is_the_coadd_image():
    stack = np.random.default_rng(3).normal(1, 0.2, (6, 20, 20))
    np.testing.assert_array_equal(coadd_method("median")(stack), coadd(stack, method="median").image)


def test_a_cropped_result_goes_back_on_the_input_grid():
    image = np.ones((4, 5), np.float32)
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False
    result = DenoiseResult(image, mask, image, fits.Header(), None, (slice(2, 6), slice(1, 6)))
    full = on_input_grid(result, (8, 8))
    assert np.isnan(full[:2]).all() and np.isnan(full[2, 1]) and full[3, 2] == 1.0
    assert np.isfinite(full).sum() == 19


def test_the_no_data_of_a_denoised_image_is_known_without_the_network(tiny_net):
    from asteris.science.methods import asteris_method, no_data
    from asteris.stack import Stack

    cube = np.random.default_rng(4).normal(10, 1, (8, 40, 48)).astype(np.float32)
    cube[:, :, :5] = np.nan  # an edge no exposure covers: cropped
    cube[:, 20:24, 30:34] = np.nan  # a hole in every exposure
    cube[:3, 8:12, 10:30] = np.nan  # a gap in three exposures only: still data
    stack = Stack(cube)
    method = asteris_method(tiny_net)
    image = method(stack)
    empty = no_data(method, stack)
    np.testing.assert_array_equal(empty, ~np.isfinite(image))
    assert empty[:, :5].all() and empty[20:24, 30:34].all() and not empty[8:12, 10:30].any()
    mean = coadd_method("mean")
    np.testing.assert_array_equal(no_data(mean, stack), ~np.isfinite(mean(stack)))
