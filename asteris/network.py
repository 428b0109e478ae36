"""The ASTERIS network: a 3D U-shaped transformer over (exposure, y, x).

Block and module names follow the paper and the published state dicts, so that
the published checkpoints load with ``strict=True``.

The network maps ``(B, 1, T, H, W)`` to ``(B, 1, T, H, W)``; the denoised image
is the mean of the output over its ``T`` frames.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "NetworkConfig",
    "BiasFreeLayerNorm",
    "ChannelAttention",
    "GatedDconvFeedForward",
    "TransformerBlock",
    "Downsample",
    "Upsample",
    "TemporalOutputHead",
    "Asteris",
    "build_network",
    "replicate_pad",
    "depthwise_conv3d",
    "dense_conv3d",
    "DEPTHWISE_GRADIENTS",
    "activation_layout",
    "compile_network",
]

#: Blocks per level and attention heads per level of the published models.
PUBLISHED_BLOCKS = {8: (4, 6, 6, 8), 4: (4, 6, 8)}
PUBLISHED_HEADS = {8: (1, 2, 4, 8), 4: (1, 2, 4)}
FFN_EXPANSION = 2.66
NORM_EPS = 1e-5
#: Activations are kept channels-last on CPUs: oneDNN's depthwise 3D convolutions run several times faster.
CHANNELS_LAST = torch.channels_last_3d


def activation_layout(device: torch.device) -> torch.memory_format:
    """The memory layout of the activations on ``device``.

    Channels-last on CPUs. Contiguous elsewhere: on an H100 PyTorch's depthwise
    kernel wants contiguous tensors, and converting channels-last activations
    for it took half of the network's time.
    """
    return CHANNELS_LAST if device.type == "cpu" else torch.contiguous_format


def is_channels_last(x: torch.Tensor) -> bool:
    return x.is_contiguous(memory_format=CHANNELS_LAST) and not x.is_contiguous()


def _like(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``out`` in the memory layout of ``x``."""
    return out.contiguous(memory_format=CHANNELS_LAST if is_channels_last(x) else torch.contiguous_format)


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of one ASTERIS network.

    Parameters
    ----------
    frames : int
        Frames the network sees at once: 8 or 4.
    f_maps : int
        Channels of the first level (24 in the published weights).
    num_blocks : tuple of int
        Transformer blocks per level, from the finest level to the latent one.
    num_refinement_blocks : int
        Transformer blocks in the refinement stage before the output head.
    """

    frames: int = 8
    f_maps: int = 24
    num_blocks: tuple[int, ...] = field(default=PUBLISHED_BLOCKS[8])
    num_refinement_blocks: int = 4

    def __post_init__(self) -> None:
        if self.frames not in PUBLISHED_BLOCKS:
            raise ValueError(f"frames must be 8 or 4, got {self.frames}")
        levels = len(PUBLISHED_HEADS[self.frames])
        object.__setattr__(self, "num_blocks", tuple(int(b) for b in self.num_blocks))
        if len(self.num_blocks) != levels:
            raise ValueError(
                f"the {self.frames}-frame network has {levels} levels, got num_blocks={list(self.num_blocks)}"
            )
        if self.f_maps % 4:
            raise ValueError(f"f_maps must be divisible by 4, got {self.f_maps}")
        for level, heads in enumerate(PUBLISHED_HEADS[self.frames]):
            if (self.f_maps * 2**level) % heads:
                raise ValueError(f"f_maps={self.f_maps} does not split into {heads} heads")

    @property
    def heads(self) -> tuple[int, ...]:
        return PUBLISHED_HEADS[self.frames]

    @property
    def variant(self) -> str:
        return f"asteris{self.frames}"

    @property
    def multiple(self) -> int:
        """H and W (and T) must be multiples of this."""
        return 2 ** (len(self.num_blocks) - 1)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["num_blocks"] = list(self.num_blocks)
        out["variant"] = self.variant
        return out


class BiasFreeLayerNorm(nn.Module):
    """Layer norm over channels without bias: ``x / sqrt(var_c(x) + eps) * weight``.

    The variance is mean-centred but the numerator is not; this is not an RMS norm.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Module()
        self.body.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.body.weight.view(1, -1, *([1] * (x.dim() - 2)))
        grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        if grad or not is_channels_last(x):
            # Two passes, not `Tensor.var`: its kernel reduced the 8-48 channels 4-40 times slower
            # (forward and backward), on AVX2 and AVX-512 builds alike.
            centred = x - x.mean(dim=1, keepdim=True)
            var = (centred * centred).mean(dim=1, keepdim=True)
            return x * torch.rsqrt(var + NORM_EPS) * weight
        # Inference, channels-last: the fused layer-norm kernel gives 1/sqrt(var + eps) several
        # times faster (its rstd output carries no gradient, hence the branch above for training).
        channels_last = x.movedim(1, -1)
        _, _, rstd = torch.native_layer_norm(channels_last, (x.shape[1],), None, None, NORM_EPS)
        return x * rstd.movedim(-1, 1) * weight


