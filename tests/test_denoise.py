import copy
import os
import warnings

import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.wcs import WCS

from asteris import denoise, read_stack, save_checkpoint
from asteris.engine import denoise_frames
from asteris.errors import (
    EmptyStackError,
    NotFITSError,
    OutputExistsError,
    StackMismatchError,
    TooFewExposuresError,
)
from asteris.mock.synthetic import synthetic_stack, synthetic_wcs
from asteris.preprocess import prepare_stack
from asteris.stack import write_stack


def _untiled(frames, net):
    """The network applied once to the whole (padded) image, offsets as in the pipeline."""
    valid = frames != 0
    mean = np.nanmean(np.where(valid, frames, np.nan), axis=0)
    shifted = np.where(valid, frames - np.nanmedian(mean), 0).astype(np.float32)
    h, w = frames.shape[1:]
    padded = np.pad(shifted, [(0, 0), (0, -h % 8), (0, -w % 8)])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        off = np.float32(np.nanmedian(np.nanmedian(np.where(padded != 0, padded, np.nan), axis=0)))
    x = torch.from_numpy(np.where(padded != 0, padded - off, 0).astype(np.float32))[None, None]
    with torch.inference_mode():
        y = net(x)[0, 0].numpy() + off
    return y[:, :h, :w] + np.nanmedian(mean)


@pytest.mark.parametrize("shape", [(48, 64), (45, 61)])
def test_tiled_equals_untiled_when_one_tile_covers(tiny_net, noise_stack, shape):
    frames = prepare_stack(noise_stack[:, : shape[0], : shape[1]], 8).frames
    tiled = denoise_frames(frames, tiny_net, tile_size=512, device="cpu", progress=False)
    ref = _untiled(frames, tiny_net)
    assert np.abs(tiled - ref).max() / np.abs(ref).max() < 1e-5


def test_no_seams_on_flat_noise(tiny_net):
    rng = np.random.default_rng(5)
    stack = rng.normal(100, 1, (8, 96, 96)).astype(np.float32)
    prepared = prepare_stack(stack, 8)
    out = denoise_frames(prepared.frames, tiny_net, tile_size=40, overlap=0.2, device="cpu", progress=False)
    image = out.mean(axis=0)
    steps = np.diff(image, axis=1).mean(axis=0)  # mean column-to-column step
    noise = np.diff(image, axis=1).std(axis=0).mean() / np.sqrt(image.shape[0])
    from asteris.tiling import keep_ranges, tile_starts

    cuts = [b for _, b in keep_ranges(tile_starts(96, 40, 8), 40, 96)[:-1]]
    assert cuts, "the test must cross tile boundaries"
    for c in cuts:
        assert abs(steps[c - 1]) < 5 * noise, f"seam at column {c}"


def test_fits_output_keeps_wcs_and_provenance(tmp_path, tiny_net):
    stack, _, _ = synthetic_stack(exposures=8, shape=(40, 40), n_sources=5)
    path = write_stack(stack, tmp_path / "stack.fits")
    model_path = save_checkpoint(tmp_path / "tiny.pt", tiny_net, name="tiny-test")
    out = tmp_path / "den.fits"
    result = denoise(path, model=model_path, output=out, progress=False)
    with fits.open(out) as hdul:
        header, mask = hdul[0].header, hdul["MASK"].data
        assert hdul[0].data.shape == (40, 40)
        assert np.array_equal(mask.astype(bool), result.mask)
    assert header["ASTMODEL"] == "tiny-test" and len(header["ASTCKSHA"]) == 64
    assert header["ASTNEXP"] == 8 and header["ASTFRAME"] == 8 and header["BUNIT"] == "MJy/sr"
    w_in, w_out = stack.wcs, WCS(header)
    assert np.allclose(w_in.pixel_to_world_values(3, 4), w_out.pixel_to_world_values(3, 4))
    with pytest.raises(OutputExistsError):
        denoise(path, model=model_path, output=out, progress=False)
    denoise(path, model=model_path, output=out, overwrite=True, progress=False)


def test_list_of_fits_files(tmp_path, tiny_net):
    stack, _, _ = synthetic_stack(exposures=8, shape=(32, 32), n_sources=3)
    paths = []
    for i, frame in enumerate(stack.data):
        hdr = stack.wcs.to_header()
        hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(frame, hdr, name="SCI")])
        paths.append(tmp_path / f"exp{i}_cal.fits")
        hdul.writeto(paths[-1])
    assert np.array_equal(read_stack(paths).data, stack.data)
    assert denoise(paths, model=tiny_net, progress=False).image.shape == (32, 32)
    # misaligned WCS
    hdr = synthetic_wcs((32, 32), ra=150.1001).to_header()
    fits.PrimaryHDU(stack.data[0], hdr).writeto(tmp_path / "shifted.fits")
    with pytest.raises(StackMismatchError, match="not on one pixel grid"):
        read_stack(paths[:7] + [tmp_path / "shifted.fits"])
    fits.PrimaryHDU(stack.data[0, :30]).writeto(tmp_path / "small.fits")
    with pytest.raises(StackMismatchError, match="differ in shape"):
        read_stack(paths[:7] + [tmp_path / "small.fits"])


