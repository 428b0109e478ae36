import os
import shutil
import sys
from pathlib import Path

# `make test` runs two test processes on a 2-core machine, each with torch on two threads. OpenMP
# threads that spin while they wait then hold the cores the other process needs: the suite took
# 742 s, against 607 s with passive waiting. It must be set before torch loads: here, and so in
# every process the suite starts. Waiting changes no result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "golden"
# the test helpers (fields, standins) import by name from every folder of the tests
sys.path.insert(0, str(Path(__file__).resolve().parent))


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


# ------------------------------------------------------------------ the archives' stand-ins

_MAST = None
_MAST_CONFIG = None  # the astroquery configuration folder pointing at the stand-in, removed at the end
#: Rows per page the stand-in session's astroquery asks for: small, so that queries page.
MAST_PAGESIZE = 7


def pytest_configure(config):
    """Point astroquery's ``[mast] server`` at a local stand-in for the whole session, before anything
    imports ``astroquery.mast`` (its URLs are fixed at import): no test reaches the real archive."""
    global _MAST, _MAST_CONFIG
    if config.getoption("remote_data", default="none") not in ("none", None):
        return
    import tempfile

    from standins import MastStandin

    _MAST = MastStandin().__enter__()
    _MAST_CONFIG = Path(tempfile.mkdtemp(prefix="asteris-astroquery-config-"))
    os.environ["ASTROPY_CONFIG_DIR"] = str(_MAST.astroquery_config(_MAST_CONFIG, pagesize=MAST_PAGESIZE))


def pytest_unconfigure(config):
    if _MAST is not None:
        _MAST.__exit__(None, None, None)
    if _MAST_CONFIG is not None:
        shutil.rmtree(_MAST_CONFIG, ignore_errors=True)


@pytest.fixture
def mast():
    """The session's MAST stand-in, emptied for the test."""
    if _MAST is None:
        pytest.skip("--remote-data: astroquery talks to the real MAST")
    _MAST.reset()
    return _MAST


@pytest.fixture
def hsc(monkeypatch):
    """An HSC-SSP (das_cutout, hips2fits) stand-in, with the package pointed at it."""
    from standins import HscStandin

    with HscStandin() as server:
        for key, value in server.environment().items():
            monkeypatch.setenv(key, value)
        yield server


@pytest.fixture
def train_stack():
    """Sixteen noisy exposures of a faint smooth sky, 48 x 48 px: enough to train the tiny network."""
    rng = np.random.default_rng(0)
    sky = rng.normal(0, 3, (48, 48)).clip(0) + 10
    return (sky + rng.normal(0, 1, (16, 48, 48))).astype(np.float32)


def pytest_collection_modifyitems(config, items):
    """The files that hold slow tests first, in their order: `make test` hands whole files to two
    processes in this order, and the two then end together instead of one waiting on a long file."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort: the rest keep their order
