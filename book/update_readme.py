"""Rewrite the README's findings from the committed results: ``python book/update_readme.py [README.md]``.

The findings are `asteris.book.report.readme_findings`, written between two
markers of the README; the rest of the README is never touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from asteris.book.report import readme_findings

README_START = (
    "<!-- findings: written by `python book/update_readme.py README.md` from benchmarks/results -->"
)
README_END = "<!-- end of findings -->"


def update_readme(path: str | Path) -> bool:
    """Rewrite the findings block of a README between its markers; True when it changed."""
    path = Path(path)
    text = path.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + readme_findings() + "\n" + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    print("updated" if update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md") else "up to date")