def test_bad_inputs(tmp_path, tiny_net):
    with pytest.raises(TooFewExposuresError, match="at least 8 exposures to denoise"):
        denoise(np.ones((6, 16, 16)), model=tiny_net, progress=False)
    with pytest.raises(EmptyStackError):
        denoise(np.full((8, 16, 16), np.nan), model=tiny_net, progress=False)
    (tmp_path / "x.fits").write_text("hello")
    with pytest.raises(NotFITSError):
        read_stack(tmp_path / "x.fits")


def test_identity_network_returns_the_restored_mean_image():
    """With a zeroed output head the network is the identity: denoise() must give step 7 of the input."""
    from asteris import build_network
    from asteris.preprocess import restore_image

    net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    with torch.no_grad():
        for p in net.output.parameters():
            p.zero_()
    stack = np.random.default_rng(0).normal(20, 1, (8, 24, 20)).astype(np.float32)
    result = denoise(stack, model=net, progress=False, device="cpu", tile_size=16)
    prepared = prepare_stack(stack, 4)
    expected, _ = restore_image(prepared.frames, prepared)
    np.testing.assert_allclose(result.image, expected, atol=1e-5)


def test_outputs_are_atomic_and_get_the_usual_mode(tmp_path):
    import os

    from asteris.fileio import atomic_path

    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("done")
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_text() == "done" and (target.stat().st_mode & 0o777) == 0o666 & ~mask


def test_bf16_changes_the_image_far_less_than_its_noise(tiny_net):
    stack = np.random.default_rng(0).normal(5, 1, (16, 48, 48)).astype(np.float32)
    fp32 = denoise(stack, model=tiny_net, device="cpu", progress=False)
    with pytest.warns(UserWarning, match="pays on CUDA"):
        bf16 = denoise(stack, model=tiny_net, device="cpu", bf16=True, progress=False)
    change = np.sqrt(np.mean((bf16.image - fp32.image) ** 2))
    noise = np.std(fp32.coadd)  # the coadd of pure noise: its noise
    assert 0 < change < 0.05 * noise, (change, noise)


def test_compiled_network_gives_the_same_image(tiny_net):
    stack = np.random.default_rng(3).normal(10, 1, (8, 40, 40)).astype(np.float32)
    eager = denoise(stack, model=tiny_net, progress=False, device="cpu")
    compiled = denoise(stack, model=tiny_net, progress=False, device="cpu", compile=True)
    assert np.abs(compiled.image - eager.image).max() < 1e-5 * np.abs(eager.image).max()
    assert all(m._compiled_call_impl is None for m in tiny_net.modules()), "the caller's model was compiled"


def test_kernels_compiled_under_a_forced_cpu_level_get_a_cache_of_their_own(tiny_net, monkeypatch):
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    from asteris.network import compile_network

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "AVX2")
    compile_network(copy.deepcopy(tiny_net))
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == os.path.join(default_cache_dir(), "aten-avx2")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/somewhere/chosen")
    compile_network(copy.deepcopy(tiny_net))
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/somewhere/chosen"  # the user's choice stands


def test_one_options_object_is_taken_by_every_entry_point(tmp_path, tiny_net):
    from asteris.engine import InferenceOptions
    from asteris.errors import ConfigError
    from asteris.science.methods import asteris_method
    from asteris.streaming import denoise_large

    stack = np.random.default_rng(4).normal(1, 0.1, (8, 40, 40)).astype(np.float32)
    options = InferenceOptions(tile_size=32, overlap=0.2, device="cpu")
    by_keywords = denoise(stack, model=tiny_net, tile_size=32, overlap=0.2, device="cpu", progress=False)
    by_object = denoise(stack, model=tiny_net, options=options, progress=False)
    np.testing.assert_array_equal(by_keywords.image, by_object.image)
    assert by_object.header["ASTTILE"] == 32
    np.testing.assert_array_equal(asteris_method(tiny_net, options=options)(stack), by_object.image)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(stack).writeto(cube)
    out = tmp_path / "out.fits"
    streamed = denoise_large(cube, model=tiny_net, output=out, options=options, progress=False)
    np.testing.assert_allclose(fits.getdata(streamed), by_object.image, rtol=1e-5, atol=1e-5)
    refused = (({"tile": 32}, "unknown inference option 'tile'"), ({"overlap": 1.5}, "overlap"),
               ({"frames": 6}, "frames must be 4 or 8"), ({"batch_size": 0}, "batch_size"))  # fmt: skip
    for bad, match in refused:
        with pytest.raises(ConfigError, match=match):
            denoise(stack, model=tiny_net, progress=False, **bad)
    with pytest.raises(ValueError, match="the model takes 8 frames, not 4"):
        denoise(stack, model=tiny_net, options=InferenceOptions(frames=4), progress=False)
