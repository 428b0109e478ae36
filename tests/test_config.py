"""Training configurations: strict, versioned, with presets and the one fine-tuning policy."""

import pytest

from asteris.config import SCHEMA_VERSION, TrainConfig
from asteris.errors import ConfigError


def test_config_is_strict():
    cfg = TrainConfig.preset("paper")
    assert cfg.network_config().num_blocks == (4, 6, 6, 8) and cfg.f_maps == 24
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown config key"):
        TrainConfig.from_dict({**cfg.to_dict(), "learning_rate": 1})
    with pytest.raises(ConfigError, match="schema version"):
        TrainConfig.from_dict({**cfg.to_dict(), "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ConfigError, match="multiple of 8"):
        TrainConfig.preset("tiny", patch_size=20)
    with pytest.raises(ConfigError, match="unknown preset"):
        TrainConfig.preset("huge")
    with pytest.raises(ConfigError, match="patch_size must be a whole number, got 'abc'"):
        TrainConfig.preset("tiny", patch_size="abc")
    with pytest.raises(ConfigError, match="lr must be a number"):
        TrainConfig.preset("tiny", lr=True)
    assert TrainConfig.preset("tiny", lr=1).lr == 1  # an int is a valid float


def test_fine_tuning_is_one_short_epoch_at_a_tenth_of_the_learning_rate():
    for name in ("tiny", "paper"):
        preset = TrainConfig.preset(name)
        tuned = preset.fine_tuning(300)
        assert (tuned.epochs, tuned.max_steps_per_epoch) == (1, 300)
        assert tuned.lr == preset.lr / 10 and tuned.lr_min == preset.lr / 100
        assert tuned.replace(epochs=preset.epochs, max_steps_per_epoch=preset.max_steps_per_epoch,
                             lr=preset.lr, lr_min=preset.lr_min) == preset  # nothing else changes
