"""The closure test: a field's own z > 8.5 galaxies against their copies through the injection road."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

pytest.importorskip("eazy")

from fields import white_noise_bands  # noqa: E402

from asteris.errors import ConfigError  # noqa: E402
from asteris.science.closure import (  # noqa: E402
    closure_pointing,
    closure_significance,
    closure_table,
    field_high_z_galaxies,
)
from asteris.science.highz import footprint, high_z_injection_catalog, inject_high_z, search_high_z  # noqa: E402
from asteris.science.methods import coadd_method  # noqa: E402

pytestmark = pytest.mark.usefixtures("module_data_dir")  # EAZY grids cached per module

BANDS = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
FILTERS = {b: f"jwst_{b.lower()}" for b in BANDS}
LONG_BANDS = ["F277W", "F356W", "F444W"]
SHAPE = (144, 144)
EDGES = [-22.0, -21.0, -20.0]


def _rows(kind, pointing, selected, offset=0.0):
    n = len(selected)
    return QTable({"kind": [kind] * n, "pointing": [pointing] * n, "M_UV": np.full(n, -21.5) * u.mag,
                   "coadd_detected": np.ones(n, bool), "coadd_selected": np.asarray(selected, bool),
                   "coadd_M_UV": np.full(n, -21.5 + offset) * u.mag})  # fmt: skip


def test_the_table_compares_originals_with_copies_per_bin():
    from astropy.table import vstack

    same = vstack([_rows(k, p, [True, False] * 6) for p in "abcd" for k in ("original", "copy")])
    table = closure_table(same, ["coadd"], muv_edges=EDGES, n_boot=200)
    assert list(table["n_original"]) == [48, 0] and list(table["n_copy"]) == [48, 0]
    assert table["selected_original"][0] == table["selected_copy"][0] == 0.5
    assert table["selected_diff"][0] == 0 and table["selected_err"][0] > 0  # the galaxies' own spread
    assert closure_significance(table)["selected"][0] == 0
    assert table["selected_given_detected_original"][0] == 0.5 and table["detected_copy"][0] == 1.0
    assert np.isnan(table["selected_original"][1])  # an empty bin
    # originals selected a third as often and measured 0.3 mag brighter: the table says so, with errors
    originals = [_rows("original", p, [True] + [False] * (5 + i), offset=-0.3) for i, p in enumerate("abcd")]
    short = vstack(originals + [_rows("copy", p, [True, False] * (3 + i)) for i, p in enumerate("abcd")])
    table = closure_table(short, ["coadd"], muv_edges=EDGES, n_boot=300)
    sigma = closure_significance(table, min_galaxies=10)
    assert table["selected_diff"][0] < -0.25 and table["selected_err"][0] > 0
    assert sigma["selected"][0] < -2 and table["offset_diff"][0] == pytest.approx(-0.3)
    assert np.isnan(sigma["selected"][1])  # too few galaxies to judge
    assert np.isnan(sigma["offset"][0])  # four selected originals: too few for their median
    with pytest.raises(ConfigError, match="no column 'asteris_detected'"):
        closure_table(short, ["asteris"], muv_edges=EDGES)


def test_originals_off_the_footprint_are_flagged():
    truth = QTable({"x": [20.0, 2.0, 60.0, 200.0], "y": [20.0, 20.0, 60.0, 5.0], "z": [9.0, 9.5, 2.0, 10.0],
                    "type": ["high_z", "high_z", "galaxy", "high_z"]})  # fmt: skip
    truth["M_UV"] = [-20.0, -20.5, -18.0, -21.0] * u.mag
    inside = np.zeros(SHAPE, bool)
    inside[16:-16, 16:-16] = True
    galaxies = field_high_z_galaxies(truth, shape=SHAPE, inside=inside)
    assert list(galaxies["x"]) == [20.0, 2.0]  # the low-z galaxy and the one off the image are left out
    assert list(galaxies["covered"]) == [True, False]


@pytest.fixture(scope="module")
def field():
    """White noise at the mock's per-exposure depth with six bright z ~ 10 galaxies injected: a field
    whose own galaxies came through the injection road, so that its copies must close on them."""
    stacks, renderers = white_noise_bands(BANDS, SHAPE, exposures=6, seed=11)
    truth = high_z_injection_catalog(np.zeros(SHAPE, bool), FILTERS, n=6, muv_range=(-22.0, -21.4),
                                     z_range=(9.5, 10.5), min_separation=30.0, seed=3)  # fmt: skip
    truth["type"] = "high_z"
    return inject_high_z(stacks, truth, renderers, FILTERS), renderers, truth


@pytest.mark.slow
def test_a_field_made_by_injection_closes_on_its_copies(field):
    stacks, renderers, truth = field
    coadd = coadd_method("ivar")
    images = {b: coadd(s) for b, s in stacks.items()}
    found = {"coadd": search_high_z(images, renderers, FILTERS, detection_bands=LONG_BANDS)}
    rows = closure_pointing(stacks, renderers, {"coadd": coadd}, FILTERS, truth, found, copies=2,
                            n_per_realization=4, inside=footprint(stacks), detection_bands=LONG_BANDS,
                            measure_with=coadd, seed=5)  # fmt: skip
    originals, copies = rows[rows["kind"] == "original"], rows[rows["kind"] == "copy"]
    assert len(originals) == 6 and len(copies) == 12
    assert sorted(copies["source"]) == sorted(list(range(6)) * 2)
    np.testing.assert_allclose(copies["M_UV"].value, originals["M_UV"].value[copies["source"]])
    assert originals["coadd_selected"].sum() >= 5 and copies["coadd_selected"].sum() >= 10
    rows["pointing"] = "one"
    table = closure_table(rows, ["coadd"], muv_edges=[-22.0, -21.0], n_boot=50, covered_only=False)
    assert abs(table["offset_diff"][0]) < 0.15
    with pytest.raises(ConfigError, match="no search of the field itself"):
        closure_pointing(stacks, renderers, {"coadd": coadd, "other": coadd}, FILTERS, truth, found)


def test_a_survey_folder_gives_its_closure_rows(tmp_path):
    from asteris.science.survey import SurveyConfig, survey_closure

    (tmp_path / "survey.json").write_text(json.dumps({"config": SurveyConfig().to_dict()}))
    for name in ("p1", "p2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"name": name}))
        _rows("original", name, [True, False]).write(tmp_path / name / "closure.ecsv")
    rows = survey_closure(tmp_path)
    assert len(rows) == 4 and sorted(set(rows["pointing"])) == ["p1", "p2"]
    (tmp_path / "p2" / "closure.ecsv").unlink()
    with pytest.raises(ConfigError, match="closure_copies=0"):
        survey_closure(tmp_path)


@pytest.mark.slow
def test_injections_at_the_survey_density_leave_the_field_detections_alone():
    """A realization of the survey's injections (40 galaxies per 512 x 512 pixels) must not move the
    field's own detections away from the injected galaxies, else the copies would be measured in a
    more crowded field than their originals; four times as many do move them (the local noise of
    the detection image rises)."""
    from asteris.mock import MockPointing
    from asteris.science.catalog import multiband_catalog
    from asteris.science.matching import match_positions
    from asteris.science.survey import SurveyConfig

    config = SurveyConfig()
    shape = (320, 320)
    stacks, renderers, _, _ = MockPointing(3, shape=shape, exposures=8).load(config.bands)
    coadd, bands = coadd_method("ivar"), list(config.detection_bands)

    def detections(band_stacks):
        images = {b: coadd(band_stacks[b]) for b in bands}
        return multiband_catalog(images, {b: renderers[b] for b in bands}, detection_bands=bands)

    def moved(per_512: int) -> tuple[float, float]:
        """Of the field's detections 16 px or more from any injection, the fraction of those above
        S/N 6 (clear of the threshold, 5) found again, and the median relative change of their S/N."""
        n = round(per_512 * shape[0] * shape[1] / 512**2)
        injected = high_z_injection_catalog(~footprint(stacks), FILTERS, n=n, muv_range=(-21.0, -19.0),
                                            min_separation=8.0, seed=9)  # fmt: skip
        after = detections(inject_high_z(stacks, injected, renderers, FILTERS))
        x, y = np.asarray(before["x"], float), np.asarray(before["y"], float)
        ix, iy = np.asarray(injected["x"], float), np.asarray(injected["y"], float)
        away = np.min(np.hypot(x[:, None] - ix[None], y[:, None] - iy[None]), axis=1) > 16
        match = match_positions(x[away], y[away], after["x"], after["y"], 1.0)
        kept, snr = match >= 0, np.asarray(before["snr_det"])[away]
        ratio = np.asarray(after["snr_det"])[match[kept]] / snr[kept]
        return float(np.mean(kept[snr > 6])), float(np.median(np.abs(ratio - 1)))

    before = detections(stacks)
    kept, change = moved(40)
    assert kept >= 0.97 and change < 0.03, (kept, change)
    crowded = moved(160)
    assert crowded[1] > 2 * change, (crowded, change)
