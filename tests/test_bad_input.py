"""Bad input at every entry point: one sentence that names the problem and the fix, exit status 2,
no traceback, and nothing left behind (no partial output, no temporary file).

Each row of `CLI_CASES` is (entry point, input, arguments, what the message must say); the files
are made once per module by `bad_files`. Inputs that are not wrong, only unusual (integer or
big-endian pixels, NaN, inf and huge values), are accepted and must give a finite image.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

import asteris
from asteris import build_network, save_checkpoint
from asteris.cli import main
from asteris.errors import AsterisError

SHAPE = (16, 40, 40)


def _wcs(crpix: float) -> fits.Header:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.cdelt = [-1e-5, 1e-5]
    wcs.wcs.crpix = [crpix, 20.0]
    return wcs.to_header()


def _frames(folder: Path, name: str, images, headers) -> list[str]:
    folder.mkdir()
    paths = []
    for i, (image, header) in enumerate(zip(images, headers)):
        paths.append(str(folder / f"{name}_{i:02d}.fits"))
        fits.PrimaryHDU(image, header=header).writeto(paths[-1])
    return paths


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict:
    """Every bad input, by name: a path, or a list of paths."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    cube = rng.normal(10, 1, SHAPE).astype(np.float32)
    files = {"good": d / "good.fits", "trunc": d / "trunc.fits", "header_only": d / "header_only.fits",
             "image_2d": d / "image_2d.fits", "empty": d / "empty.fits", "folder": d / "a_folder",
             "missing": d / "missing.fits", "all_nan": d / "all_nan.fits", "int16": d / "int16.fits",
             "big_endian": d / "big_endian.fits", "nan_inf_huge": d / "nan_inf_huge.fits"}  # fmt: skip
    fits.PrimaryHDU(cube, header=_wcs(20.0)).writeto(files["good"])
    files["trunc"].write_bytes(files["good"].read_bytes()[:100_000])
    fits.PrimaryHDU().writeto(files["header_only"])
    fits.PrimaryHDU(cube[0]).writeto(files["image_2d"])
    files["empty"].write_bytes(b"")
    files["folder"].mkdir()
    fits.PrimaryHDU(np.full(SHAPE, np.nan, np.float32)).writeto(files["all_nan"])
    fits.PrimaryHDU(np.round(cube * 100).astype(np.int16)).writeto(files["int16"])
    fits.PrimaryHDU(cube.astype(">f8")).writeto(files["big_endian"])
    odd = cube.copy()
    odd[0, 10:15], odd[1, 13], odd[2, 7, 7] = np.nan, np.inf, 3e38  # inside: edges would be cropped
    fits.PrimaryHDU(odd).writeto(files["nan_inf_huge"])
    cut = [cube[i, : 40 - 8 * (i % 2)] for i in range(16)]  # two frame shapes
    files["shapes"] = _frames(d / "shapes", "f", cut, [None] * 16)
    files["offset_wcs"] = _frames(d / "offset", "f", cube, [_wcs(20.0 + 2.0 * (i % 2)) for i in range(16)])
    files["missing_wcs"] = _frames(d / "nowcs", "f", cube, [_wcs(20.0)] + [None] * 15)
    torch_seed = build_network(frames=8, f_maps=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1)
    files["model"] = save_checkpoint(d / "model8.pt", torch_seed)
    files["model4"] = save_checkpoint(
        d / "model4.pt", build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    )
    files["corrupt_model"] = d / "corrupt.pt"
    files["corrupt_model"].write_bytes(files["model"].read_bytes()[:50_000])
    files["existing"] = d / "existing.fits"
    files["existing"].write_bytes(b"an earlier result")
    files["run"] = d / "a_run"
    files["run"].mkdir()
    (files["run"] / "checkpoint_last.pt").write_bytes(b"x")
    files["mock_done"] = d / "mock_done"
    files["mock_done"].mkdir()
    (files["mock_done"] / "params.json").write_text("{}")
    return files


