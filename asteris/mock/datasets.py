"""The embedded default data: mock fields built on first use and cached on disk.

The cache lives in ``$ASTERIS_DATA_DIR`` when set, else ``~/.cache/asteris``.
Each field sits in a folder named after its parameters, so different
requests never collide and the same request is built only once, also when
several processes ask for it at once (two chapters run side by side): the
first builds it, the others wait for it and read it.

>>> default_parameters("nircam")["shape"]
(768, 768)
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from ..archive.corrections import CorrectionConfig
from ..fileio import data_dir, exclusive_lock
from ..sky.instruments import get_instrument
from .noise import NoiseConfig
from .population import PopulationConfig
from .simulate import MockField, band_workers, read_mock_field, simulate_field

__all__ = ["mock_field", "high_z_field", "default_parameters", "HIGH_Z_FIELD"]

#: The default fields: 2 CPU cores build either in well under two minutes.
_DEFAULTS = {
    "nircam": {"shape": (768, 768), "exposures": 16, "population": PopulationConfig()},
    # HSC reaches ~26 mag, so galaxies fainter than 28.5 only add time
    "hsc": {"shape": (384, 384), "exposures": 16, "population": PopulationConfig(galaxy_mags=(18.0, 28.5))},
}


def default_parameters(instrument: str = "nircam") -> dict:
    """Shape, exposures and population of the default field of ``instrument``."""
    return dict(_DEFAULTS[get_instrument(instrument).name])


#: Raised whenever the simulator renders the same parameters differently, so that cached
#: fields of an older simulator are not reused (2: Lyman-alpha emission scattered by the IGM;
#: 3: NIRCam exposures on native detector pixels, written as _cal files and drizzled by asteris.archive.align,
#: HSC exposures as warps stacked by its warp path; 4: exposure-level corrections before the alignment, and
#: snowball cores flagged JUMP_DET).
MOCK_VERSION = 4


def _key(params: dict) -> str:
    text = json.dumps({**params, "mock_version": MOCK_VERSION}, sort_keys=True, default=lambda o: asdict(o))
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
    corrections=None,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> MockField:
    """The mock field of ``instrument`` (the embedded default when only that is given).

    Built with `asteris.mock.simulate.simulate_field` the first time, then read
    from the cache. Every band file, the truth catalogue and ``params.json``
    are in `MockField.params` ``["path"]``. ``corrections``: the exposure-level
    corrections of the alignment (default: all; see `asteris.archive.corrections`).
    ``workers``: processes building bands side by side (`simulate_field`; the
    same bytes whatever it is); by default `band_workers`.
    """
    params = default_parameters(instrument)
    params.update({k: v for k, v in {"shape": shape, "exposures": exposures, "population": population}.items()
                   if v is not None})  # fmt: skip
    # keyed by the amplitudes in effect, so that NoiseConfig.white_only() and structured_scale 0 share a field
    params.update(bands=bands, noise=(noise or NoiseConfig()).effective(), seed=seed)
    inst = get_instrument(instrument)
    if corrections is not None and corrections != CorrectionConfig(amplifier_width=inst.amplifier_width):
        params["corrections"] = corrections  # simulate_field's default stays out of the key
    name = inst.name
    folder = Path(cache_dir or data_dir()) / f"mock_{name}_{_key(params)}"
    if not (folder / "params.json").exists():
        with exclusive_lock(folder.parent / f".{folder.name}.lock"):
            if not (folder / "params.json").exists():  # not built by another process while this one waited
                workers = band_workers(params["shape"], params["exposures"]) if workers is None else workers
                field = simulate_field(name, workers=workers, progress=progress, **params)
                field.write(folder, overwrite=True)
    field = read_mock_field(folder)
    field.params["path"] = str(folder)
    return field


#: The field of the z > 8.5 chapters and benchmark: all eight NIRCam bands, 16 exposures each,
#: and z > 8.5 galaxies brighter than M_UV = -18.5 at 250 times the density of the Whitler et al.
#: (2025) luminosity function, so that a 20-arcsec field holds about a hundred of them.
HIGH_Z_FIELD = {
    "shape": (512, 512),
    "exposures": 16,
    "population": PopulationConfig(high_z_boost=250.0, high_z_muv=(-22.5, -18.5)),
}


def high_z_field(*, seed: int = 1, progress: bool = True) -> MockField:
    """The mock field of the z > 8.5 search (`HIGH_Z_FIELD`), built once and cached.

    Its truth catalogue's ``meta["HIZBOOST"]`` is the density boost: divide
    counts by it to get the luminosity function of the sky.
    """
    return mock_field("nircam", **HIGH_Z_FIELD, seed=seed, progress=progress)
