"""What the book's chapters share: the run mode, each mode's data, the shared trained model and
the training preset (see `asteris.book.chapters`), the committed reference models
(`asteris.book.reference`) and what ``full`` mode costs (`asteris.book.estimate`).
Uses the archive, mock and science parts: ``pip install 'asteris[all]'``.
"""

from __future__ import annotations

from . import chapters, estimate, reference
from .chapters import *  # noqa: F403 (the public names, listed once in chapters.__all__)
from .estimate import *  # noqa: F403 (listed once in estimate.__all__)
from .reference import *  # noqa: F403 (listed once in reference.__all__)

__all__ = chapters.__all__ + estimate.__all__ + reference.__all__
