"""Peak memory of streamed denoising on 2k, 4k and 8k squares of 16 exposures.

Each size runs in a fresh process: a cube of noise and sources is written to a
scratch folder frame by frame, then ``asteris.streaming.denoise_large`` reads
it. The network is replaced by the identity so that the figure is the
pipeline's own memory (the network's peak per tile, which does not depend on
the image, is in ``results/throughput.json``). The in-memory ``asteris.denoise``
on the 2k cube is the same-run baseline. Writes ``results/streaming.json``.

Usage: ``python benchmarks/streaming_memory.py [--sizes 2048 4096 8192] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _memory import status_mb
from _results import write_result

from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "streaming.json"
EXPOSURES = 16


class AnonPeak:
    """Samples RssAnon (memory not backed by files) 20 times a second and keeps the peak.

    VmHWM also counts resident pages of memory-mapped files (the input cube, the
    scratch cube): page cache that the kernel reclaims under pressure.
    """

    def __init__(self) -> None:
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, status_mb("RssAnon"))
            time.sleep(0.05)

    def __enter__(self) -> AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def make_cube(path: Path, size: int) -> None:
    import numpy as np
    from astropy.io import fits

    from asteris.mock.synthetic import synthetic_wcs

    header = fits.PrimaryHDU(np.empty((EXPOSURES, size, size), np.float32)).header
    header.update(synthetic_wcs((size, size)).to_header())
    stream = fits.StreamingHDU(str(path), header)
    rng = np.random.default_rng(size)
    sky = 1.0 + (rng.random((size, size), np.float32) < 1e-3) * 20  # a sprinkling of bright pixels
    for _ in range(EXPOSURES):
        stream.write((sky + rng.normal(0, 0.5, (size, size)).astype(np.float32)).astype(np.float32))
    stream.close()


def identity_network():
    from asteris.network import Asteris, NetworkConfig

    class Identity(Asteris):
        def forward(self, x):
            return x

    return Identity(NetworkConfig(8, 8, (1, 1, 1, 1), 1))


def run(mode: str, cube: Path, out: Path) -> dict:
    from asteris import denoise
    from asteris.streaming import denoise_large

    start = time.perf_counter()
    with AnonPeak() as anon:
        if mode == "streamed":
            denoise_large(cube, model=identity_network(), output=out, progress=False, overwrite=True)
        else:
            denoise(cube, model=identity_network(), output=out, progress=False, overwrite=True)
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": status_mb("VmHWM"),
        "peak_anon_mb": anon.peak,
    }


def _child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--workdir", help="scratch folder for the cubes (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, cube, out = args.child
        if mode == "make":
            make_cube(Path(cube), int(out))
            print(json.dumps({}))
        else:
            print(json.dumps(run(mode, Path(cube), Path(out))))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size in args.sizes:
            cube = Path(tmp) / f"cube{size}.fits"
            _child("make", str(cube), str(size))
            modes = ["streamed", "in-memory"] if size == min(args.sizes) else ["streamed"]
            for mode in modes:
                r = _child(mode, str(cube), str(Path(tmp) / f"out{size}-{mode}.fits"))
                rows.append(
                    {
                        "size": size,
                        "exposures": EXPOSURES,
                        "mode": mode,
                        "cube_mb": cube.stat().st_size / 2**20,
                        **r,
                    }
                )
                rate = f"peak anonymous {r['peak_anon_mb']:6.0f} MB, peak RSS {r['peak_rss_mb']:6.0f} MB"
                print(
                    f"{size:>5}^2 x {EXPOSURES} {mode:>9}: cube {rows[-1]['cube_mb']:5.0f} MB, {rate}, "
                    f"{r['seconds']:6.1f} s",
                    flush=True,
                )
            cube.unlink()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_result(RESULTS, {"network": "identity (pipeline memory only)", "machine": machine_description(),
                           "results": rows}, indent=2)  # fmt: skip
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
