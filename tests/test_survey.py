import numpy as np
import pytest
from astropy.io import fits

from asteris import denoise, save_checkpoint
from asteris.stack import Stack, write_stack
from asteris.survey import denoise_many, models_loaded, output_paths

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is needed for survey-scale denoising"
)


@pytest.fixture(scope="module")
def cluster_client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _stacks(folder, n=4):
    paths = []
    for i in range(n):
        data = np.random.default_rng(i).normal(10, 1, (8, 32, 32)).astype(np.float32)
        paths.append(write_stack(Stack(data), folder / f"field{i}.fits"))
    return paths


def test_many_stacks_on_two_workers(tmp_path, cluster_client, tiny_net):
    model = save_checkpoint(tmp_path / "m.pt", tiny_net)
    inputs = _stacks(tmp_path)
    bad = tmp_path / "broken.fits"
    bad.write_text("not FITS")
    report = denoise_many([*inputs, bad], tmp_path / "out", model=model, scheduler=cluster_client, retries=1)
    assert list(report["status"]) == ["done"] * 4 + ["failed"]
    assert "NotFITSError" in report["error"][-1]
    # the same result as denoising that stack alone
    alone = denoise(inputs[2], model=model, progress=False, device="cpu").image
    np.testing.assert_allclose(fits.getdata(report["output"][2]), alone, rtol=0, atol=1e-5)
    # each worker loaded the model once at most, although it denoised several stacks
    loads = cluster_client.run(models_loaded)
    assert sum(loads.values()) <= 2 and all(n <= 1 for n in loads.values())
    # a second run recomputes and overwrites nothing
    mtimes = [p.stat().st_mtime_ns for p in output_paths(inputs, tmp_path / "out")]
    again = denoise_many(inputs, tmp_path / "out", model=model, scheduler=cluster_client)
    assert list(again["status"]) == ["present"] * 4
    assert [p.stat().st_mtime_ns for p in output_paths(inputs, tmp_path / "out")] == mtimes


def test_output_names_must_be_distinct(tmp_path):
    with pytest.raises(ValueError, match="same file name"):
        output_paths([tmp_path / "a" / "x.fits", tmp_path / "b" / "x.fits"], tmp_path)


def test_cli_scheduler(tmp_path, capsys, tiny_net):
    from asteris.cli import main

    model = save_checkpoint(tmp_path / "m.pt", tiny_net)
    inputs = [str(p) for p in _stacks(tmp_path, n=2)]
    assert (
        main(
            [
                "denoise",
                *inputs,
                "--model",
                str(model),
                "--out",
                str(tmp_path / "out"),
                "--scheduler",
                "local",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "2 denoised, 0 already there, 0 failed" in out
    assert len(list((tmp_path / "out").glob("*_asteris.fits"))) == 2
