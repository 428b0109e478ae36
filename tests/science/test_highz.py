import gc

import numpy as np
import pytest
from fields import white_noise_bands

from asteris.errors import ConfigError
from asteris.science.highz import high_z_injection_catalog, high_z_recovery, inject_high_z, search_high_z
from asteris.science.methods import coadd_method
from asteris.stack import Stack, read_stack

pytestmark = pytest.mark.usefixtures("module_data_dir")  # EAZY grids cached per module

BANDS = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
FILTERS = {b: f"jwst_{b.lower()}" for b in BANDS}
SHAPE = (112, 112)
LONG_BANDS = ["F277W", "F356W", "F444W"]


@pytest.fixture(scope="module")
def field():
    """Eight exposures of white noise per band at the mock's per-exposure depth."""
    return white_noise_bands(BANDS, SHAPE, exposures=8, seed=5)


def test_injection_catalog_of_high_z_galaxies():
    avoid = np.zeros(SHAPE, bool)
    cat = high_z_injection_catalog(avoid, FILTERS, n=6, muv_range=(-21, -20), z_range=(9, 11), seed=2)
    assert len(cat) == 6 and set(np.unique(cat["id"])) == set(range(1, 7))
    assert np.all((cat["M_UV"].value >= -21) & (cat["M_UV"].value <= -20))
    assert np.all((cat["z"] >= 9) & (cat["z"] <= 11))
    assert np.all(cat["mag_jwst_f090w"].value > 35)  # blueward of Lyman-alpha: the IGM absorbs everything
    assert np.all(cat["mag_jwst_f200w"].value < 29) and np.all(cat["r_e"].value > 0)
    again = high_z_injection_catalog(avoid, FILTERS, n=6, muv_range=(-21, -20), z_range=(9, 11), seed=2)
    np.testing.assert_array_equal(cat["mag_jwst_f277w"], again["mag_jwst_f277w"])


def test_pure_noise_yields_no_candidates(field):
    stacks, renderers = field
    images = {b: coadd_method("ivar")(s) for b, s in stacks.items()}
    found = search_high_z(images, renderers, FILTERS, detection_bands=LONG_BANDS)
    assert int(np.sum(found["selected"])) == 0


@pytest.mark.slow
def test_bright_high_z_galaxies_come_through_the_whole_chain(field):
    stacks, renderers = field
    coadd = coadd_method("ivar")
    # "halved": every flux 0.75 mag too faint on its own image; measured on the coadd (dual-image), it is not
    methods = {"coadd": coadd, "halved": lambda stack: 0.5 * coadd(stack)}
    recovery = high_z_recovery(stacks, renderers, methods, FILTERS, n_per_realization=6, realizations=1,
                               muv_range=(-21.8, -21.0), z_range=(9.5, 11.0), detection_bands=LONG_BANDS,
                               measure_with=coadd, seed=3, progress=False)  # fmt: skip
    np.testing.assert_allclose(recovery["halved_M_UV"].value, recovery["coadd_M_UV"].value, atol=1e-6)
    assert len(recovery) == 6
    assert recovery["coadd_detected"].all()
    assert recovery["coadd_selected"].sum() >= 5
    dz = (recovery["coadd_z_phot"] - recovery["z"]) / (1 + recovery["z"])
    assert np.all(np.abs(dz) < 0.1), recovery["z", "coadd_z_phot"]
    dm = recovery["coadd_M_UV"].value - recovery["M_UV"].value
    assert np.median(np.abs(dm)) < 0.3, dm


def test_injected_stacks_keep_the_noise_and_add_flux(field):
    stacks, renderers = field
    avoid = np.zeros(SHAPE, bool)
    cat = high_z_injection_catalog(avoid, FILTERS, n=3, muv_range=(-21, -20.5), z_range=(9, 10))
    injected = inject_high_z(stacks, cat, renderers, FILTERS)
    assert set(injected) == set(BANDS)
    np.testing.assert_allclose(injected["F090W"].data, stacks["F090W"].data, atol=1e-9)
    assert injected["F277W"].data.sum() > stacks["F277W"].data.sum()


