"""A mock z > 8.5 pointing for the survey runner (`asteris.science.survey.run_survey`).

>>> MockPointing(7).name
'mock-seed7'
>>> MockPointing.from_record({"seed": 7, "shape": [256, 256], "exposures": None}).name
'mock-seed7-256x256'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from astropy.table import QTable

from ..sky.render import SourceRenderer
from .datasets import HIGH_Z_FIELD, MOCK_VERSION, mock_field

__all__ = ["MockPointing"]


@dataclass(frozen=True)
class MockPointing:
    """A mock z > 8.5 pointing (`asteris.mock.datasets.HIGH_Z_FIELD`) drawn with its own ``seed``.

    ``shape`` and ``exposures`` default to the chapters' field; smaller values make quick tests.
    """

    seed: int
    shape: tuple[int, int] | None = None
    exposures: int | None = None
    kind = "mock"

    @property
    def name(self) -> str:
        size = "" if self.shape is None else f"-{self.shape[0]}x{self.shape[1]}"
        return f"mock-seed{self.seed}{size}" + ("" if self.exposures is None else f"-{self.exposures}exp")

    @property
    def versions(self) -> dict:
        """Recorded with a run folder: pointings of another mock version would not match."""
        return {"mock_version": MOCK_VERSION}

    @classmethod
    def from_record(cls, data: dict) -> MockPointing:
        shape = data.get("shape")
        return cls(data["seed"], None if shape is None else tuple(shape), data.get("exposures"))

    def load(self, bands: Sequence[str]) -> tuple[dict, dict, QTable | None, float]:
        """Stacks and renderers of ``bands``, the truth catalogue and the density boost."""
        options = {**HIGH_Z_FIELD, **{k: v for k, v in (("shape", self.shape), ("exposures", self.exposures))
                                       if v is not None}}  # fmt: skip
        mock = mock_field("nircam", **options, seed=self.seed, progress=False)
        stacks = {b: mock.bands[b].stack for b in bands}
        renderers = {b: SourceRenderer.for_mock(mock, b) for b in bands}
        return stacks, renderers, mock.catalog, float(mock.catalog.meta.get("HIZBOOST", 1.0))
