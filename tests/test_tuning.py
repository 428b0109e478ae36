"""The measured layout choice: made once per machine and shape, cached, never changing the output
beyond float32 round-off; and the machine description every benchmark carries."""

import json

import numpy as np
import pytest
import torch

from asteris import denoise, tuning
from asteris.errors import ConfigError


@pytest.fixture
def data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    return tmp_path


def fake_timings(monkeypatch, seconds: dict) -> list:
    """Timings by layout name, or by (layout, depthwise gradient) when training."""
    calls = []

    def timed(model, x, choice, training):
        calls.append(choice)
        return seconds.get(choice["layout"]) or seconds[choice["layout"], choice["depthwise_gradient"]]

    monkeypatch.setattr(tuning, "_seconds_per_run", timed)
    return calls


@pytest.mark.parametrize(
    "seconds, chosen",
    [({"channels_last": 1.0, "contiguous": 0.8}, torch.contiguous_format),  # clearly faster: taken
     ({"channels_last": 1.0, "contiguous": 0.95}, torch.channels_last_3d),  # within the margin: kept
     ({"channels_last": 0.5, "contiguous": 1.0}, torch.channels_last_3d)],
)  # fmt: skip
def test_the_faster_layout_is_chosen_beyond_the_margin(tiny_net, data_folder, monkeypatch, seconds, chosen):
    fake_timings(monkeypatch, seconds)
    assert tuning.choose_memory_format(tiny_net, (1, 1, 8, 32, 32)) == chosen
    assert tiny_net.memory_format == chosen


def test_the_choice_is_cached_per_machine_and_shape(tiny_net, data_folder, monkeypatch):
    calls = fake_timings(monkeypatch, {"channels_last": 1.0, "contiguous": 0.5})
    tuning.choose_memory_format(tiny_net, (1, 1, 8, 32, 32))
    assert len(calls) == 2
    tiny_net.memory_format = None
    assert tuning.choose_memory_format(tiny_net, (1, 1, 8, 32, 32)) == torch.contiguous_format
    assert len(calls) == 2  # read from the cache, not measured again
    tuning.choose_memory_format(tiny_net, (2, 1, 8, 32, 32))
    assert len(calls) == 4  # another shape is measured
    assert (data_folder / tuning.TUNING_FILE).exists()


def test_denoise_measures_once_and_both_layouts_agree(tiny_net, data_folder):
    stack = np.random.default_rng(3).normal(10, 1, (16, 48, 48)).astype(np.float32)
    chosen = denoise(stack, model=tiny_net, progress=False)
    assert tiny_net.memory_format in tuning.LAYOUTS.values()
    outputs = {}
    for name, fmt in tuning.LAYOUTS.items():
        tiny_net.memory_format = fmt
        outputs[name] = denoise(stack, model=tiny_net, progress=False).image
    scale = np.abs(outputs["contiguous"]).max()
    assert np.abs(outputs["channels_last"] - outputs["contiguous"]).max() / scale < 1e-5
    assert any(np.array_equal(chosen.image, image) for image in outputs.values())


def test_the_machine_description_names_cpu_threads_and_torch():
    machine = tuning.machine_description()
    assert machine["cpu_model"] and machine["torch"] == torch.__version__
    assert machine["torch_threads"] == torch.get_num_threads() and machine["logical_cores"] >= 1
    assert isinstance(machine["vector_extensions"], list)


def test_a_pinned_layout_skips_the_trial(tiny_net, data_folder, monkeypatch):
    calls = fake_timings(monkeypatch, {"channels_last": 1.0, "contiguous": 0.1})
    monkeypatch.setenv(tuning.LAYOUT_ENV, "channels_last")
    assert tuning.choose_memory_format(tiny_net, (1, 1, 8, 32, 32)) == torch.channels_last_3d
    assert calls == [] and not (data_folder / tuning.TUNING_FILE).exists()
    monkeypatch.setenv(tuning.LAYOUT_ENV, "fastest")
    with pytest.raises(ConfigError, match="ASTERIS_LAYOUT"):
        tuning.choose_memory_format(tiny_net, (1, 1, 8, 32, 32))


def test_training_tries_both_gradients_and_is_cached_apart_from_inference(tiny_net, data_folder, monkeypatch):
    calls = fake_timings(
        monkeypatch,
        {("channels_last", "transposed"): 1.0, ("channels_last", "autograd"): 0.5,
         ("contiguous", "transposed"): 2.0, ("contiguous", "autograd"): 2.0},
    )  # fmt: skip
    choice = tuning.choose_kernels(tiny_net, (1, 1, 8, 32, 32), training=True)
    assert choice == {"layout": "channels_last", "depthwise_gradient": "autograd"}
    assert tiny_net.depthwise_gradient == "autograd" and len(calls) == 4
    tuning.choose_kernels(tiny_net, (1, 1, 8, 32, 32), training=True)
    assert len(calls) == 4  # cached
    tuning.choose_kernels(tiny_net, (1, 1, 8, 32, 32))  # inference: an entry of its own, layouts only
    assert len(calls) == 6 and {c["depthwise_gradient"] for c in calls[4:]} == {"transposed"}


def test_the_training_trial_leaves_gradients_and_the_random_stream_alone(tiny_net, data_folder):
    tiny_net.train()
    state = torch.get_rng_state()
    choice = tuning.choose_kernels(tiny_net, (1, 1, 8, 16, 16), training=True)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(p.grad is None for p in tiny_net.parameters())
    (entry,) = json.loads((data_folder / tuning.TUNING_FILE).read_text()).values()
    assert entry["training"] and len(entry["seconds"]) == 4
    assert {k: entry[k] for k in choice} == choice and entry["machine"] == tuning.machine_description()


def test_a_pinned_layout_pins_the_default_gradient(tiny_net, data_folder, monkeypatch):
    calls = fake_timings(monkeypatch, {("channels_last", "autograd"): 0.1})
    monkeypatch.setenv(tuning.LAYOUT_ENV, "contiguous")
    choice = tuning.choose_kernels(tiny_net, (1, 1, 8, 32, 32), training=True)
    assert choice == {"layout": "contiguous", "depthwise_gradient": "transposed"} and calls == []


def test_training_makes_the_kernel_choice_for_its_patches(tmp_path, data_folder):
    from asteris import TrainConfig, train

    stack = np.random.default_rng(0).normal(10, 1, (16, 48, 48)).astype(np.float32)
    cfg = TrainConfig.preset("tiny", patch_size=16, batch_size=2, epochs=1, max_steps_per_epoch=2)
    train(stack, run_dir=tmp_path / "run", config=cfg, progress=False)
    entries = json.loads((data_folder / tuning.TUNING_FILE).read_text()).values()
    assert [(e["training"], e["shape"]) for e in entries] == [(True, [2, 1, 8, 16, 16])]
