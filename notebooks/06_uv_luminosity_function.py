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
# # The z > 8.5 UV luminosity function
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/asteris-project/asteris/blob/main/notebooks/06_uv_luminosity_function.ipynb)
#
# ## Overview
#
# The paper's science result is the rest-frame UV luminosity function at
# z > 9 pushed about one magnitude fainter. A luminosity function is counts
# divided by the volume in which each galaxy could have been found:
# phi(M_UV) = N / (V_eff dM), with V_eff(M_UV) = Omega * integral of
# C(M_UV, z) dV/dz dz. The completeness C is the crux: it must describe the
# whole chain (detection, photometry, photo-z and selection) on the images
# actually used, so it is measured by injecting mock z > 8.5 galaxies, with
# full SEDs, into every exposure of every band and running the chain of
# chapter 5 on each method's images. On the mock field the input luminosity
# function is known, so the recovered one can be checked bin by bin.
#
# **Data and figures.** `ci` mode: the z > 8.5 mock field and the model of
# chapters 2-5 (the `tiny` reference model fine-tuned on F200W; reused from
# the data folder, or fine-tuned here), fluxes measured on the coadds,
# 2 x 30 injected galaxies; every number is computed in this notebook. The
# literature points are the binned JWST measurements kept in
# `asteris/science/data/uvlf_literature.ecsv` (Harikane et al. 2023; Donnan et al.
# 2024; Finkelstein et al. 2024). The larger runs are
# `benchmarks/photoz_uvlf.py` (`benchmarks/results/photoz_uvlf.json`) and,
# over many pointings, `benchmarks/survey_uvlf.py`
# (`benchmarks/results/survey_uvlf.json`), and the closure of its
# injections on the fields' own galaxies, `benchmarks/closure.py`
# (`benchmarks/results/closure.json`), both read in the last sections.
# `full` mode: the seven bands of `data_manifests/jades_1210_nircam.yaml`,
# cut to the 1.2 arcmin^2 that all seven cover (as in chapter 5), and the
# published-size model.
#
# ## Prerequisites
#
# Chapter 5 (photometric redshifts and candidates). `ci` mode: no network,
# no GPU, about seven minutes on 2 CPU cores.
#
# The library calls of this chapter, in the {doc}`API reference <../book/api/index>`:
# {func}`asteris.book.chapter_method`, {func}`asteris.science.high_z_recovery`,
# {func}`asteris.science.completeness_curves`,
# {func}`asteris.science.effective_volume`,
# {func}`asteris.science.measure_luminosity_function`,
# {func}`asteris.science.literature_luminosity_functions`,
# {func}`asteris.science.dimmed_interlopers`, {func}`asteris.science.with_truth`,
# {func}`asteris.science.survey.run_survey`, {func}`asteris.science.closure_pointing`,
# {func}`asteris.science.closure_table`, {func}`asteris.science.footprint`.

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
# measured rates, its time on a Colab T4 and on an A100, with the CPU stages
# as measured: the alignment of the exposures on one core
# ({ref}`bench-align`), which it reads instead where chapter 5 aligned them
# in the same data folder, and the search (and the injections) on two, less
# the network's passes, which the GPU runs and the denoising counts
# ({ref}`bench-scaling`). Its 400 injected galaxies go in one realization, at
# least 16 px apart, since every realization runs ASTERIS over the detection
# bands again ({ref}`bench-packing`); on the 1.2 arcmin^2 that every band
# covers that is the survey's density (40 a realization on each
# 0.12 arcmin^2 mock pointing), at which the closure test injects its copies.
# %%
from asteris.book import HIGH_Z_BANDS
from asteris.book.estimate import full_mode_plan

print(full_mode_plan("jades_1210_nircam", bands=HIGH_Z_BANDS, searches=1, realizations=1, aligned_by="chapter 5"))

# %% tags=["parameters"]
MODE = None  # "ci" or "full"; None reads $ASTERIS_BOOK_MODE, else "ci"

# %%
import astropy.units as u
import numpy as np

