"""Small test fields shared by the science tests."""

from __future__ import annotations


def white_noise_bands(bands, shape: tuple[int, int], *, exposures: int, seed: int) -> tuple[dict, dict]:
    """Stacks of white noise at the mock NIRCam's per-exposure depth in each of ``bands``, and their
    renderers (pixel scale, zero point, Airy PSF of the band)."""
    import numpy as np

    from asteris.science.injection import SourceRenderer
    from asteris.sky.instruments import NIRCAM
    from asteris.stack import read_stack

    rng = np.random.default_rng(seed)
    stacks, renderers = {}, {}
    for band in bands:
        spec = NIRCAM.band(band)
        stacks[band] = read_stack(rng.normal(0.0, spec.white_sigma, (exposures, *shape)).astype(np.float32))
        renderers[band] = SourceRenderer(NIRCAM.pixel_scale, NIRCAM.zero_point, "airy", spec.psf_fwhm)
    return stacks, renderers
