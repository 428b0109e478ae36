"""The inference engine: options, tiles, the per-tile offset and the network on tiles."""

import warnings

import numpy as np
import pytest
import torch

from asteris.engine import tile_offset


@pytest.mark.parametrize("exposures", [1, 4, 7, 8])
def test_tile_offset_is_the_numpy_median_of_medians(exposures):
    rng = np.random.default_rng(exposures)
    tile = rng.normal(5, 1, (exposures, 33, 40)).astype(np.float32)
    tile[rng.random(tile.shape) < 0.3] = 0  # no data
    tile[:, :4] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(np.nanmedian(np.where(tile != 0, tile, np.nan), axis=0))
    assert tile_offset(torch.from_numpy(tile)).item() == expected
    assert tile_offset(torch.zeros((exposures, 8, 8))).item() == 0


def test_options_are_checked_once_and_name_what_is_wrong():
    from asteris.engine import InferenceOptions
    from asteris.errors import ConfigError

    options = InferenceOptions.resolve(None, tile_size=128, device="cpu")
    assert options.tile_size == 128 and options.overlap == 0.1
    assert "frames" not in options.network_options() and options.network_options()["device"] == "cpu"
    assert InferenceOptions.resolve(options, batch_size=4).tile_size == 128  # overrides keep the rest
    with pytest.raises(ConfigError, match="unknown inference option 'tiles'"):
        InferenceOptions.resolve(options, tiles=3)
    with pytest.raises(ConfigError, match="tile_size"):
        InferenceOptions(tile_size=-5)


def test_tiles_are_multiples_of_the_network_and_no_larger_than_the_image():
    from asteris.engine import tile_geometry

    assert tile_geometry((100, 70), 8, 64, 0.1) == ((64, 64), (6, 6))
    assert tile_geometry((40, 200), 16, 100, 0.25) == ((40, 96), (10, 24))


def test_a_network_is_taken_as_it_is_and_a_wrong_variant_refused(tiny_net):
    from asteris.engine import resolve_model

    assert resolve_model(tiny_net, None) is tiny_net and resolve_model(tiny_net, 8) is tiny_net
    with pytest.raises(ValueError, match="takes 8 frames, not 4"):
        resolve_model(tiny_net, 4)


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_importing_asteris_puts_large_tensors_on_huge_pages_unless_told_not_to(given, expected):
    """torch reads THP_MEM_ALLOC_ENABLE at its first large allocation: asteris sets it on import
    (`asteris.fanout.WORKER_ENV`), and a user's own setting stands."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    code = "import os, asteris; print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
