"""The embedded default data: mock fields built on first use and cached on disk.

The cache lives in ``$ASTERIS_DATA_DIR`` when set, else ``~/.cache/asteris``.
Each field sits in a folder named after its parameters, so different
requests never collide and the same request is built only once.

>>> default_parameters("nircam")["shape"]
(768, 768)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from .instruments import get_instrument
from .noise import NoiseConfig
from .population import PopulationConfig
from .simulate import MockField, read_mock_field, simulate_field

__all__ = ["mock_field", "data_dir", "default_parameters", "DATA_DIR_ENV"]

DATA_DIR_ENV = "ASTERIS_DATA_DIR"

#: The default fields: 2 CPU cores build either in well under two minutes.
_DEFAULTS = {
    "nircam": {"shape": (768, 768), "exposures": 16, "population": PopulationConfig()},
    # HSC reaches ~26 mag, so galaxies fainter than 28.5 only add time
    "hsc": {"shape": (384, 384), "exposures": 16, "population": PopulationConfig(galaxy_mags=(18.0, 28.5))},
}


def data_dir() -> Path:
    """Where datasets are cached: ``$ASTERIS_DATA_DIR`` or ``~/.cache/asteris``."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "asteris").expanduser()


def default_parameters(instrument: str = "nircam") -> dict:
    """Shape, exposures and population of the default field of ``instrument``."""
    return dict(_DEFAULTS[get_instrument(instrument).name])


def _key(params: dict) -> str:
    text = json.dumps(params, sort_keys=True, default=lambda o: asdict(o))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def mock_field(
    instrument: str = "nircam",
    *,
    shape: tuple[int, int] | None = None,
    exposures: int | None = None,
    bands: list[str] | None = None,
    noise: NoiseConfig | None = None,
    population: PopulationConfig | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> MockField:
    """The mock field of ``instrument`` (the embedded default when only that is given).

    Built with `asteris.simulate.simulate_field` the first time, then read
    from the cache. Every band file, the truth catalogue and ``params.json``
    are in `MockField.params` ``["path"]``.
    """
    params = default_parameters(instrument)
    params.update({k: v for k, v in {"shape": shape, "exposures": exposures, "population": population}.items()
                   if v is not None})  # fmt: skip
    params.update(bands=bands, noise=noise or NoiseConfig(), seed=seed)
    name = get_instrument(instrument).name
    folder = Path(cache_dir or data_dir()) / f"mock_{name}_{_key(params)}"
    if not (folder / "params.json").exists():
        simulate_field(name, progress=progress, **params).write(folder, overwrite=True)
    field = read_mock_field(folder)
    field.params["path"] = str(folder)
    return field
