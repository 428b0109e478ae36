"""What the book's chapters share: the run mode, each mode's data, the shared trained model and
the training preset (see `asteris.book.chapters`). Uses the archive, mock and science parts:
``pip install 'asteris[all]'``.
"""

from __future__ import annotations

from .chapters import (
    FINE_TUNE_STEPS,
    HIGH_Z_BANDS,
    MODE_ENV,
    MODES,
    book_mode,
    chapter_field,
    chapter_run,
    chapter_stack,
    published_weights_for,
    training_preset,
)

__all__ = [
    "MODE_ENV",
    "MODES",
    "HIGH_Z_BANDS",
    "book_mode",
    "chapter_stack",
    "chapter_field",
    "chapter_run",
    "published_weights_for",
    "FINE_TUNE_STEPS",
    "training_preset",
]
