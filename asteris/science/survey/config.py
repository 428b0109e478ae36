"""What a survey runs (`SurveyConfig`) and on which pointings (`ArchivePointing`; any object with a
``name``, ``kind``, ``versions`` and ``load`` will do, such as `asteris.mock.MockPointing`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from astropy.table import QTable

from ...errors import ConfigError

__all__ = ["SURVEY_SCHEMA", "ArchivePointing", "pointing_record", "pointing_from_record", "SurveyConfig"]


SURVEY_SCHEMA = 1


@dataclass(frozen=True)
class ArchivePointing:
    """A pointing of JWST ``_cal`` exposures named by a manifest (optionally some detectors only)."""

    manifest: str
    detectors: tuple[str, ...] | None = None

    kind = "archive"

    @property
    def name(self) -> str:
        return self.manifest + ("" if self.detectors is None else "-" + "-".join(self.detectors))

    @property
    def versions(self) -> dict:
        """What makes its data, by version, recorded with a run folder: nothing, its files are fixed."""
        return {}

    @classmethod
    def from_record(cls, data: dict) -> ArchivePointing:
        return cls(data["manifest"], _tuple(data.get("detectors")))

    def load(self, bands: Sequence[str]) -> tuple[dict, dict, QTable | None, float]:
        """Stacks of ``bands`` drizzled onto one grid, their renderers; no truth, no boost."""
        from ...archive import band_stacks
        from ...sky.render import SourceRenderer

        stacks = band_stacks(self.manifest, bands=bands, detectors=self.detectors, progress=False)
        return stacks, {b: SourceRenderer.for_stack(s) for b, s in stacks.items()}, None, 1.0


def pointing_record(pointing) -> dict:
    return {"kind": pointing.kind,
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(pointing).items()}}  # fmt: skip


def _tuple(value):
    return None if value is None else tuple(value)


def pointing_from_record(record: dict, *, kinds: Sequence[type] = ()):
    """The pointing a summary's ``pointing`` entry describes.

    ``kinds``: pointing classes besides `ArchivePointing` to recognise, such as
    `asteris.mock.MockPointing` (the science does not import the simulator).
    """
    known = {cls.kind: cls for cls in (ArchivePointing, *kinds)}
    data = dict(record)
    kind = data.pop("kind")
    if kind not in known:
        raise ConfigError(f"a {kind!r} pointing needs its class: pass kinds=(...) with it "
                          f"(asteris.mock.MockPointing for 'mock'); known here: {sorted(known)}")  # fmt: skip
    return known[kind].from_record(data)


@dataclass(frozen=True)
class SurveyConfig:
    """What every pointing of a survey runs; a run folder keeps one config for all its pointings.

    ``train``: the fine-tuning `~asteris.config.TrainConfig` (as a dict) applied to each
    pointing's ``training_band`` stack, from the checkpoint ``init_from``; ``None`` runs the
    coadd alone. Injection-recovery: ``realizations`` x ``per_realization`` galaxies uniform in
    ``muv_range`` and ``z_edges``, each pointing with its own random draws. The 160 galaxies of a
    512 x 512 pointing also fit in one realization (``realizations=1, per_realization=160``), at a
    quarter of the cost with the same completeness and migration within 2 sd in every bin
    (``benchmarks/packing.py``); the default stays at 40 a realization, since four times that
    density raises the detection image's local noise around the field's own detections
    (``tests/science/test_closure.py``), which the closure copies must not see.
    ``closure_copies``: on a pointing with a truth catalogue, that many copies of each of its own
    z > 8.5 galaxies go through the injection road too (`asteris.science.closure`).
    ``search_negated``: search the negated images as well (the spurious-candidate estimate).
    ``injection_muv_slope``: draw the injected galaxies as a population of that faint-end slope
    is distributed, in M_UV and in z, rather than uniformly
    (`~asteris.science.highz.high_z_injection_catalog`).
    """

    schema_version: int = SURVEY_SCHEMA
    bands: tuple[str, ...] = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
    detection_bands: tuple[str, ...] = ("F277W", "F356W", "F444W")
    training_band: str = "F200W"
    train: dict | None = None
    init_from: str | None = None
    realizations: int = 4
    per_realization: int = 40
    muv_range: tuple[float, float] = (-22.5, -18.5)
    z_edges: tuple[float, ...] = (8.5, 9.5, 10.5, 11.5, 13.0, 16.0)
    muv_step: float = 0.025
    injection_seed: int = 2
    photoz_options: dict = field(default_factory=dict)
    closure_copies: int = 0
    search_negated: bool = True
    injection_muv_slope: float | None = None

    def __post_init__(self) -> None:
        if self.schema_version != SURVEY_SCHEMA:
            raise ConfigError(f"survey schema version {self.schema_version} is not {SURVEY_SCHEMA}")
        if self.training_band not in self.bands or not set(self.detection_bands) <= set(self.bands):
            raise ConfigError("the training and detection bands must be among the survey's bands")
        if self.realizations < 1 or self.per_realization < 1:
            raise ConfigError("a survey needs at least one realization of at least one injected galaxy")
        if self.closure_copies < 0:
            raise ConfigError(f"closure_copies must be 0 or more, got {self.closure_copies}")
        if self.train is not None:
            from ...config import TrainConfig

            TrainConfig.from_dict(self.train)  # refused here, before any worker starts

    @property
    def filters(self) -> dict[str, str]:
        """The sedpy filter of each band, as photo-z and M_UV take them."""
        return {b: f"jwst_{b.lower()}" for b in self.bands}

    @property
    def muv_grid(self) -> np.ndarray:
        lo, hi = self.muv_range
        return np.linspace(lo, hi, int(round((hi - lo) / self.muv_step)) + 1)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> SurveyConfig:
        """The config a dict describes; unknown keys and other schema versions are refused."""
        from ...config import reject_unknown_keys

        reject_unknown_keys(data, cls, "survey config")
        tuples = {f.name for f in fields(cls) if "tuple" in str(f.type)}
        return cls(**{k: (tuple(v) if k in tuples and v is not None else v) for k, v in data.items()})
