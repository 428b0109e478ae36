"""How long each chapter of the book takes, run as a reader runs it: ``benchmarks/results/book_times.json``.

Each chapter is executed in a fresh Jupyter kernel from a copy of its notebook alone in an empty
folder (as nbval and Colab run it), in ``ci`` mode, one after the other in the book's order, so
that later chapters find what earlier ones cached (the mock fields, the fine-tuned model), as in
``make test``. With ``--cold`` the chapters start from an empty data folder, as on a fresh machine.
``--write-outputs`` also writes each executed notebook back to ``notebooks/`` (its committed
outputs, which nbval compares with). The result names the machine: a chapter's time is a property
of the CPU it ran on, and AVX2 kernels selected on an AVX-512 CPU emulate an AVX2 machine's kernels,
not its caches or clock (``emulated_isa`` in the JSON).

Usage: ``[ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2] python
benchmarks/book_times.py [--chapters 01 03] [--cold] [--write-outputs] [--out FILE]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
from _results import write_result
from nbclient import NotebookClient

from asteris.fileio import atomic_write
from asteris.tuning import emulated_isa, machine_description

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "book_times.json"
#: What restricts PyTorch, oneDNN and MKL to narrower kernels; a command that set them says so.
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def run_chapter(notebook: Path, folder: Path, *, timeout: int) -> tuple[float, nbformat.NotebookNode]:
    """Execute a lone copy of ``notebook`` in ``folder``; its wall time and the executed notebook."""
    folder.mkdir(parents=True)
    lone = folder / notebook.name
    shutil.copy(notebook, lone)
    nb = nbformat.read(lone, as_version=4)
    resources = {"metadata": {"path": str(folder)}}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources=resources, record_timing=False
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start, nb


def _command(args) -> str:
    """This invocation's command line, with ``--out`` as a repository path (never one of this machine)."""
    forced = [f"{k}={os.environ[k]}" for k in KERNEL_VARIABLES if os.environ.get(k)]
    words = [*forced, "python benchmarks/book_times.py"]
    words += ["--chapters", *args.chapters] if args.chapters else []
    words += [flag for flag, on in (("--cold", args.cold), ("--write-outputs", args.write_outputs)) if on]
    if args.out.resolve() != RESULT:
        out = args.out.resolve()
        words += ["--out", str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else out.name]
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapters", nargs="*", help="chapter numbers (default: all)")
    parser.add_argument("--cold", action="store_true", help="start from an empty data folder")
    parser.add_argument("--write-outputs", action="store_true", help="write executed notebooks to notebooks/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds a cell may take")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        notebooks = [nb for nb in notebooks if nb.name[:2] in args.chapters]
    os.environ.setdefault("ASTERIS_LAYOUT", "channels_last")  # as make test pins it
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.cold:
            os.environ["ASTERIS_DATA_DIR"] = str(Path(scratch) / "data")
        for notebook in notebooks:
            seconds, executed = run_chapter(notebook, Path(scratch) / notebook.stem, timeout=args.timeout)
            rows.append({"chapter": notebook.stem, "seconds": round(seconds, 1)})
            print(f"{notebook.stem}: {seconds:.0f} s", flush=True)
            if args.write_outputs:
                atomic_write(notebook, lambda tmp, nb=executed: nbformat.write(nb, tmp), overwrite=True)
    machine = machine_description()
    result = {
        "command": _command(args),
        "machine": machine,
        "emulated_isa": emulated_isa(machine),
        "data_folder": "cold (empty at the start)" if args.cold else "warm (as left by earlier runs)",
        "chapters": rows,
        "total_seconds": round(sum(r["seconds"] for r in rows), 1),
    }
    print(f"total: {result['total_seconds']:.0f} s")
    write_result(args.out, result)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