def replicate_pad(x: torch.Tensor) -> torch.Tensor:
    """Replicate-pad the last three axes by one, keeping the memory layout of ``x``.

    `torch.nn.functional.pad` returns a standard-layout tensor, which would
    force the following depthwise convolution off the fast channels-last path.
    """
    b, c, d, h, w = x.shape
    fmt = CHANNELS_LAST if is_channels_last(x) else torch.contiguous_format
    out = torch.empty((b, c, d + 2, h + 2, w + 2), dtype=x.dtype, device=x.device, memory_format=fmt)
    out[:, :, 1:-1, 1:-1, 1:-1] = x
    out[:, :, 0, 1:-1, 1:-1] = x[:, :, 0]
    out[:, :, -1, 1:-1, 1:-1] = x[:, :, -1]
    out[:, :, :, 0, 1:-1] = out[:, :, :, 1, 1:-1]
    out[:, :, :, -1, 1:-1] = out[:, :, :, -2, 1:-1]
    out[..., 0] = out[..., 1]
    out[..., -1] = out[..., -2]
    return out


#: How the input gradient of a depthwise convolution is computed on CPUs: "transposed" runs it as a
#: forward convolution of the zero-padded gradient with the flipped kernel; "autograd" leaves it to
#: oneDNN's own backward kernel, which measured 5-12 times slower on AVX2 and AVX-512 builds.
DEPTHWISE_GRADIENTS = ("transposed", "autograd")