from asteris.book import book_mode, chapter_budget, chapter_field, chapter_method, chapter_run, chapter_stack
from asteris.science.highz import high_z_recovery, search_high_z
from asteris.science.plotting import plot_completeness_map, plot_luminosity_function
from asteris.sky.luminosity import WHITLER25
from asteris.science.methods import coadd_method
from asteris.science.uvlf import (
    bin_averages,
    completeness_curves,
    effective_volume,
    literature_luminosity_functions,
    measure_luminosity_function,
)

mode = book_mode(MODE)
stacks, renderers, truth = chapter_field(mode)
filters = {band: f"jwst_{band.lower()}" for band in stacks}
training_stack = chapter_stack(mode)[0] if mode == "ci" else stacks["F200W"]  # as in chapter 5
run = chapter_run(training_stack, mode, name="nircam-f200w" if mode == "ci" else "jades-f200w")
methods = {"coadd": coadd_method("ivar"), "ASTERIS": chapter_method(run)}  # each image kept by content
detection = ["F277W", "F356W", "F444W"]
images = {name: {b: method(s) for b, s in stacks.items()} for name, method in methods.items()}
# dual-image photometry, as in chapter 5: detected on each method's images, measured on the coadds
found = {name: search_high_z(band_images, renderers, filters, detection_bands=detection,
                             measure_images=images["coadd"])
         for name, band_images in images.items()}  # fmt: skip
shape = stacks["F200W"].data.shape[1:]
area = shape[0] * shape[1] * (renderers["F200W"].pixel_scale * u.arcsec) ** 2
boost = truth.meta["HIZBOOST"] if truth is not None else 1.0  # the mock's density boost
print(f"{mode} mode: {area.to(u.arcmin**2):.4f}; candidates "
      + ", ".join(f"{n} {int(np.sum(t['selected']))}" for n, t in found.items()))  # fmt: skip

# %% [markdown]
# ## Completeness through the whole chain
#
# Mock z > 8.5 galaxies, uniform in M_UV (-22.5 to -18.5) and z (8.5 to 16),
# are added to every exposure of every band at random positions (on top of
# the field's own sources too, so that blending costs them what it costs the
# real ones); each injected set of stacks is coadded and denoised, and the
# chain runs again. Per redshift bin, a logistic in M_UV fitted to the
# selected flags gives C(M_UV, z) on a fine grid, and V_eff(M_UV) follows.

# %%
realizations, per = chapter_budget(mode, ci=(2, 30), full=(1, 400), rehearsal=(1, 6))
muv_edges, z_edges = np.arange(-22.5, -18.49, 1.0), np.array([8.5, 10.0, 12.0, 16.0])
muv_grid = np.linspace(-22.5, -18.5, 161)
recovery = high_z_recovery(stacks, renderers, methods, filters, n_per_realization=per, realizations=realizations,
                           muv_range=(-22.5, -18.5), z_range=(8.5, 16.0), detection_bands=detection,
                           measure_with=methods["coadd"], seed=2, progress=False)  # fmt: skip
curves = {name: completeness_curves(recovery["M_UV"].value, recovery["z"], recovery[f"{name}_selected"],
                                    muv_grid=muv_grid, z_edges=z_edges) for name in methods}  # fmt: skip
for name in methods:
    print(f"{name:8s} detected {np.mean(recovery[f'{name}_detected']):.2f}, "
          f"selected {np.mean(recovery[f'{name}_selected']):.2f} of {len(recovery)} injected")  # fmt: skip

# %%
step = muv_grid[1] - muv_grid[0]
grid_edges = np.append(muv_grid - step / 2, muv_grid[-1] + step / 2)
fig = plot_completeness_map(curves["ASTERIS"], grid_edges, z_edges, title="ASTERIS: selection completeness")

# %% [markdown]
# ## The luminosity function
#
# A double power law is fitted by forward modelling: each M_UV bin's
# expected count is the integral of phi * V_eff over the bin, and the
# likelihood is Poisson (empty bins count too), sampled with emcee; the
# bright-end slope is fixed at the input's (the field holds too few bright
# galaxies to constrain it). The binned phi then divides each bin's count by
# its V_eff averaged with the fitted function as the weight: with a steep
# function most of a faint bin's galaxies sit near its faint edge, where
# fewer are found. On the mock the counts are divided by the field's density
# boost, so the result compares directly with the input function (Whitler et
# al. 2025 at z ~ 9.8) and the literature. Intervals are Poisson (Gehrels 1986).

