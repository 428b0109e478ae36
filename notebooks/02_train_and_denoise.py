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

# %% [markdown]
# # Training and denoising
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/asteris-project/asteris/blob/main/notebooks/02_train_and_denoise.ipynb)
#
# ## Overview
#
# ASTERIS needs no clean images: it learns from the exposures of the stack it
# will denoise. The network sees a window of exposures and predicts a held-out
# one; the noise of different exposures is independent, so the best it can do
# is predict the sky. As in the paper, a model is first trained on other
# fields until it stops improving, then fine-tuned briefly on the stack at hand.
# This chapter shows both steps, denoises the stack, and compares the result
# with the standard inverse-variance coadd and, on the mock field, with the
# noiseless truth. It makes no claim of depth: that needs injection-recovery
# (chapter 3, `benchmarks/depth.py`).
#
# **Data and figures.** In `ci` mode, the F200W stack of the embedded mock field
# (chapter 1; its `params.json` rebuilds it) and the committed `tiny` reference
# model `benchmarks/reference/asteris_tiny_f200w.pt` (trained to a plateau on
# three other mock fields by `benchmarks/train_reference.py`; its record
# `asteris_tiny_f200w.json` holds the command, log and SHA-256), fine-tuned here
# for 100 steps on the CPU; every other number below is computed in this notebook. In `full` mode, the
# F200W exposures of the manifest `data_manifests/jades_1210_nircam.yaml` and
# the published `ASTERIS8_nrcshort` weights (downloaded by name, `asteris.weights`)
# fine-tuned on them for at most 300 steps on a GPU. Training and denoising speeds are in
# `benchmarks/results/speed.json` (`benchmarks/throughput.py`, `benchmarks/gpu.py`).
#
# ## Prerequisites
#
# `pip install -e .` (or `make install`). `ci` mode: no network, no GPU, about
# four minutes on 2 CPU cores. `full` mode: network access to MAST (a few GB)
# and a GPU; set `MODE = "full"` below or `ASTERIS_BOOK_MODE=full`.
#
# The library calls of this chapter, in the {doc}`API reference <../book/api/index>`:
# {func}`asteris.book.chapter_stack`, {func}`asteris.book.chapter_run`,
# {func}`asteris.denoise`, {func}`asteris.coadd`,
# {func}`asteris.book.full_mode_plan`.

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
# measured rates, its time on a Colab T4 and on an A100, with the alignment
# of its exposures as measured on one CPU core ({ref}`bench-align`).

# %%
from asteris.book.estimate import full_mode_plan

print(full_mode_plan("jades_1210_nircam", bands=["F200W"]))

# %% tags=["parameters"]
MODE = None  # "ci" or "full"; None reads $ASTERIS_BOOK_MODE, else "ci"

# %%
import numpy as np
from astropy.stats import sigma_clipped_stats

from asteris import coadd, denoise
from asteris.book import (
    CI_REFERENCE,
    book_mode,
    chapter_run,
    chapter_stack,
    reference_record,
    training_preset,
)
from asteris.plotting import plot_panels, plot_training_history
from asteris.science.photometry import truth_errors

mode = book_mode(MODE)
stack, truth = chapter_stack(mode)
print(f"mode {mode}: {stack.exposures} exposures of {stack.data.shape[1]} x {stack.data.shape[2]} px")

# %% [markdown]
# ## Training
#
# Training draws patches of the stacks, feeds each window of exposures to the
# network and scores its prediction of a held-out exposure; a tenth of the
# patches are kept aside to measure the validation loss. The run folder holds
# the configuration, the metrics log and the checkpoints, so an interrupted
# run resumes exactly where it stopped.
#
# The reference model (`ci` mode) was trained this way on three mock fields
# that no chapter or benchmark evaluates on, until its validation loss
# stopped improving for six checks in a row; its record holds that curve.

# %%
if mode == "ci":
    record = reference_record(*CI_REFERENCE)
    machine = record["machine"]
    print(f"reference {record['name']}: {record['steps']} steps on mock fields {record['fields']['seeds']}, "
          f"{record['train_seconds'] / 60:.0f} min on {machine['cpu_model']} ({machine['logical_cores']} cores)")  # fmt: skip
    fig = plot_training_history([{"step": s, "val_loss": v} for s, v in record["validation"]])

