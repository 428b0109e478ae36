import json

import pytest
import torch

from asteris import TrainConfig, load_model, save_checkpoint, train, training
from asteris.errors import ConfigError, OutputExistsError, TooFewExposuresError
from asteris.network import Asteris


def small_config(**kw):
    base = dict(patch_size=16, batch_size=2, epochs=2, max_steps_per_epoch=3, checkpoint_every=2)
    return TrainConfig.preset("tiny", **{**base, **kw})


def test_resume_equals_straight_run(tmp_path, train_stack):
    cfg = small_config()
    straight = train(train_stack, run_dir=tmp_path / "a", config=cfg, progress=False)
    assert straight.step == 6
    first = train(train_stack, run_dir=tmp_path / "b", config=cfg, stop_after=3, progress=False)
    assert first.step == 3 and not first.model_path.exists()
    resumed = train(train_stack, run_dir=tmp_path / "b", config=cfg, resume=True, progress=False)
    assert resumed.step == 6
    for (k, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 7))
    assert sum("val_loss" in r for r in rows) == 2
    assert load_model(resumed.model_path).config == cfg.network_config()


def test_seeded_runs_are_deterministic_and_refuse_overwrite(tmp_path, train_stack):
    cfg = small_config(epochs=1)
    a = train(train_stack, run_dir=tmp_path / "a", config=cfg, progress=False)
    with pytest.raises(OutputExistsError, match="--resume"):
        train(train_stack, run_dir=tmp_path / "a", config=cfg, progress=False)
    b = train(train_stack, run_dir=tmp_path / "a", config=cfg, overwrite=True, progress=False)
    assert all(torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters()))
    c = train(train_stack, run_dir=tmp_path / "c", config=cfg.replace(seed=1), progress=False)
    assert not all(torch.equal(x, y) for x, y in zip(a.model.parameters(), c.model.parameters()))


def test_training_reduces_validation_loss(tmp_path, train_stack):
    cfg = small_config(epochs=4, max_steps_per_epoch=5, lr=1e-3)
    result = train(train_stack, run_dir=tmp_path / "r", config=cfg, progress=False)
    val = [r["val_loss"] for r in result.history if "val_loss" in r]
    assert len(val) == 4 and val[-1] < val[0]


def test_fine_tune_from_checkpoint(tmp_path, train_stack, tiny_net):
    path = save_checkpoint(tmp_path / "init.pt", tiny_net)
    cfg = small_config(epochs=1, max_steps_per_epoch=1)
    result = train(train_stack, run_dir=tmp_path / "ft", config=cfg, init_from=path, progress=False)
    changed = [not torch.equal(a, b) for a, b in zip(tiny_net.parameters(), result.model.parameters())]
    assert any(changed)
    with pytest.raises(ConfigError, match="paper"):
        train(
            train_stack,
            run_dir=tmp_path / "ft2",
            config=cfg.replace(f_maps=16),
            init_from=path,
            progress=False,
        )


def test_too_few_exposures_to_train(tmp_path, train_stack):
    with pytest.raises(TooFewExposuresError, match="at least 16 exposures to train"):
        train(train_stack[:12], run_dir=tmp_path / "r", config=small_config(), progress=False)


def test_resume_refuses_other_config(tmp_path, train_stack):
    train(train_stack, run_dir=tmp_path / "r", config=small_config(), stop_after=1, progress=False)
    with pytest.raises(ConfigError, match="different config"):
        train(train_stack, run_dir=tmp_path / "r", config=small_config(seed=3), resume=True, progress=False)


def test_interrupt_saves_the_last_completed_step(tmp_path, train_stack, monkeypatch):
    from asteris import training

    cfg = small_config(checkpoint_every=100)
    calls = {"n": 0}
    real_step = training._Run.train_step

    def step_then_interrupt(self, *args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(training._Run, "train_step", step_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(train_stack, run_dir=tmp_path / "r", config=cfg, progress=False)
    monkeypatch.undo()
    state = torch.load(tmp_path / "r" / "checkpoint_last.pt", weights_only=True)
    assert state["step"] == 2
    resumed = train(train_stack, run_dir=tmp_path / "r", config=cfg, resume=True, progress=False)
    straight = train(train_stack, run_dir=tmp_path / "s", config=cfg, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), straight.model.parameters()))


def test_compile_option_compiles_the_trained_module(tmp_path, train_stack, monkeypatch):
    # Compiled training is compared with eager training on a GPU by benchmarks/gpu.py.
    compiled = []
    monkeypatch.setattr(training, "compile_network", lambda module: compiled.append(module) or module)
    cfg = small_config(epochs=1)
    plain = train(train_stack, run_dir=tmp_path / "e", config=cfg, progress=False)
    assert not compiled
    result = train(train_stack, run_dir=tmp_path / "c", config=cfg.replace(compile=True), progress=False)
    assert len(compiled) == 1 and isinstance(compiled[0], Asteris)
    assert [r["loss"] for r in result.history if "loss" in r] == [
        r["loss"] for r in plain.history if "loss" in r
    ]
    assert load_model(result.model_path).config == cfg.network_config()


def test_bf16_training_warns_off_cuda(tmp_path, train_stack):
    cfg = small_config(epochs=1, max_steps_per_epoch=1, bf16=True)
    with pytest.warns(UserWarning, match="pays on CUDA"):
        train(train_stack, run_dir=tmp_path / "b", config=cfg, progress=False, device="cpu")


def test_training_stops_on_a_validation_plateau_and_stays_stopped(tmp_path, train_stack, monkeypatch):
    losses = iter([5.0, 4.0, 4.0, 4.0, 3.0, 3.0])  # no gain after the second validation
    monkeypatch.setattr(training, "_validate", lambda *args: next(losses))
    cfg = small_config(epochs=6, max_steps_per_epoch=2, plateau_patience=2)
    result = train(train_stack, run_dir=tmp_path / "p", config=cfg, progress=False)
    assert result.step == 8 and result.model_path.exists()  # 4 epochs of 2 steps, then the plateau
    assert [r["val_loss"] for r in result.history if "val_loss" in r] == [5.0, 4.0, 4.0, 4.0]
    again = train(train_stack, run_dir=tmp_path / "p", config=cfg, resume=True, progress=False)
    assert again.step == 8
    small = TrainConfig.preset("small")
    assert small.f_maps == 16 and small.num_blocks == (2, 2, 2, 2) and small.plateau_patience == 6
    with pytest.raises(ConfigError, match="plateau_patience"):
        small_config(plateau_patience=0)
