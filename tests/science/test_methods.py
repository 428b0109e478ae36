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
