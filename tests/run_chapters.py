"""Run book chapters (their jupytext ``.py`` files) one after the other in this process, as a reader's
kernel would, and write how long each took.

    python tests/run_chapters.py --times times.json notebooks/02_train_and_denoise.py ...

The mode, the data folder and the archives come from the environment
(``ASTERIS_BOOK_MODE``, ``ASTERIS_BOOK_REHEARSAL``, ``ASTERIS_DATA_DIR``,
``ASTROPY_CONFIG_DIR``...). Stops at the first chapter that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--times", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    times = {}
    for chapter in args.chapters:
        start = time.perf_counter()
        print(f"=== {chapter.stem}", flush=True)
        runpy.run_path(str(chapter), run_name="__main__")
        times[chapter.stem] = round(time.perf_counter() - start, 1)
        print(f"=== {chapter.stem}: {times[chapter.stem]} s", flush=True)
        args.times.write_text(json.dumps(times, indent=1))


if __name__ == "__main__":
    main()