def test_truth_matching_and_figures():
    from astropy.table import QTable

    from asteris.science.highz import photoz_accuracy, selection_against_truth, with_truth

    truth = QTable({"x": [10.0, 50.0, 90.0, 200.0], "y": [10.0, 50.0, 90.0, 5.0]})
    truth["type"], truth["z"] = ["high_z", "galaxy", "star", "high_z"], [9.5, 2.0, 0.0, 10.0]
    truth["M_UV"] = [-20.0, -18.0, np.nan, -21.0]
    found = QTable({"x": [10.5, 50.2, 90.1, 30.0], "y": [10.0, 49.6, 90.0, 30.0]})
    found["snr_det"], found["z_phot"] = [12.0, 30.0, 50.0, 6.0], [9.4, 2.9, 1.0, 9.0]
    found["selected"] = [True, False, False, True]
    matched = with_truth(found, truth)
    assert list(matched["true_type"]) == ["high_z", "galaxy", "star", "spurious"]
    accuracy = photoz_accuracy(matched, snr_bins=(5.0, 20.0, np.inf))
    assert list(accuracy["n"]) == [2, 1, 1]  # the star and the spurious source are left out
    assert accuracy["outlier_fraction"][0] == 0.5  # (2.9 - 2) / 3 = 0.3 is an outlier, 0.1 / 10.5 is not
    figures = selection_against_truth(matched, truth, shape=(112, 112))
    assert figures["n_true_high_z_in_field"] == 1  # the one at x = 200 lies outside the image
    assert figures["highz_completeness"] == 1.0 and figures["highz_contamination"] == 0.5
    assert figures["contaminant_types"] == ["spurious"]


def test_truth_matching_prefers_the_brightest_neighbour():
    import astropy.units as u
    from astropy.table import QTable

    from asteris.science.highz import with_truth

    truth = QTable({"x": [10.0, 11.5], "y": [10.0, 10.0], "type": ["galaxy", "high_z"], "z": [2.0, 9.5]})
    truth["M_UV"] = [-15.0, -20.0] * u.mag
    truth["mag_jwst_f356w"] = [31.0, 27.0] * u.ABmag
    found = QTable({"x": [10.2], "y": [10.0]})
    assert (
        with_truth(found, truth)["true_type"][0] == "high_z"
    )  # the faint dwarf is closer, not what was seen
    truth.remove_column("mag_jwst_f356w")
    assert with_truth(found, truth)["true_type"][0] == "galaxy"  # without magnitudes: the closest


def test_truth_matching_falls_back_to_the_closest_object_further_out():
    from astropy.table import QTable

    from asteris.science.highz import with_truth

    truth = QTable({"x": [10.0, 40.0], "y": [10.0, 40.0], "type": ["high_z", "galaxy"], "z": [9.5, 2.0]})
    truth["M_UV"] = [-20.0, -15.0]
    found = QTable({"x": [13.1, 80.0], "y": [10.0, 80.0]})  # 3.1 px off a blended galaxy's centre; nothing
    assert list(with_truth(found, truth)["true_type"]) == ["spurious", "spurious"]
    matched = with_truth(found, truth, fallback_radius=4.0)
    assert list(matched["true_type"]) == ["high_z", "spurious"]
    assert list(matched["true_index"]) == [0, -1]


def test_given_galaxies_are_injected_as_they_are(field):
    """``sources``: the rows given (say, copies of a field's own galaxies), placed at random, in as many
    realizations as they need, each result row naming its source row."""
    stacks, renderers = field
    given = high_z_injection_catalog(np.zeros(SHAPE, bool), FILTERS, n=5, muv_range=(-21.8, -21.2),
                                     z_range=(9.5, 10.5), seed=4)  # fmt: skip
    methods = {"coadd": coadd_method("ivar")}
    recovery = high_z_recovery(stacks, renderers, methods, FILTERS, n_per_realization=3,
                               detection_bands=LONG_BANDS, sources=given, seed=1, progress=False)  # fmt: skip
    assert list(recovery["source"]) == [0, 1, 2, 3, 4] and list(recovery["realization"]) == [0, 0, 0, 1, 1]
    np.testing.assert_allclose(recovery["M_UV"].value, given["M_UV"].value)
    assert not np.allclose(recovery["x"], given["x"])  # placed anew
    assert recovery["coadd_detected"].all()
    with pytest.raises(ConfigError, match="no columns"):
        inject_high_z(stacks, given[["x", "y"]], renderers, FILTERS)


