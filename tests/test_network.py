import json

import numpy as np
import pytest
import torch

from asteris import build_network, compile_network, load_model
from asteris.network import (
    NetworkConfig,
    TemporalOutputHead,
    TransformerBlock,
    _PixelShuffle3d,
    _PixelUnshuffle3d,
)


@pytest.mark.parametrize("layout", [None, torch.contiguous_format])  # device default, the GPU layout
@pytest.mark.parametrize("variant", ["asteris8", "asteris4"])
def test_golden_outputs(golden_dir, variant, layout):
    ckpt = torch.load(golden_dir / f"{variant}_tiny_weights.pt", weights_only=True)
    cfg = ckpt["config"]
    net = build_network(int(variant[-1]), cfg["f_maps"], cfg["num_blocks"], cfg["num_refinement_blocks"])
    net.load_state_dict(ckpt["model_state_dict"], strict=True)
    net.memory_format = layout
    io = np.load(golden_dir / f"{variant}_tiny_io.npz")
    with torch.inference_mode():
        y = net.eval()(torch.from_numpy(io["input"])).numpy()
    ref = io["output"]
    # 1.1e-5 for the 8-frame input (a batch of one): oneDNN sums the dense convolutions in another
    # order than PyTorch's reference kernel; stock PyTorch gives the same 1.1e-5 on a batch of two.
    assert np.abs(y - ref).max() / np.abs(ref).max() < 2e-5


def test_a_tile_gives_the_same_output_alone_or_in_a_batch(golden_dir):
    """Dense convolutions take one kernel whatever the batch (`dense_conv3d`)."""
    net = load_model(golden_dir / "asteris8_tiny_weights.pt").eval()
    x = torch.from_numpy(np.load(golden_dir / "asteris8_tiny_io.npz")["input"])
    with torch.inference_mode():
        alone, batched = net(x), net(torch.cat([x, x.flip(-1)]))[:1]
    assert torch.allclose(alone, batched, rtol=0, atol=1e-6 * float(alone.abs().max()))


@pytest.mark.parametrize("variant", ["asteris8", "asteris4"])
def test_load_model_reproduces_golden(golden_dir, variant):
    net = load_model(golden_dir / f"{variant}_tiny_weights.pt")
    assert net.config.frames == int(variant[-1])
    io = np.load(golden_dir / f"{variant}_tiny_io.npz")
    with torch.inference_mode():
        y = net(torch.from_numpy(io["input"])).numpy()
    assert np.abs(y - io["output"]).max() / np.abs(io["output"]).max() < 2e-5  # see test_golden_outputs
    assert len(net.provenance["sha256"]) == 64


@pytest.mark.parametrize("frames", [8, 4])
def test_published_layout(golden_dir, frames):
    layout = json.loads((golden_dir / "state_dict_layout.json").read_text())[f"asteris{frames}_fmap24"]
    sd = build_network(frames).state_dict()
    assert [(k, list(v.shape)) for k, v in sd.items()] == [(k, s) for k, s in layout]


def test_parameter_count_of_published_8_frame_model():
    assert sum(p.numel() for p in build_network(8).parameters()) == 13_728_210


def test_pixel_shuffle_inverts_unshuffle():
    x = torch.randn(2, 3, 4, 6, 8)
    assert torch.equal(_PixelShuffle3d()(_PixelUnshuffle3d()(x)), x)


def test_bad_configs_and_inputs(tiny_net):
    with pytest.raises(ValueError, match="8 or 4"):
        build_network(frames=6)
    with pytest.raises(ValueError, match="divisible by 4"):
        NetworkConfig(frames=8, f_maps=10, num_blocks=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="levels"):
        NetworkConfig(frames=4, num_blocks=(1, 1, 1, 1))
    with pytest.raises(ValueError, match="takes 8 frames"):
        tiny_net(torch.zeros(1, 1, 4, 16, 16))
    with pytest.raises(ValueError, match="multiples of 8"):
        tiny_net(torch.zeros(1, 1, 8, 12, 16))


def test_single_frame_branch_is_used_only_in_latent(tiny_net):
    """The latent level sees one frame, so its qkv2 weights must matter; level 1's must not."""
    x = torch.randn(1, 1, 8, 16, 16)
    with torch.inference_mode():
        ref = tiny_net(x)
        tiny_net.encoder_level1[0].attn.qkv2.weight.mul_(3)
        assert torch.equal(tiny_net(x), ref)
        tiny_net.latent[0].attn.qkv2.weight.mul_(3)
        assert not torch.allclose(tiny_net(x), ref)


