import json
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from asteris.cli import main


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for command in ("info", "train", "denoise"):
        assert command in text


def test_end_to_end(tmp_path, capsys):
    stack = tmp_path / "stack.fits"
    assert run(["synthetic", "--out", str(stack), "--size", "48", "--sources", "10"], capsys)[0] == 0
    code, out, _ = run(["info", str(stack)], capsys)
    assert code == 0 and "exposures: 16" in out and "valid_fraction: 1" in out
    run_dir = tmp_path / "run"
    args = [
        "train",
        str(stack),
        "--run-dir",
        str(run_dir),
        "--quiet",
        "--set",
        "patch_size=16",
        "--set",
        "epochs=1",
        "--set",
        "max_steps_per_epoch=2",
    ]
    assert run(args, capsys)[0] == 0
    out_fits, png = tmp_path / "den.fits", tmp_path / "ba.png"
    den = [
        "denoise",
        str(stack),
        "--model",
        str(run_dir / "model.pt"),
        "--out",
        str(out_fits),
        "--png",
        str(png),
        "--quiet",
    ]
    assert run(den, capsys)[0] == 0
    assert fits.getdata(out_fits).shape == (48, 48) and png.stat().st_size > 10_000
    code, _, err = run(den, capsys)
    assert code == 2 and "already exists" in err and "--overwrite" in err
    code, _, err = run(args, capsys)
    assert code == 2 and "--resume" in err
    code, _, err = run(den + ["--frames", "4", "--overwrite"], capsys)
    assert code == 2 and "8-frame model but 4 frames" in err


