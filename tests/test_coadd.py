import numpy as np
import pytest
from astropy.io import fits

from asteris.coadd import COADD_METHODS, coadd, exposure_variances, local_weights
from asteris.errors import ConfigError, OutputExistsError, StackMismatchError
from asteris.mock.synthetic import synthetic_wcs
from asteris.stack import Stack


@pytest.fixture
def noisy_stack():
    """16 exposures of a flat sky of 10 with unit noise, except exposures 0-3 at noise 3."""
    rng = np.random.default_rng(5)
    sigma = np.where(np.arange(16) < 4, 3.0, 1.0)[:, None, None]
    return (10 + sigma * rng.standard_normal((16, 96, 96))).astype(np.float32), sigma[:, 0, 0]


@pytest.mark.parametrize("method", COADD_METHODS)
def test_every_method_ignores_no_data_and_keeps_the_grid(method, noisy_stack):
    data, _ = noisy_stack
    data = data.copy()
    data[:, :2] = 0  # no data in any exposure
    data[:8, 10, 10] = np.nan  # no data in half the exposures
    result = coadd(Stack(data, wcs=synthetic_wcs(data.shape[1:])), method=method)
    assert result.image.shape == data.shape[1:] and result.crop == (slice(0, 96), slice(0, 96))
    assert np.isnan(result.image[:2]).all() and not result.mask[:2].any()
    assert result.mask[2:].all() and abs(result.image[10, 10] - 10) < 2
    assert result.header["ASTCOADD"] == method and result.wcs is not None


def test_rejecting_methods_remove_a_cosmic_ray(noisy_stack):
    data, _ = noisy_stack
    data = data.copy()
    data[7, 40, 40] += 500.0
    assert coadd(data, method="mean").image[40, 40] > 30
    for method in ("median", "sigma_clip", "ivar"):
        assert abs(coadd(data, method=method).image[40, 40] - 10) < 1.5, method


def test_ivar_weights_follow_the_exposure_noise(noisy_stack):
    data, sigma = noisy_stack
    variance = exposure_variances(data)
    ratio = variance / variance[-1]
    np.testing.assert_allclose(ratio, sigma**2, rtol=0.15)
    # inverse-variance weighting beats the plain mean when exposures differ in depth
    noise = {m: np.std(coadd(data, method=m).image) for m in ("mean", "ivar")}
    expected_ivar = 1 / np.sqrt(np.sum(1 / sigma**2))
    expected_mean = np.sqrt(np.sum(sigma**2)) / len(sigma)
    assert noise["ivar"] == pytest.approx(expected_ivar, rel=0.08)
    assert noise["mean"] == pytest.approx(expected_mean, rel=0.08)


def test_median_is_the_temporal_median(noisy_stack):
    data, _ = noisy_stack
    assert np.array_equal(coadd(data, method="median").image, np.median(data, axis=0))


def test_bad_options_and_overwrite(tmp_path, noisy_stack):
    data, _ = noisy_stack
    with pytest.raises(ConfigError, match="unknown coadd method"):
        coadd(data, method="drizzle")
    with pytest.raises(ConfigError, match="sigma"):
        coadd(data, sigma=0)
    out = tmp_path / "coadd.fits"
    coadd(data, method="mean", output=out)
    assert fits.getheader(out)["ASTCOADD"] == "mean"
    with pytest.raises(OutputExistsError):
        coadd(data, method="mean", output=out)
    coadd(data, method="median", output=out, overwrite=True)
    assert fits.getheader(out)["ASTCOADD"] == "median"


def test_cli_coadd(tmp_path, noisy_stack, capsys):
    from asteris.cli import main
    from asteris.stack import write_stack

    cube = write_stack(Stack(noisy_stack[0]), tmp_path / "cube.fits")
    main(["coadd", str(cube), "--out", str(tmp_path / "c.fits"), "--method", "sigma_clip"])
    assert "sigma_clip of 16 exposures" in capsys.readouterr().out
    assert fits.getdata(tmp_path / "c.fits").shape == (96, 96)


def test_local_ivar_weighs_an_exposure_down_where_it_carries_structure_the_others_do_not(noisy_stack):
    data, sigma = noisy_stack
    data = data[4:].copy()  # twelve exposures of unit noise
    rng = np.random.default_rng(1)
    data[0, :48] += 2.0 * rng.standard_normal((48, 1))  # striping in the top half of exposure 0
    weights = local_weights(data.astype(float), np.median(data, axis=0).astype(float))
    top, bottom = weights[:, 8:40, 8:88].mean(axis=(1, 2)), weights[:, 56:88, 8:88].mean(axis=(1, 2))
    assert top[0] < 0.2 * top[1:].mean()  # the striped half weighs little
    assert bottom[0] == pytest.approx(bottom[1:].mean(), rel=0.15)  # the clean half as the others
    striped = coadd(data, method="local_ivar").image
    plain = coadd(data, method="ivar").image
    assert np.std(striped[8:40, 8:88].mean(axis=1)) < 0.65 * np.std(plain[8:40, 8:88].mean(axis=1))


def test_local_ivar_takes_a_prediction_of_the_right_shape_only(noisy_stack):
    data, _ = noisy_stack
    with pytest.raises(StackMismatchError, match="prediction"):
        coadd(data, method="local_ivar", prediction=np.zeros((8, 8)))
    with pytest.raises(ConfigError, match="local_ivar"):
        coadd(data, method="ivar", prediction=np.zeros(data.shape[1:]))
    flat = coadd(data, method="local_ivar", prediction=np.full(data.shape[1:], 10.0)).image
    assert abs(np.nanmean(flat) - 10) < 0.05
