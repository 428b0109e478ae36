"""The z > 8.5 search of chapters 5 and 6 over many pointings, one Dask task each.

A survey is a run folder and a list of pointings (`config`: what it runs), run
pointing by pointing on a Dask cluster (`run`), read back once (`read`) and
turned into a luminosity function (`estimate`); `memory` refuses a pointing too large for the
machine before its chain starts. The pointings: archive pointings by
manifest (`ArchivePointing`) or mock pointings by seed (`asteris.mock.MockPointing`);
any object with a ``name``, a ``kind``, ``versions`` and ``load`` will do. Each
pointing runs the whole chain on one worker (stacks, the ASTERIS model
fine-tuned on the pointing's own training band, the coadd and ASTERIS images
of every band, the dual-image search, injection-recovery through the chain,
the effective volumes) and writes its results into a folder of its own that
appears only when complete: a killed run resumes where it stopped and a
finished pointing is never computed twice. The luminosity function then
comes from all pointings together (`survey_luminosity_function`): summed
counts over summed effective volumes, on the total area.

>>> SurveyConfig(realizations=2).realizations
2
>>> ArchivePointing("ceers-f200w", ("nrcb1",)).name
'ceers-f200w-nrcb1'
"""

from __future__ import annotations

from .config import SURVEY_SCHEMA, ArchivePointing, SurveyConfig, pointing_from_record
from .estimate import survey_luminosity_function
from .folder import FIELD_HIGH_Z
from .memory import check_pointing_memory, pointing_peak_bytes, stacks_on_disk
from .read import (
    SurveyRun,
    read_survey,
    survey_background,
    survey_candidates,
    survey_closure,
    survey_injections,
    survey_interlopers,
    survey_modelled_interlopers,
)
from .run import (
    injection_seed,
    pointing_methods,
    pointing_recovery,
    run_pointing,
    run_survey,
    search_pointing,
)

__all__ = [
    "SURVEY_SCHEMA",
    "FIELD_HIGH_Z",
    "ArchivePointing",
    "pointing_from_record",
    "SurveyConfig",
    "search_pointing",
    "pointing_methods",
    "pointing_recovery",
    "injection_seed",
    "run_pointing",
    "run_survey",
    "SurveyRun",
    "read_survey",
    "survey_candidates",
    "survey_injections",
    "survey_interlopers",
    "survey_modelled_interlopers",
    "survey_background",
    "survey_closure",
    "survey_luminosity_function",
    "pointing_peak_bytes",
    "check_pointing_memory",
    "stacks_on_disk",
]