class _TransposedGradientDepthwise(torch.autograd.Function):
    """A depthwise 3x3x3 convolution without padding whose input gradient is a forward convolution."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv3d(x, weight, groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        x, weight = ctx.saved_tensors
        groups, grad_x, grad_w = weight.shape[0], None, None
        grad = _like(grad, x)
        if ctx.needs_input_grad[0]:
            grad_x = F.conv3d(grad, weight.flip(2, 3, 4), padding=2, groups=groups)
        if ctx.needs_input_grad[1]:
            ones, zeros, weight_only = [1, 1, 1], [0, 0, 0], [False, True, False]
            grad_w = torch.ops.aten.convolution_backward(
                grad, x, weight, None, ones, zeros, ones, False, zeros, groups, weight_only
            )[1]
        return grad_x, grad_w


def depthwise_conv3d(x: torch.Tensor, weight: torch.Tensor, *, gradient: str = "transposed") -> torch.Tensor:
    """Depthwise 3x3x3 convolution of an already padded ``x`` (no padding added).

    On CPU the channels-last layout is kept (oneDNN is fastest there), and
    ``gradient`` (one of `DEPTHWISE_GRADIENTS`) says how the input gradient is
    computed when one is needed. On CUDA the input is made contiguous first:
    cuDNN's grouped 3D kernels on channels-last tensors run about ten times
    slower than PyTorch's own depthwise kernel on contiguous ones. Under
    `torch.compile` the convolution is written as 27 shifted products, which
    the compiler fuses into one memory-bound kernel.
    """
    if x.device.type == "cpu":
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
        plain = torch.compiler.is_compiling() or torch.is_autocast_enabled("cpu")  # no custom autograd
        if needs_grad and gradient == "transposed" and not plain:
            return _TransposedGradientDepthwise.apply(x, weight)
        return F.conv3d(x, weight, groups=weight.shape[0])
    x = x.contiguous()
    if not torch.compiler.is_compiling():
        return F.conv3d(x, weight, groups=weight.shape[0])
    _, c, d, h, w = x.shape
    out = None
    for i in range(3):
        for j in range(3):
            for k in range(3):
                term = x[:, :, i : i + d - 2, j : j + h - 2, k : k + w - 2] * weight[:, 0, i, j, k].view(
                    1, c, 1, 1, 1
                )
                out = term if out is None else out + term
    return out


def dense_conv3d(x: torch.Tensor, weight: torch.Tensor, bias=None, padding: int = 0) -> torch.Tensor:
    """A dense (ungrouped) 3D convolution, through oneDNN on CPUs whatever the batch size.

    PyTorch sends a float32 convolution with a batch of one and a small input
    (batch x channels x depth x height at most 20,480) to its reference kernel,
    a rule made for 2D images: at inference, the network's narrow 3x3x3 and
    1x1x1 convolutions took that path and ran 3-35 times slower than in oneDNN.
    """
    plain = torch.compiler.is_compiling() or torch.is_autocast_enabled("cpu")
    if x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32 and not plain:
        if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled:
            ones = [1, 1, 1]
            return torch.ops.aten.mkldnn_convolution(x, weight, bias, [padding] * 3, ones, ones, 1)
    return F.conv3d(x, weight, bias, padding=padding)


class Conv3d(nn.Conv3d):
    """`torch.nn.Conv3d` whose dense, zero-padded convolutions run as `dense_conv3d` (same weights)."""

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        uniform = len(set(self.padding)) == 1 and self.stride == (1, 1, 1) and self.dilation == (1, 1, 1)
        if self.groups == 1 and self.padding_mode == "zeros" and uniform and isinstance(self.padding, tuple):
            return dense_conv3d(x, weight, bias, self.padding[0])
        return super()._conv_forward(x, weight, bias)


def _conv1(cin: int, cout: int) -> nn.Conv3d:
    return Conv3d(cin, cout, kernel_size=1, bias=False)


def _dwconv3(channels: int, padding_mode: str) -> nn.Conv3d:
    return nn.Conv3d(channels, channels, 3, padding=1, groups=channels, bias=False, padding_mode=padding_mode)


class ChannelAttention(nn.Module):
    """Transposed ("channel") self-attention: a c-by-c attention map per head.

    Two sets of weights exist: the first for inputs with more than one frame
    (replicate padding), the second (``qkv2``...) for single-frame inputs
    (zero padding).
    """

    #: Input gradient of the depthwise convolution (`DEPTHWISE_GRADIENTS`); set through `Asteris`.
    gradient = DEPTHWISE_GRADIENTS[0]

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = _conv1(dim, 3 * dim)
        self.qkv_dwconv = _dwconv3(3 * dim, "replicate")
        self.project_out = _conv1(dim, dim)
        self.qkv2 = _conv1(dim, 3 * dim)
        self.qkv_dwconv2 = _dwconv3(3 * dim, "zeros")
        self.project_out2 = _conv1(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = x.shape
        if d > 1:
            # A 1x1x1 conv commutes with replicate padding: pad the narrow input, not the wide output.
            qkv = depthwise_conv3d(self.qkv(replicate_pad(x)), self.qkv_dwconv.weight, gradient=self.gradient)
            project = self.project_out
        else:
            qkv, project = self.qkv_dwconv2(self.qkv2(x)), self.project_out2
        if not is_channels_last(qkv):  # channel-major (B, 3, heads, c/heads, N): a free view
            q, k, v = qkv.reshape(b, 3, self.heads, c // self.heads, d * h * w).unbind(1)
            q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
            attn = torch.softmax(q @ k.transpose(-2, -1) * self.temperature, dim=-1)
            return project((attn @ v).view(b, c, d, h, w))
        # Token-major (B, N, 3, heads, c/heads): a free view of a channels-last tensor.
        tokens = qkv.permute(0, 2, 3, 4, 1).reshape(b, d * h * w, 3, self.heads, c // self.heads)
        q, k, v = tokens.unbind(2)
        q = F.normalize(q, dim=1)
        k = F.normalize(k, dim=1)
        logits = torch.einsum("bnhc,bnhk->bhck", q, k) * self.temperature
        out = torch.einsum("bhck,bnhk->bnhc", torch.softmax(logits, dim=-1), v)
        return project(out.reshape(b, d, h, w, c).permute(0, 4, 1, 2, 3))


class GatedDconvFeedForward(nn.Module):
    """Gated depthwise-convolution feed-forward: ``gelu(x1) * x2``.

    The published hidden widths are odd (63, 127, 255); the forward pass pads
    each half with zero channels to a multiple of 8, where the oneDNN
    convolutions run several times faster. Zero channels add exactly nothing.
    """

    ALIGN = 8
    gradient = DEPTHWISE_GRADIENTS[0]  #: as `ChannelAttention.gradient`

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.hidden = int(dim * FFN_EXPANSION)
        self.project_in = _conv1(dim, 2 * self.hidden)
        self.dwconv = _dwconv3(2 * self.hidden, "replicate")
        self.project_out = _conv1(self.hidden, dim)

    def _aligned_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pad = -self.hidden % self.ALIGN
        w_in, w_dw, w_out = self.project_in.weight, self.dwconv.weight, self.project_out.weight
        if pad == 0:
            return w_in, w_dw, w_out

        def pad_halves(w: torch.Tensor) -> torch.Tensor:
            zeros = w.new_zeros((pad, *w.shape[1:]))
            a, b = w.chunk(2, dim=0)
            return torch.cat([a, zeros, b, zeros], dim=0)

        return pad_halves(w_in), pad_halves(w_dw), F.pad(w_out, (0, 0, 0, 0, 0, 0, 0, pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_in, w_dw, w_out = self._aligned_weights()
        h = depthwise_conv3d(dense_conv3d(replicate_pad(x), w_in), w_dw, gradient=self.gradient)
        x1, x2 = h.chunk(2, dim=1)
        return dense_conv3d(F.gelu(x1) * x2, w_out)


class TransformerBlock(nn.Module):
    """``x + attn(norm1(x))``, then ``x + ffn(norm2(x))``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = BiasFreeLayerNorm(dim)
        self.attn = ChannelAttention(dim, heads)
        self.norm2 = BiasFreeLayerNorm(dim)
        self.ffn = GatedDconvFeedForward(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


def _stage(dim: int, heads: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*[TransformerBlock(dim, heads) for _ in range(blocks)])


class _PixelUnshuffle3d(nn.Module):
    """(B, C, D, H, W) -> (B, 8C, D/2, H/2, W/2), channel = c*8 + 4i + 2j + k; the layout of the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = x.shape
        out = x.reshape(b, c, d // 2, 2, h // 2, 2, w // 2, 2).permute(0, 2, 4, 6, 1, 3, 5, 7)
        return _like(out.reshape(b, d // 2, h // 2, w // 2, 8 * c).permute(0, 4, 1, 2, 3), x)


class _PixelShuffle3d(nn.Module):
    """(B, 8C, D, H, W) -> (B, C, 2D, 2H, 2W), the inverse of `_PixelUnshuffle3d`; the layout of the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = x.shape
        out = x.reshape(b, c // 8, 2, 2, 2, d, h, w).permute(0, 5, 2, 6, 3, 7, 4, 1)
        return _like(out.reshape(b, 2 * d, 2 * h, 2 * w, c // 8).permute(0, 4, 1, 2, 3), x)


class Downsample(nn.Module):
    """3x3x3 conv to n/4 channels, then 3D pixel-unshuffle: 2n channels, half size."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.body = nn.Sequential(Conv3d(n, n // 4, 3, padding=1, bias=False), _PixelUnshuffle3d())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, unshuffle = self.body
        # The narrow conv output can come back in the standard layout; left so, every later block
        # would run off the channels-last path (40 of the 44 blocks did, on CPUs).
        return unshuffle(_like(conv(x), x))


class Upsample(nn.Module):
    """3x3x3 conv to 4n channels, then 3D pixel-shuffle: n/2 channels, double size."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.body = nn.Sequential(Conv3d(n, 4 * n, 3, padding=1, bias=False), _PixelShuffle3d())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, shuffle = self.body
        return shuffle(_like(conv(x), x))  # keep the layout of the input (see `Downsample`)


class TemporalOutputHead(nn.Module):
    """Output head: a 2D conv to one channel, then attention across frames per pixel.

    ``hw_conv`` runs on the 5D tensor viewed in memory order as
    ``(B*D, C, H, W)``, which mixes channel and frame indices. That is how the
    published weights were trained, so it is reproduced exactly.
    """

    EMBED = 4
    HEADS = 4

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv_projection = nn.Linear(1, 3 * self.EMBED)
        self.attention = nn.MultiheadAttention(self.EMBED, self.HEADS, bias=True)
        self.hw_conv = nn.Conv2d(dim, 1, 3, padding=1, bias=True)
        self.output_linear = nn.Linear(self.EMBED, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, d, h, w = x.shape
        y = self.hw_conv(x.contiguous().view(b * d, c, h, w))
        tokens = y.view(b, d, h, w, 1).permute(1, 0, 2, 3, 4).reshape(d, b * h * w, 1)
        out = self.output_linear(self.frame_attention(*self.qkv_projection(tokens).chunk(3, dim=-1)))
        return out.view(d, b, h, w).permute(1, 0, 2, 3).unsqueeze(1)

    def frame_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``self.attention(q, k, v)`` on ``(frames, pixels, EMBED)`` tokens, written out elementwise.

        With one channel per head, each pixel's attention is a frames-by-frames
        map of scalar products. Written out, it avoids the fused attention
        kernels, which are slow for millions of 8-token sequences and fail on
        CUDA beyond their grid limits.
        """
        attn = self.attention
        (wq, wk, wv), (bq, bk, bv) = attn.in_proj_weight.chunk(3), attn.in_proj_bias.chunk(3)
        scale = (self.EMBED // self.HEADS) ** -0.5
        q, k, v = F.linear(q, wq, bq) * scale, F.linear(k, wk, bk), F.linear(v, wv, bv)
        weights = torch.softmax(q.unsqueeze(1) * k.unsqueeze(0), dim=1)  # (query, key, pixel, head)
        out = (weights * v.unsqueeze(0)).sum(dim=1)
        return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


class Asteris(nn.Module):
    """The ASTERIS 8-frame or 4-frame network (see :class:`NetworkConfig`)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        #: Activation layout; None picks it by device (`activation_layout`).
        self.memory_format: torch.memory_format | None = None
        f, blocks, heads = config.f_maps, config.num_blocks, config.heads
        self.patch_embed = nn.Module()
        self.patch_embed.proj = Conv3d(1, f, 3, padding=1, bias=False)
        self.encoder_level1 = _stage(f, heads[0], blocks[0])
        self.down1_2 = Downsample(f)
        self.encoder_level2 = _stage(2 * f, heads[1], blocks[1])
        self.down2_3 = Downsample(2 * f)
        if config.frames == 8:
            self.encoder_level3 = _stage(4 * f, heads[2], blocks[2])
            self.down3_4 = Downsample(4 * f)
            self.latent = _stage(8 * f, heads[3], blocks[3])
            self.up4_3 = Upsample(8 * f)
            self.reduce_chan_level3 = _conv1(8 * f, 4 * f)
            self.decoder_level3 = _stage(4 * f, heads[2], blocks[2])
        else:
            self.latent = _stage(4 * f, heads[2], blocks[2])
        self.up3_2 = Upsample(4 * f)
        self.reduce_chan_level2 = _conv1(4 * f, 2 * f)
        self.decoder_level2 = _stage(2 * f, heads[1], blocks[1])
        self.up2_1 = Upsample(2 * f)
        self.decoder_level1 = _stage(2 * f, heads[0], blocks[0])
        self.refinement = _stage(2 * f, heads[0], config.num_refinement_blocks)
        self.output = TemporalOutputHead(2 * f)

    @property
    def depthwise_gradient(self) -> str:
        """How the depthwise convolutions' input gradients are computed on CPUs (`DEPTHWISE_GRADIENTS`)."""
        return next(m.gradient for m in self.modules() if isinstance(m, ChannelAttention))

    @depthwise_gradient.setter
    def depthwise_gradient(self, value: str) -> None:
        if value not in DEPTHWISE_GRADIENTS:
            raise ValueError(f"depthwise_gradient must be one of {DEPTHWISE_GRADIENTS}, got {value!r}")
        for module in self.modules():
            if isinstance(module, (ChannelAttention, GatedDconvFeedForward)):
                module.gradient = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.config)
        # One layout throughout keeps depthwise convs, norms and attention on copy-free paths.
        fmt = self.memory_format or activation_layout(x.device)

        def laid(t: torch.Tensor) -> torch.Tensor:  # every stage's input in the one layout (free if it is)
            return t.contiguous(memory_format=fmt)

        e1 = self.encoder_level1(laid(self.patch_embed.proj(x)))
        e2 = self.encoder_level2(laid(self.down1_2(e1)))
        if self.config.frames == 8:
            e3 = self.encoder_level3(laid(self.down2_3(e2)))
            lat = self.latent(laid(self.down3_4(e3)))
            d3 = self.decoder_level3(laid(self.reduce_chan_level3(torch.cat([self.up4_3(lat), e3], 1))))
        else:
            d3 = self.latent(laid(self.down2_3(e2)))
        d2 = self.decoder_level2(laid(self.reduce_chan_level2(torch.cat([self.up3_2(d3), e2], 1))))
        d1 = self.decoder_level1(laid(torch.cat([self.up2_1(d2), e1], 1)))
        return self.output(self.refinement(d1)) + x


#: Compiled versions allowed per function: one per level's shape, with and without gradients.
RECOMPILE_LIMIT = 64


def compile_network(model: Asteris) -> Asteris:
    """Compile ``model`` in place, block by block, with `torch.compile`; returns ``model``.

    Compiled as one graph, the published network took minutes to compile on
    an H100. Its 34 transformer blocks run one piece of code at five shapes,
    so each transformer block and the output head are compiled on their own
    ("regional compilation"): the code compiled for the first block of a
    shape is reused by every later block of that shape. Down- and upsampling
    stay eager. State-dict keys do not change.

    Examples
    --------
    >>> from asteris import build_network
    >>> net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    >>> keys = list(net.state_dict())
    >>> list(compile_network(net).state_dict()) == keys
    True
    """
    _inductor_cache_per_kernel_level()
    # Dynamo falls back to eager past this many versions of one function; blocks share theirs.
    dynamo = torch._dynamo.config
    dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
    for module in model.modules():
        if isinstance(module, (TransformerBlock, TemporalOutputHead)):
            module.compile(dynamic=False)
    return model


def _inductor_cache_per_kernel_level() -> None:
    """Give CPU kernels compiled under a forced ``ATEN_CPU_CAPABILITY`` a cache folder of their own.

    Inductor's cache does not tell kernels compiled for one forced level (AVX2
    on an AVX-512 CPU, as the benchmarks emulate) from the machine's own: read
    back under the other level they return garbage or crash (seen with torch
    2.13). A cache folder the user chose is left alone.
    """
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    forced = os.environ.get("ATEN_CPU_CAPABILITY")
    chosen = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if forced and chosen in (None, os.path.abspath(default_cache_dir())):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(default_cache_dir(), f"aten-{forced.lower()}")


def _check_input(x: torch.Tensor, config: NetworkConfig) -> None:
    if x.dim() != 5 or x.shape[1] != 1:
        raise ValueError(f"expected a (B, 1, T, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[2] != config.frames:
        raise ValueError(f"the {config.variant} network takes {config.frames} frames, got {x.shape[2]}")
    m = config.multiple
    if x.shape[3] % m or x.shape[4] % m:
        raise ValueError(f"H and W must be multiples of {m}, got {tuple(x.shape[3:])}")


def build_network(
    frames: int = 8,
    f_maps: int = 24,
    num_blocks: tuple[int, ...] | list[int] | None = None,
    num_refinement_blocks: int = 4,
) -> Asteris:
    """Build an ASTERIS network; the defaults are the published configurations.

    Parameters
    ----------
    frames : int
        8 for the 8-frame model (``ASTERIS8``), 4 for the 4-frame one.
    f_maps : int
        Channels of the first level.
    num_blocks : sequence of int, optional
        Blocks per level; ``None`` takes the published ``[4, 6, 6, 8]`` (8-frame)
        or ``[4, 6, 8]`` (4-frame).
    num_refinement_blocks : int
        Blocks in the refinement stage.

    Returns
    -------
    Asteris
        A ``torch.nn.Module`` whose ``state_dict`` keys match the published layout.

    Examples
    --------
    >>> import torch
    >>> from asteris import build_network
    >>> net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    >>> net(torch.zeros(1, 1, 4, 16, 16)).shape
    torch.Size([1, 1, 4, 16, 16])
    """
    if frames not in PUBLISHED_BLOCKS:
        raise ValueError(f"frames must be 8 or 4, got {frames}")
    blocks = PUBLISHED_BLOCKS[frames] if num_blocks is None else tuple(num_blocks)
    return Asteris(NetworkConfig(frames, f_maps, blocks, num_refinement_blocks))
