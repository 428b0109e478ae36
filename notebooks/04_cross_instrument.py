# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %%

# %% [markdown]
# # Cross-instrument: ground-based HSC-like data
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/asteris-project/asteris/blob/main/notebooks/04_cross_instrument.ipynb)
#
# ## Overview
#
# ASTERIS was built for JWST stacks, but the paper also applies it to
# Subaru Hyper Suprime-Cam exposures, where the noise is dominated by a bright
# sky, the PSF is set by the seeing and changes from exposure to exposure, and
# the pixels are four times larger. Does a network trained on one instrument
# denoise another, or must it be retrained? This chapter denoises the same
# HSC-like stack three ways and compares each with the standard coadd and
# with the noiseless truth:
#
# 1. **without retraining**: the model trained on the NIRCam-like F200W stack;
# 2. **fine-tuned**: that model trained further on the HSC-like stack, for a
#    bounded number of steps;
# 3. **retrained**: a model trained from scratch on the HSC-like stack.
#
# Self-supervised training needs nothing but the stack itself, so retraining
# is always possible; the question is what it buys.
#
# **Data and figures.** `ci` mode: the i band of the embedded HSC-like mock
# field (16 exposures of 384 x 384 px at 0.168 arcsec/px, seeing 0.5-1.0
# arcsec) and the F200W band of the NIRCam-like one (chapter 1), `tiny`
# models; every number is computed in this notebook, from the model retrained
# from scratch that `benchmarks/train_chapter_models.py` trained on this stack
# as the chapter would and committed (`benchmarks/reference/chapters/`). `full` mode: the
# manifests `data_manifests/hsc_cosmos_i_warps.yaml` (HSC-SSP PDR3 COSMOS
# warps; a free HSC-SSP account) and `data_manifests/jades_1210_nircam.yaml`,
# published-size models on a GPU.
#
# ## Prerequisites
#
# Chapters 1 and 2. `ci` mode: no network, no GPU, about a minute on 2 CPU
# cores (three, were the retrained model trained here).
#
# The library calls of this chapter, in the {doc}`API reference <../book/api/index>`:
# {func}`asteris.book.chapter_stack`, {func}`asteris.book.chapter_run`,
# {func}`asteris.book.committed_run`, {func}`asteris.train`, {func}`asteris.denoise`,
# {func}`asteris.coadd`.

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

# %% [markdown]
# What `full` mode asks of this chapter: its downloads and, estimated from the
# measured rates, its time on a Colab T4 and on an A100.

# %%
from asteris.book.estimate import full_mode_plan

print(full_mode_plan("hsc_cosmos_i_warps", from_scratch_steps=300, denoise_passes=3))  # + chapter 2's model

# %% tags=["parameters"]
MODE = None  # "ci" or "full"; None reads $ASTERIS_BOOK_MODE, else "ci"

# %%
import tempfile
from pathlib import Path

import numpy as np
from astropy.stats import sigma_clipped_stats

from asteris import coadd, denoise, train
from asteris.book import book_mode, chapter_run, chapter_stack, committed_run, training_preset
from asteris.plotting import plot_panels
from asteris.science.photometry import truth_errors

mode = book_mode(MODE)
hsc, hsc_truth = chapter_stack(mode, instrument="hsc", band="i", manifest="hsc_cosmos_i_warps")
nircam, _ = chapter_stack(mode)
# ci mode's runs are scratch, removed once trained; full mode's trained models stay
scratch = tempfile.TemporaryDirectory(prefix="asteris-chapter4-") if mode == "ci" else None
runs = Path(scratch.name if scratch else tempfile.mkdtemp(prefix="asteris-chapter4-"))
print(f"mode {mode}: HSC-like stack {hsc.data.shape}, NIRCam-like stack {nircam.data.shape}")

# %% [markdown]
# ## Three models
#
# The NIRCam model is chapter 2's, reused from the data folder: the reference
# model fine-tuned on the NIRCam-like F200W stack. The fine-tuned model starts
# from its weights (`init_from`) and trains on the HSC-like stack for the same
# short fine-tuning schedule (`asteris.book.training_preset`: at most 100 steps in `ci`
# mode); the retrained one starts from random weights with the preset's whole
# schedule (800 steps of `tiny` in `ci` mode). (Each validation loss is
# measured on the model's own training stack, so the NIRCam model's is not
# comparable with the other two.)
#
# Training from scratch takes about two minutes of `ci` mode's three on 2 CPU
# cores, so `ci` mode loads the model that `benchmarks/train_chapter_models.py`
# trained exactly so (this stack, this configuration, seeded) and committed
# with its record; `asteris.book.committed_run` checks its SHA-256 and that it
# was trained on this stack (shape and pixel statistics). `full` mode trains
# it here, on the reader's data.