@pytest.mark.parametrize(
    "setup,message",
    [
        ("few", "needs at least 8 exposures to denoise"),
        ("nan", "no valid pixel"),
        ("text", "is not a FITS file"),
        ("missing", "does not exist"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path, capsys, setup, message, tiny_net):
    from asteris import save_checkpoint

    model = save_checkpoint(tmp_path / "m.pt", tiny_net)
    path = tmp_path / "in.fits"
    if setup == "few":
        fits.PrimaryHDU(np.ones((5, 16, 16), np.float32)).writeto(path)
    elif setup == "nan":
        fits.PrimaryHDU(np.full((8, 16, 16), np.nan, np.float32)).writeto(path)
    elif setup == "text":
        path.write_text("SIMPLE? no")
    code, out, err = run(
        ["denoise", str(path), "--model", str(model), "--out", str(tmp_path / "o.fits")], capsys
    )
    assert code == 2 and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "asteris.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("asteris ")


def test_an_unknown_manifest_is_answered_with_the_shipped_ones(capsys):
    code, _, err = run(["fetch", "jades_1201_nircam"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "the shipped ones are hsc_cosmos_i_warps, jades_1210_nircam, jems_1963_nircam" in err


def test_fetch_offline_is_one_sentence(tmp_path, capsys, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", refuse)
    code, _, err = run(["fetch", "smacs0723_nircam", "--dest", str(tmp_path)], capsys)
    # the test session points astroquery's MAST server at a local stand-in
    assert code == 2 and "127.0.0.1 cannot be reached" in err and err.count("\n") == 1
    assert "the archive server set for asteris, http://127.0.0.1:" in err and "is down" in err


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--detector", "nrcb1"], "jades_1210_nircam has no detector nrcb1; choose from nrca1, nrcalong"),
        (["--filter", "F999W"], "has no filter F999W; choose from F090W, F115W"),
    ],
)
def test_fetch_names_the_values_a_manifest_holds_before_any_network_call(tmp_path, capsys, monkeypatch, argv,
                                                                         said):  # fmt: skip
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the archive was asked before the options were checked")

    monkeypatch.setattr(socket, "create_connection", no_network)
    code, _, err = run(["fetch", "jades_1210_nircam", "--dest", str(tmp_path / "d"), *argv], capsys)
    assert code == 2 and said in err and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


WRONG_OPTIONS = [
    (
        ["train", "{stack}", "--run-dir", "{out}", "--device", "tpu"],
        "device 'tpu' is not on this machine; it has",
    ),
    (
        ["train", "{stack}", "--run-dir", "{out}", "--init-from", "nope.pt"],
        "--init-from: checkpoint nope.pt does",
    ),
    (["train", "{stack}", "--run-dir", "{out}", "--preset", "huge"], "invalid choice: 'huge' (choose from"),
    (
        ["train", "{stack}", "--run-dir", "{out}", "--stop-after", "0"],
        "--stop-after: takes an integer above 0",
    ),
    (["denoise", "{stack}", "--model", "nope.pt", "--out", "{out}"], "--model: checkpoint nope.pt does not"),
    (["denoise", "{stack}", "--model", "{model}", "--out", "{out}", "--device", "cuda:7"], "'cuda:7' is not"),
    (["denoise", "{stack}", "--model", "{model}", "--out", "{out}", "--tile-size", "-4"], "takes an integer"),
    (["denoise", "{stack}", "--model", "{model}", "--out", "{out}", "--frames", "6"], "choose from 4, 8"),
    (["align", "{stack}", "--out", "{out}", "--kernel", "banana"], "choose from 'square', 'point', 'turbo'"),
    (["align", "{stack}", "--out", "{out}", "--pixfrac", "1.5"], "takes a number above 0 and at most 1"),
    (["align", "{stack}", "--out", "{out}", "--pixel-scale", "-1"], "--pixel-scale: takes a number above 0"),
    (["mock", "--out", "{out}", "--band", "F999W"], "nircam has no band 'F999W'; it has ['F090W', 'F115W'"),
    (["mock", "--out", "{out}", "--instrument", "miri"], "choose from 'nircam', 'hsc'"),
    (["mock", "--out", "{out}", "--exposures", "0"], "--exposures: takes an integer above 0, got '0'"),
    (["survey", "{out}", "--manifests", "jades_1201"], "the shipped ones are hsc_cosmos_i_warps, jades_1210"),
    (["survey", "{out}", "--mock-seeds", "1", "--model", "nope.pt"], "--model: checkpoint nope.pt does not"),
    (["survey", "{out}", "--mock-seeds", "1-x"], "--mock-seeds takes seeds such as 1-12 or 1,4,7"),
    (["survey", "{out}", "--mock-seeds", "1", "--workers", "0"], "--workers: takes an integer above 0"),
    (
        ["coadd", "{stack}", "--out", "{out}", "--method", "mode"],
        "choose from 'mean', 'median', 'sigma_clip'",
    ),
]


@pytest.mark.parametrize(
    "argv, said", WRONG_OPTIONS, ids=lambda v: " ".join(v[:1]) if isinstance(v, list) else ""
)
def test_a_wrong_option_is_named_before_any_work(tmp_path, capsys, monkeypatch, tiny_net, argv, said):
    """Exit status 2, the valid values in one sentence, no network call and nothing written."""
    import socket

    from asteris import save_checkpoint

    def no_network(*args, **kwargs):
        raise AssertionError("the network was asked before the options were checked")

    monkeypatch.setattr(socket, "create_connection", no_network)
    stack = tmp_path / "in" / "stack.fits"
    stack.parent.mkdir()
    fits.PrimaryHDU(np.ones((16, 16, 16), np.float32)).writeto(stack)
    model = save_checkpoint(tmp_path / "in" / "m.pt", tiny_net)
    paths = {"stack": str(stack), "model": str(model), "out": str(tmp_path / "out")}
    try:
        code = main([a.format(**paths) for a in argv])
    except SystemExit as exc:  # argparse's own refusal of a value
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and said in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"asteris {argv[0]}: error:")
    assert not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("error")  # no warning of the package's own making in a normal run
def test_align_then_denoise(tmp_path, capsys, tiny_net):
    from exposures import cal_exposure

    from asteris import save_checkpoint

    files = [
        str(cal_exposure(tmp_path / f"e{i}_cal.fits", shift=(0.3 * i, -0.2 * i), shape=(40, 40)))
        for i in range(8)
    ]
    code, out, _ = run(["align", *files, "--out", str(tmp_path / "stack.fits")], capsys)
    assert code == 0 and "8 exposures" in out and "corrections: events,one_over_f" in out
    code, out, _ = run(["align", *files, "--out", str(tmp_path / "some.fits"), "--skip-correction", "events",
                        "--skip-correction", "background"], capsys)  # fmt: skip
    assert fits.getheader(tmp_path / "some.fits")["CORRSTEP"] == "one_over_f,detector_pattern"
    assert "CORRMODL" not in fits.getheader(tmp_path / "some.fits")
    code, out, _ = run(["align", *files, "--out", str(tmp_path / "model.fits"), "--subtract-model"], capsys)
    assert code == 0 and fits.getheader(tmp_path / "model.fits")["CORRMODL"] == 3
    code, out, _ = run(["align", *files, "--out", str(tmp_path / "auto.fits"), "--columns", "auto"], capsys)
    assert code == 0 and "CORRCOLS" in fits.getheader(tmp_path / "auto.fits")
    code, out, _ = run(["align", *files, "--out", str(tmp_path / "plain.fits"), "--skip-correction", "all"],
                       capsys)  # fmt: skip
    assert code == 0 and "corrections: none" in out
    model = save_checkpoint(tmp_path / "m.pt", tiny_net)
    code, out, _ = run(
        [
            "denoise",
            str(tmp_path / "stack.fits"),
            "--model",
            str(model),
            "--out",
            str(tmp_path / "den.fits"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 0 and fits.getheader(tmp_path / "den.fits")["ASTNEXP"] == 8


def test_mock_writes_a_field_that_info_reads(tmp_path, capsys):
    out = tmp_path / "mock"
    args = ["mock", "--out", str(out), "--size", "48", "--exposures", "2", "--band", "F200W", "--quiet"]
    code, text, _ = run(args, capsys)
    assert code == 0 and "1 bands" in text
    assert {p.name for p in out.iterdir()} == {"f200w.fits", "catalog.ecsv", "params.json"}
    code, text, _ = run(["info", str(out / "f200w.fits")], capsys)
    assert code == 0 and "exposures: 2" in text
    code, _, err = run(args, capsys)
    assert code == 2 and "already exists" in err


def test_mock_keeps_its_cal_files_and_scales_the_structured_noise(tmp_path, capsys):
    out, cal = tmp_path / "mock", tmp_path / "cal"
    args = ["mock", "--out", str(out), "--size", "48", "--exposures", "2", "--band", "F444W", "--quiet",
            "--structured-scale", "2", "--exposures-dir", str(cal)]  # fmt: skip
    code, _, _ = run(args, capsys)
    assert code == 0 and sorted(p.name for p in cal.iterdir()) == ["mock_f444w_000_cal.fits",
                                                                   "mock_f444w_001_cal.fits"]  # fmt: skip
    params = json.loads((out / "params.json").read_text())
    assert params["noise"]["one_over_f"] == pytest.approx(0.6) and params["noise"]["structured_scale"] == 1.0
    code, text, _ = run(["align", str(cal / "mock_f444w_000_cal.fits"), str(cal / "mock_f444w_001_cal.fits"),
                         "--out", str(tmp_path / "aligned.fits")], capsys)  # fmt: skip
    assert code == 0, text