def test_the_footprint_is_where_every_band_has_data():
    from asteris.science.highz import footprint

    data = np.ones((2, 64, 64), np.float32)
    gap = data.copy()
    gap[:, 30:34] = 0.0  # a row of pixels without data in one band
    inside = footprint({"a": read_stack(data), "b": read_stack(gap)}, edge=4)
    assert not inside[:4].any() and not inside[:, -4:].any() and not inside[30:34].any()
    assert inside[10, 10] and inside.sum() == (64 - 8 - 4) * (64 - 8)


def test_injections_drawn_as_a_population_crowd_the_faint_end_and_carry_weights_to_the_volume():
    """``muv_slope``: M_UV from a steep luminosity function and z from the comoving volume (a quarter
    still uniform); ``z_weight`` turns the z's drawn into the comoving volume's."""
    from asteris.science.highz import UNIFORM_SHARE
    from asteris.science.uvlf import population_weights

    avoid = np.zeros((400, 400), bool)
    kw = {"n": 300, "muv_range": (-22.5, -18.5), "z_range": (8.5, 16.0), "min_separation": 4.0, "seed": 6}
    flat = high_z_injection_catalog(avoid, FILTERS, **kw)
    steep = high_z_injection_catalog(avoid, FILTERS, muv_slope=-2.0, **kw)
    assert "z_weight" not in flat.colnames
    faint = [np.mean(c["M_UV"].value > -20.5) for c in (flat, steep)]
    assert faint[1] > faint[0] + 0.2  # density ~ L^-1: about three quarters fainter than -20.5
    z = np.asarray(steep["z"], float)
    w = np.asarray(steep["z_weight"], float)
    volume = population_weights(z, z_range=(8.5, 16.0))
    np.testing.assert_allclose(w, volume / (UNIFORM_SHARE + (1 - UNIFORM_SHARE) * volume))


def test_population_draws_follow_their_distributions():
    from scipy import stats

    from asteris.science.highz import UNIFORM_SHARE, _population_draws
    from asteris.science.uvlf import population_weights

    muvs, z = _population_draws(np.random.default_rng(3), 40000, (-22.5, -18.5), (8.5, 16.0), -2.0)
    grid = np.linspace(8.5, 16.0, 4001)
    volume = np.cumsum(population_weights(grid, z_range=(8.5, 16.0)))
    volume /= volume[-1]
    mixture = UNIFORM_SHARE * (grid - 8.5) / 7.5 + (1 - UNIFORM_SHARE) * volume
    assert stats.kstest(z, lambda x: np.interp(x, grid, mixture)).pvalue > 0.01
    assert stats.kstest(z, "uniform", args=(8.5, 7.5)).pvalue < 1e-3  # the volume's fall is seen
    # M_UV: density ~ exp(k M) with k = 0.4 ln 10 for slope -2 (~ L^-1), a quarter uniform
    k, edges = 0.4 * np.log(10), np.array([-22.5, -22.0, -19.0, -18.5])
    steep = np.diff(np.exp(k * edges)) / (np.exp(k * -18.5) - np.exp(k * -22.5))
    expected = UNIFORM_SHARE * np.diff(edges) / 4.0 + (1 - UNIFORM_SHARE) * steep
    np.testing.assert_allclose(np.histogram(muvs, edges)[0] / muvs.size, expected, rtol=0.05)


def test_injections_reuse_what_they_cannot_change_and_give_the_same_rows(field):
    """``reuse``: the non-measuring method's images of the detection bands alone, photo-z only near the
    injected galaxies; every row and column is that of the full chain."""
    stacks, renderers = field
    coadd = coadd_method("ivar")
    calls = []

    def counted(stack):
        calls.append(stack)
        return 0.8 * coadd(stack)

    methods = {"coadd": coadd, "scaled": counted}
    options = dict(n_per_realization=5, realizations=2, muv_range=(-21.5, -19.5), z_range=(9.0, 11.0),
                   detection_bands=LONG_BANDS, measure_with=coadd, seed=4, progress=False)  # fmt: skip
    reused = high_z_recovery(stacks, renderers, methods, FILTERS, **options)
    assert len(calls) == 2 * len(LONG_BANDS)
    full = high_z_recovery(stacks, renderers, methods, FILTERS, reuse=False, **options)
    assert len(calls) == 2 * len(LONG_BANDS) + 2 * len(BANDS)
    assert reused.colnames == full.colnames and reused["coadd_detected"].sum() >= 5
    for name in full.colnames:
        np.testing.assert_array_equal(np.asarray(reused[name]), np.asarray(full[name]), err_msg=name)