# %%
nircam_run = chapter_run(nircam, mode, name="nircam-f200w")  # chapter 2's model
finetuned_run = train(hsc, run_dir=runs / "finetuned", config=training_preset(mode),
                      init_from=nircam_run.model_path, progress=False)  # fmt: skip
if mode == "ci":
    retrained_run = committed_run("chapter4_retrained_tiny_hsc_i", hsc)
else:
    retrained_run = train(hsc, run_dir=runs / "retrained", config=training_preset(mode, from_scratch=True),
                          progress=False)  # fmt: skip
models = {"without retraining": nircam_run, "fine-tuned": finetuned_run, "retrained": retrained_run}
for name, run in models.items():
    val_loss = [row["val_loss"] for row in run.history if "val_loss" in row][-1]
    print(f"{name:18s} {run.step:4d} steps, final validation loss {val_loss:.4g}")
if scratch is not None:
    scratch.cleanup()  # the models are in memory; a stopped kernel would not remove the folder

# %% [markdown]
# ## Denoised images
#
# The inverse-variance coadd and the three denoised images, on one stretch;
# each title gives the image's background RMS.

# %%
baseline = coadd(hsc, method="ivar")
results = {name: denoise(hsc, model=run.model, progress=False) for name, run in models.items()}
crop = results["retrained"].crop
reference = baseline.image[crop]
fig = plot_panels([reference, *(r.image for r in results.values())], ["ivar coadd", *results])

# %% [markdown]
# The coadd and the three models in one frame (and the truth, on the mock):
# blink through them, or swipe between the coadd and one model.

# %% tags=["nbval-ignore-output"]
from asteris.comparator import compare_images

shown = {"ivar coadd": reference, **{name: r.image for name, r in results.items()}}
if hsc_truth is not None:
    shown["truth"] = hsc_truth[crop]
compare_images(shown, wcs=results["retrained"].wcs, size=160, title="HSC-like i band: the centre of the field")

# %%
valid = np.isfinite(reference) & np.logical_and.reduce([r.mask for r in results.values()])
coadd_rms = sigma_clipped_stats(reference[valid], sigma=3)[2]
print(f"background RMS, ivar coadd: {coadd_rms:.3g} {hsc.header.get('BUNIT', '')}")
for name, result in results.items():
    rms = sigma_clipped_stats(result.image[valid], sigma=3)[2]
    print(f"background RMS, {name:18s}: {rms:.3g}  ({rms / coadd_rms:.2f} of the coadd's)")

# %% [markdown]
# ## Against the truth
#
# The RMS error against the noiseless sky, by pixel class (background,
# faint-source pixels between 1 and 10 coadd sigma, bright-source pixels),
# and the mean bias in each: a model that does not know the instrument may
# lower the noise and still move flux. (No truth in `full` mode: the section
# is skipped there.)

# %%
if hsc_truth is not None:
    sky = hsc_truth[crop]
    for name, image in (("ivar coadd", reference), *((n, r.image) for n, r in results.items())):
        for row in truth_errors(image, sky, noise=coadd_rms):
            print(f"{name:18s} {row['pixels_of']:15s} RMS error {row['rms_error']:.3g}, "
                  f"bias {row['mean_bias']:+.2g}")  # fmt: skip

# %% [markdown]
# ## Summary
#
# In `ci` mode the NIRCam-trained model transfers most of the way. Without
# retraining, it brings the background noise of the HSC-like stack to 0.95 of
# the coadd's and cuts the RMS error against the truth on background pixels
# by 22% (0.0265 against 0.0338). Fine-tuned on the HSC-like stack for 76
# steps (one pass over its patches), it does a little better (0.91, 33%), and
# the model retrained from scratch for 800 steps gives 0.87 and 30%. On
# faint-source pixels all three are 9-10% better than the coadd (0.054-0.055
# against 0.060). So the `tiny` network's local, noise-shaped filter
# transfers between instruments, and a short fine-tuning on the new stack
# buys about as much as retraining from scratch. On bright-source
# pixels all three are worse than the coadd and identical to three digits:
# those pixels bypass the network. The published preprocessing clips every
# voxel into a global 3-sigma range before the network and adds the clipped
# excess back afterwards as its per-pixel median over the exposures. With a
# seeing that changes from exposure to exposure, that median is a poor
# estimate of a bright source's core. Whether the published-size models
# transfer as well, and what this means for depth and photometry on
# ground-based data, is for `full` mode and for injection-recovery as in
# chapter 3.
