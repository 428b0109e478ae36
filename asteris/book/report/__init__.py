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
from . import cells, depth, highz, mock, prose, speed, survey
from .cells import *  # noqa: F403
from .depth import *  # noqa: F403
from .highz import *  # noqa: F403
from .mock import *  # noqa: F403
from .prose import *  # noqa: F403
from .speed import *  # noqa: F403
from .survey import *  # noqa: F403

__all__ = ["committed_result", "machine_line"]
for _topic in (cells, depth, highz, mock, prose, speed, survey):
    __all__ += _topic.__all__
del _topic
