"""The book's figures as text: Markdown tables and sentences written from the committed results,
one module per topic.

Every number the book's front page and its reference pages quote is read here from
``benchmarks/results/*.json`` (installed with the package), so that re-running a benchmark
updates the book and nothing is typed by hand. Each function returns MyST Markdown; the
pages display it with ``IPython.display.Markdown``.

>>> print(markdown_table(["a", "b"], [[1, "x"]]))
| a | b |
| --- | --- |
| 1 | x |
"""

from __future__ import annotations

from ...tuning import machine_line
from ..chapters import committed_result
from .cells import (
    CHAPTER_3,
    CHAPTER_6,
    COMPONENT_NAMES,
    METHOD_NAMES,
    format_gain,
    format_number,
    markdown_table,
)
from .depth import (
    CORRECTION_FIELDS,
    HEADROOM_ROWS,
    PAPER_CELLS,
    asteris_models,
    convergence_table,
    corrections_attribution_table,
    corrections_table,
    depth_table,
    headroom_sentence,
    headroom_table,
    paper_protocol_table,
    purity_estimates_table,
    sweep_model,
    sweep_table,
)
from .highz import binned_table, photoz_table, photoz_templates_table, uvlf_table
from .mock import calibration_table, simulate_table
from .prose import findings, mock_version_note, readme_findings, speed_sentence, verdict
from .speed import bf16_table, book_times_table, compile_table, gpu_table, streaming_table, throughput_table
from .survey import (
    closure_clause,
    closure_contamination_table,
    closure_injections_table,
    closure_report_table,
    closure_runs,
    closure_summary,
    field_against_injected_table,
    injection_check_table,
    survey_background_table,
    survey_cost_table,
    survey_table,
    through_injections_table,
)

__all__ = [
    "committed_result",
    "machine_line",
    "CHAPTER_3",
    "CHAPTER_6",
    "METHOD_NAMES",
    "COMPONENT_NAMES",
    "markdown_table",
    "format_number",
    "format_gain",
    "depth_table",
    "CORRECTION_FIELDS",
    "corrections_table",
    "corrections_attribution_table",
    "HEADROOM_ROWS",
    "PAPER_CELLS",
    "headroom_table",
    "headroom_sentence",
    "paper_protocol_table",
    "sweep_table",
    "sweep_model",
    "convergence_table",
    "asteris_models",
    "purity_estimates_table",
    "findings",
    "verdict",
    "readme_findings",
    "speed_sentence",
    "mock_version_note",
    "photoz_table",
    "uvlf_table",
    "photoz_templates_table",
    "binned_table",
    "throughput_table",
    "streaming_table",
    "gpu_table",
    "compile_table",
    "bf16_table",
    "book_times_table",
    "calibration_table",
    "simulate_table",
    "survey_table",
    "survey_background_table",
    "field_against_injected_table",
    "closure_report_table",
    "closure_summary",
    "closure_injections_table",
    "closure_contamination_table",
    "injection_check_table",
    "through_injections_table",
    "survey_cost_table",
    "closure_runs",
    "closure_clause",
]