# %%
binned, fits = {}, {}
for name, table in found.items():
    v_eff = effective_volume(curves[name], z_edges=z_edges, area=area) * boost
    candidates = table[np.asarray(table["selected"])]
    binned[name], fits[name] = measure_luminosity_function(candidates["M_UV"], muv_edges=muv_edges,
                                                           muv_grid=muv_grid, v_eff_grid=v_eff,
                                                           fixed={"beta": WHITLER25.beta})  # fmt: skip
    binned[name]["phi_input"] = bin_averages(WHITLER25, binned[name]["muv_lo"], binned[name]["muv_hi"])
    binned[name]["v_eff"] = binned[name]["v_eff"] / boost
    for column in ("phi", "phi_lo", "phi_hi", "phi_input"):
        binned[name][column].info.format = ".3g"
    binned[name]["v_eff"].info.format = ".0f"
    print(f"--- {name}: " + ", ".join(f"{r['parameter']} {r['median']:.2f} -{r['minus']:.2f} +{r['plus']:.2f}"
                                      for r in fits[name].summary()))  # fmt: skip
    binned[name]["M_UV", "n", "v_eff", "phi", "phi_lo", "phi_hi", "phi_input"].pprint(max_width=140)

# %% [markdown]
# The shaded bands are the 16-84% range of the fits' posteriors; grey points
# are published JWST measurements at z ~ 9-12.

# %%
fig = plot_luminosity_function(binned, literature=literature_luminosity_functions(z_range=(8.5, 12.5)),
                               input_function=WHITLER25, fits=fits)  # fmt: skip

# %% [markdown]
# ## Candidates that are not z > 8.5 galaxies
#
# A real field has no truth to count its interlopers with. The field's own
# bright galaxies at secure low redshift stand in for its faint ones: each
# faint detection gets four of them, dimmed to its flux in the detection
# bands, given its noise in every band, and run through the same photo-z and
# selection ({func}`asteris.science.dimmed_interlopers`, after
# {cite:t}`bouwens2015uvlf`). What they select, each counting a quarter of a
# galaxy, is the expected number of low-z interlopers; on the mock, the truth
# says how many there are.

# %%
from asteris.errors import ConfigError
from asteris.science import dimmed_interlopers, with_truth

for name, table in found.items():
    try:
        fakes = dimmed_interlopers(table, filters, detection_bands=detection, seed=1)
    except ConfigError as why:  # a field too small to hold bright low-z galaxies and faint detections
        print(f"{name}: no interloper estimate: {why}")
        continue
    expected = float(np.sum(fakes["weight"][fakes["selected"]]))
    line = (f"{name}: {int(np.sum(table['selected']))} candidates; {fakes.meta['n_templates']} bright "
            f"low-z galaxies dimmed to {fakes.meta['n_targets']} faint detections: {expected:.2f} expected")
    if truth is not None:
        kinds = with_truth(table[np.asarray(table["selected"])], truth, fallback_radius=4.0)["true_type"]
        spurious = int(np.sum(kinds == "spurious"))
        low_z = int(np.sum(kinds != "high_z")) - spurious
        line += f"; the truth: {low_z} low-z galaxies, {spurious} spurious"
    print(line)

# %% [markdown]
# ## At survey scale
#
# One pointing holds too few candidates to test the recovered function bin by
# bin. `benchmarks/survey_uvlf.py` runs this chapter's chain over many mock
# pointings, each with its own seed, its own model fine-tuning and its own
# injections, one task per pointing on a Dask cluster
# ({func}`asteris.science.survey.run_survey`), and computes the function from
# all pointings together: summed counts over summed effective volumes
# ({func}`asteris.science.survey.survey_luminosity_function`). The figure and
# tables read the committed result (`benchmarks/results/survey_uvlf.json`);
# a bin counts as tested when it holds five candidates or more.

# %%
from IPython.display import Markdown

