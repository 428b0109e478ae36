"""The measured layout choice: made once per machine and shape, cached, never changing the output
beyond float32 round-off; and the machine description every benchmark carries."""

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
    calls = []

    def timed(model, x, fmt):
        calls.append(fmt)
        return seconds["contiguous" if fmt == torch.contiguous_format else "channels_last"]

    monkeypatch.setattr(tuning, "_seconds_per_forward", timed)
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
