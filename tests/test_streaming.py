import numpy as np
import pytest
from astropy.io import fits
from scipy import stats

from asteris import denoise
from asteris.cli import main
from asteris.errors import OutputExistsError
from asteris.mock.synthetic import synthetic_stack
from asteris.stack import write_stack
from asteris.streaming import denoise_large, streamed_median, streamed_sigmaclip


def _blocks(values, size):
    return lambda: (values[i : i + size] for i in range(0, len(values), size))


def test_streamed_sigmaclip_matches_scipy():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 5000), rng.normal(40, 5, 60)]).astype(np.float32)
    values[::97] = np.nan
    _, low, high = stats.sigmaclip(values[np.isfinite(values)].astype(np.float64), 3, 3)
    assert streamed_sigmaclip(_blocks(values, 333)) == pytest.approx((low, high), rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 999, 1000])
def test_streamed_median_is_exact(n):
    values = np.random.default_rng(n).normal(0, 1, n).astype(np.float32)
    values = np.concatenate([values, [np.nan] * 3]).astype(np.float32)
    assert streamed_median(_blocks(values, 77)) == np.median(values[np.isfinite(values)].astype(np.float64))
    assert streamed_median(_blocks(np.full(10, 2.5, np.float32), 3)) == 2.5


@pytest.fixture
def cube(tmp_path):
    stack, _, _ = synthetic_stack(exposures=16, shape=(70, 90), n_sources=20, cosmic_rays=10)
    stack.data[:, :3, :] = 0  # an edge with no data
    stack.data[2, :, -4:] = np.nan  # one exposure that does not cover the field
    return write_stack(stack, tmp_path / "stack.fits")


def test_streamed_equals_in_memory(tmp_path, cube, tiny_net):
    ref = denoise(cube, model=tiny_net, tile_size=32, progress=False, output=tmp_path / "ref.fits")
    out = denoise_large(
        cube, model=tiny_net, output=tmp_path / "big.fits", tile_size=32, block_rows=13, progress=False
    )
    image = fits.getdata(out)
    assert image.shape == ref.image.shape == (67, 86)
    np.testing.assert_allclose(image, ref.image, rtol=0, atol=1e-6 * np.nanmax(np.abs(ref.image)))
    assert np.array_equal(fits.getdata(out, "MASK").astype(bool), ref.mask)
    h_ref, h_big = fits.getheader(tmp_path / "ref.fits"), fits.getheader(out)
    for key in ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "ASTNEXP", "ASTFRAME", "BUNIT"):
        assert h_big[key] == h_ref[key], key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.fits", "ref.fits", "stack.fits"]
    with pytest.raises(OutputExistsError):
        denoise_large(cube, model=tiny_net, output=out, progress=False)


def test_cli_stream(tmp_path, cube, tiny_net, capsys):
    from asteris import save_checkpoint

    model = save_checkpoint(tmp_path / "m.pt", tiny_net)
    args = [
        "denoise",
        str(cube),
        "--model",
        str(model),
        "--out",
        str(tmp_path / "o.fits"),
        "--stream",
        "--quiet",
    ]
    assert main(args) == 0
    assert fits.getdata(tmp_path / "o.fits").shape == (67, 86)
    assert main([*args[:-1], "--png", str(tmp_path / "x.png")]) == 2
    assert "--png" in capsys.readouterr().err