def test_inference_and_training_paths_agree(tiny_net):
    """The fused inference layer norm and the autograd one give the same network output."""
    x = torch.randn(1, 1, 8, 16, 24)
    with torch.inference_mode():
        fast = tiny_net(x)
    slow = tiny_net(x.requires_grad_())
    assert torch.allclose(fast, slow, rtol=0, atol=1e-5 * fast.abs().max())


def test_replicate_pad_matches_torch_and_keeps_layout():
    from asteris.network import replicate_pad

    x = torch.randn(2, 5, 3, 6, 7)
    ref = torch.nn.functional.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")
    assert torch.equal(replicate_pad(x), ref)
    cl = replicate_pad(x.contiguous(memory_format=torch.channels_last_3d))
    assert torch.equal(cl, ref) and cl.is_contiguous(memory_format=torch.channels_last_3d)


def test_gradients_flow_to_every_parameter(tiny_net):
    tiny_net.train()
    tiny_net(torch.randn(1, 1, 8, 16, 16)).square().mean().backward()
    single = ("attn.qkv2.", "attn.qkv_dwconv2.", "attn.project_out2.")
    multi = ("attn.qkv.", "attn.qkv_dwconv.", "attn.project_out.")
    for name, p in tiny_net.named_parameters():
        # only the latent level sees one frame and uses the single-frame branch
        unused = multi if name.startswith("latent") else single
        assert (p.grad is None) == any(u in name for u in unused), name
        assert p.grad is None or torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("frames", [8, 4])
def test_contiguous_layout_gives_the_channels_last_output(frames):
    """GPUs run the activations contiguous, CPUs channels-last: the same network either way."""
    from asteris.network import activation_layout

    assert activation_layout(torch.device("cpu")) == torch.channels_last_3d
    assert activation_layout(torch.device("cuda")) == torch.contiguous_format
    torch.manual_seed(1)
    net = build_network(frames=frames, f_maps=8, num_blocks=[1] * (4 if frames == 8 else 3)).eval()
    x = torch.randn(2, 1, frames, 24, 16)
    with torch.no_grad():
        channels_last = net(x)
        net.memory_format = torch.contiguous_format
        contiguous = net(x)
    torch.testing.assert_close(contiguous, channels_last, rtol=1e-5, atol=1e-5)
    grads = {}
    for layout in (torch.channels_last_3d, torch.contiguous_format):  # the training path too
        net.memory_format = layout
        net.zero_grad()
        net(x).square().mean().backward()
        grads[layout] = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    assert len(grads[torch.contiguous_format]) > 10
    for a, b in zip(*grads.values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_compile_network_compiles_blocks_in_place_and_keeps_the_state_dict():
    net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    keys = list(net.state_dict())
    assert compile_network(net) is net
    compiled = [m for m in net.modules() if m._compiled_call_impl is not None]
    assert compiled and all(isinstance(m, (TransformerBlock, TemporalOutputHead)) for m in compiled)
    assert len(compiled) == sum(isinstance(m, (TransformerBlock, TemporalOutputHead)) for m in net.modules())
    assert list(net.state_dict()) == keys
    assert torch._dynamo.config.recompile_limit >= 64


@pytest.mark.parametrize("layout", [torch.channels_last_3d, torch.contiguous_format])
def test_both_depthwise_gradients_give_the_same_gradients(layout):
    """The per-machine choice of the depthwise input gradient changes no gradient beyond round-off."""
    from asteris.network import DEPTHWISE_GRADIENTS

    torch.manual_seed(2)
    net = build_network(frames=8, f_maps=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1).train()
    net.memory_format = layout
    x = torch.randn(2, 1, 8, 16, 16)
    grads = {}
    for gradient in DEPTHWISE_GRADIENTS:
        net.depthwise_gradient = gradient
        net.zero_grad()
        inp = x.clone().requires_grad_()
        net(inp).square().mean().backward()
        grads[gradient] = [inp.grad] + [p.grad for p in net.parameters() if p.grad is not None]
    assert len(grads["transposed"]) > 10
    for a, b in zip(*grads.values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_the_transposed_depthwise_gradient_is_exact():
    from asteris.network import depthwise_conv3d

    torch.manual_seed(3)
    x = torch.randn(1, 3, 5, 6, 7, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: depthwise_conv3d(a, b, gradient="transposed"), (x, w))


def test_an_unknown_depthwise_gradient_is_refused(tiny_net):
    with pytest.raises(ValueError, match="depthwise_gradient"):
        tiny_net.depthwise_gradient = "fastest"
    assert tiny_net.depthwise_gradient == "transposed"
