from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The published-network test vectors, beside the checkout; skip when absent."""
    if not (GOLDEN / "state_dict_layout.json").exists():
        pytest.skip(f"golden vectors not found at {GOLDEN} (the shared/ folder beside the checkout)")
    return GOLDEN


@pytest.fixture
def tiny_net():
    import torch

    from asteris import build_network

    torch.manual_seed(0)
    return build_network(frames=8, f_maps=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1).eval()


@pytest.fixture
def noise_stack():
    return np.random.default_rng(1).normal(5.0, 1.0, (16, 40, 48)).astype(np.float32)


@pytest.fixture(scope="module")
def module_data_dir(tmp_path_factory):
    """A data folder of the test module's own (cached EAZY grids, mock fields) for its whole run."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("data")
        patch.setenv("ASTERIS_DATA_DIR", str(folder))
        yield folder