from asteris.book import committed_result
from asteris.book.report import (
    METHOD_NAMES,
    binned_table,
    field_against_injected_table,
    survey_background_table,
    survey_table,
    through_injections_table,
    uvlf_table,
)

survey = committed_result("survey_uvlf")
survey_binned = {METHOD_NAMES.get(name, name).replace("`", ""): binned_table(m)
                 for name, m in survey["methods"].items()}  # fmt: skip
literature = literature_luminosity_functions(z_range=(8.5, 12.5))
fig = plot_luminosity_function(survey_binned, literature=literature, input_function=WHITLER25)
Markdown(survey_table(result=survey) + "\n\nRecovered phi against the input, in 1e-5 Mpc^-3 mag^-1:\n\n"
         + uvlf_table(result=survey))  # fmt: skip

# %% [markdown]
# At survey scale the test still fails, and the tables below say where.
# The survey was run again on the redesigned chain, with injections drawn as
# a population is distributed and the estimator's error budget (next
# section): twenty pointings of mock version 4 (seeds 1-20; 2.03 arcmin^2 of
# footprint, 231 coadd and 212 ASTERIS candidates) give six bins of five
# candidates or more for each method, of which five are judged (M_UV = -21.75
# to -19.75; at -19.25 the completeness is 6%, below the 15% a judged bin
# needs). Candidates are counted at their measured M_UV, so the counts are
# forward-modelled: the selected injections of all pointings give how
# galaxies of each true M_UV spread over the measured bins
# ({func}`asteris.science.migration_matrix`), and the fit and each bin's
# volume carry them through it. The coadd's points then lie within errors of
# the input in 2 of the 5 judged bins (of the pointings' own truth in 4),
# ASTERIS's in 2 (2), against a target of 80%; counted at face value, in 1
# and 1. The fitted faint-end slopes stay flat (alpha = -1.69, 68% interval
# -2.33 to -1.20, for the coadd; -1.32 for ASTERIS; input -2.60); the
# coadd's M* and phi* hold their inputs, ASTERIS's do not. Two things share
# the miss. These twenty skies lie above the input at the bright end (their
# own z > 8.5 galaxies give phi = 3.6e-6 at -21.75 and 2.3e-5 at -20.75
# against 2.3e-6 and 1.7e-5), and there the coadd follows its skies. At
# -20.25 the coadd finds 1.5 times its skies' own density, the excess the
# tables below trace. The error budget also holds the fitted shape's part
# (the spread of each bin's volume over draws of the fit's posterior, 2-7%),
# which moves no judged bin. The miss is in the counts: put through the
# survey's own transfer, the input predicts 5.5, 32 and 51 coadd candidates
# at -21.75, -20.75 and -20.25 where 10, 43 and 67 are found (chi^2 17.6
# over 8 bins, p = 0.02; ASTERIS 28.1, p = 0.0005), as the budget table of
# {ref}`bench-survey` shows.

# %%
Markdown("Candidates that are not z > 8.5 galaxies, per measured M_UV bin: estimated without the truth, "
         "and counted with it:\n\n" + survey_background_table(result=survey))  # fmt: skip

# %% [markdown]
# Contamination is small, and no estimate made without the truth reaches
# it. The truth finds 15 of the coadd's 231 candidates (6.5%) and 14 of
# ASTERIS's 212 not to be z > 8.5 galaxies, all but one of them galaxies at
# lower redshift. The negated images selected nothing in any pointing; the
# dimmed bright galaxies expect 3.5 and 5.0 interlopers; a model of the
# sky's other objects, each given a pointing's noise and put through the
# same photo-z and selection ({func}`asteris.science.modelled_interlopers`:
# the mock population drawn anew eight times, 4 arcmin^2; not subtracted),
# expects 3.4 for either, where the truth counts 14 and 13. Both estimates
# give every object Gaussian errors of its pointing's empty apertures and
# measure it as a point source, and neither sees the light of its
# neighbours. Subtracting all 15 would not rescue the test: at most 5 lie in
# one bin.
#
# What does miss is the transfer from true to measured M_UV. Had the fields'
# own z > 8.5 galaxies come through the chain as the injected ones did, the
# injections' statistics applied to each of them predict the counts of every
# measured bin; they do, within Poisson errors, except at -20.25, where the
# coadd finds 67 against 51 expected and ASTERIS 74 against 49 (and ASTERIS
# 29 against 19 at -21.25). Per true M_UV, the fields' galaxies are selected
# about as often as the injected ones (0.20 against 0.20 of them at true
# -19.75 in the coadd), but near the limit they are measured brighter: by a
# median of 0.15 and 0.44 mag at true M_UV = -19.75 and -19.25 in the coadd,
# where injected galaxies come out 0.04 and 0.28 mag brighter. With a steep
# function that moves faint galaxies into -20.25 and flattens the fitted
# slope. The closure test below copies the fields' own galaxies through the
# same injection road and finds copies and originals alike within 2 sigma,
# so the difference lies between the fields' galaxies and the injections as
# drawn, not in the road; finding it is the next step.

