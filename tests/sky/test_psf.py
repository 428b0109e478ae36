"""PSF images and their convolution with pixels and drizzle drops."""

import numpy as np
import pytest

from asteris.sky.psf import psf_kernel


def test_psf_kernel_has_requested_fwhm():
    for profile in ("airy", "moffat"):
        kernel = psf_kernel(profile, 8.0)
        centre = kernel.shape[0] // 2
        cut = kernel[centre] / kernel[centre, centre]
        above = np.flatnonzero(cut >= 0.5)
        # linear interpolation of both half-maximum crossings
        left = above[0] - (cut[above[0]] - 0.5) / (cut[above[0]] - cut[above[0] - 1])
        right = above[-1] + (cut[above[-1]] - 0.5) / (cut[above[-1]] - cut[above[-1] + 1])
        assert right - left == pytest.approx(8.0, rel=0.05)


def test_boxes_keep_the_flux_and_widen_the_psf():
    from asteris.sky.psf import box_profile, pixel_response

    for width in (1.0, 2.5, 3.1):
        assert box_profile(width).sum() == pytest.approx(1.0)
    kernel = psf_kernel("airy", 4.0)
    widened = pixel_response(kernel, (3.0, 2.0))
    assert widened.sum() == pytest.approx(1.0) and widened.shape[0] > kernel.shape[0]
    assert widened.max() < kernel.max()  # the same flux spread wider
    with pytest.raises(ValueError, match="unknown PSF profile"):
        psf_kernel("gaussian", 4.0)