def read_only_folder(tmp_path: Path) -> Path:
    """A folder nobody may write in: chmod 555, or a read-only file system where root ignores modes."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir(mode=0o555)
        return folder
    if Path("/proc").is_dir():
        return Path("/proc")
    pytest.skip("running as root without /proc: no folder is read-only to root")


STACK_INPUTS = [
    ("trunc", "is truncated"),
    ("header_only", "holds no 2D image or 3D cube"),
    ("image_2d", "holds one 2D image, not a stack"),
    ("empty", "is not a FITS file"),
    ("folder", "is a folder"),
    ("missing", "does not exist"),
    ("all_nan", "no valid pixel"),
    ("shapes", "differ in shape"),
    ("offset_wcs", "not on one pixel grid"),
    ("missing_wcs", "has no celestial WCS"),
]

#: (entry point, arguments, what the message must say); {name} is a bad input, {out} a fresh folder.
CLI_CASES = [
    *[("info", [f"{{{name}}}"], said) for name, said in STACK_INPUTS],
    *[("denoise", [f"{{{name}}}", "--model", "{model}", "--out", "{out}/d.fits"], said)
      for name, said in STACK_INPUTS],
    *[("coadd", [f"{{{name}}}", "--out", "{out}/c.fits"], said) for name, said in STACK_INPUTS],
    *[("train", [f"{{{name}}}", "--run-dir", "{out}/run"], said) for name, said in STACK_INPUTS],
    ("denoise", ["{good}", "--model", "{model4}", "--frames", "8", "--out", "{out}/d.fits"], "4-frame model"),
    ("denoise", ["{good}", "--model", "{corrupt_model}", "--out", "{out}/d.fits"], "not a readable PyTorch"),
    ("denoise", ["{good}", "--model", "{missing}", "--out", "{out}/d.fits"], "does not exist"),
    ("denoise", ["{good}", "--model", "{model}", "--out", "{out}/no/d.fits"], "does not exist; create it"),
    ("denoise", ["{good}", "--model", "{model}", "--out", "{read_only}/d.fits"], "cannot write in"),
    ("denoise", ["{good}", "--model", "{model}", "--out", "{existing}"], "already exists"),
    ("denoise", ["{good}", "--model", "{model}", "--out", "{folder}"], "is a folder"),
    ("denoise", ["{good}", "--model", "{model}", "--out", "{out}/d", "--png", "{existing}"], "exists"),
    ("coadd", ["{good}", "--out", "{out}/no/c.fits"], "does not exist; create it"),
    ("coadd", ["{good}", "--out", "{read_only}/c.fits"], "cannot write in"),
    ("coadd", ["{good}", "--out", "{existing}"], "already exists"),
    ("train", ["{good}", "--run-dir", "{out}/run", "--set", "epochs=many"], "must be a whole number"),
    ("train", ["{good}", "--run-dir", "{out}/run", "--set", "epoch=3"], "unknown"),
    ("train", ["{good}", "--run-dir", "{out}/run", "--set", "epochs"], "KEY=VALUE"),
    ("train", ["{good}", "--run-dir", "{out}/r", "--init-from", "{corrupt_model}"], "not a readable PyTorch"),
    ("train", ["{good}", "--run-dir", "{read_only}/run"], "cannot write in"),
    ("train", ["{good}", "--run-dir", "{run}"], "holds a training run"),
    ("train", ["{good}", "--run-dir", "{out}/run", "--config", "{missing}"], "cannot read config"),
    ("align", ["{trunc}", "--out", "{out}/a.fits"], "is truncated"),
    ("align", ["{empty}", "--out", "{out}/a.fits"], "is not a FITS file"),
    ("align", ["{good}", "--out", "{out}/a.fits"], "not a JWST _cal file"),
    ("align", ["{folder}", "--out", "{out}/a.fits"], "is a folder"),
    ("align", ["{missing}", "--out", "{out}/a.fits"], "does not exist"),
    ("align", ["{good}", "--out", "{existing}"], "already exists"),
    ("fetch", ["no_such_manifest"], "no manifest"),
    ("fetch", ["smacs0723_nircam", "--dest", "{out}/dl"], "cannot be reached"),
    ("fetch", ["smacs0723_nircam", "--dest", "{existing}"], "is not a folder"),  # refused before any request
    ("mock", ["--out", "{existing}", "--size", "64"], "is not a folder"),
    ("mock", ["--out", "{read_only}/m", "--size", "64"], "cannot write in"),
    ("mock", ["--out", "{mock_done}", "--size", "64"], "already exists"),
]  # fmt: skip


def snapshot(*folders: Path) -> dict:
    return {p: p.stat().st_size for f in folders if f.is_dir() for p in f.rglob("*") if p.is_file()}


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)


CLI_IDS = [f"{command}-{i}" for i, (command, _, _) in enumerate(CLI_CASES)]


@pytest.mark.parametrize("command, args, said", CLI_CASES, ids=CLI_IDS)
def test_the_command_line_refuses_bad_input(bad_files, tmp_path, offline, command, args, said):
    out = tmp_path / "out"
    out.mkdir()
    names = {**{k: v if isinstance(v, Path) else " ".join(v) for k, v in bad_files.items()}, "out": out}
    if any("{read_only}" in a for a in args):
        names["read_only"] = read_only_folder(tmp_path)
    argv = [command] + " ".join(args).format(**names).split()
    inputs = bad_files["good"].parent
    before = snapshot(inputs, out)
    status, stderr = run_cli(argv)
    assert status == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"asteris {command}: error: "), stderr
    assert said in lines[0] and "Traceback" not in stderr
    assert snapshot(inputs, out) == before  # no partial output, no temporary file, input untouched


@pytest.mark.parametrize("name", ["int16", "big_endian", "nan_inf_huge"])
def test_unusual_but_valid_pixels_are_accepted(bad_files, tmp_path, name):
    status, stderr = run_cli(["info", str(bad_files[name])])
    assert status == 0, stderr
    out = tmp_path / "d.fits"
    status, stderr = run_cli(["denoise", str(bad_files[name]), "--model", str(bad_files["model"]),
                              "--out", str(out), "--quiet"])  # fmt: skip
    assert status == 0, stderr
    image = fits.getdata(out)
    assert image.shape == SHAPE[1:] and np.isfinite(image).all()
    assert list(tmp_path.iterdir()) == [out]


PY_CASES = [
    (lambda f, o: asteris.read_stack(f["trunc"]), "is truncated"),
    (lambda f, o: asteris.read_stack(f["shapes"]), "differ in shape"),
    (lambda f, o: asteris.denoise(f["image_2d"], model=f["model"]), "holds one 2D image"),
    (lambda f, o: asteris.denoise(f["good"], model=f["corrupt_model"]), "not a readable PyTorch"),
    (lambda f, o: asteris.denoise(f["good"], model=f["model"], output=o / "no" / "d.fits"), "does not exist"),
    (lambda f, o: asteris.coadd(f["empty"]), "is not a FITS file"),
    (lambda f, o: asteris.coadd(f["good"], output=f["existing"]), "already exists"),
    (lambda f, o: asteris.train(f["header_only"], run_dir=o / "run"), "holds no 2D image"),
    (lambda f, o: asteris.train(f["good"], run_dir=f["existing"]), "is not a folder"),
    (lambda f, o: asteris.TrainConfig.from_dict({"epochs": "many"}), "must be a whole number"),
]


@pytest.mark.parametrize("call, said", PY_CASES, ids=[f"python-{i}" for i in range(len(PY_CASES))])
def test_the_python_functions_raise_one_asteris_error(bad_files, tmp_path, call, said):
    before = snapshot(bad_files["good"].parent, tmp_path)
    with pytest.raises((AsterisError, FileNotFoundError), match=said):
        call(bad_files, tmp_path)
    assert snapshot(bad_files["good"].parent, tmp_path) == before


def test_archive_and_mock_functions_raise_one_asteris_error(bad_files, tmp_path, offline):
    from asteris import archive

    with pytest.raises(AsterisError, match="is truncated"):
        archive.align([bad_files["trunc"]])
    with pytest.raises(AsterisError, match="cannot be reached"):
        archive.fetch(archive.load_manifest("smacs0723_nircam"), tmp_path / "dl")
    assert not any(tmp_path.rglob("*.fits"))