# %%
Markdown("Candidates per measured M_UV bin, found (with the subtracted background) and expected from the "
         "fields' own galaxies through the injections:\n\n" + through_injections_table(result=survey)
         + "\n\nPer true M_UV bin, the fields' own z > 8.5 galaxies and the injected ones (selected / all: "
         "median measured-minus-true M_UV of the selected):\n\n"
         + field_against_injected_table(result=survey))  # fmt: skip

# %% [markdown]
# The survey ran in rounds of two pointings on a local cluster of two
# workers, one thread each: 308-425 s a round (the longer ones simulated
# their mock fields first), 387 s a pointing on average, of which 218 s are
# the injections; the same pointings took 680-850 s a round before each
# realization computed only what its galaxies can change
# ({func}`asteris.science.high_z_recovery`, ``reuse``; {ref}`bench-scaling`).
# Its four realizations of 40 fit in one of 160, which on the same twenty
# pointings gives the same completeness and migration within 2 sd in every
# bin for a quarter of the injections' cost, less than the search
# ({ref}`bench-packing`); the survey keeps four, since four times the density
# raises the detection image's local noise around the field's own galaxies,
# which the closure copies must not see.
# The runner needs nothing but an address: the 12-pointing survey of mock
# version 3 ran on a scheduler and workers started by hand (cost table in
# {ref}`bench-survey`). A run folder records its mock version, so that
# pointings of a newer mock are never mixed into it.

# %% [markdown]
# ## Do the injections stand for the sky's galaxies? The closure test
#
# Everything above rests on one assumption: that the injected galaxies come
# through the chain as the sky's own galaxies do. On a mock pointing that can
# be checked directly, since the truth is known. `benchmarks/closure.py`
# copies every z > 8.5 galaxy of each pointing's truth, with its exact
# profile, size, per-band magnitudes, z and M_UV, to random positions through
# the same injection road ({func}`asteris.science.high_z_recovery` with
# ``sources``, 40 galaxies a realization as the survey injects them), searches
# them as the survey does, and compares them with the originals, found by the
# pointing's own search ({func}`asteris.science.closure_pointing`), per true
# M_UV bin, with errors bootstrapped over pointings
# ({func}`asteris.science.closure_table`; the ASTERIS model is fine-tuned on
# each pointing as in the survey). The originals counted are those on the
# pointing's footprint ({func}`asteris.science.footprint`: every band
# covered and 16 pixels inside the image), where injections can be placed
# and so where their completeness holds; the survey now counts candidates and
# area there too. The table reads the committed result
# (`benchmarks/results/closure.json`); a difference is judged where both
# sides hold ten galaxies or more of those it is computed from.

# %%
from asteris.book.report import closure_report_table, closure_summary

closure = committed_result("closure")
Markdown(closure_summary(result=closure) + "\n\nOriginals / copies per true M_UV bin (the difference in units of "
         "its error):\n\n" + closure_report_table(result=closure))  # fmt: skip

