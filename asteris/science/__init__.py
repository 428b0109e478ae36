"""Science on the images: detection, injection-recovery, photometric redshifts, the z > 8.5
selection and the UV luminosity function.

- `detect`, `catalog`: matched-filter detection and multi-band forced photometry (photutils);
- `injection`: where artificial sources go and adding them to every exposure;
- `methods`: what turns a stack into an image (coadds, ASTERIS models);
- `matching`, `photometry`: matching detections to injections, completeness fits, and
  fluxes, shapes and limiting magnitudes at given positions;
- `recovery`, `recovery_result`: injection-recovery per method, and its result, a table of
  sources by method (completeness, purity, photometric bias, PSF fidelity, false detections);
- `photoz`, `select`, `highz`: EAZY photometric redshifts, the z > 8.5 criteria and the whole
  chain with its injection-recovery;
- `contamination`: the low-z interlopers expected among the candidates, from the field's own
  bright galaxies dimmed to its faint detections, a model of the sky through its noise, or a
  model of the sky rendered over its jackknife noise and searched as the field is;
- `closure`: a mock field's own z > 8.5 galaxies against copies of themselves through the
  injection road, the check that injections stand for the sky's galaxies;
- `uvlf`: M_UV, effective volumes, the binned luminosity function and its fits;
- `survey`: the chain over many pointings (configuration, running, reading, the estimate).

The comparison baselines themselves (`asteris.coadd`) belong to the core. The
injected sources are rendered as the mock renders its sky, by `asteris.sky`,
on which this package stands; it never imports the simulator (`asteris.mock`).
Needs the ``science`` extra: ``pip install 'asteris[science]'``.

>>> from asteris.science import HighZCriteria
>>> HighZCriteria().min_p_high_z
0.7
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("science", feature="asteris.science")

from ..sky.render import SourceRenderer as SourceRenderer  # where the science's users have found it
from .catalog import aperture_correction, combined_detection_image, multiband_catalog
from .closure import closure_pointing, closure_significance, closure_table, injection_statistics
from .contamination import dimmed_interlopers, jackknife_noise, modelled_interlopers, simulated_interlopers
from .detect import DetectionImage, detect, detection_image, empty_aperture_noise, segment_sources
from .highz import (
    footprint,
    high_z_recovery,
    inject_high_z,
    photoz_accuracy,
    search_high_z,
    selection_against_truth,
    with_truth,
)
from .injection import inject, injection_catalog, source_mask
from .matching import match_positions
from .methods import asteris_method, coadd_method, retrained_asteris_method
from .photometry import limiting_magnitude, truth_errors
from .photoz import Template, default_templates, photometric_redshifts
from .recovery import injection_recovery, spurious_rate
from .recovery_result import RecoveryResult
from .select import HighZCriteria, select_high_z
from .uvlf import (
    absolute_uv_magnitude,
    completeness_curves,
    effective_volume,
    fit_luminosity_function,
    literature_luminosity_functions,
    measure_luminosity_function,
    migration_matrix,
    population_weights,
)

__all__ = [
    "DetectionImage",
    "detection_image",
    "detect",
    "segment_sources",
    "empty_aperture_noise",
    "combined_detection_image",
    "multiband_catalog",
    "aperture_correction",
    "injection_catalog",
    "inject",
    "source_mask",
    "coadd_method",
    "asteris_method",
    "retrained_asteris_method",
    "injection_recovery",
    "RecoveryResult",
    "limiting_magnitude",
    "match_positions",
    "spurious_rate",
    "truth_errors",
    "Template",
    "default_templates",
    "photometric_redshifts",
    "HighZCriteria",
    "select_high_z",
    "search_high_z",
    "inject_high_z",
    "high_z_recovery",
    "with_truth",
    "photoz_accuracy",
    "selection_against_truth",
    "dimmed_interlopers",
    "modelled_interlopers",
    "jackknife_noise",
    "simulated_interlopers",
    "footprint",
    "closure_pointing",
    "closure_table",
    "closure_significance",
    "injection_statistics",
    "absolute_uv_magnitude",
    "completeness_curves",
    "effective_volume",
    "measure_luminosity_function",
    "migration_matrix",
    "population_weights",
    "fit_luminosity_function",
    "literature_luminosity_functions",
]