# %% [markdown]
# Fine-tuning then continues on this chapter's stack for a bounded number of
# steps at a tenth of the learning rate. The run is kept in the data folder
# (`asteris.book.chapters.chapter_run`): chapters 3-6 use this same model
# instead of training it again.

# %%
config = training_preset(mode)
run = chapter_run(stack, mode, name="nircam-f200w")
print(f"fine-tuned for {run.step} steps of {config.batch_size} patches of {config.patch_size} px; "
      f"f_maps {config.f_maps}")  # fmt: skip
fig = plot_training_history(run.history)

# %% [markdown]
# ## Denoising
#
# The trained model denoises the whole stack in overlapping tiles. Beside it,
# the standard coadd: the inverse-variance weighted mean of the exposures with
# outliers rejected (`asteris.coadd`). Both images share one stretch; each
# title gives the image's background RMS.

# %%
result = denoise(stack, model=run.model, progress=False)
baseline = coadd(stack, method="ivar")
reference = baseline.image[result.crop]
fig = plot_panels([reference, result.image], ["inverse-variance coadd", f"ASTERIS ({mode} model)"])

# %% [markdown]
# The same images in one frame, with the truth under them on the mock, as
# DS9's blink and frame lock would show them (`asteris.comparator`): blink
# (a button per image, `b`, the space bar), swipe between two, drag and zoom
# with the wheel down to single pixels, change the stretch, and read each
# image's value and the sky position under the cursor. The figure above stays
# for print.

# %% tags=["nbval-ignore-output"]
from asteris.comparator import compare_images

shown = {"ivar coadd": reference, "ASTERIS": result.image}
if truth is not None:
    shown["truth"] = truth[result.crop]
compare_images(shown, wcs=result.wcs, size=160, unit=stack.header.get("BUNIT"), title="F200W: the centre of the field")

# %%
both = result.mask & np.isfinite(reference)
coadd_rms = sigma_clipped_stats(reference[both], sigma=3)[2]
denoised_rms = sigma_clipped_stats(result.image[both], sigma=3)[2]
print(f"background RMS: coadd {coadd_rms:.2g}, ASTERIS {denoised_rms:.2g} {stack.header.get('BUNIT', '')}")
print(f"ratio {denoised_rms / coadd_rms:.1f}")

# %% [markdown]
# ## Against the truth
#
# A lower background RMS is not yet a better image: a denoiser can smooth
# noise into blobs or take flux from faint sources. On the mock field the
# noiseless truth says how far each image is from the sky, by truth level:
# background pixels, faint-source pixels (1 to 10 times the coadd's noise) and
# bright-source pixels. (In `full` mode there is no truth and this section is
# skipped.)

# %%
if truth is not None:
    sky = truth[result.crop]
    for name, image in (("coadd", reference), ("ASTERIS", result.image)):
        table = truth_errors(image, sky, noise=coadd_rms)
        for row in table:
            error, bias = row["rms_error"], row["mean_bias"]
            print(f"{name:8s} {row['pixels_of']:15s} RMS error {error:.2g}, bias {bias:+.1g}")

# %% [markdown]
# ## Summary
#
# The reference model learned from three other mock fields; fine-tuned on
# this stack for 100 steps, it halves the background noise of the best
# standard coadd (0.0024 against 0.0051 MJy/sr). Against the truth, the
# comparison by pixel class shows where it helps and where it costs. It cuts
# the RMS error on background pixels by 43% and on faint-source pixels by an
# eighth (0.0028 against 0.0049, 0.0062 against 0.0071). On bright-source
# pixels it is 18 times worse than the coadd (0.35 against 0.019 MJy/sr):
# those pixels bypass the network through the published preprocessing's
# clipping, and the clipped excess comes back as a per-pixel median. Both
# images sit 0.001 to 0.007 MJy/sr below the truth: the exposures were
# corrected before co-adding (chapter 3), and the row, column and mesh medians
# of the corrections take out the light of galaxies too faint to mask, as
# every background estimate does. Whether any of this makes the image deeper,
# without inventing sources or biasing fluxes, is the subject of chapter 3.
# `benchmarks/depth.py` measures it for the committed reference models and
# for this fine-tuned one, and the README reports it. On this mock's corrected
# exposures it found a loss at 90% purity: -0.20 +- 0.06 mag for this model,
# out of a headroom of 0.34 mag. Its fluxes at S/N 10 come out 0.42 mag too
# faint on its own image, and within 0.05 mag when measured on the coadd at
# the positions it detects.