def test_injections_hold_one_band_of_injected_exposures_at_a_time(field):
    """A realization injects, images and drops one band before the next, so a large pointing holds
    one band's injected exposures, not a copy of every band's (counted when each image is made)."""
    stacks, renderers = field
    coadd, held = coadd_method("ivar"), []
    gc.collect()
    # type(), not isinstance(): isinstance reads __class__, which some of torch's deprecated objects warn on
    earlier = {id(o) for o in gc.get_objects() if type(o) is Stack}

    def recording(stack):
        held.append(sum(type(o) is Stack and id(o) not in earlier for o in gc.get_objects()))
        return coadd(stack)

    high_z_recovery(stacks, renderers, {"coadd": recording}, FILTERS, n_per_realization=4, realizations=1,
                    detection_bands=LONG_BANDS, measure_with=recording, seed=1, progress=False)  # fmt: skip
    assert held == [1] * len(BANDS)


def test_a_search_around_positions_gives_the_rows_of_the_whole_search(field):
    stacks, renderers = field
    cat = high_z_injection_catalog(np.zeros(SHAPE, bool), FILTERS, n=4, muv_range=(-21.5, -21.0),
                                   z_range=(9.5, 10.0), seed=8)  # fmt: skip
    images = {b: coadd_method("ivar")(s) for b, s in inject_high_z(stacks, cat, renderers, FILTERS).items()}
    whole = search_high_z(images, renderers, FILTERS, detection_bands=LONG_BANDS)
    near = search_high_z(images, renderers, FILTERS, detection_bands=LONG_BANDS, around=(cat["x"], cat["y"]))
    assert 0 < len(near) < len(whole) or len(near) == len(whole) == 4
    at = list(zip(np.asarray(whole["x"]), np.asarray(whole["y"])))
    rows = [at.index((x, y)) for x, y in zip(np.asarray(near["x"]), np.asarray(near["y"]))]
    for name in ("snr_det", "f_F356W", "z_phot", "selected", "M_UV"):
        np.testing.assert_array_equal(np.asarray(near[name]), np.asarray(whole[name])[rows], err_msg=name)


@pytest.mark.slow
def test_realizations_spread_over_a_cluster_give_the_same_rows(field):
    """Spread, each realization's bands are parts of their own, then each realization's search (parts
    of a size that spread evenly over a few workers); the rows are those made here, in turn."""
    distributed = pytest.importorskip("distributed")
    from asteris.fanout import cluster_map

    stacks, renderers = field
    coadd = coadd_method("ivar")
    methods = {"coadd": coadd, "scaled": lambda stack: 0.8 * coadd(stack)}
    options = dict(n_per_realization=4, realizations=3, muv_range=(-21.5, -20.0), z_range=(9.0, 11.0),
                   detection_bands=LONG_BANDS, measure_with=coadd, seed=6, progress=False)  # fmt: skip
    alone = high_z_recovery(stacks, renderers, methods, FILTERS, **options)
    parts = []

    def counting(function, items):
        parts.append(len(items))
        return mapper(function, items)

    with distributed.Client(n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        mapper = cluster_map(client)
        spread = high_z_recovery(stacks, renderers, methods, FILTERS, mapper=counting, **options)
    assert parts == [3 * len(BANDS), 3]
    assert list(spread["realization"]) == [0] * 4 + [1] * 4 + [2] * 4
    for name in alone.colnames:
        np.testing.assert_array_equal(np.asarray(spread[name]), np.asarray(alone[name]), err_msg=name)


def test_galaxies_with_no_detection_near_them_are_missed_not_an_error(field):
    """A search around injected galaxies can find nothing at all near them (too faint here)."""
    stacks, renderers = field
    methods = {"coadd": coadd_method("ivar")}
    recovery = high_z_recovery(stacks, renderers, methods, FILTERS, n_per_realization=3, realizations=1,
                               muv_range=(-15.0, -14.5), z_range=(9.0, 10.0), detection_bands=LONG_BANDS,
                               seed=2, progress=False)  # fmt: skip
    assert len(recovery) == 3 and not recovery["coadd_detected"].any()
    assert np.all(np.isnan(recovery["coadd_M_UV"].value))
