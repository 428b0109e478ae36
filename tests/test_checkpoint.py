import pytest
import torch

from asteris import build_network, load_model, save_checkpoint
from asteris.checkpoint import infer_network_config
from asteris.errors import CheckpointError


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(frames=8),
        dict(frames=4),
        dict(frames=8, f_maps=8, num_blocks=[1, 2, 1, 3], num_refinement_blocks=2),
    ],
)
def test_infer_config_round_trip(kwargs):
    net = build_network(**kwargs)
    assert infer_network_config(net.state_dict()) == net.config


def test_save_and_load(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "m.pt", tiny_net, name="test-model")
    loaded = load_model(path)
    x = torch.randn(1, 1, 8, 16, 16)
    with torch.inference_mode():
        assert torch.equal(loaded(x), tiny_net(x))
    assert loaded.provenance["name"] == "test-model"


def test_published_style_checkpoint_and_bare_state_dict(tmp_path, tiny_net):
    torch.save({"model_state_dict": tiny_net.state_dict(), "epoch": 3}, tmp_path / "ASTERIS8_x.pth")
    assert load_model(tmp_path / "ASTERIS8_x.pth").provenance["name"] == "ASTERIS8_x"
    torch.save(tiny_net.state_dict(), tmp_path / "bare.pt")
    assert load_model(tmp_path / "bare.pt").config == tiny_net.config


def test_wrong_variant_and_bad_files(tmp_path, tiny_net):
    path = save_checkpoint(tmp_path / "m.pt", tiny_net)
    with pytest.raises(CheckpointError, match="8-frame model but 4 frames"):
        load_model(path, frames=4)
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_model(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    torch.save({"model_state_dict": {"foo": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an ASTERIS"):
        load_model(tmp_path / "other.pt")
