# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The mock universe
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/asteris-project/asteris/blob/main/notebooks/01_mock_universe.ipynb)
#
# ## Overview
#
# Every quantitative claim of this book (depth gain, photometric fidelity,
# photometric redshifts, the luminosity function) is checked against a truth.
# Real JWST and HSC archives give no truth, so asteris simulates its own sky:
# galaxies, stars, z > 8.5 galaxies and red low-z interlopers, each with a
# stellar-population SED, observed by a NIRCam-like and an HSC-like imager
# through dithered exposures that carry the instruments' noise and artefacts.
# NIRCam-like exposures are rendered on the detector's native pixels (0.031
# arcsec short-wave, 0.063 arcsec long-wave), each with its own dither and a
# small roll, written as `_cal`-like files (SCI, ERR, DQ) and drizzled onto the
# 0.04 arcsec grid by the same `asteris.archive.align` call that aligns archive
# files; HSC-like exposures are warps stacked by the archive's warp path.
# This chapter builds the embedded default field and looks at it.
#
# **Data and figures.** No archive manifest: the field is simulated, and its
# `params.json` (written beside the FITS files) rebuilds it byte for byte.
# Timing and memory figures come from `benchmarks/simulate.py`
# (`benchmarks/results/simulate.json`); the calibration table from
# `benchmarks/mock_calibration.py` (`benchmarks/results/mock_calibration.json`).
#
# ## Prerequisites
#
# `pip install -e .` (or `make install`). No network, no GPU; building the
# default field takes about a minute on 2 CPU cores, then it is cached in
# `$ASTERIS_DATA_DIR` (default `~/.cache/asteris`). On Colab, the next cell
# installs asteris from its repository; elsewhere it does nothing.
#
# The library calls of this chapter, in the {doc}`API reference <../book/api/index>`:
# {func}`asteris.mock.mock_field`, {class}`asteris.mock.NoiseConfig`,
# {func}`asteris.mock.plot_mock_band`,
# {func}`asteris.mock.plot_power_spectra`,
# {func}`asteris.mock.plot_colour_redshift`.

# %%
import os
import subprocess
import sys

if "google.colab" in sys.modules:  # a lone notebook on Colab: install asteris, then look for a GPU
    repository = os.environ.get("ASTERIS_REPOSITORY", "git+https://github.com/asteris-project/asteris")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"asteris[all] @ {repository}"], check=True)
    import torch

    if not torch.cuda.is_available():
        print("This Colab runtime has no GPU: ci mode runs on its CPU, full mode needs one. Choose "
              "Runtime > Change runtime type > T4 GPU (or better), then run the notebook again.")

# %%
import numpy as np

from asteris.mock.datasets import mock_field
from asteris.mock.noise import COMPONENTS
from asteris.mock.plotting import plot_colour_redshift, plot_mock_band, plot_power_spectra
from asteris.mock.simulate import component_power_spectra

field = mock_field("nircam", progress=False)
print("bands:", ", ".join(field.bands), "| exposures:", field.params["exposures"], "| grid:", field.params["shape"])

# %% [markdown]
# ## The sky and its truth catalogue
#
# The catalogue holds every object whose centre falls on the grid, with its
# position, type, redshift, M_UV, size, Sersic index and 16 AB magnitudes.

# %%
catalog = field.catalog
print(f"{len(catalog)} objects on {catalog.meta['AREA']:.3f} arcmin^2")
for kind in sorted(set(catalog["type"])):
    print(f"  {kind:10s} {np.sum(catalog['type'] == kind):5d}")
catalog["id", "type", "z", "M_UV", "r_e", "sersic_n", "mag_jwst_f200w"][:5]

# %% [markdown]
# The z > 8.5 galaxies drop out of the blue bands (their light blueward of
# Lyman-alpha is absorbed by the IGM), while dusty and quiescent interlopers
# at z ~ 2-5 are red for other reasons: this is the colour-redshift plane in
# which the selection of the last chapters has to tell them apart.

# %%
fig = plot_colour_redshift(catalog, "jwst_f115w", "jwst_f200w")

# %% [markdown]
# ## One exposure, the coadd and the truth
#
# One F200W exposure shows 1/f stripes per amplifier, the detector gap, hot
# pixels, cosmic-ray and snowball residuals; the mean of the 16 dithered
# exposures averages most of them away but keeps the correlated part.

# %%
fig = plot_mock_band(field.bands["F200W"], exposure=0)

# %% [markdown]
# ## The noise components
#
# Each component has a default amplitude and a published basis:

# %%
for name, (default, what, source) in COMPONENTS.items():
    print(f"{name:14s} {default!s:7s} {what}\n{'':22s}based on: {source}")

# %% [markdown]
# Their power spectra, measured on source-free stacks with white noise plus
# one component at a time, divided by the white-noise power: 1/f striping
# raises the k_x = 0 line at low frequency, resampling suppresses the high
# frequencies (neighbouring pixels are correlated), gradients and wisps add
# power at the largest scales, hot pixels a white excess.

# %%
spectra = component_power_spectra("nircam", band="F200W")
fig = plot_power_spectra(spectra)

# %% [markdown]
# ## Calibration: each component measured on the mock
#
# `benchmarks/mock_calibration.py` simulates source-free fields with one
# component at a time and measures it where an astronomer would: per exposure
# on the detector (1/f row offsets before and after the standard row-median
# correction, event rates, wisp and gradient levels) or on the drizzled coadd
# (the correlated-noise factor of drizzling against Casertano et al. 2000, and
# the random-aperture noise against the noise the ERR planes predict). The
# table below is that run's output, read from
# `benchmarks/results/mock_calibration.json`.

# %%
from asteris.book import committed_result

calibration = committed_result("mock_calibration")
print(calibration["command"], "| mock version", calibration["mock_version"])
for row in calibration["rows"]:
    extra = {k: row[k] for k in ("published", "after_row_median", "flagged_in_dq") if k in row}
    print(f"{row['component']:<14}{row.get('band', 'F200W'):<6} default {str(row['default'])[:8]:<9}"
          f"measured {row['measured']:<8g} {row['quantity']} {extra or ''}")  # fmt: skip

# %% [markdown]
# ## Summary
#
# - `asteris.mock.datasets.mock_field()` gives the embedded default field: 8
#   NIRCam-like bands of 16 exposures on a 768 x 768 grid at 0.04 arcsec/px,
#   the noiseless truth and the truth catalogue; `mock_field("hsc")` the
#   HSC-like one. The exposures go through the archive's own alignment, so the
#   noise correlation of drizzling is in the stacks as it is in real data.
# - Every noise component is named, documented and switchable
#   (`asteris.mock.noise.NoiseConfig`), so that later chapters can measure what
#   each one does to the denoiser; `NoiseConfig(structured_scale=s)` scales
#   all structured components at once (0: none left, with native pixels,
#   dithers, drizzle and gaps kept, the physical limit). The exposures are
#   corrected for 1/f striping, detector patterns, backgrounds and events
#   before co-adding, as deep surveys do (`asteris.archive.corrections`).
# - The next chapters train ASTERIS on these stacks and measure its depth
#   gain, purity and photometry against the coadd.
