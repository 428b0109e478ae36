"""Formatting shared by the book's tables: Markdown tables, numbers and gains, method names, chapter links."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = [
    "CHAPTER_3",
    "CHAPTER_6",
    "METHOD_NAMES",
    "COMPONENT_NAMES",
    "markdown_table",
    "format_number",
    "format_gain",
]


#: Where each result's figures are shown and how they were made (MyST references).
CHAPTER_3 = "[chapter 3](../notebooks/03_injection_recovery.ipynb)"


CHAPTER_6 = "[chapter 6](../notebooks/06_uv_luminosity_function.ipynb)"


METHOD_NAMES = {
    "asteris_tiny": "ASTERIS `tiny`",
    "asteris_small": "ASTERIS `small`",
    "asteris_tiny_ft": "ASTERIS `tiny` fine-tuned",
    "asteris": "ASTERIS `tiny` fine-tuned per pointing",
    "coadd": "ivar coadd",
}


COMPONENT_NAMES = {"one_over_f": "1/f striping", "all": "all together"}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub-style Markdown table from a header and rows of cells (anything with ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def format_number(value, fmt: str = ".2f", missing: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, fmt)


def format_gain(value, error=None) -> str:
    if value is None or not math.isfinite(value):
        return "none"
    return f"{value:+.2f}" + (f" ± {error:.2f}" if error is not None and math.isfinite(error) else "")