# %% [markdown]
# The injections close on the fields' own galaxies. On the eight pointings
# above (seeds 1-8, both methods) and on fourteen fresh skies that the survey
# never drew (seeds 101-114, the coadd; `closure.json`, `fresh_skies`),
# every judged difference between originals and copies lies within 2 sigma:
# at most 1.9 sigma for the coadd, 1.8 for ASTERIS and 1.6 on the fresh
# skies. The deficit a separate test had found near the limit (originals
# selected at half their copies' rate at true M_UV = -19.25, 3.6 sigma over
# eleven pointings with errors over pointings alone) is 0.046 against 0.062
# here (-0.9 sigma) and 0.050 against 0.063 on the fresh skies (-0.9 sigma):
# the bootstrap over galaxies, which few pointings need, and new skies both
# put it within chance. Counting the originals off the footprint as well,
# as the survey did before, changes no verdict (the benchmarks page gives
# that table), and the survey's density of injections, 40 galaxies per
# 512 x 512 pixels, moves the field's own detections by under 2% in S/N
# (`tests/test_closure.py`; one copy per field galaxy, four times as many,
# moves them by 10%, which is why an earlier test saw originals lost).
#
# So the transfer from true to measured M_UV that the injections give is
# the sky's, within these errors, and what remains of the survey's miss lies
# in how the completeness and the migration are sampled and propagated:
# the committed survey drew 160 injections per pointing uniformly in M_UV
# and z and gave the counts Poisson errors alone. The estimator now gives
# each bin an error budget from the pointings drawn again (the spread of the
# counts and of the bin's effective volume, added in quadrature), its mean
# completeness, and judges a bin only where that is 15% or more: within the
# next bin, at M_UV = -19.25, the completeness falls threefold, so its
# average depends on the assumed shape of the function within the bin as
# much as on the injections. Run on the closure test's pointings with four
# realizations of injections per pointing ({ref}`bench-closure`), it
# recovers the coadd's input on the fourteen fresh skies (all four judged
# bins within errors and a faint-end slope of -2.52, 68% interval -2.86 to
# -1.73, with injections drawn as a population is distributed; three of four
# and -2.36 with uniform ones), while on the survey's first eight seeds the
# bin at M_UV = -20.25 stays 1.5-1.9 times the input and the slope flatter
# (-1.81 and -1.68). The twenty-pointing survey above, run with this
# estimator, shows the same: its -20.25 bin holds 1.5 times its skies' own
# density.

# %% [markdown]
# ## Summary
#
# The luminosity function is only as good as its completeness, which is
# why it is measured through the whole chain and why its fall within a bin
# is followed. On this field both methods recover the input function within
# the Poisson intervals in the three brightest bins (M_UV = -22, -21 and
# -20), with the same number of candidates there to within one (15 and 14).
# Fluxes are measured on the coadds for both (dual-image mode, chapter 5), so
# their M_UV agree, and the injected galaxies come through the chain at
# similar rates (selected 0.37 and 0.33 of 60). The faintest bin (M_UV = -19)
# shows what an effective volume near zero does: the coadd's two candidates
# there and ASTERIS's one, divided by an effective volume below 1 Mpc^3, give
# densities 20 to 60 times the input. The double-power-law faint-end slopes,
# -2.6 +1.0 -0.6 (coadd) and -2.4 +0.8 -0.7 (ASTERIS) against an input of
# -2.6, are too loose to tell the two
# apart. The benchmark
# (`benchmarks/photoz_uvlf.py`) repeats this with more injections and half-
# magnitude bins. Over twenty pointings (`benchmarks/survey_uvlf.py`), run
# again with injections drawn as a population and an error budget per bin,
# the recovery still fails, for the coadd as for ASTERIS (2 of 5 judged bins
# within errors of the input; faint-end slopes -1.69 and -1.32 against
# -2.60). The injection road is not the cause: copies of the fields' own
# galaxies come through it as the originals do, within 2 sigma in every
# judged bin on 22 pointings (`benchmarks/closure.py`). What remains is the
# bright end of these twenty skies, which lies above the input, an excess at
# M_UV = -20.25 over what the injections' transfer predicts from the fields'
# own galaxies, and a contamination of 6.5% that no estimate without the
# truth yet reaches. Until the chain recovers its input, it supports no
# depth claim for the luminosity function.
